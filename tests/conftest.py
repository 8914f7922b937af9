"""Shared fixtures: a seeded generator, random weights, a small network, the shared data folder.

``tests/solvers/`` tests the generic SDP layer on problems built without lipsdp;
``tests/lipsdp/`` tests the package; ``tests/test_packaging.py`` the distribution.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import lipsdp

#: Real weight files live beside the repository (CI has them; a user's checkout does not).
#: LIPSDP_DATA overrides the location.
DATA = Path(
    os.environ.get("LIPSDP_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
)


def _random_weights(rng, widths, scale=1.0):
    """Gaussian weights ``W_k ~ N(0, 1/n_k)`` for the layer widths ``widths``."""
    return [
        scale * rng.standard_normal((widths[k + 1], widths[k])) / np.sqrt(widths[k])
        for k in range(len(widths) - 1)
    ]


@pytest.fixture
def random_weights():
    """``random_weights(rng, widths, scale=1.0)``: seeded Gaussian weights for ``widths``."""
    return _random_weights


@pytest.fixture
def rng():
    return np.random.default_rng(20261122)


@pytest.fixture
def small_net(rng):
    return lipsdp.Network(_random_weights(rng, [5, 8, 6, 3]))


@pytest.fixture
def data_dir():
    if not DATA.is_dir():
        pytest.skip(f"shared data folder {DATA} is absent (only CI and developers have it)")
    return DATA
