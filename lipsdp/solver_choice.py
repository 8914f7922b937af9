"""What ``solver="auto"`` means, and the options lipsdp gives each backend (one place).

Every variant resolves ``"auto"`` through :func:`choose_solver`: the full LMI and each part of
``"split"`` by the LMI's side and number of blocks, ``"chordal"`` by its cliques, ``"sequential"``
by the side of a stage's SDP.
"""

from __future__ import annotations

from collections.abc import Mapping

import lipsdp_solvers as solvers

from .limits import with_time_left
from .network import Network

__all__ = [
    "ANYTIME_BACKENDS",
    "DEFAULT_OPTIONS",
    "backend_options",
    "choose_solver",
    "choose_solver_for_side",
]

#: ``solver="auto"`` uses the chordal interior-point backend, which exploits both the rank-2
#: coefficients and the block-tridiagonal sparsity of the LMI (exact, and the fastest path
#: measured by ``experiments/bench_solvers.py``; Clarabel's dense PSD scaling block needs 1.4 GB
#: at side 140 and crashes at side 350) ...
AUTO_SOLVER = "banded-ipm"

#: ... except up to this LMI side, where the dense-matrix HKM backend is as fast or faster (its
#: O(m^3) kernels are a few BLAS calls; measured on 2 cores, 2026-12-03,
#: ``experiments/bench_solvers.py --crossover``: 0.52 s against 0.66 s at side 350 (4 blocks),
#: 0.81 s against 0.85 s at side 450 (5 blocks); with more blocks the banded kernels win: 1.58 s
#: against 1.34 s at side 600 (6 blocks), 12.6 s against 3.3 s at side 1100 (11 blocks)) ...
DENSE_AUTO_MAX_SIDE = 450
#: ... and up to this side when the LMI has at most DENSE_AUTO_MAX_BLOCKS blocks (input and up
#: to three hidden layers), where the banded kernels have little sparsity to exploit (measured:
#: 2.68 s against 3.16 s for 100-200x3-10, side 700, and 8.16 s against 9.57 s for
#: 100-300x3-10, side 1000, ``--crossover``; 16.0 s against 19.1 s for the compressed
#: 784-400-400-10 MNIST network, side 1200, ``--real``).
DENSE_AUTO_MAX_SIDE_FEW_BLOCKS = 1200
DENSE_AUTO_MAX_BLOCKS = 4
DENSE_AUTO_SOLVER = "lowrank-ipm"

#: The chordal formulation's choice where installed: not lowrank-ipm, whose Newton system has a
#: dense row per variable, and the overlap matrices add n_b (n_b + 1) / 2 free variables per
#: shared block (96k at 20 x 100); Clarabel's sparse KKT system makes them cheap.
CHORDAL_AUTO_SOLVER = "clarabel"

#: Options lipsdp passes to a backend unless the caller sets them. A first-order point is slightly
#: infeasible, and certification along its ray magnifies that: at SCS's default accuracy (1e-4)
#: the certified bound was 2.3x the optimum on a side-50 LMI, at 1e-6 still 3e-3 above it on a
#: sigmoid layer whose objective was 6e-6 accurate; 1e-8 gave 5e-6 for ~35% more iterations.
DEFAULT_OPTIONS: dict[str, dict] = {"scs": {"tol": 1e-8, "max_iter": 100_000}}

#: Backends that report their iterates to a callback (anytime certified bounds, ``gap_tol``).
ANYTIME_BACKENDS = frozenset({"lowrank-ipm", "banded-ipm"})


def choose_solver_for_side(side: int, blocks: int | None = None) -> str:
    """The backend ``solver="auto"`` picks for an LMI of side ``side`` with ``blocks`` partition
    blocks (input and hidden layers; None: unknown): ``lowrank-ipm`` up to
    :data:`DENSE_AUTO_MAX_SIDE`, or up to :data:`DENSE_AUTO_MAX_SIDE_FEW_BLOCKS` with at most
    :data:`DENSE_AUTO_MAX_BLOCKS` blocks, ``banded-ipm`` beyond (both need only SciPy; the
    fastest exact paths measured)."""
    few = blocks is not None and blocks <= DENSE_AUTO_MAX_BLOCKS
    dense = side <= (DENSE_AUTO_MAX_SIDE_FEW_BLOCKS if few else DENSE_AUTO_MAX_SIDE)
    return DENSE_AUTO_SOLVER if dense else AUTO_SOLVER


def choose_solver(
    net: Network | None = None,
    variant: str = "full",
    *,
    side: int | None = None,
    blocks: int | None = None,
) -> str:
    """The backend ``solver="auto"`` picks (the one place that decides it).

    Parameters
    ----------
    net : Network, optional
        The network whose full LMI is solved (``variant="full"``, and each part of
        ``"split"``, which is a full solve of a sub-network): the side it is solved at,
        ``net.solved_size`` (after the input compression), and ``net.n_hidden + 1`` blocks.
    variant : {"full", "split", "chordal", "sequential"}
        ``"chordal"``: ``"clarabel"`` where installed (sparse KKT system, so the many free
        overlap variables are cheap), else by ``side`` (the largest clique's). ``"sequential"``:
        by ``side``, the stage SDP's.
    side, blocks : int, optional
        The LMI's side and number of partition blocks, where ``net`` does not give them.

    Returns
    -------
    str
        A backend registry name (see :func:`choose_solver_for_side` for the rule by side).

    Raises
    ------
    ValueError
        Neither ``net`` nor ``side`` given, or an unknown variant.

    Examples
    --------
    >>> import numpy as np, lipsdp
    >>> lipsdp.choose_solver(lipsdp.Network([np.ones((8, 4)), np.ones((2, 8))]))
    'lowrank-ipm'
    """
    if variant not in ("full", "split", "chordal", "sequential"):
        raise ValueError(
            f"variant is {variant!r}; expected 'full', 'split', 'chordal' or 'sequential'"
        )
    if variant == "chordal" and solvers.is_installed(CHORDAL_AUTO_SOLVER):
        return CHORDAL_AUTO_SOLVER
    if side is None:
        if net is None:
            raise ValueError("choose_solver needs net or side; got neither")
        side, blocks = net.solved_size, net.n_hidden + 1
    return choose_solver_for_side(side, blocks)


def backend_options(solver: str, options: Mapping) -> dict:
    """The caller's ``options`` over lipsdp's :data:`DEFAULT_OPTIONS` for ``solver`` (a new
    dict; neither is modified), with ``time_limit`` cut to what is left of the call's deadline
    (``solve(..., time_limit=)``, :func:`lipsdp.limits.backend_time_limit`)."""
    return with_time_left({**DEFAULT_OPTIONS.get(solver, {}), **options})
