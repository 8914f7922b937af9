"""ECLipsE (``variant="sequential"``): one small SDP per hidden layer (docs/math.md §7)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import scipy.linalg as sla

import lipsdp_solvers as solvers

from .. import progress
from ..certify import certify_direction
from ..lmi import lmi_geometry, schur_step
from ..network import Network
from ..result import LipschitzResult, Status
from ..solver_choice import backend_options, choose_solver
from .options import _check_options_mapping, _reject_unknown

__all__ = ["solve_sequential"]

logger = logging.getLogger(__name__)

#: A stage of ``"sequential"`` whose ``M_k`` has ``lambda_min / lambda_max`` below this is
#: ill-conditioned: the next pivot's Cholesky would lose most of its digits.
SEQUENTIAL_MIN_RCOND = 1e-10

#: Convex-combination weights of the closed-form choice mixed into an ill-conditioned stage
#: (``M_k`` is concave in ``Lambda_k``, so the mixture keeps ``lambda_min(M_k) > 0``).
_SEQUENTIAL_MIX = (1e-6, 1e-4, 1e-2, 1e-1)


def _stage_step(
    M: np.ndarray, W: np.ndarray, lam: np.ndarray, p: float, m: float
) -> np.ndarray | None:
    """``M_k`` of docs/math.md §3 (:func:`lipsdp.lmi.schur_step`); None when the pivot ``X`` is
    not positive definite."""
    out = schur_step(M, W, lam, p, m)
    return None if out is None else out[0]


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
        status=Status.NOT_CERTIFIED, message=f"stage {k}: {why}",
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
    Ws = lmi_geometry(net).weights  # W_0 compressed as in docs/math.md §8
    for k in range(1, net.n_hidden + 1):
        W = Ws[k - 1]
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
            stage_solver = (choose_solver(variant="sequential", side=problem.blocks[0].size)
                            if solver == "auto" else solver)
            opts = backend_options(stage_solver, options)
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
        progress.emit("stage", index=k, total=net.n_hidden, how=how)
    res, _ = certify_direction(net, lams, method=method)
    info = {
        "stage_methods": stage_methods,
        "stage_s": stage_s,
        "fallback_stages": fallback,
        "fallback_reasons": reasons,
        "mixed_stages": mixed,
    }
    status = Status.CERTIFIED if res.certified else res.status
    if res.certified and not fallback and not mixed:
        status = Status.OPTIMAL
    return replace(res, status=status, variant="sequential", solver=",".join(sorted(used)),
                   solve_time=solve_time, iterations=iterations,
                   info={**res.info, **info})
