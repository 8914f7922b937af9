"""The scalable variants of :func:`lipsdp.solve`: chordal, split, sequential (docs/math.md §7).

Each is registered in :data:`lipsdp.api.VARIANTS` and called by :func:`lipsdp.solve` as
``fn(net, multipliers=..., solver=..., options=..., warm_start=..., **variant_options)``; each
validates its own options before any work, and every value it returns is certified by docs/math.md
§4 (the forward block-LDL^T recursion), never copied from a solver's objective.

- ``"chordal"``: the LMI of §2 split over the cliques of its block-tridiagonal sparsity (Agler);
  same optimum as ``"full"``, PSD cones of clique size.
- ``"split"``: the network cut at hidden layers into sub-networks solved independently (in
  parallel through joblib, so also on a Dask cluster) and combined by the product rule; the
  product is certified by whole-network multipliers assembled from the parts.
- ``"sequential"``: ECLipsE, one small SDP per layer over that layer's multipliers.
"""

from __future__ import annotations

import itertools
import logging
import numbers
import time
from collections.abc import Mapping, Sequence

import numpy as np
import scipy.linalg as sla

import solvers

from . import api
from .certify import certify_direction
from .composition import product_up
from .formulation import build_chordal, compress_input
from .network import Network
from .result import LipschitzResult

__all__ = ["solve_chordal", "solve_sequential", "solve_split", "split_cuts"]

logger = logging.getLogger(__name__)

#: A stage of ``"sequential"`` whose ``M_k`` has ``lambda_min / lambda_max`` below this is
#: ill-conditioned: the next pivot's Cholesky would lose most of its digits.
SEQUENTIAL_MIN_RCOND = 1e-10

#: Convex-combination weights of the closed-form choice mixed into an ill-conditioned stage
#: (``M_k`` is concave in ``Lambda_k``, so the mixture keeps ``lambda_min(M_k) > 0``).
_SEQUENTIAL_MIX = (1e-6, 1e-4, 1e-2, 1e-1)


# --------------------------------------------------------------------------------------------
# option checks (before any work)
# --------------------------------------------------------------------------------------------
def _reject_unknown(variant: str, unknown: Mapping, accepted: Sequence[str]) -> None:
    if unknown:
        expected = f"only {', '.join(accepted)}" if accepted else "no options"
        raise TypeError(
            f"variant {variant!r} got unexpected option(s) {sorted(unknown)}; it takes {expected}"
        )


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_n_jobs(n_jobs: object) -> int | None:
    if n_jobs is None:
        return None
    if not _is_int(n_jobs):
        raise TypeError(
            f"n_jobs is {n_jobs!r}; expected None or a nonzero integer (joblib's convention)"
        )
    if n_jobs == 0:
        raise ValueError("n_jobs is 0; expected None, a positive number of workers or -1 for all")
    return int(n_jobs)


def _check_clique_size(clique_size: object) -> int:
    if not _is_int(clique_size):
        raise TypeError(f"clique_size is {clique_size!r}; expected an integer >= 2")
    if clique_size < 2:
        raise ValueError(
            f"clique_size is {clique_size}; expected an integer >= 2 "
            "(consecutive blocks per clique)"
        )
    return int(clique_size)


def _check_options_mapping(variant: str, options: Mapping) -> None:
    if "gap_tol" in options:
        raise ValueError(
            f"options['gap_tol'] is supported by variant 'full' only; variant is {variant!r}"
        )


def check_variant_options(variant: str, n_weights: int, options: Mapping) -> None:
    """Validate a decomposed variant's options without solving (for networks that
    :func:`lipsdp.solve` answers without a solver: constant or linear ones)."""
    accepted = {"chordal": ("clique_size",), "split": ("split", "cuts", "n_jobs"),
                "sequential": ()}[variant]
    _reject_unknown(variant, {k: v for k, v in options.items() if k not in accepted}, accepted)
    if variant == "chordal" and "clique_size" in options:
        _check_clique_size(options["clique_size"])
    if variant == "split":
        split_cuts(n_weights, options.get("split"), options.get("cuts"))
        _check_n_jobs(options.get("n_jobs"))


