"""Layer-wise decomposition (``variant="split"``): independent LipSDPs on consecutive
sub-networks, combined by the product rule or by whole-network multipliers (docs/math.md §5, §7).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from .. import progress
from ..certify import certify_direction
from ..closed_form import composition_result
from ..composition import product_up
from ..limits import with_time_left
from ..network import Network
from ..result import LipschitzResult, Status
from ..scaling import normalise, result_to_user
from ..solver_choice import choose_solver
from .full import solve_full
from .options import _check_n_jobs, _reject_unknown, split_cuts

__all__ = ["solve_split"]

logger = logging.getLogger(__name__)


def _solve_part(
    weights: tuple[np.ndarray, ...],
    slopes: tuple[tuple[float, float], ...],
    multipliers: str,
    solver: str,
    options: Mapping,
    block: tuple[int, int, int, int] | None = None,
) -> LipschitzResult:
    """One block of ``"split"`` (runs in a joblib worker: plain, picklable arguments only).

    ``block``: ``(index, total, first, last)``, for the progress events (:mod:`lipsdp.progress`)
    of a block solved in this process.

    The block is a network of its own, solved as :func:`lipsdp.solve` solves ``variant="full"``:
    a constant or linear block by composition (docs/math.md §5), one weight matrix by its proved
    norm, otherwise :func:`~lipsdp.variants.full.solve_full` on the block normalised by
    :mod:`lipsdp.scaling`, mapped back to the block's units."""
    start = time.perf_counter()
    net = Network(weights, slopes)
    method = f"lipsdp-{multipliers}"
    exact = composition_result(net, method)
    if exact is not None:
        return replace(exact, variant="full", total_time=time.perf_counter() - start)
    normed, scaling = normalise(net)
    if net.n_hidden == 0:
        res, _ = certify_direction(normed, [], method=method)
        res = replace(res, status=Status.OPTIMAL if res.certified else res.status, variant="full",
                      solver=None)
    else:
        name = choose_solver(net) if solver == "auto" else solver
        first, last = (block[2], block[3]) if block is not None else (0, 0)
        with progress.part_units(first, last, scaling.value_exponent):
            res = solve_full(normed, multipliers=multipliers, solver=name, options=options,
                             warm_start=None)
    res = result_to_user(res, scaling)
    if block is not None and progress.active():
        with progress.part_units(block[2], block[3], 0):
            value = progress.in_bound_units(res.value)
        progress.emit("block", index=block[0], total=block[1], value=value,
                      certified=res.certified)
    return replace(res, total_time=time.perf_counter() - start)


def _cut_multiplier(alpha: float, beta: float) -> float | None:
    """``tau`` with ``x^2 - g^2 z^2 + tau q(x, z) <= 0`` for all ``x, z`` (``g = max|slope|``).

    ``q = 2 (x - alpha z)(beta z - x)`` is the slope constraint of §2. The 2x2 form has
    determinant ``-tau^2 (beta-alpha)^2 + 2 tau (g^2 - alpha beta) - g^2``, whose maximum over
    ``tau`` is ``0``, reached at ``tau = (g^2 - alpha beta) / (beta - alpha)^2`` (and there
    ``1 - 2 tau <= 0``): ``1`` for ReLU, ``beta / (beta - alpha)`` when ``beta >= |alpha|``.
    ``None`` for a linear activation (``alpha == beta``), where no finite ``tau`` works.
    """
    if beta <= alpha:
        return None
    g2 = max(alpha * alpha, beta * beta)
    return (g2 - alpha * beta) / (beta - alpha) ** 2


