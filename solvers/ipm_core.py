"""The primal-dual interior-point iteration shared by the structured backends.

Problem (as for every backend) and its dual::

    (P)  minimise c^T x      s.t.  S = F0 + A(x) >= 0,   x_i >= 0 (i nonneg)
    (D)  maximise -<F0, Y>   s.t.  A^*(Y) + z = c,  Y >= 0,  z >= 0 (0 if free)

Infeasible-start path following with the HKM search direction and Mehrotra's
predictor-corrector: :func:`iterate` runs the loop (residuals, stopping tests, centring, step
lengths, the feasible start and its fallback, the result), and a method supplies only its
linear algebra, a :class:`ConeAlgebra` (how ``S`` and ``Y`` are stored, factored, applied and
stepped to the boundary) whose :meth:`~ConeAlgebra.newton` builds a :class:`NewtonSystem` (the
Schur matrix, its factor and the directions). banded-ipm keeps ``S`` and ``Y`` on a
block-tridiagonal pattern, lowrank-ipm as dense blocks; the iteration is the same.

The nonnegative variables' slack ``s = x_nn`` and its dual ``z`` are plain vectors handled here.

References
----------
C. Helmberg, F. Rendl, R. Vanderbei, H. Wolkowicz, "An interior-point method for semidefinite
programming", SIAM J. Optim. 6 (1996). S. Mehrotra, "On the implementation of a primal-dual
interior point method", SIAM J. Optim. 2 (1992). K.-C. Toh, M. Todd, R. Tütüncü, "SDPT3",
Optim. Methods Softw. 11 (1999).
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from lipsdp_solvers.ipm_linalg import max_step_vec
from lipsdp_solvers.options import CommonOptions
from lipsdp_solvers.problem import LMIProblem
from lipsdp_solvers.result import STOPPED_BY_CALLBACK, SolverResult, Status, failed_result

__all__ = [
    "BLOCKED_START_STEP",
    "ConeAlgebra",
    "Direction",
    "NewtonSystem",
    "iterate",
    "run",
    "warm_point",
]

logger = logging.getLogger(__name__)

#: A feasible start whose first step is shorter than this (both primal and dual) is abandoned
#: for the default start: it sits too close to the boundary of the cone
#: (tests/lipsdp/test_ipm.py: from ECLipsE-Fast's point on a 10-layer network the first steps
#: are below 0.02).
BLOCKED_START_STEP = 0.1

#: Once the relative primal residual is below this, ``S`` is reset to ``F0 + A(x)`` itself: the
#: iterates then stay exactly primal feasible and the ``Rp`` terms vanish.
FEASIBLE_RESET = 1e-12

#: A matrix iterate of a method: its own storage of ``S``, ``Y`` or a direction (dense blocks,
#: block-tridiagonal parts, ...); only the :class:`ConeAlgebra` that made it reads it.
Mat = Any


@dataclass
class Direction:
    """A search direction: ``dx``, ``dS = A(dx) + Rp``, ``dY``, the nonnegative slack's ``ds``
    and its dual's ``dz``, and ``extra``, what the method keeps of it for the second-order term.
    """

    dx: np.ndarray
    dS: Mat
    dY: Mat
    ds: np.ndarray
    dz: np.ndarray
    extra: Any = None


class NewtonSystem(ABC):
    """One iteration's factorisations (``S``, the dual, the Schur matrix) and what they solve.

    Built by :meth:`ConeAlgebra.newton` at the iterate ``(x, S, s, Y, z)`` with the residuals
    ``Rp = F0 + A(x) - S`` (None once zero), ``rp_lp = x_nn - s`` and ``rd = c - A^*(Y) - z``.
    """

    @abstractmethod
    def direction(self, sigma_mu: float, g_lp: np.ndarray, second: Any) -> Direction:
        """The HKM direction for the complementarity target ``sigma_mu S^{-1} - Y - second``
        (``second``: None for the predictor, else :meth:`second_order` of it) and
        ``g_lp``, the nonnegative part's ``sigma mu / s - z - dz ds / s`` (``-z`` for the
        predictor)."""

    @abstractmethod
    def second_order(self, d: Direction) -> Any:
        """Mehrotra's second-order term ``dY dS S^{-1}`` of the predictor ``d``, in the form
        :meth:`direction` takes (the method's own: full, or on the pattern)."""

    @abstractmethod
    def complementarity(self, a_p: float, a_d: float, d: Direction) -> float:
        """``<Y + a_d dY, S + a_p dS>`` (the matrix part of the predicted ``mu``)."""

    @abstractmethod
    def primal_step(self, d: Direction, cap: float, frac: float,
                    verify: bool) -> tuple[float, Any]:
        """``min(cap, frac * alpha_max)`` for ``alpha_max`` the largest step with ``S + a dS``
        positive semidefinite (estimated; with ``verify``, checked by a factorisation and
        shortened until it passes), and the factor of ``S + a dS`` where one was computed
        (else None)."""

    @abstractmethod
    def dual_step(self, d: Direction, cap: float, frac: float,
                  verify: bool) -> tuple[float, Any]:
        """:meth:`primal_step` for ``Y + a dY``, with the dual's factor (see
        :meth:`ConeAlgebra.dual_factor`)."""


class ConeAlgebra(ABC):
    """The linear algebra of one structured interior-point method.

    Attributes
    ----------
    name : str
        The backend's registry name (for logs and results).
    order : int
        ``sum_k m_k``, the PSD part of the barrier parameter ``nu``.
    side : int
        The side that scales the default start (SDPT3's ``sqrt(m)``).
    col_norms : ndarray, shape (n,)
        Frobenius norm of each coefficient ``F_i`` over all blocks.
    F0 : Mat
        The constant term ``F0``.
    f0_norm : float
        Frobenius norm of ``F0``.
    """

    name: str
    F0: Mat
    order: int
    side: int
    col_norms: np.ndarray
    f0_norm: float

    @abstractmethod
    def identity(self, value: float) -> Mat:
        """``value I``."""

    @abstractmethod
    def slack(self, x: np.ndarray) -> Mat:
        """``F0 + A(x)``."""

    @abstractmethod
    def operator_norm(self, x: np.ndarray) -> float:
        """``||A(x)||_F`` (no ``F0``)."""

    @abstractmethod
    def adjoint(self, Y: Mat) -> np.ndarray:
        """``A^*(Y) = [<F_i, Y>]_i``."""

    @abstractmethod
    def lin(self, a: float, A: Mat, b: float, B: Mat) -> Mat:
        """``a A + b B``."""

    @abstractmethod
    def inner(self, A: Mat, B: Mat) -> float:
        """``<A, B>`` (Frobenius)."""

    @abstractmethod
    def factor(self, S: Mat) -> Any | None:
        """A Cholesky factor of ``S``, or None where ``S`` is not positive definite."""

    @abstractmethod
    def dual_factor(self, Y: Mat) -> Any | None:
        """The factorisation of ``Y`` the dual steps need, or None where ``Y`` is not (or
        cannot be completed to) positive definite."""

    @abstractmethod
    def feasible_start(self, c: np.ndarray, nn: np.ndarray,
                       x0: np.ndarray | None) -> tuple | None:
        """``(x, S, s, Y, z)`` of the centred start at a strictly feasible ``x0``: ``S = F0 +
        A(x0)``, ``Y = mu S^{-1}``, ``z = mu / x0``, with ``mu`` fitted to the dual equation
        (:func:`~solvers.ipm_linalg.centring_mu`); None where ``x0`` is missing or not strictly
        feasible."""

    @abstractmethod
    def newton(self, S: Mat, fac_S: Any, Y: Mat, fac_Y: Any, z: np.ndarray, s: np.ndarray,
               Rp: Mat | None, rp_lp: np.ndarray, rd: np.ndarray, aY: np.ndarray, nn: np.ndarray,
               hook: Callable[[np.ndarray], object] | None) -> NewtonSystem:
        """Factor the Newton system at this iterate (``aY = A^*(Y)``). ``hook``, where given,
        is called with the Schur matrix (the ``z / s`` diagonal included) before it is scaled
        and factored. Raises ``LinAlgError`` where a factorisation fails."""

    @abstractmethod
    def iterate_info(self, Y: Mat) -> dict:
        """What the ``callback`` is shown of the dual: ``{"dual": ...}`` and method extras."""

    @abstractmethod
    def schur_info(self, S: Mat, Y: Mat) -> dict:
        """What the ``schur_callback`` is shown: ``{"slack": ..., "dual": ...}``, dense."""

    @abstractmethod
    def result_dual(self, Y: Mat) -> tuple[np.ndarray, ...]:
        """The dual matrices of the result, one per block (empty where too large)."""

    @abstractmethod
    def result_info(self, Y: Mat) -> dict:
        """Method extras for the result's ``info``."""

    @abstractmethod
    def certificate(self, Y: Mat, dobj: float) -> tuple[np.ndarray, ...] | None:
        """``Y / dobj`` per block (a Farkas certificate of primal infeasibility), or None."""


def warm_point(warm_start: object) -> np.ndarray | None:
    """The point of a ``warm_start`` (an array, a previous :class:`SolverResult` or None)."""
    x0 = warm_start.x if isinstance(warm_start, SolverResult) else warm_start
    return None if x0 is None else np.asarray(x0, dtype=np.float64)


def run(problem: LMIProblem, la: ConeAlgebra, common: CommonOptions, rest: dict, *,
        setup: float, t0: float, threads: int | None,
        errors: tuple[type[Exception], ...] = (np.linalg.LinAlgError, FloatingPointError),
        **settings: Any) -> SolverResult:
    """:func:`iterate` with the common options' defaults (``tol`` 1e-8, ``max_iter`` 100) and
    ``rest``'s callbacks, on ``threads`` BLAS threads (None: the caller's); an exception of
    ``errors`` gives a ``NUMERICAL_ERROR`` result (``t0``: when the backend's solve began).
    ``settings``: the rest of :func:`iterate`'s keywords."""
    try:
        with threadpool_limits(limits=threads, user_api="blas"):
            return iterate(problem, la, tol=common.tol or 1e-8, max_iter=common.max_iter or 100,
                           time_limit=common.time_limit, verbose=common.verbose,
                           callback=rest.get("callback"),
                           schur_callback=rest.get("schur_callback"), setup=setup, **settings)
    except errors as exc:
        logger.warning("%s: numerical failure: %s", la.name, exc)
        return failed_result(problem, Status.NUMERICAL_ERROR, solver=la.name,
                             native_status="linear_algebra_failure", message=str(exc),
                             setup_time=setup, solve_time=time.perf_counter() - t0 - setup)


def _default_start(la: ConeAlgebra, n: int, n_nonneg: int, xi: float, eta: float) -> tuple:
    """``(x, S, s, Y, z)``: ``x = 0``, ``S = eta I``, ``Y = xi I``."""
    return (np.zeros(n), la.identity(eta), np.full(n_nonneg, eta), la.identity(xi),
            np.full(n_nonneg, xi))


def iterate(
    problem: LMIProblem,
    la: ConeAlgebra,
    *,
    tol: float,
    max_iter: int,
    time_limit: float | None,
    verbose: bool,
    callback: Callable | None,
    schur_callback: Callable | None,
    setup: float,
    x0: np.ndarray | None,
    step_fraction: float | None,
    predictor_fraction: float,
) -> SolverResult:
    """Run the predictor-corrector iteration on ``problem`` with the linear algebra ``la``.

    Parameters
    ----------
    problem : LMIProblem
    la : ConeAlgebra
        The method's linear algebra, built for ``problem``.
    tol : float
        Stop when the relative gap and the relative primal and dual residuals are below it.
    max_iter : int
    time_limit : float or None
        Seconds.
    verbose : bool
        Log every iteration at INFO.
    callback : callable or None
        ``callback(x, info) -> bool`` after every iteration; True stops the solve with status
        ``OPTIMAL_INACCURATE`` and native status ``STOPPED_BY_CALLBACK``.
    schur_callback : callable or None
        ``schur_callback(iteration, H, info)`` with every Schur matrix (see
        :meth:`ConeAlgebra.newton`) and :meth:`ConeAlgebra.schur_info`.
    setup : float
        Seconds the backend spent before, for the result.
    x0 : ndarray or None
        Warm start point (used where strictly feasible).
    step_fraction : float or None
        The corrector's fraction of the way to the boundary; None: SDPT3's adaptive
        ``0.9 + 0.09 min(1, a_p, a_d)`` of the predictor's steps.
    predictor_fraction : float
        The predictor's fraction (its steps only set the centring and are not verified).

    Returns
    -------
    SolverResult
        ``info`` holds ``gap``, ``pinf``, ``dinf``, ``dual_nonneg``, ``dual_objective`` and the
        method's :meth:`ConeAlgebra.result_info`; a near-optimal point at the iteration limit
        or a numerical failure is ``OPTIMAL_INACCURATE`` (native status ``..._near_optimal``).

    Notes
    -----
    A numerical failure (a factorisation that fails, a non-finite iterate) ends the solve with
    the last iterate and status ``NUMERICAL_ERROR``; so does a stall (both steps below 1e-8).
    ``Y / dobj`` tends to a Farkas certificate (``A^*(Y) + z = 0``, ``<F0, Y> = -1``) when the
    LMI is infeasible, ``x / (-c^T x)`` to a direction of unboundedness (``A(x) ~ 0``) when it
    is unbounded.
    """
    start = time.perf_counter()
    c = problem.c
    n = c.size
    nn = np.flatnonzero(problem.nonneg)
    nu = la.order + nn.size

    # Initial point Y = xi I, S = eta I, x = 0. SDPT3's recipe (xi >= max(10, sqrt(m), ...),
    # eta >= 10) starts far too large for problems whose data are O(1), such as the balanced
    # LipSDP LMI (whose dual has trace(Y_00) = 1): 24 iterations against 18 on 3 x 200 with
    # xi = 0.1 and eta a tenth of SDPT3's. The smaller start is kept unless c or F is large.
    col_norms = la.col_norms
    f0_norm = max(la.f0_norm, 1.0)
    xi = max(0.1, float(np.max(np.abs(c) / (1 + col_norms))))
    eta = 0.1 * max(10.0, np.sqrt(la.side),
                    max(f0_norm, float(col_norms.max(initial=0.0))) / np.sqrt(la.side))
    feasible = la.feasible_start(c, nn, x0)
    x, S, s, Y, z = feasible or _default_start(la, n, nn.size, xi, eta)
    fac_S = fac_Y = None  # factors of S and Y where a verified step left them

    norm_c = 1.0 + np.linalg.norm(c)
    norm_F0 = 1.0 + la.f0_norm
    status, native = Status.MAX_ITERATIONS, "max_iterations"
    it = 0
    gap = pinf = dinf = np.inf
    pobj = dobj = np.nan
    a_p = a_d = 0.0
    for it in range(1, max_iter + 1):
        Ax = la.slack(x)
        Rp = la.lin(1.0, Ax, -1.0, S)
        rp_lp = x[nn] - s
        aY = la.adjoint(Y)
        rd = c - aY
        rd[nn] -= z
        mu = (la.inner(Y, S) + z @ s) / nu
        pobj = float(c @ x)
        dobj = -la.inner(la.F0, Y)
        # Relative gap: LipSDP's scaled objective can be far below 1 on deep networks.
        gap = abs(pobj - dobj) / max(abs(pobj), abs(dobj), 1e-10)
        pinf = np.sqrt(la.inner(Rp, Rp) + rp_lp @ rp_lp) / norm_F0
        dinf = np.linalg.norm(rd) / norm_c
        if verbose:
            logger.info("%s it %3d  pobj %.10e  dobj %.10e  gap %.2e  pinf %.2e  dinf %.2e"
                        "  mu %.2e  steps %.3f %.3f", la.name, it, pobj, dobj, gap, pinf, dinf,
                        mu, a_p, a_d)
        if gap < tol and pinf < tol and dinf < tol:
            status, native = Status.OPTIMAL, "solved"
            break
        if dobj > 1e8 * (1 + abs(pobj)) and np.linalg.norm(c - rd) < tol * dobj:
            status, native = Status.INFEASIBLE, "primal_infeasible"
            break
        if -pobj > 1e8 * (1 + abs(dobj)) and la.operator_norm(x) < 1e3 * tol * -pobj:
            status, native = Status.UNBOUNDED, "dual_infeasible"
            break
        if time_limit is not None and time.perf_counter() - start > time_limit:
            status, native = Status.TIME_LIMIT, "time_limit"
            break
        if callback is not None and callback(
            x.copy(),
            {"iteration": it, "gap": gap, "pinf": pinf, "dinf": dinf, "pobj": pobj,
             "dobj": dobj, **la.iterate_info(Y)},
        ):
            status, native = Status.OPTIMAL_INACCURATE, STOPPED_BY_CALLBACK
            break
        try:
            if pinf < FEASIBLE_RESET:
                fac_A = la.factor(Ax)
                if fac_A is not None:
                    S, fac_S, Rp = Ax, fac_A, None
                    if np.all(x[nn] > 0):
                        s, rp_lp = x[nn].copy(), np.zeros(nn.size)
            if fac_S is None:
                fac_S = la.factor(S)
            if fac_Y is None:
                fac_Y = la.dual_factor(Y)
            if fac_S is None or fac_Y is None:
                raise np.linalg.LinAlgError("an iterate lost positive definiteness")
            hook = None
            if schur_callback is not None:
                def hook(H, it=it, S=S, Y=Y):
                    schur_callback(it, H, la.schur_info(S, Y))
            newton = la.newton(S, fac_S, Y, fac_Y, z, s, Rp, rp_lp, rd, aY, nn, hook)
            # Predictor (affine scaling, sigma = 0).
            d = newton.direction(0.0, -z, None)
            a_p, _ = newton.primal_step(
                d, min(1.0, max_step_vec(s, d.ds) * predictor_fraction), predictor_fraction,
                verify=False)
            a_d, _ = newton.dual_step(
                d, min(1.0, max_step_vec(z, d.dz) * predictor_fraction), predictor_fraction,
                verify=False)
            mu_aff = (newton.complementarity(a_p, a_d, d)
                      + (z + a_d * d.dz) @ (s + a_p * d.ds)) / nu
            sigma = min(1.0, (mu_aff / mu) ** 3) if mu > 0 else 0.0
            # Corrector: centring plus the second-order term dY_aff dS_aff S^{-1}.
            second = newton.second_order(d)
            g_lp = sigma * mu / s - z - d.dz * d.ds / s
            d = newton.direction(sigma * mu, g_lp, second)
            frac = step_fraction if step_fraction is not None else 0.9 + 0.09 * min(1.0, a_p, a_d)
            a_p, fac_S = newton.primal_step(d, min(1.0, max_step_vec(s, d.ds) * frac), frac,
                                            verify=True)
            a_d, fac_Y = newton.dual_step(d, min(1.0, max_step_vec(z, d.dz) * frac), frac,
                                          verify=True)
            x_new = x + a_p * d.dx
            if not (np.all(np.isfinite(x_new)) and np.isfinite(mu)):
                raise FloatingPointError("non-finite iterate")
        except (np.linalg.LinAlgError, FloatingPointError) as exc:
            # Numerical trouble ends the solve with the last iterate and a status that says so.
            logger.warning("%s: numerical failure at iteration %d: %s", la.name, it, exc)
            status, native = Status.NUMERICAL_ERROR, "linear_algebra_failure"
            break
        x, S, s = x_new, la.lin(1.0, S, a_p, d.dS), s + a_p * d.ds
        Y, z = la.lin(1.0, Y, a_d, d.dY), z + a_d * d.dz
        if feasible is not None and it == 1 and max(a_p, a_d) < BLOCKED_START_STEP:
            # The feasible start sits too close to the boundary (its first step is blocked):
            # start again from the default point.
            logger.info("%s: feasible start blocked (steps %.1e, %.1e); default start instead",
                        la.name, a_p, a_d)
            x, S, s, Y, z = _default_start(la, n, nn.size, xi, eta)
            fac_S = fac_Y = None
            continue
        if max(a_p, a_d) < 1e-8:
            status, native = Status.NUMERICAL_ERROR, "stalled"
            break
    return _result(problem, la, status, native, x, Y, z, nn, it=it, pobj=pobj, dobj=dobj,
                   gap=gap, pinf=pinf, dinf=dinf, tol=tol, setup=setup,
                   solve_time=time.perf_counter() - start)


def _result(problem: LMIProblem, la: ConeAlgebra, status: Status, native: str, x: np.ndarray,
            Y: Mat, z: np.ndarray, nn: np.ndarray, *, it: int, pobj: float, dobj: float,
            gap: float, pinf: float, dinf: float, tol: float, setup: float,
            solve_time: float) -> SolverResult:
    """The result of the iteration that ended with ``status`` at ``(x, Y, z)``."""
    if status in (Status.INFEASIBLE, Status.UNBOUNDED):
        failed = failed_result(problem, status, solver=la.name, native_status=native,
                               iterations=it, setup_time=setup, solve_time=solve_time)
        cert = la.certificate(Y, dobj) if status is Status.INFEASIBLE else None
        return failed if cert is None else replace(failed, info={"certificate": cert})
    near = max(gap, pinf, dinf) < 1e3 * tol
    if status in (Status.MAX_ITERATIONS, Status.NUMERICAL_ERROR) and near:
        status, native = Status.OPTIMAL_INACCURATE, f"{native}_near_optimal"
    dual_nonneg = np.zeros(problem.n_vars)
    dual_nonneg[nn] = z
    return SolverResult(
        x=x, status=status, objective=pobj, dual=la.result_dual(Y), iterations=it,
        solve_time=solve_time, setup_time=setup, solver=la.name, native_status=native,
        info={"gap": gap, "pinf": pinf, "dinf": dinf, "dual_nonneg": dual_nonneg,
              "dual_objective": dobj, **la.result_info(Y)},
    )