def split_cuts(n_weights: int, split: object = None, cuts: object = None) -> list[int]:
    """Cut points (hidden-layer indices) for ``split=K`` or explicit ``cuts``.

    Parameters
    ----------
    n_weights : int
        Number of weight matrices ``l + 1``.
    split : int, optional
        Consecutive blocks of ``split`` weight matrices each (the last may be shorter), the
        meaning of the LipSDP reference code's ``--split-size``: cuts at ``K, 2K, ...``.
    cuts : sequence of int, optional
        Hidden layers ``1..l`` at which the network is cut, strictly increasing.

    Returns
    -------
    list of int

    Raises
    ------
    TypeError, ValueError
        Neither or both given, a non-integer, ``split`` outside ``1..l+1``, cuts out of range,
        unsorted or duplicated.
    """
    l = n_weights - 1
    if (split is None) == (cuts is None):
        raise ValueError(
            "variant 'split' needs exactly one of split=K (weight matrices per block) or "
            f"cuts=[...] (hidden layers 1..{l}); got "
            + ("neither" if split is None else f"split={split!r} and cuts={cuts!r}")
        )
    if split is not None:
        if not _is_int(split):
            raise TypeError(f"split is {split!r}; expected a positive integer")
        if not 1 <= split <= n_weights:
            raise ValueError(
                f"split is {split}; expected an integer in 1..{n_weights} "
                f"(the network has {n_weights} weight matrices)"
            )
        return list(range(int(split), n_weights, int(split)))
    if isinstance(cuts, (str, bytes)) or not isinstance(cuts, (Sequence, np.ndarray)):
        raise TypeError(f"cuts is {cuts!r}; expected a list of hidden-layer indices in 1..{l}")
    out = []
    for k, c in enumerate(cuts):
        if not _is_int(c):
            raise TypeError(f"cuts[{k}] is {c!r}; expected an integer hidden-layer index in 1..{l}")
        if not 1 <= c <= l:
            raise ValueError(
                f"cuts[{k}] is {c}; expected a hidden-layer index in 1..{l} "
                f"(the network has {l} hidden layers)"
            )
        if out and c <= out[-1]:
            what = "duplicated" if c == out[-1] else "unsorted"
            raise ValueError(
                f"cuts is {list(cuts)!r} ({what} at cuts[{k}] = {c}); expected strictly "
                "increasing hidden-layer indices"
            )
        out.append(int(c))
    return out


def _resolve_solver(solver: str, side: int) -> str:
    return api.choose_solver_for_side(side) if solver == "auto" else solver