def _combine_split(
    net: Network,
    bounds: list[int],
    parts: list[LipschitzResult],
    method: str,
) -> tuple[LipschitzResult | None, float, dict]:
    """Whole-network multipliers that certify the product rule (None if impossible)."""
    cuts = bounds[1:-1]
    gains = [max(abs(a), abs(b)) for a, b in (net.slopes[c - 1] for c in cuts)]
    # Proved by composition (docs/math.md §5): every factor is proved, every product rounded up.
    product = product_up([*(p.value for p in parts), *gains])
    info: dict = {"product": product, "cut_gains": gains}
    taus = [_cut_multiplier(*net.slopes[c - 1]) for c in cuts]
    if any(tau is None for tau in taus):
        info["whole_network"] = "a cut at a linear activation (alpha == beta) has no multiplier"
        return None, product, info
    # Chain the parts' inequalities ||z_out||^2 <= rho_i ||x_in||^2 - sum t q (one per part) and
    # ||x_c||^2 <= g_c^2 ||z_c||^2 - tau_c q_c (one per cut) from the output backwards: part i is
    # weighted by D_i = prod_{j > i} rho_j g_{c_j}^2, cut c_i by D_{i+1} rho_{i+1}.
    rho = [p.value**2 for p in parts]
    P = len(parts)
    D = [1.0] * P
    for i in range(P - 2, -1, -1):
        D[i] = D[i + 1] * rho[i + 1] * gains[i] ** 2
    ts: list[np.ndarray] = [np.zeros(0)] * net.n_hidden
    for i, part in enumerate(parts):
        for j, t in enumerate(part.multipliers):
            ts[bounds[i] + j] = D[i] * np.asarray(t, dtype=np.float64)
        if i < P - 1:
            c = bounds[i + 1]
            ts[c - 1] = np.full(net.hidden_widths[c - 1], D[i + 1] * rho[i + 1] * taus[i])
    rho_total = D[0] * rho[0]
    if not (np.isfinite(rho_total) and rho_total > 0):
        info["whole_network"] = f"product rho = {rho_total:g} is not a positive finite number"
        return None, product, info
    res, _ = certify_direction(net, [2.0 * t / rho_total for t in ts], method=method)
    if not res.certified:
        info["whole_network"] = res.summary
        return None, product, info
    info["whole_network"] = "certified"
    if res.value > product * (1 + 1e-8):
        logger.warning(
            "split: whole-network multipliers certify %.12g, above the product %.12g",
            res.value, product,
        )
    return res, product, info


