"""SCS backend: a first-order splitting method called through ``scs.SCS``.

Option translation: ``tol`` sets ``eps_abs`` and ``eps_rel``; ``max_iter`` sets ``max_iters``;
``time_limit`` sets ``time_limit_secs``; ``verbose`` sets ``verbose`` (default ``False``).  Every
other key is passed to ``scs.SCS`` verbatim (``eps_infeas``, ``acceleration_lookback``,
``normalize``, ``scale``, ``linear_solver``, ...); an explicit key wins over the translation of a
common option.  SCS's defaults (``eps_abs = eps_rel = 1e-4``) are loose: pass ``tol`` for
anything you want to compare with an interior-point method.

Warm start is supported.  Given a :class:`~solvers.result.SolverResult` (of any backend) its
``x``, its dual matrices and ``info["dual_nonneg"]`` are all used: restarting from SCS's own
optimum takes a handful of iterations, from Clarabel's optimum a third to a quarter of a cold
start.  Given the point ``x`` alone, the slack is set to ``s = b - A x`` and the dual to zero,
which in our tests saves nothing (SCS needs the dual too); pass the whole result.

References
----------
O'Donoghue, B., Chu, E., Parikh, N. and Boyd, S., "Conic optimization via operator splitting and
homogeneous self-dual embedding", J. Optim. Theory Appl. 169(3), 2016.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from lipsdp_solvers.conic import ConicForm, build_conic_form
from lipsdp_solvers.options import split_options
from lipsdp_solvers.problem import LMIProblem
from lipsdp_solvers.result import SolverResult, Status, crashed_result

__all__ = ["NAME", "STATUS_MAP", "solve"]

logger = logging.getLogger(__name__)

NAME = "scs"

#: SCS's integer ``status_val`` mapped onto :class:`~solvers.result.Status`.  A
#: "solved_inaccurate" (2) that reports a reached ``max_iters`` or ``time_limit_secs`` is refined
#: to MAX_ITERATIONS or TIME_LIMIT by :func:`_status`.
STATUS_MAP: dict[int, Status] = {
    1: Status.OPTIMAL,  # solved
    2: Status.OPTIMAL_INACCURATE,  # solved_inaccurate
    -1: Status.UNBOUNDED,  # unbounded
    -6: Status.UNBOUNDED,  # unbounded_inaccurate
    -2: Status.INFEASIBLE,  # infeasible
    -7: Status.INFEASIBLE,  # infeasible_inaccurate
    -3: Status.NUMERICAL_ERROR,  # indeterminate
    -4: Status.ERROR,  # failed
    -5: Status.ERROR,  # interrupted (SIGINT)
    0: Status.ERROR,  # unfinished
}


def _limit(native: str) -> Status | None:
    if "max_iters" in native:
        return Status.MAX_ITERATIONS
    if "time_limit" in native:
        return Status.TIME_LIMIT
    return None


def _status(info: dict) -> tuple[Status, str, bool]:
    """The status, SCS's own word, and whether its ``y`` is a dual point (not a certificate of
    infeasibility). An *inaccurate* infeasible or unbounded guess made when a limit stopped SCS
    is that limit: the iterate is returned (a caller may still prove it), its ``y`` is not."""
    native = str(info.get("status", ""))
    val = int(info.get("status_val", 0))
    status = STATUS_MAP.get(val, Status.ERROR)
    if status is Status.OPTIMAL_INACCURATE:
        status = _limit(native) or status
    elif val in (-6, -7) and _limit(native) is not None:
        return _limit(native), native, False
    return status, native, True


def _settings(options: dict | None) -> dict:
    common, rest = split_options(options)
    settings: dict[str, object] = {"verbose": common.verbose}
    if common.tol is not None:
        settings.update(eps_abs=common.tol, eps_rel=common.tol)
    if common.max_iter is not None:
        settings["max_iters"] = common.max_iter
    if common.time_limit is not None:
        settings["time_limit_secs"] = common.time_limit
    settings.update(rest)
    return settings


def _warm_start_vectors(
    form: ConicForm, warm_start: np.ndarray | SolverResult
) -> dict[str, np.ndarray]:
    """``x``, ``y`` and ``s`` for SCS from a point or from a previous result."""
    duals, mu = (), None
    if isinstance(warm_start, SolverResult):
        duals = warm_start.dual
        mu = warm_start.info.get("dual_nonneg")
        warm_start = warm_start.x
    x = np.asarray(warm_start, dtype=np.float64).ravel()
    s = form.b - form.A @ x
    if len(duals) == len(form.sizes) and all(
        np.shape(Y) == (m, m) for Y, m in zip(duals, form.sizes, strict=True)
    ):
        y = form.pack_dual(np.zeros(x.size) if mu is None else mu, tuple(duals))
    else:
        y = np.zeros_like(form.b)
    return {"x": x, "y": y, "s": s}


def solve(
    problem: LMIProblem,
    options: dict | None = None,
    warm_start: np.ndarray | SolverResult | None = None,
) -> SolverResult:
    """Solve a block-LMI problem with SCS.

    Parameters
    ----------
    problem : LMIProblem
    options : dict or None
        See the module docstring; never modified.
    warm_start : ndarray of shape (n,), SolverResult, or None
        Starting point (see the module docstring); entries must be finite.

    Returns
    -------
    SolverResult
        ``dual`` holds one dense symmetric matrix per block when a point is returned;
        ``info["dual_nonneg"]`` the multipliers of ``x >= 0`` (zero for free variables), so that
        ``c_i = sum_k trace(dual[k] F_i^k) + dual_nonneg[i]``.  For an infeasible problem,
        ``info["certificate"]`` holds SCS's dual matrices, a Farkas certificate.

    Raises
    ------
    ValueError
        If an option is not an SCS setting.
    """
    import scs

    settings = _settings(options)

    t0 = time.perf_counter()
    form = build_conic_form(problem, "scs")
    cone: dict[str, object] = {"s": list(form.sizes)}
    if form.n_nonneg:
        cone = {"l": form.n_nonneg, **cone}  # SCS orders cones: 'l' rows before 's' rows
    data = {"A": form.A, "b": form.b, "c": form.c}
    try:
        solver = scs.SCS(data, cone, **settings)
    except Exception as exc:  # noqa: BLE001 - any failure inside the solver becomes a status
        if isinstance(exc, TypeError) and "keyword" in str(exc):
            raise ValueError(f"options rejected by SCS: {exc}") from None
        return crashed_result(problem, exc, solver=NAME, phase="setup",
                              setup_time=time.perf_counter() - t0)
    start = {} if warm_start is None else _warm_start_vectors(form, warm_start)
    setup_time = time.perf_counter() - t0

    t1 = time.perf_counter()
    try:
        sol = solver.solve(warm_start=bool(start), **start)
    except Exception as exc:  # noqa: BLE001 - any failure inside the solver becomes a status
        return crashed_result(problem, exc, solver=NAME, phase="solve", setup_time=setup_time,
                              solve_time=time.perf_counter() - t1)
    solve_time = time.perf_counter() - t1

    raw = sol["info"]
    status, native, has_dual = _status(raw)
    info: dict[str, object] = {
        key: raw[key]
        for key in ("res_pri", "res_dual", "gap", "res_infeas", "res_unbdd_a", "res_unbdd_p")
        if key in raw
    }
    info["native_solve_time"] = raw.get("solve_time", float("nan")) / 1000.0
    info["native_setup_time"] = raw.get("setup_time", float("nan")) / 1000.0
    info["warm_started"] = bool(start)
    if status.has_solution and not has_dual:
        x = np.asarray(sol["x"], dtype=np.float64)
        duals = ()
        objective = float(form.c @ x) if np.all(np.isfinite(x)) else float("nan")
    elif status.has_solution:
        x = np.asarray(sol["x"], dtype=np.float64)
        mu, duals = form.split_dual(sol["y"])
        info["dual_nonneg"] = mu
        info["dual_objective"] = float(raw.get("dobj", float("nan")))
        objective = float(raw.get("pobj", float("nan")))
    else:
        x = np.full(problem.n_vars, np.nan)
        duals = ()
        objective = float("nan")
        if status is Status.INFEASIBLE:
            info["certificate"] = form.split_dual(sol["y"])[1]
    if status is not Status.OPTIMAL:
        logger.debug("SCS finished with status %s", native)
    return SolverResult(
        x=x,
        status=status,
        objective=objective,
        dual=duals,
        iterations=int(raw.get("iter", 0)),
        solve_time=solve_time,
        setup_time=setup_time,
        solver=NAME,
        native_status=native,
        info=info,
    )