# --------------------------------------------------------------------------------------------
# chordal
# --------------------------------------------------------------------------------------------
def solve_chordal(
    net: Network,
    *,
    multipliers: str,
    solver: str,
    options: Mapping,
    warm_start: tuple[float, list[np.ndarray]] | None,
    clique_size: int = 2,
    **unknown: object,
) -> LipschitzResult:
    """LipSDP through the chordal decomposition of its LMI (``variant="chordal"``).

    The block-tridiagonal matrix of docs/math.md §2 has a chordal sparsity graph whose cliques are
    runs of ``clique_size`` consecutive blocks, consecutive cliques sharing one block. By Agler's
    theorem ``-M >= 0`` iff ``-M = sum_k E_k^T Z_k E_k`` with every ``Z_k >= 0``; the problem
    has one PSD cone per clique, the shared blocks split by free symmetric matrices (see
    :func:`lipsdp.formulation.build_chordal`). Same optimum as ``"full"``; certified from
    ``(rho, t)`` exactly as ``"full"`` is.

    Parameters
    ----------
    net : Network
    multipliers : {"neuron", "layer"}
    solver : str
        Backend; ``"auto"`` is Clarabel where installed (sparse KKT system, so the many free
        overlap variables are cheap), else :func:`lipsdp.api.choose_solver_for_side`.
    options : mapping
        Backend options. Never modified.
    warm_start : (rho, t) or None
        A certified point; the overlap matrices are filled in by the block-LDL^T recursion.
    clique_size : int, default 2
        Consecutive blocks per clique (>= 2); 2 gives the block pairs ``{k-1, k}``.

    Returns
    -------
    LipschitzResult
        ``variant="chordal"``; ``info`` has ``cliques`` (first and last block of each),
        ``clique_sides`` and ``n_overlap_vars``.

    Raises
    ------
    TypeError
        An option this variant does not take, or a non-integer ``clique_size``.
    ValueError
        ``clique_size < 2``.

    References
    ----------
    A. Xue, L. Lindemann, A. Robey, H. Hassani, G. J. Pappas, R. Alur, "Chordal Sparsity for
    Lipschitz Constant Estimation of Deep Neural Networks", CDC 2022.
    """
    _reject_unknown("chordal", unknown, ("clique_size",))
    clique_size = _check_clique_size(clique_size)
    _check_options_mapping("chordal", options)
    method = f"lipsdp-{multipliers}"
    formulation = build_chordal(net, multipliers, clique_size)
    problem = formulation.problem
    sides = [block.size for block in problem.blocks]
    if solver == "auto" and solvers.is_installed("clarabel"):
        # Not lowrank-ipm: its Newton system has a dense row per variable, and the overlap
        # matrices add n_b (n_b + 1) / 2 free variables per shared block (96k at 20 x 100).
        solver = "clarabel"
    solver = _resolve_solver(solver, max(sides))
    x0 = None
    if warm_start is not None:
        rho0, t0 = warm_start
        x0 = formulation.from_multipliers(rho0, t0)
    options = {**api.DEFAULT_OPTIONS.get(solver, {}), **options}
    sres = solvers.solve(problem, solver, options=options, warm_start=x0)
    common = {
        "method": method,
        "variant": "chordal",
        "solver": sres.solver,
        "solve_time": sres.solve_time,
        "iterations": sres.iterations,
    }
    info = {
        "backend_status": str(sres.status),
        "native_status": sres.native_status,
        "cliques": [list(c) for c in formulation.cliques],
        "clique_sides": sides,
        "n_overlap_vars": int((~problem.nonneg).sum()),
    }
    if not sres.ok or not np.all(np.isfinite(sres.x)):
        return LipschitzResult(value=np.nan, certified=False, multipliers=[],
                               status=f"solver_failed: {sres.status}", info=info, **common)
    rho_hat, ts = formulation.to_multipliers(sres.x)
    objective = float(np.sqrt(rho_hat)) if rho_hat > 0 else np.nan
    if not rho_hat > 0:
        return LipschitzResult(value=np.nan, certified=False, multipliers=[], objective=objective,
                               status=f"not_certified: solver returned rho = {rho_hat:g}",
                               info=info, **common)
    res, cert_info = api._certify_solution(net, rho_hat, ts, method)
    info.update(cert_info)
    if res.certified:
        status = "optimal" if sres.status is solvers.Status.OPTIMAL else str(sres.status)
    else:
        status = res.status
    return _replace(res, status=status, objective=objective, published_value=res.value,
                    info={**res.info, **info}, **common)


def _replace(res: LipschitzResult, **changes: object) -> LipschitzResult:
    from dataclasses import replace

    return replace(res, **changes)


