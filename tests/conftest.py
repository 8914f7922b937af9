"""Shared fixtures: a seeded generator, small random networks, and the shared data folder."""

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


def random_weights(rng, widths, scale=1.0):
    return [
        scale * rng.standard_normal((widths[k + 1], widths[k])) / np.sqrt(widths[k])
        for k in range(len(widths) - 1)
    ]


@pytest.fixture
def rng():
    return np.random.default_rng(20261122)


@pytest.fixture
def small_net(rng):
    return lipsdp.Network(random_weights(rng, [5, 8, 6, 3]))


@pytest.fixture
def data_dir():
    if not DATA.is_dir():
        pytest.skip(f"shared data folder {DATA} is absent (only CI and developers have it)")
    return DATA
