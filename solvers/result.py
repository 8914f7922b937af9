"""One result type and one status vocabulary for every backend; the result of a failed solve."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from lipsdp_solvers.problem import LMIProblem

__all__ = ["STOPPED_BY_CALLBACK", "SolverResult", "Status", "crashed_result", "failed_result"]

logger = logging.getLogger(__name__)


#: The native status of a solve that the caller's ``callback`` stopped (returned True), shared by
#: every backend that takes one (:attr:`solvers.registry.Capabilities.callback`); its status
#: is ``OPTIMAL_INACCURATE`` (the caller decided the point is good enough).
STOPPED_BY_CALLBACK = "stopped_by_callback"


class Status(str, Enum):
    """Normalised solver status (each backend maps its native codes onto these)."""

    OPTIMAL = "optimal"
    OPTIMAL_INACCURATE = "optimal_inaccurate"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    MAX_ITERATIONS = "max_iterations"
    TIME_LIMIT = "time_limit"
    NUMERICAL_ERROR = "numerical_error"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value

    @property
    def has_solution(self) -> bool:
        """Whether the returned point is worth post-processing (it may still be inexact)."""
        return self in (
            Status.OPTIMAL,
            Status.OPTIMAL_INACCURATE,
            Status.MAX_ITERATIONS,
            Status.TIME_LIMIT,
        )


@dataclass(frozen=True)
class SolverResult:
    """What a backend returns.

    Attributes
    ----------
    x : ndarray, shape (n,)
        Primal point; all ``nan`` when the backend returned none.
    status : Status
        Normalised status; ``native_status`` keeps the backend's own word.
    objective : float
        ``c^T x`` as reported by the backend (``nan`` without a solution). Never a certified number.
    dual : tuple of ndarray
        One symmetric ``(m, m)`` dual matrix per LMI block (empty where unavailable).
    iterations : int
    solve_time : float
        Seconds spent inside the backend's solve call.
    setup_time : float
        Seconds spent converting the standard form to the backend's input and constructing the
        backend's solver object (Clarabel assembles its KKT system there).
    solver : str
        Registry name of the backend.
    native_status : str
    info : dict
        Backend extras: ``dual_nonneg`` (multipliers of ``x >= 0``, so that
        ``c_i = sum_k tr(Y_k F_i^k) + dual_nonneg_i``), ``certificate`` (Farkas duals when
        infeasible), and backend-specific diagnostics.
    """

    x: np.ndarray
    status: Status
    objective: float = float("nan")
    dual: tuple[np.ndarray, ...] = ()
    iterations: int = 0
    solve_time: float = 0.0
    setup_time: float = 0.0
    solver: str = ""
    native_status: str = ""
    info: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in (Status.OPTIMAL, Status.OPTIMAL_INACCURATE)

    @property
    def stopped_by_callback(self) -> bool:
        """Whether the caller's ``callback`` stopped the solve (:data:`STOPPED_BY_CALLBACK`)."""
        return self.native_status == STOPPED_BY_CALLBACK


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
