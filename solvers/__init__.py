"""Solve block linear matrix inequality (LMI) problems with interchangeable backends.

Standard form (see :mod:`solvers.problem`)::

    minimise    c^T x
    subject to  F0^k + sum_i x_i F_i^k  is positive semidefinite, for every block k,
                x_i >= 0                                        where nonneg[i].

One backend per module under :mod:`solvers.backends` (Clarabel, SCS, any SDP solver of cvxpy,
and two structured interior-point methods: ``banded-ipm`` for block-tridiagonal LMIs with
low-rank coefficients, ``lowrank-ipm`` for low-rank coefficients), one result type, one status
vocabulary, a registry of backend names, and :func:`solve_many` for many problems in parallel
through joblib.

Importing this package imports no solver and has no side effects; backends are imported when a
problem is solved.  (An unrelated PyPI distribution is also called ``solvers``; this package is
installed by its parent project, not on its own.)

Examples
--------
Largest eigenvalue of ``A`` as ``min t  s.t.  t I - A >= 0``:

>>> import numpy as np, scipy.sparse as sp
>>> from lipsdp_solvers import LMIBlock, LMIProblem, solve
>>> A = np.array([[2.0, 1.0], [1.0, 2.0]])
>>> block = LMIBlock(F0=-A, F=sp.csc_matrix(np.eye(2).reshape(4, 1)))
>>> result = solve(LMIProblem(c=np.ones(1), blocks=(block,)), "clarabel")
>>> round(result.objective, 6)
3.0
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import replace

import numpy as np

from lipsdp_solvers.problem import BandedMatrix, LMIBlock, LMIProblem, LowRank
from lipsdp_solvers.registry import (
    SolverNotInstalledError,
    UnknownSolverError,
    available,
    check_solver,
    get_spec,
    is_installed,
    register,
)
from lipsdp_solvers.result import SolverResult, Status

logger = logging.getLogger(__name__)

__all__ = [
    "BandedMatrix",
    "LMIBlock",
    "LMIProblem",
    "LowRank",
    "SolverNotInstalledError",
    "SolverResult",
    "Status",
    "UnknownSolverError",
    "available",
    "check_solver",
    "is_installed",
    "register",
    "solve",
    "solve_many",
]


def _check_problem(problem: object, label: str = "problem") -> None:
    if not isinstance(problem, LMIProblem):
        raise TypeError(f"{label} is a {type(problem).__name__}; expected an LMIProblem")
    if not np.isfinite(problem.c).all():
        raise ValueError(f"{label}.c has non-finite entries; expected finite numbers")
    for k, block in enumerate(problem.blocks):
        if not np.isfinite(block.F0).all():
            raise ValueError(
                f"{label}.blocks[{k}].F0 has non-finite entries; expected finite numbers"
            )
        if not np.isfinite(block.F.data).all():
            raise ValueError(
                f"{label}.blocks[{k}].F has non-finite entries; expected finite numbers"
            )


def _check_options(options: object) -> dict:
    """Validate the common options early; return a private copy for the backend."""
    from lipsdp_solvers.options import split_options

    split_options(options)  # raises TypeError / ValueError on bad input
    return dict(options) if options is not None else {}


def _check_warm_start(problem: LMIProblem, warm_start: object) -> np.ndarray | SolverResult | None:
    if warm_start is None:
        return None
    x = warm_start.x if isinstance(warm_start, SolverResult) else warm_start
    label = "warm_start.x" if isinstance(warm_start, SolverResult) else "warm_start"
    try:
        x = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"warm_start is a {type(warm_start).__name__}; "
            "expected an array, a SolverResult or None"
        ) from None
    if x.shape != (problem.n_vars,):
        raise ValueError(
            f"{label} has shape {x.shape}; expected ({problem.n_vars},) to match problem.c"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{label} has non-finite entries; expected a finite point")
    return warm_start if isinstance(warm_start, SolverResult) else x.copy()


def solve(
    problem: LMIProblem,
    solver: str = "clarabel",
    *,
    options: Mapping[str, object] | None = None,
    warm_start: np.ndarray | SolverResult | None = None,
) -> SolverResult:
    """Solve one block-LMI problem with the named backend.

    Parameters
    ----------
    problem : LMIProblem
    solver : str, default "clarabel"
        Backend name: ``"clarabel"``, ``"scs"``, ``"cvxpy:<NAME>"`` (e.g. ``"cvxpy:CVXOPT"``) or a
        name added by :func:`register`; case-insensitive.
    options : mapping, optional
        ``tol``, ``max_iter``, ``time_limit`` (seconds) and ``verbose`` (default ``False``) are
        translated for each backend; every other key is passed to the backend verbatim.  Never
        modified.
    warm_start : ndarray of shape (n,), SolverResult, or None
        Starting point; used by SCS (which also uses a result's dual matrices) and, where it is
        strictly feasible, by ``banded-ipm`` and ``lowrank-ipm`` (a primal-feasible start with
        the dual centred on it); ignored by Clarabel and the cvxpy solvers.

    Returns
    -------
    SolverResult
        A failed solve returns ``x`` all ``nan`` and a status; it does not raise. A backend
        that raises anything but ``TypeError``/``ValueError`` (its convention for bad input), or
        returns something that is not a :class:`SolverResult` with ``x`` of shape ``(n,)``,
        gives ``Status.ERROR`` with the reason in ``native_status``.

    Raises
    ------
    TypeError
        If ``problem`` is not an :class:`LMIProblem`, or an argument has the wrong type.
    ValueError
        If an option or ``warm_start`` has a bad value.
    UnknownSolverError
        If ``solver`` is not a known backend.
    SolverNotInstalledError
        If it is known but not installed.
    """
    _check_problem(problem)
    spec = get_spec(solver)
    opts = _check_options(options)
    start = _check_warm_start(problem, warm_start)
    try:
        backend = importlib.import_module(spec.module)
    except ImportError as exc:
        raise SolverNotInstalledError(
            f"backend {spec.name!r}: cannot import {spec.module} ({exc}); fix: {spec.pip_hint}",
            name=spec.module,
        ) from exc
    kwargs = {"solver": spec.cvxpy_solver} if spec.cvxpy_solver else {}
    try:
        result = backend.solve(problem, opts, start, **kwargs)
    except ImportError as exc:
        if exc.name is None or exc.name.split(".", 1)[0] not in spec.requires:
            return _error_result(spec.name, problem, f"{type(exc).__name__}: {exc}")
        raise SolverNotInstalledError(
            f"backend {spec.name!r}: {exc}; fix: {spec.pip_hint}", name=exc.name
        ) from exc
    except (TypeError, ValueError) as exc:
        # The backends' convention for bad input (an option, the problem's structure): the
        # caller's error, raised. LinAlgError is a ValueError too, but a numerical failure.
        if not isinstance(exc, np.linalg.LinAlgError):
            raise
        logger.warning("backend %r failed: %s", spec.name, exc)
        return _error_result(spec.name, problem, f"{type(exc).__name__}: {exc}")
    except Exception as exc:
        logger.warning("backend %r raised %s: %s", spec.name, type(exc).__name__, exc,
                       exc_info=True)
        return _error_result(spec.name, problem, f"{type(exc).__name__}: {exc}")
    if not isinstance(result, SolverResult):
        return _error_result(spec.name, problem,
                             f"returned a {type(result).__name__}, not a SolverResult")
    x = np.asarray(result.x)
    if x.shape != (problem.n_vars,) or x.dtype.kind not in "fiu":
        return _error_result(spec.name, problem,
                             f"returned x of shape {x.shape} and dtype {x.dtype}; expected "
                             f"({problem.n_vars},) floats")
    if result.solver != spec.name:
        result = replace(result, solver=spec.name)
    return result


def _error_result(name: str, problem: LMIProblem, why: str) -> SolverResult:
    """The result of a backend that raised or returned something unusable."""
    return SolverResult(x=np.full(problem.n_vars, np.nan), status=Status.ERROR, solver=name,
                        native_status=f"backend error: {why}")


def solve_many(
    problems: Iterable[LMIProblem],
    solver: str = "clarabel",
    *,
    options: Mapping[str, object] | None = None,
    n_jobs: int | None = None,
) -> list[SolverResult]:
    """Solve independent problems in parallel with joblib.

    Parameters
    ----------
    problems : iterable of LMIProblem
    solver : str, default "clarabel"
        Backend name, as for :func:`solve`; checked once, before any work.
    options : mapping, optional
        As for :func:`solve`, shared by every problem.
    n_jobs : int, optional
        Number of joblib workers; ``None`` defers to the active
        :func:`joblib.parallel_config` (so ``with parallel_config(backend="dask"): ...``
        distributes the solves), which defaults to one.

    Returns
    -------
    list of SolverResult
        In the order of ``problems``.

    Raises
    ------
    Same as :func:`solve`, raised before any problem is solved.

    Notes
    -----
    Interior-point backends may use several threads each (Clarabel's ``max_threads``); with
    many workers, limit them to avoid oversubscription.
    """
    from joblib import Parallel, delayed

    problems = list(problems)
    for k, problem in enumerate(problems):
        _check_problem(problem, f"problems[{k}]")
    name = check_solver(solver)
    opts = _check_options(options)
    return list(
        Parallel(n_jobs=n_jobs)(delayed(solve)(problem, name, options=opts) for problem in problems)
    )
