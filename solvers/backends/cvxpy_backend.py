"""cvxpy backend: the problem is rebuilt as a cvxpy model and handed to any cvxpy SDP solver.

This is a reference path (an independent modelling of the same problem, and access to solvers
such as CVXOPT, SDPA or MOSEK), not a fast one: cvxpy canonicalises every ``F_i`` again.

The model is ``x = cp.Variable(n)``; for every block the symmetric part of
``F0 + reshape(F @ x, (m, m), order="F")`` is constrained PSD, and ``x[nonneg] >= 0``.

Option translation, per solver (see ``_TOL_KEYS``, ``_MAX_ITER_KEY``, ``_TIME_KEY``, ``_MOSEK``):
``tol`` sets the solver's feasibility and gap tolerances, ``max_iter`` its iteration limit and
``time_limit`` its time limit where the solver has one; a common option the solver has no
setting for (``time_limit`` for CVXOPT and SDPA) is an error, not silently ignored.  ``verbose``
is passed as cvxpy's ``verbose``.  Every other key goes to ``Problem.solve`` verbatim as a solver
option; for CVXOPT, which would take any key, an unknown one is an error.

``warm_start`` is ignored.

Notes
-----
cvxpy reports ``user_limit`` for any iteration or time limit; it becomes TIME_LIMIT when a
``time_limit`` was given and the solve took at least that long, MAX_ITERATIONS otherwise.  A
``cvxpy.error.SolverError`` ("Solver ... failed") becomes NUMERICAL_ERROR; CVXOPT stopped by
``max_iter`` ends up there too, because cvxpy turns its "unknown" status into that error.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from lipsdp_solvers.options import split_options
from lipsdp_solvers.problem import LMIProblem
from lipsdp_solvers.result import SolverResult, Status, crashed_result, failed_result

__all__ = ["STATUS_MAP", "solve"]

logger = logging.getLogger(__name__)

#: cvxpy's status strings mapped onto :class:`~solvers.result.Status`.
STATUS_MAP: dict[str, Status] = {
    "optimal": Status.OPTIMAL,
    "optimal_inaccurate": Status.OPTIMAL_INACCURATE,
    "infeasible": Status.INFEASIBLE,
    "infeasible_inaccurate": Status.INFEASIBLE,
    "unbounded": Status.UNBOUNDED,
    "unbounded_inaccurate": Status.UNBOUNDED,
    # cvxpy cannot tell which; neither INFEASIBLE nor UNBOUNDED would be honest
    "infeasible_or_unbounded": Status.ERROR,
    "user_limit": Status.MAX_ITERATIONS,  # refined to TIME_LIMIT in _status
    "solver_error": Status.NUMERICAL_ERROR,
}

_TOL_KEYS: dict[str, tuple[str, ...]] = {
    "CLARABEL": ("tol_feas", "tol_gap_abs", "tol_gap_rel"),
    "CUCLARABEL": ("tol_feas", "tol_gap_abs", "tol_gap_rel"),
    "SCS": ("eps_abs", "eps_rel"),
    "CVXOPT": ("abstol", "reltol", "feastol"),
    "SDPA": ("epsilonStar", "epsilonDash"),
}
_MAX_ITER_KEY: dict[str, str] = {
    "CLARABEL": "max_iter",
    "CUCLARABEL": "max_iter",
    "SCS": "max_iters",
    "CVXOPT": "max_iters",
    "SDPA": "maxIteration",
}
_TIME_KEY: dict[str, str] = {
    "CLARABEL": "time_limit",
    "CUCLARABEL": "time_limit",
    "SCS": "time_limit_secs",
}
#: Solvers that would accept any key silently (CVXOPT copies every option into its global
#: ``cvxopt.solvers.options``): the keys they read; any other is an error.
_KNOWN_KEYS: dict[str, frozenset[str]] = {
    "CVXOPT": frozenset({"abstol", "reltol", "feastol", "maxiters", "max_iters", "refinement",
                         "kktsolver"}),
}
#: MOSEK takes its parameters in one ``mosek_params`` dict.
_MOSEK: dict[str, tuple[str, ...]] = {
    "tol": (
        "MSK_DPAR_INTPNT_CO_TOL_PFEAS",
        "MSK_DPAR_INTPNT_CO_TOL_DFEAS",
        "MSK_DPAR_INTPNT_CO_TOL_REL_GAP",
    ),
    "max_iter": ("MSK_IPAR_INTPNT_MAX_ITERATIONS",),
    "time_limit": ("MSK_DPAR_OPTIMIZER_MAX_TIME",),
}


def _solver_options(name: str, options: dict | None) -> tuple[dict, bool, float | None]:
    """Translate the options for cvxpy solver ``name``: ``(kwargs, verbose, time_limit)``."""
    common, rest = split_options(options)
    kwargs: dict[str, object] = {}
    given = {
        key: getattr(common, key)
        for key in ("tol", "max_iter", "time_limit")
        if getattr(common, key) is not None
    }
    if name == "MOSEK":
        params = dict(rest.pop("mosek_params", None) or {})
        for key, value in given.items():
            for param in _MOSEK[key]:
                params.setdefault(param, value)
        if params:
            kwargs["mosek_params"] = params
    else:
        tables = {
            "tol": _TOL_KEYS.get(name, ()),
            "max_iter": (_MAX_ITER_KEY[name],) if name in _MAX_ITER_KEY else (),
            "time_limit": (_TIME_KEY[name],) if name in _TIME_KEY else (),
        }
        for key, value in given.items():
            if not tables[key]:
                raise ValueError(f"option {key!r} has no setting in cvxpy:{name} (it would be "
                                 f"ignored); leave it out or choose another solver")
            for native in tables[key]:
                kwargs[native] = value
    if name in _KNOWN_KEYS:
        unknown = sorted(set(rest) - _KNOWN_KEYS[name])
        if unknown:
            raise ValueError(f"unknown cvxpy:{name} options {unknown}; it takes "
                             f"{sorted(_KNOWN_KEYS[name])} and the common options")
    kwargs.update(rest)
    return kwargs, common.verbose, common.time_limit


def _status(native: str, time_limit: float | None, seconds: float, extra: object) -> Status:
    status = STATUS_MAP.get(native, Status.ERROR)
    if status is Status.MAX_ITERATIONS and time_limit is not None and seconds >= time_limit:
        status = Status.TIME_LIMIT
    # cvxpy calls SCS's "solved (inaccurate - reached max_iters)" optimal_inaccurate; SCS's own
    # result dict (with its "info") is in solver_stats.extra_stats
    if status is Status.OPTIMAL_INACCURATE and isinstance(extra, dict):
        raw = extra.get("info", extra)
        word = str(raw.get("status", "")) if isinstance(raw, dict) else ""
        if "max_iters" in word:
            status = Status.MAX_ITERATIONS
        elif "time_limit" in word:
            status = Status.TIME_LIMIT
    return status


def solve(
    problem: LMIProblem,
    options: dict | None = None,
    warm_start: np.ndarray | None = None,
    *,
    solver: str = "CLARABEL",
) -> SolverResult:
    """Solve a block-LMI problem through cvxpy with the cvxpy solver ``solver``.

    Parameters
    ----------
    problem : LMIProblem
    options : dict or None
        See the module docstring; never modified.
    warm_start : ndarray or None
        Ignored.
    solver : str
        cvxpy solver name (upper case), e.g. ``"CVXOPT"``.

    Returns
    -------
    SolverResult
        ``solver`` is ``"cvxpy:<NAME>"``; ``dual`` holds each PSD constraint's ``dual_value``
        and ``info["dual_nonneg"]`` the multipliers of ``x >= 0``, when cvxpy returns them.
    """
    import cvxpy as cp

    del warm_start  # documented: ignored
    name = solver.upper()
    label = f"cvxpy:{name}"
    kwargs, verbose, time_limit = _solver_options(name, options)

    t0 = time.perf_counter()
    n = problem.n_vars
    x = cp.Variable(n)
    psd = []
    for blk in problem.blocks:
        m = blk.size
        S = blk.F0 + cp.reshape(cp.Constant(blk.F) @ x, (m, m), order="F")
        psd.append((S + S.T) / 2 >> 0)
    constraints = list(psd)
    nonneg = np.flatnonzero(problem.nonneg)
    nonneg_con = x[nonneg] >= 0 if nonneg.size else None
    if nonneg_con is not None:
        constraints.append(nonneg_con)
    model = cp.Problem(cp.Minimize(problem.c @ x), constraints)
    build_time = time.perf_counter() - t0

    t1 = time.perf_counter()
    try:
        model.solve(solver=name, verbose=verbose, **kwargs)
    except cp.error.SolverError as exc:
        logger.warning("%s failed: %s", label, exc)
        return failed_result(
            problem,
            Status.NUMERICAL_ERROR,
            solver=label,
            native_status="solver_error",
            message=str(exc),
            setup_time=build_time,
            solve_time=time.perf_counter() - t1,
        )
    except Exception as exc:  # noqa: BLE001 - any failure inside the solver becomes a status
        return crashed_result(problem, exc, solver=label, phase="solve", setup_time=build_time,
                              solve_time=time.perf_counter() - t1)
    total = time.perf_counter() - t1
    compile_time = float(getattr(model, "compilation_time", None) or 0.0)
    stats = model.solver_stats
    native = str(model.status)
    status = _status(
        native,
        time_limit,
        float(stats.solve_time) if stats.solve_time is not None else total,
        stats.extra_stats,
    )

    if status.has_solution and x.value is None:
        logger.warning("%s reported %s but returned no point", label, native)
        status = Status.ERROR
    info: dict[str, object] = {}
    if stats.solve_time is not None:
        info["native_solve_time"] = float(stats.solve_time)
    if status.has_solution:
        xv = np.asarray(x.value, dtype=np.float64).ravel()
        objective = float(model.value) if model.value is not None else float(problem.c @ xv)
        duals = tuple(
            np.asarray(con.dual_value, dtype=np.float64)
            for con in psd
            if con.dual_value is not None
        )
        if len(duals) != len(psd):
            duals = ()
        mu = np.zeros(n)
        if nonneg_con is not None and nonneg_con.dual_value is not None:
            mu[nonneg] = np.asarray(nonneg_con.dual_value, dtype=np.float64).ravel()
        info["dual_nonneg"] = mu
    else:
        xv = np.full(n, np.nan)
        objective = float("nan")
        duals = ()
    if status is not Status.OPTIMAL:
        logger.debug("%s finished with status %s", label, native)
    return SolverResult(
        x=xv,
        status=status,
        objective=objective,
        dual=tuple(0.5 * (Y + Y.T) for Y in duals),
        iterations=int(stats.num_iters or 0),
        solve_time=max(total - compile_time, 0.0),
        setup_time=build_time + compile_time,
        solver=label,
        native_status=native,
        info=info,
    )