# --------------------------------------------------------------------------------------------
# split
# --------------------------------------------------------------------------------------------
def _solve_part(
    weights: tuple[np.ndarray, ...],
    slopes: tuple[tuple[float, float], ...],
    multipliers: str,
    solver: str,
    options: Mapping,
) -> LipschitzResult:
    """One block of ``"split"`` (runs in a joblib worker: plain, picklable arguments only)."""
    return api.solve(
        Network(weights, slopes), variant="full", multipliers=multipliers, solver=solver,
        options=options,
    )


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
        info["whole_network"] = res.status
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
            parts[i] = _solve_part(*args[i])
    logger.info("split: %d blocks, %d solved by joblib (n_jobs=%s)", len(ranges), len(pooled),
                n_jobs)
    solved = Parallel(n_jobs=n_jobs)(delayed(_solve_part)(*args[i]) for i in pooled)
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
        status = f"part_failed: block {i} (weights[{a}:{b}]): {parts[i].status}"
        info["failed_blocks"] = failed
        return LipschitzResult(value=np.nan, certified=False, multipliers=[], status=status,
                               info=info, **common)
    whole, product, combine_info = _combine_split(net, bounds, parts, method)
    info.update(combine_info)
    objectives = [p.objective if np.isfinite(p.objective) else p.value for p in parts]
    objective = float(np.prod(objectives) * np.prod(combine_info["cut_gains"]))
    if whole is not None:
        info["certified_by"] = "network"
        return _replace(whole, status="optimal" if all(p.status == "optimal" for p in parts)
                        else "certified", objective=objective, published_value=product,
                        info={**whole.info, **info}, **common)
    info["certified_by"] = "parts"
    logger.info("split: certified by the blocks' certificates (%s)", info["whole_network"])
    return LipschitzResult(value=product, certified=True, multipliers=[],
                           status="certified_by_parts", objective=objective,
                           published_value=product, info=info, **common)


# --------------------------------------------------------------------------------------------
# sequential (ECLipsE)
# --------------------------------------------------------------------------------------------
def _stage_step(
    M: np.ndarray, W: np.ndarray, lam: np.ndarray, p: float, m: float
) -> np.ndarray | None:
    """``M_k = Lambda - m^2 Lambda W X^{-1} W^T Lambda`` with ``X = M + p W^T Lambda W``
    (docs/math.md §3); None when the pivot ``X`` is not positive definite."""
    with np.errstate(over="ignore", invalid="ignore"):  # a non-finite M_k is rejected later
        LW = lam[:, None] * W
        X = M + p * (W.T @ LW) if p != 0.0 else M
        try:
            G = sla.cholesky(0.5 * (X + X.T), lower=True, check_finite=False)
        except (np.linalg.LinAlgError, ValueError):
            return None
        V = sla.solve_triangular(G, LW.T, lower=True, check_finite=False)
        Mk = np.diag(lam) - m * m * (V.T @ V)
        return 0.5 * (Mk + Mk.T)


def _rcond(M: np.ndarray | None) -> float:
    """``lambda_min / lambda_max`` of a symmetric matrix (``-inf`` for None or non-finite)."""
    if M is None or not np.all(np.isfinite(M)):
        return -np.inf
    ev = sla.eigvalsh(M, check_finite=False)
    return float(ev[0] / ev[-1]) if ev[-1] > 0 else -np.inf


def _closed_form_stage(M: np.ndarray, W: np.ndarray, p: float, m: float) -> np.ndarray:
    """ECLipsE-Fast's choice ``lambda = 1 / (2 m^2 lambda_max(W M^{-1} W^T))`` when
    ``alpha beta >= 0`` and ``m != 0``; otherwise ``lambda = mu / (2 (|p| + 2 m^2) ||W||^2)``
    (``mu = lambda_min(M)``), which keeps ``X >= mu/2 I`` and ``M_k >= lambda/2 I``."""
    n = W.shape[0]
    if p >= 0.0 and m != 0.0:
        G = sla.cholesky(M, lower=True, check_finite=False)
        V = sla.solve_triangular(G, W.T, lower=True, check_finite=False)
        kmax = float(np.linalg.norm(V, 2)) ** 2
        return np.full(n, 1.0 / (2.0 * m * m * max(kmax, np.finfo(float).tiny)))
    mu = float(sla.eigvalsh(M, subset_by_index=[0, 0], check_finite=False)[0])
    S2 = max(float(np.linalg.norm(W, 2)) ** 2, np.finfo(float).tiny)
    return np.full(n, mu / (2.0 * (abs(p) + 2.0 * m * m) * S2))


