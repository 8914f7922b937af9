"""Clarabel backend: an interior-point method called through ``clarabel.DefaultSolver``.

Option translation: ``tol`` sets ``tol_feas``, ``tol_gap_abs`` and ``tol_gap_rel``; ``max_iter``
sets ``max_iter``; ``time_limit`` sets ``time_limit``; ``verbose`` sets ``verbose`` (default
``False``).  Every other key must be a ``clarabel.DefaultSettings`` attribute (for example
``chordal_decomposition_enable``, ``direct_solve_method``, ``max_threads``, ``presolve_enable``)
and is set verbatim; an explicit key wins over the translation of a common option.

``warm_start`` is ignored: Clarabel is an interior-point method and has no warm start.

Notes
-----
Clarabel puts the scaling matrix of each PSD cone into its KKT system as a *dense* block of side
``m(m+1)/2``, whatever the sparsity of the ``F_i``: memory grows like ``m^4`` and factorisation
time like ``m^6``.  Measured (Clarabel 0.11, 2 cores, one dense block, one variable): ``m = 80``
took 0.6 GB and 9 s, ``m = 120`` 2.7 GB and 60 s; extrapolated, ``m = 200`` needs about 20 GB and
``m = 300`` about 100 GB.  Large blocks therefore need a sparsity pattern that
``chordal_decomposition_enable=True`` (Clarabel's default) can split into small cliques, or SCS
(first-order, memory linear in the data, but many iterations on hard problems).

References
----------
Goulart, P. J. and Chen, Y., "Clarabel: An interior-point solver for conic programs with quadratic
objectives", arXiv:2405.12762, 2024.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import scipy.sparse as sp

from lipsdp_solvers.conic import build_conic_form
from lipsdp_solvers.options import split_options
from lipsdp_solvers.problem import LMIProblem
from lipsdp_solvers.result import SolverResult, Status, crashed_result

__all__ = ["NAME", "STATUS_MAP", "solve"]

logger = logging.getLogger(__name__)

NAME = "clarabel"

#: Clarabel's ``SolverStatus`` names mapped onto :class:`~solvers.result.Status`.
STATUS_MAP: dict[str, Status] = {
    "Solved": Status.OPTIMAL,
    "AlmostSolved": Status.OPTIMAL_INACCURATE,
    "MaxIterations": Status.MAX_ITERATIONS,
    "MaxTime": Status.TIME_LIMIT,
    "PrimalInfeasible": Status.INFEASIBLE,
    "AlmostPrimalInfeasible": Status.INFEASIBLE,
    "DualInfeasible": Status.UNBOUNDED,
    "AlmostDualInfeasible": Status.UNBOUNDED,
    "NumericalError": Status.NUMERICAL_ERROR,
    "InsufficientProgress": Status.NUMERICAL_ERROR,
    "CallbackTerminated": Status.ERROR,
    "Unsolved": Status.ERROR,
}


def _settings(options: dict | None):
    """Build ``clarabel.DefaultSettings`` from the options (raises on a bad key or value)."""
    import clarabel

    common, rest = split_options(options)
    values: dict[str, object] = {"verbose": common.verbose}
    if common.tol is not None:
        values.update(tol_feas=common.tol, tol_gap_abs=common.tol, tol_gap_rel=common.tol)
    if common.max_iter is not None:
        values["max_iter"] = common.max_iter
    if common.time_limit is not None:
        values["time_limit"] = common.time_limit
    values.update(rest)

    settings = clarabel.DefaultSettings()
    for key, value in values.items():
        if key.startswith("_") or not hasattr(settings, key):
            valid = sorted(k for k in dir(settings) if not k.startswith("_") and k != "default")
            raise ValueError(
                f"options[{key!r}] is not a Clarabel setting; expected one of "
                f"tol, max_iter, time_limit, verbose or {', '.join(valid)}"
            )
        try:
            setattr(settings, key, value)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"options[{key!r}] = {value!r} rejected by Clarabel: {exc}") from None
    return settings


def solve(
    problem: LMIProblem, options: dict | None = None, warm_start: np.ndarray | None = None
) -> SolverResult:
    """Solve a block-LMI problem with Clarabel.

    Parameters
    ----------
    problem : LMIProblem
    options : dict or None
        See the module docstring; never modified.
    warm_start : ndarray or None
        Ignored (Clarabel has no warm start).

    Returns
    -------
    SolverResult
        ``dual`` holds one dense symmetric matrix per block when a point is returned;
        ``info["dual_nonneg"]`` the multipliers of ``x >= 0`` (zero for free variables), so that
        ``c_i = sum_k trace(dual[k] F_i^k) + dual_nonneg[i]``.  For an infeasible problem,
        ``info["certificate"]`` holds Clarabel's dual matrices, a Farkas certificate.

    Raises
    ------
    ValueError
        If an option is not a Clarabel setting or has a bad value.
    """
    import clarabel

    del warm_start  # documented: Clarabel cannot warm start
    settings = _settings(options)

    t0 = time.perf_counter()
    form = build_conic_form(problem, "clarabel")
    n = problem.n_vars
    cones = []
    if form.n_nonneg:
        cones.append(clarabel.NonnegativeConeT(form.n_nonneg))
    cones += [clarabel.PSDTriangleConeT(m) for m in form.sizes]
    P = sp.csc_matrix((n, n), dtype=np.float64)
    try:
        solver = clarabel.DefaultSolver(P, form.c, form.A, form.b, cones, settings)
    except Exception as exc:  # noqa: BLE001 - any failure inside the solver becomes a status
        return crashed_result(problem, exc, solver=NAME, phase="setup",
                              setup_time=time.perf_counter() - t0)
    setup_time = time.perf_counter() - t0

    t1 = time.perf_counter()
    try:
        sol = solver.solve()
    except Exception as exc:  # noqa: BLE001 - any failure inside the solver becomes a status
        return crashed_result(problem, exc, solver=NAME, phase="solve", setup_time=setup_time,
                              solve_time=time.perf_counter() - t1)
    solve_time = time.perf_counter() - t1

    native = str(sol.status)
    status = STATUS_MAP.get(native, Status.ERROR)
    info: dict[str, object] = {
        "native_solve_time": float(sol.solve_time),
        "r_prim": float(sol.r_prim),
        "r_dual": float(sol.r_dual),
    }
    if status.has_solution:
        x = np.asarray(sol.x, dtype=np.float64)
        mu, duals = form.split_dual(np.asarray(sol.z))
        info["dual_nonneg"] = mu
        info["dual_objective"] = float(sol.obj_val_dual)
        objective = float(sol.obj_val)
    else:
        x = np.full(n, np.nan)
        duals = ()
        objective = float("nan")
        if status is Status.INFEASIBLE:
            info["certificate"] = form.split_dual(np.asarray(sol.z))[1]
    if status is not Status.OPTIMAL:
        logger.debug("Clarabel finished with status %s", native)
    return SolverResult(
        x=x,
        status=status,
        objective=objective,
        dual=duals,
        iterations=int(sol.iterations),
        solve_time=solve_time,
        setup_time=setup_time,
        solver=NAME,
        native_status=native,
        info=info,
    )
