"""What the experiment scripts share: seeded random networks, width specs and a GLipSDP loader.

A script run as ``python experiments/X.py`` has ``experiments/`` first on ``sys.path``, so it
imports this module as ``common`` (and so do the processes it forks, spawns or starts from a fork
server, which inherit that path). Only the public API of ``lipsdp`` is used here.

The generators draw exactly what the scripts drew before they shared them (same seeds, same
order of draws), so every figure the scripts print is reproduced bit for bit.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.io

import lipsdp


def gaussian_weights(widths: Sequence[int], seed: int) -> list[np.ndarray]:
    """Seeded Gaussian weights scaled by ``1/sqrt(fan_in)``, drawn layer by layer from the input.

    ``W_k`` has shape ``(widths[k + 1], widths[k])``; all are drawn from one
    ``np.random.default_rng(seed)`` in that order (the convention of ``tests/conftest.py``).
    """
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((widths[k + 1], widths[k])) / np.sqrt(widths[k])
            for k in range(len(widths) - 1)]


def gaussian_network(widths: Sequence[int], seed: int,
                     slopes: object = None) -> lipsdp.Network:
    """:func:`gaussian_weights` as a :class:`lipsdp.Network` (slopes default to ReLU's)."""
    return lipsdp.Network(gaussian_weights(widths, seed), slopes)


def deep_widths(n0: int, width: int, depth: int, n_out: int) -> list[int]:
    """``[n0]``, then ``depth`` hidden layers of ``width``, then ``[n_out]``."""
    return [n0] + [width] * depth + [n_out]


def parse_widths(spec: str) -> list[int]:
    """``"50-100x3-10"`` -> ``[50, 100, 100, 100, 10]`` (``n1xk`` is ``k`` layers of ``n1``).

    Raises ``argparse.ArgumentTypeError`` (so that it serves as an argparse ``type=`` with its
    message kept) for a spec with fewer than two layers, a width below 1 or a non-integer.
    """
    widths: list[int] = []
    try:
        for token in spec.split("-"):
            width, _, count = token.partition("x")
            widths += [int(width)] * int(count or 1)
    except ValueError:
        widths = []
    if len(widths) < 2 or min(widths) < 1:
        raise argparse.ArgumentTypeError(f"{spec!r}: expected widths like 50-100x3-10")
    return widths


def load_glipsdp_fnn(path: str | Path) -> list[np.ndarray]:
    """The weights of a GLipSDP ``Comparison/exports/fnn*_weights.mat`` file.

    Its fields ``fc1_weight``, ``fc2_weight``, ... are stored ``(in, out)``, the transpose of
    what :func:`lipsdp.load_weights` reads from a state dict, so they are read here, in the
    numeric order of their names, and transposed.
    """
    data = scipy.io.loadmat(path)
    keys = sorted((k for k in data if k.startswith("fc") and k.endswith("_weight")),
                  key=lambda k: int(k[2:].split("_")[0]))
    return [np.asarray(data[k]).T for k in keys]


def save_figure(fig, path: str | Path, copy: str | Path | None = None, dpi: int = 100) -> None:
    """Write a matplotlib figure to ``path`` (and a copy, e.g. under docs/), say so, close it."""
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=dpi)
    print(f"wrote {path}")
    if copy:
        Path(copy).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
        print(f"wrote {copy}")
    plt.close(fig)