def _stage_problem(
    M: np.ndarray, W: np.ndarray, W_next: np.ndarray, p: float, m: float, multipliers: str,
    lam_scale: float, s_scale: float,
) -> solvers.LMIProblem:
    """max s  s.t.  [[M + p W^T L W, m W^T L], [m L W, L - s W_next^T W_next]] >= 0, L >= 0
    diagonal, in the variables ``(s / s_scale, diag(L) / lam_scale)``; normalised by
    ``||M||``. By a Schur complement this is ``M_k(L) >= s W_next^T W_next`` with ``X > 0``."""
    import scipy.sparse as sp

    a, n = W.shape[1], W.shape[0]
    side = a + n
    norm = float(sla.eigvalsh(M, subset_by_index=[a - 1, a - 1], check_finite=False)[0])
    F0 = np.zeros((side, side))
    F0[:a, :a] = M / norm
    # Column 0: s; column 1 + j: Lambda_jj, i.e. p w_j w_j^T on the first block, m w_j coupling
    # it to row a + j, and 1 at (a + j, a + j). Entries as (row, col, variable, value).
    G = W_next.T @ W_next
    r, c = np.meshgrid(a + np.arange(n), a + np.arange(n), indexing="ij")
    rows, cols, var, vals = [r.ravel()], [c.ravel()], [np.zeros(n * n, np.int64)], [-G.ravel()]
    vals[0] = vals[0] * (s_scale / norm)
    jj, ii = np.nonzero(W)
    w = W[jj, ii] * (m * lam_scale / norm)
    rows += [ii, a + jj, a + np.arange(n)]
    cols += [a + jj, ii, a + np.arange(n)]
    var += [1 + jj, 1 + jj, 1 + np.arange(n)]
    vals += [w, w, np.full(n, lam_scale / norm)]
    if p != 0.0:
        for j in range(n):
            nz = np.flatnonzero(W[j])
            r, c = np.meshgrid(nz, nz, indexing="ij")
            rows.append(r.ravel())
            cols.append(c.ravel())
            var.append(np.full(nz.size * nz.size, 1 + j))
            vals.append((p * lam_scale / norm) * np.outer(W[j, nz], W[j, nz]).ravel())
    rows_all, cols_all = np.concatenate(rows), np.concatenate(cols)
    F = sp.csc_matrix(
        (np.concatenate(vals), (rows_all + cols_all * side, np.concatenate(var))),
        shape=(side * side, 1 + n),
    )
    if multipliers == "layer":
        F = sp.csc_matrix(sp.hstack([F[:, :1], sp.csc_matrix(F[:, 1:].sum(axis=1))]))
    c = np.zeros(F.shape[1])
    c[0] = -1.0
    nonneg = np.ones(F.shape[1], dtype=bool)
    nonneg[0] = False
    return solvers.LMIProblem(c=c, blocks=(solvers.LMIBlock(F0=F0, F=F),), nonneg=nonneg)


#: A stage's own linear algebra failing: the stage falls back, never an exception.
_NUMERICAL_FAILURES = (ValueError, ArithmeticError, np.linalg.LinAlgError)


def _stage_failure(method: str, used: set, k: int, why: str, stage_methods: list,
                   fallback: list, reasons: dict) -> LipschitzResult:
    return LipschitzResult(
        value=np.nan, certified=False, multipliers=[], method=method,
        variant="sequential", solver=",".join(sorted(used)) or None,
        status=f"not_certified: stage {k}: {why}",
        info={"stage_methods": stage_methods, "fallback_stages": fallback,
              "fallback_reasons": reasons},
    )


