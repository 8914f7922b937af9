"""Solver backends, one module each, plus the conic-form plumbing they share.

Every backend module exposes::

    solve(problem: LMIProblem, options: dict, warm_start: ndarray | None) -> SolverResult

and imports its solver lazily, inside ``solve``, so that importing :mod:`solvers` stays cheap.
A backend never raises from inside the solver: an exception or a status without a solution gives
a :class:`~solvers.result.SolverResult` whose ``x`` is all ``nan``.  Bad options (an unknown
setting, a value of the wrong kind) do raise, before any work.

The helpers here build the conic form shared by Clarabel and SCS::

    minimise  c^T x   subject to   A x + s = b,   s in K,

with ``K = R_+^{n_nonneg} x S_+^{m_1} x ... x S_+^{m_K}`` (nonnegative rows first, then one
packed PSD triangle per block), ``A = [-E_nonneg; -svec(F^1); ...]`` and
``b = [0; svec(F0^1); ...]``, so that ``s = [x_nonneg; svec(F0^k + sum_i x_i F_i^k)]``.
The dual ``z`` satisfies ``c = -A^T z`` i.e. ``c_i = sum_k trace(Y_k F_i^k) + mu_i`` with
``Y_k = smat(z_k)`` and ``mu_i >= 0`` the multiplier of ``x_i >= 0`` (zero for free variables).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp

from solvers import svec as _svec
from solvers.problem import LMIProblem
from solvers.result import SolverResult, Status

__all__ = [
    "COMMON_OPTIONS",
    "CommonOptions",
    "ConicForm",
    "backend_options",
    "build_conic_form",
    "failed_result",
    "split_options",
]

logger = logging.getLogger(__name__)

#: Option keys every backend understands and translates into its own settings.
COMMON_OPTIONS = ("tol", "max_iter", "time_limit", "verbose")


@dataclass(frozen=True)
class CommonOptions:
    """The backend-neutral options, validated.

    Attributes
    ----------
    tol : float or None
        Feasibility and duality-gap tolerance; ``None`` keeps the solver's default.
    max_iter : int or None
        Iteration limit; ``None`` keeps the solver's default.
    time_limit : float or None
        Wall-clock limit in seconds; ``None`` means none.
    verbose : bool
        Let the solver print its log (default ``False``).
    """

    tol: float | None = None
    max_iter: int | None = None
    time_limit: float | None = None
    verbose: bool = False

    def __post_init__(self) -> None:
        if self.tol is not None and (
            isinstance(self.tol, bool)
            or not isinstance(self.tol, Real)
            or not (0 < self.tol < math.inf)
        ):
            raise ValueError(f"options['tol'] is {self.tol!r}; expected a positive finite number")
        if self.max_iter is not None and (
            isinstance(self.max_iter, bool)
            or not isinstance(self.max_iter, Integral)
            or self.max_iter < 1
        ):
            raise ValueError(
                f"options['max_iter'] is {self.max_iter!r}; expected a positive integer"
            )
        if self.time_limit is not None and (
            isinstance(self.time_limit, bool)
            or not isinstance(self.time_limit, Real)
            or not self.time_limit > 0
        ):
            raise ValueError(
                f"options['time_limit'] is {self.time_limit!r}; "
                "expected a positive number of seconds"
            )
        if not isinstance(self.verbose, (bool, np.bool_)):
            raise ValueError(f"options['verbose'] is {self.verbose!r}; expected True or False")
        for name, cast in (("tol", float), ("max_iter", int), ("time_limit", float)):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, cast(value))
        object.__setattr__(self, "verbose", bool(self.verbose))


def split_options(options: Mapping[str, object] | None) -> tuple[CommonOptions, dict]:
    """Separate the common options from the backend-specific ones.

    Parameters
    ----------
    options : mapping or None
        Caller's options; never modified.

    Returns
    -------
    common : CommonOptions
    rest : dict
        A fresh dict with every other key, to be passed to the backend verbatim.

    Raises
    ------
    TypeError
        If ``options`` is not a mapping or has a non-string key.
    ValueError
        If a common option has a bad value.
    """
    if options is None:
        return CommonOptions(), {}
    if not isinstance(options, Mapping):
        raise TypeError(f"options is a {type(options).__name__}; expected a dict or None")
    for key in options:
        if not isinstance(key, str):
            raise TypeError(f"options has key {key!r}; expected string keys")
    common = CommonOptions(**{k: options[k] for k in COMMON_OPTIONS if k in options})
    rest = {k: v for k, v in options.items() if k not in COMMON_OPTIONS}
    return common, rest


def backend_options(
    options: Mapping[str, object] | None, name: str, allowed: tuple[str, ...]
) -> tuple[CommonOptions, dict]:
    """:func:`split_options` for a backend whose own settings are ``allowed``: an unknown key is
    a ``ValueError`` naming the backend, and ``callback``, if given, must be callable."""
    common, rest = split_options(options)
    unknown = sorted(set(rest) - set(allowed))
    if unknown:
        raise ValueError(
            f"options {unknown} are not {name} settings; expected the common options "
            f"(tol, max_iter, time_limit, verbose) or {list(allowed)}"
        )
    callback = rest.get("callback")
    if callback is not None and not callable(callback):
        raise TypeError(f"options['callback'] is {type(callback).__name__}; expected a callable")
    return common, rest


@dataclass(frozen=True)
class ConicForm:
    """``min c^T x  s.t.  A x + s = b,  s in R_+^{n_nonneg} x S_+^{sizes[0]} x ...``.

    Attributes
    ----------
    A : scipy.sparse.csc_matrix, shape (n_rows, n)
    b : ndarray, shape (n_rows,)
    c : ndarray, shape (n,)
    nonneg_index : ndarray of int, shape (n_nonneg,)
        Variables with a nonnegativity row, in row order.
    sizes : tuple of int
        Side of each PSD block, in row order after the nonnegative rows.
    order : str
        The packed-triangle order (see :mod:`solvers.svec`) of the PSD rows.
    """

    A: sp.csc_matrix
    b: np.ndarray
    c: np.ndarray
    nonneg_index: np.ndarray
    sizes: tuple[int, ...]
    order: str

    @property
    def n_nonneg(self) -> int:
        return int(self.nonneg_index.size)

    def psd_slices(self) -> list[slice]:
        """Row range of each PSD block."""
        out, start = [], self.n_nonneg
        for m in self.sizes:
            stop = start + _svec.svec_size(m)
            out.append(slice(start, stop))
            start = stop
        return out

    def split_dual(self, z: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """Turn a conic dual vector into ``(mu, (Y_1, ..., Y_K))``.

        ``mu`` has one entry per variable (zero for free ones); each ``Y_k`` is a dense symmetric
        matrix.
        """
        z = np.asarray(z, dtype=np.float64).ravel()
        mu = np.zeros(self.c.size)
        mu[self.nonneg_index] = z[: self.n_nonneg]
        duals = tuple(
            _svec.smat(z[rows], m, self.order)
            for rows, m in zip(self.psd_slices(), self.sizes, strict=True)
        )
        return mu, duals

    def pack_dual(self, mu: np.ndarray, duals: tuple[np.ndarray, ...]) -> np.ndarray:
        """Inverse of :meth:`split_dual` (``mu`` is read at the nonnegative variables only)."""
        parts = [np.asarray(mu, dtype=np.float64)[self.nonneg_index]]
        parts += [_svec.svec(Y, self.order) for Y in duals]
        return np.concatenate(parts)


def build_conic_form(problem: LMIProblem, order: str) -> ConicForm:
    """Stack a problem's nonnegativity rows and packed LMI blocks into one ``(A, b)``.

    Parameters
    ----------
    problem : LMIProblem
    order : str
        Packed-triangle order the solver wants (see :mod:`solvers.svec`).

    Returns
    -------
    ConicForm
    """
    n = problem.n_vars
    nonneg_index = np.flatnonzero(problem.nonneg)
    k = nonneg_index.size
    E = sp.csc_matrix((-np.ones(k), (np.arange(k), nonneg_index)), shape=(k, n), dtype=np.float64)
    A_parts = [E] + [-_svec.svec_sparse(blk.F, blk.size, order) for blk in problem.blocks]
    b_parts = [np.zeros(k)] + [_svec.svec(blk.F0, order) for blk in problem.blocks]
    A = sp.vstack(A_parts, format="csc", dtype=np.float64)
    A.sort_indices()
    return ConicForm(
        A=A,
        b=np.concatenate(b_parts),
        c=problem.c.copy(),
        nonneg_index=nonneg_index,
        sizes=tuple(blk.size for blk in problem.blocks),
        order=order,
    )


def failed_result(
    problem: LMIProblem,
    status: Status,
    *,
    solver: str,
    native_status: str = "",
    message: str = "",
    iterations: int = 0,
    setup_time: float = 0.0,
    solve_time: float = 0.0,
) -> SolverResult:
    """A result without a solution: ``x`` all ``nan``, no duals, ``message`` in ``info``."""
    return SolverResult(
        x=np.full(problem.n_vars, np.nan),
        status=status,
        iterations=int(iterations),
        solve_time=float(solve_time),
        setup_time=float(setup_time),
        solver=solver,
        native_status=native_status,
        info={"message": message} if message else {},
    )


def crashed_result(
    problem: LMIProblem,
    exc: BaseException,
    *,
    solver: str,
    phase: str,
    setup_time: float = 0.0,
    solve_time: float = 0.0,
) -> SolverResult:
    """The result of a solver that raised ``exc`` in ``phase`` (``"setup"`` or ``"solve"``):
    logged (the traceback at DEBUG) and turned into an ``ERROR`` status, never re-raised."""
    logger.warning("%s %s failed: %s", solver, phase, exc)
    logger.debug("%s %s traceback", solver, phase, exc_info=exc)
    return failed_result(
        problem,
        Status.ERROR,
        solver=solver,
        native_status=type(exc).__name__,
        message=str(exc),
        setup_time=setup_time,
        solve_time=solve_time,
    )