def solve_split(
    net: Network,
    *,
    multipliers: str,
    solver: str,
    options: Mapping,
    warm_start: tuple[float, list[np.ndarray]] | None,
    split: int | None = None,
    cuts: Sequence[int] | None = None,
    n_jobs: int | None = None,
    **unknown: object,
) -> LipschitzResult:
    """Layer-wise decomposition (``variant="split"``): independent LipSDPs and the product rule.

    The network is cut at hidden layers; each block of consecutive weight matrices is a
    sub-network (the hidden layers inside it keep their slopes) bounded by its own
    ``lipsdp.solve(..., variant="full")`` (a block of one matrix ``W`` gives ``||W||_2``), and
    ``L <= prod_i L_i * prod_cuts max(|alpha_c|, |beta_c|)`` (docs/math.md §7). The blocks are
    solved in parallel with joblib: ``n_jobs=None`` defers to the active
    :func:`joblib.parallel_config`, so ``with joblib.parallel_config(backend="dask"): ...``
    runs them on a Dask cluster with no change here.

    Parameters
    ----------
    net : Network
    multipliers : {"neuron", "layer"}
        Used by every block.
    solver : str
        Backend for every block; ``"auto"`` chooses per block, by its own LMI side.
    options : mapping
        Backend options for every block. Never modified.
    warm_start : ignored
        A whole-network point does not split into the blocks' points.
    split : int, optional
        Weight matrices per block (the LipSDP reference code's ``--split-size``); cuts at
        hidden layers ``split, 2 split, ...``.
    cuts : sequence of int, optional
        Explicit cuts: hidden layers in ``1..l``, strictly increasing. Exactly one of ``split``
        and ``cuts`` is required.
    n_jobs : int, optional
        joblib workers (``-1``: all cores); ``None`` defers to :func:`joblib.parallel_config`.

    Returns
    -------
    LipschitzResult
        ``parts`` holds each block's result (value, multipliers, certified, times).
        **Certification**: the product is certified by *whole-network* multipliers built from
        the blocks' ones: chaining block ``i``'s inequality
        ``||z_out||^2 <= rho_i ||x_in||^2 - sum_j t_j q_j`` with the exact per-neuron inequality
        ``x^2 <= g^2 z^2 - tau q(x, z)`` at each cut (``tau = (g^2 - alpha beta) /
        (beta - alpha)^2``, i.e. 1 for ReLU) from the output backwards gives ``M(rho, T) <= 0``
        for the whole network, with ``rho = prod rho_i prod g_c^2``, block ``i``'s multipliers
        scaled by ``D_i = prod_{j > i} rho_j g_{c_j}^2`` and cut ``c_i`` given
        ``tau_i D_{i+1} rho_{i+1}``. Those multipliers are re-certified by docs/math.md §4 like
        every other result: the recursion finds the smallest ``rho`` along their ray, which is
        at most the product and often well below it (the chained inequalities are not tight
        together), so ``value`` is that certified bound, ``published_value`` the product rule's
        number (``info["product"]``), and ``info["certified_by"] == "network"``.
        Where no such multipliers exist (a cut at a linear activation, ``alpha == beta``) or
        they fail certification, ``value`` is the product, certified by the blocks' own
        certificates and the product rule: ``multipliers`` is empty and
        ``info["certified_by"] == "parts"`` says so. A block that fails makes the whole result
        uncertified (``value`` nan), its ``status`` naming the block.

    Raises
    ------
    TypeError, ValueError
        Bad ``split``, ``cuts`` or ``n_jobs`` (see :func:`split_cuts`), or an option this
        variant does not take; all before any work.

    References
    ----------
    M. Fazlyab, A. Robey, H. Hassani, M. Morari, G. J. Pappas, "Efficient and Accurate
    Estimation of Lipschitz Constants for Deep Neural Networks", NeurIPS 2019 (Section 5,
    the layer-wise decomposition).
    """
    from joblib import Parallel, delayed

    _reject_unknown("split", unknown, ("split", "cuts", "n_jobs"))
    cuts = split_cuts(len(net.weights), split, cuts)
    n_jobs = _check_n_jobs(n_jobs)
    if warm_start is not None:
        logger.debug("split: warm_start is ignored (it does not split into the blocks)")
    method = f"lipsdp-{multipliers}"
    bounds = [0, *cuts, len(net.weights)]
    ranges = list(itertools.pairwise(bounds))
    args = [
        (net.weights[a:b], net.slopes[a : b - 1], multipliers, solver, dict(options))
        for a, b in ranges
    ]
    start = time.perf_counter()
    parts: list[LipschitzResult | None] = [None] * len(ranges)
    pooled = [i for i, (a, b) in enumerate(ranges) if b - a > 1]
    for i, (a, b) in enumerate(ranges):
        if b - a == 1:  # ||W||_2: no SDP, no worker
            parts[i] = _solve_part(*args[i], block=(i, len(ranges), a, b))
    logger.info("split: %d blocks, %d solved by joblib (n_jobs=%s)", len(ranges), len(pooled),
                n_jobs)
    # A worker process does not see this call's deadline (lipsdp.limits): each pooled part
    # gets the time left when it is sent, as its backend limit.
    solved = Parallel(n_jobs=n_jobs)(
        delayed(_solve_part)(*args[i][:4], with_time_left(args[i][4]),
                             block=(i, len(ranges), *ranges[i])) for i in pooled
    )
    for i, res in zip(pooled, solved, strict=True):
        parts[i] = res
    wall = time.perf_counter() - start
    used = sorted({p.solver for p in parts if p.solver})
    common = {
        "method": method,
        "variant": "split",
        "solver": ",".join(used) if used else None,
        "solve_time": float(sum(p.solve_time for p in parts)),
        "iterations": int(sum(p.iterations for p in parts)),
        "parts": parts,
    }
    info: dict = {"cuts": cuts, "blocks": [list(r) for r in ranges], "parts_wall_time": wall}
    failed = [i for i, p in enumerate(parts) if not p.certified]
    if failed:
        i = failed[0]
        a, b = ranges[i]
        message = f"block {i} (weights[{a}:{b}]): {parts[i].summary}"
        info["failed_blocks"] = failed
        return LipschitzResult(value=np.nan, certified=False, multipliers=[],
                               status=Status.PART_FAILED, message=message, info=info, **common)
    whole, product, combine_info = _combine_split(net, bounds, parts, method)
    info.update(combine_info)
    objectives = [p.objective if np.isfinite(p.objective) else p.value for p in parts]
    objective = float(np.prod(objectives) * np.prod(combine_info["cut_gains"]))
    if whole is not None:
        info["certified_by"] = "network"
        optimal = all(p.status == Status.OPTIMAL for p in parts)
        return replace(whole, status=Status.OPTIMAL if optimal else Status.CERTIFIED,
                       objective=objective, published_value=product,
                       info={**whole.info, **info}, **common)
    info["certified_by"] = "parts"
    logger.info("split: certified by the blocks' certificates (%s)", info["whole_network"])
    return LipschitzResult(value=product, certified=True, multipliers=[],
                           status=Status.CERTIFIED_BY_PARTS, objective=objective,
                           published_value=product, info=info, **common)