def solve_sequential(
    net: Network,
    *,
    multipliers: str,
    solver: str,
    options: Mapping,
    warm_start: tuple[float, list[np.ndarray]] | None,
    **unknown: object,
) -> LipschitzResult:
    """ECLipsE (``variant="sequential"``): one small SDP per hidden layer, then certification.

    With ``M_0 = I`` and, for each hidden layer ``k`` (docs/math.md §3),
    ``X_{k-1} = M_{k-1} + p_k W_{k-1}^T Lambda_k W_{k-1}`` and
    ``M_k = Lambda_k - m_k^2 Lambda_k W_{k-1} X_{k-1}^{-1} W_{k-1}^T Lambda_k``, stage ``k``
    chooses the diagonal ``Lambda_k >= 0`` (one scalar per layer for ``multipliers="layer"``)
    that maximises ``s`` subject to ``M_k >= s W_k^T W_k`` (``W_k`` the next weight; ``W_l``,
    the output layer, at the last stage). By a Schur complement this is the LMI
    ``[[M_{k-1} + p_k W^T Lambda W, m_k W^T Lambda], [m_k Lambda W, Lambda - s W_k^T W_k]] >= 0``
    of side ``n_{k-1} + n_k`` (``W = W_{k-1}``, the input layer compressed as in docs/math.md §8),
    solved with the chosen backend; ``M_k`` is then recomputed in float64. The collected
    ``Lambda`` are certified by the forward recursion of docs/math.md §4.

    The choice is greedy: for one hidden layer it is LipSDP's optimum, for deeper networks it
    can be looser than LipSDP and, on some networks, than ECLipsE-Fast.

    Ill-conditioned stages are handled and recorded, never silently: when the stage solve fails
    (or returns ``s <= 0`` or non-finite values), or its ``M_k`` has ``lambda_min/lambda_max``
    below :data:`SEQUENTIAL_MIN_RCOND`, a little of ECLipsE-Fast's closed-form choice for that
    stage is mixed in (``M_k`` is concave in ``Lambda_k``, so this restores a margin at a cost
    of at most that fraction of ``s``; ``info["mixed_stages"]``), and if that does not suffice
    the stage uses ECLipsE-Fast's choice (``info["fallback_stages"]``, with reasons in
    ``info["fallback_reasons"]``). For ``alpha_k beta_k < 0`` or ``alpha_k + beta_k = 0``, where
    ECLipsE-Fast is undefined, the closed-form choice is
    ``lambda = lambda_min(M_{k-1}) / (2 (|p_k| + 2 m_k^2) ||W_{k-1}||^2)``.

    Parameters
    ----------
    net : Network
    multipliers : {"neuron", "layer"}
    solver : str
        Backend for the stage SDPs; ``"auto"`` chooses by the stage side.
    options : mapping
        Backend options for every stage. Never modified.
    warm_start : ignored

    Returns
    -------
    LipschitzResult
        ``method`` is ``"eclipse"`` (``"eclipse-layer"`` with layer multipliers),
        ``variant="sequential"``; ``info["stage_methods"]`` says, per hidden layer, ``"sdp"``,
        ``"sdp+closed-form"`` (mixed) or ``"closed-form"`` (fallback); ``info["stage_s"]`` the
        stages' ``s``.

    References
    ----------
    Y. Xu and S. Sivaranjani, "ECLipsE: Efficient Compositional Lipschitz Constant Estimation
    for Deep Neural Networks", NeurIPS 2024.
    """
    _reject_unknown("sequential", unknown, ())
    _check_options_mapping("sequential", options)
    if warm_start is not None:
        logger.debug("sequential: warm_start is ignored")
    method = "eclipse" if multipliers == "neuron" else "eclipse-layer"
    lams: list[np.ndarray] = []
    stage_methods: list[str] = []
    stage_s: list[float] = []
    fallback: list[int] = []
    reasons: dict[int, str] = {}
    mixed: dict[int, float] = {}
    used: set[str] = set()
    solve_time, iterations = 0.0, 0
    M: np.ndarray | None = None
    for k in range(1, net.n_hidden + 1):
        W = compress_input(net.weights[0]) if k == 1 else net.weights[k - 1]
        W_next = net.weights[k]
        if M is None:
            M = np.eye(W.shape[1])
        p, m = float(net.p[k - 1]), float(net.m[k - 1])
        try:
            lam_cf = _closed_form_stage(M, W, p, m)
            M_cf = _stage_step(M, W, lam_cf, p, m)
        except _NUMERICAL_FAILURES as exc:
            return _stage_failure(method, used, k, f"the closed-form choice failed ({exc})",
                                  stage_methods, fallback, reasons)
        if not np.all(np.isfinite(lam_cf)) or M_cf is None:
            return _stage_failure(method, used, k, "the closed-form choice has no positive pivot",
                                  stage_methods, fallback, reasons)
        lam, reason, s_value = None, "", float("nan")
        try:
            scale_s = float(lam_cf[0]) / max(float(np.linalg.norm(W_next, 2)) ** 2, 1e-300)
            problem = _stage_problem(M, W, W_next, p, m, multipliers, float(lam_cf[0]), scale_s)
        except _NUMERICAL_FAILURES as exc:
            problem, reason = None, f"stage problem: {exc}"
        if problem is not None:
            stage_solver = _resolve_solver(solver, problem.blocks[0].size)
            opts = {**api.DEFAULT_OPTIONS.get(stage_solver, {}), **options}
            sres = solvers.solve(problem, stage_solver, options=opts)
            used.add(sres.solver)
            solve_time += sres.solve_time
            iterations += sres.iterations
            if not sres.ok or not np.all(np.isfinite(sres.x)):
                reason = f"stage solve: {sres.status}"
            elif not sres.x[0] > 0:
                reason = f"stage solve returned s = {sres.x[0] * scale_s:g}"
            else:
                y = np.maximum(sres.x[1:], 0.0)
                lam = float(lam_cf[0]) * (np.full(W.shape[0], y[0]) if multipliers == "layer"
                                          else y)
                s_value = float(sres.x[0] * scale_s)
        Mk, how = None, "closed-form"
        if lam is not None:
            try:
                Mk = _stage_step(M, W, lam, p, m)
            except _NUMERICAL_FAILURES:
                Mk = None
            if _rcond(Mk) >= SEQUENTIAL_MIN_RCOND:
                how = "sdp"
            else:
                for theta in _SEQUENTIAL_MIX:
                    mix = (1 - theta) * lam + theta * lam_cf
                    try:
                        Mmix = _stage_step(M, W, mix, p, m)
                    except _NUMERICAL_FAILURES:
                        continue
                    if _rcond(Mmix) >= SEQUENTIAL_MIN_RCOND:
                        lam, Mk, how = mix, Mmix, "sdp+closed-form"
                        mixed[k] = theta
                        logger.info("sequential: stage %d mixed theta=%g of the closed-form "
                                    "choice (M_%d ill-conditioned)", k, theta, k)
                        break
                else:
                    reason = f"M_{k} ill-conditioned (rcond {_rcond(Mk):.3g})"
        if how == "closed-form":
            logger.warning("sequential: stage %d (%s); using the closed-form choice", k, reason)
            fallback.append(k)
            reasons[k] = reason
            lam, Mk = lam_cf, M_cf
        stage_s.append(s_value)
        stage_methods.append(how)
        lams.append(lam)
        M = Mk
    res, _ = certify_direction(net, lams, method=method)
    info = {
        "stage_methods": stage_methods,
        "stage_s": stage_s,
        "fallback_stages": fallback,
        "fallback_reasons": reasons,
        "mixed_stages": mixed,
    }
    status = "certified" if res.certified else res.status
    if res.certified and not fallback and not mixed:
        status = "optimal"
    return _replace(res, status=status, variant="sequential", solver=",".join(sorted(used)),
                    solve_time=solve_time, iterations=iterations,
                    info={**res.info, **info})


api.VARIANTS.update(
    {"chordal": solve_chordal, "split": solve_split, "sequential": solve_sequential}
)
