"""Chordal primal-dual interior-point backend for block-tridiagonal LMIs (``"banded-ipm"``).

Problem (as for every backend) and its dual::

    (P)  minimise c^T x      s.t.  S = F0 + sum_i x_i F_i >= 0,   x_i >= 0 (i nonneg)
    (D)  maximise -<F0, Y>   s.t.  <F_i, Y> + z_i = c_i,  Y >= 0,  z >= 0 (0 if free)

for one LMI block that declares a ``partition`` under which ``F0`` and every ``F_i`` are block
tridiagonal, with its coefficient matrices in low-rank form (:class:`~solvers.problem.LowRank`).
This is the sparsity of a chain of cliques ``{p-1, p}`` (docs/math.md §7), and the method never
forms a dense ``m x m`` matrix in its Newton system:

* ``S`` is kept as its blocks; its Cholesky factor is block bidiagonal (no fill), so factoring,
  testing definiteness and solving cost ``O(sum n_p^3)`` per right-hand side block.
* The dual ``Y`` is kept only on the pattern (``Y_E``); it stands for its maximum-determinant
  positive definite completion ``Y^``, whose inverse is block tridiagonal and has the closed form
  ``sum_cliques E^T (Y_CC)^{-1} E - sum_separators E^T (Y_pp)^{-1} E``. ``Y_E`` is completable
  exactly when every clique block ``Y_CC`` is positive definite.
* The search direction is HKM's with ``Y^`` for ``Y`` (the completion method of Fukuda, Kojima,
  Murota and Nakata): its Schur matrix, one row per scalar variable,
  ``M_ij = tr(F_i Y^ F_j S^{-1}) = sum_ab lam_a lam_b (u_a^T Y^ u_b)(u_a^T S^{-1} u_b)``, is built
  one chunk of factor columns at a time from block-tridiagonal solves. The dual step needs only
  the pattern parts of ``Y^ dS S^{-1}`` and of Mehrotra's second-order term; from
  ``BAND_MIN_BLOCKS`` blocks on they come from selected inversions of block upper-triangular
  augmented matrices (:class:`_ProductBand`, ``O(sum n_p^3)``), with fewer blocks from dense
  ``S^{-1}`` rows. Mehrotra's predictor-corrector sets the centring.
* Step lengths: the distance to the boundary is estimated by a few Lanczos steps on
  ``L^{-1} dS L^{-T}`` (and per clique for ``Y_E``), then verified by a block Cholesky test
  (clique Cholesky tests for ``Y_E``) and shortened until it passes.
* The dual is also returned on its pattern, ``info["dual_banded"]`` (a
  :class:`~solvers.problem.BandedMatrix`): exact, ``O(sum n_p^2)`` memory, and any PSD
  completion of it is a dual matrix. ``dual`` holds the dense completion up to side
  ``DENSE_DUAL_MAX_SIDE``.

Start: a ``warm_start`` point ``x0`` that is strictly feasible (``F0 + A(x0)`` positive
definite, ``x0 > 0`` where nonnegative) gives a primal-feasible, perfectly centred start: ``S =
F0 + A(x0)``, ``Y = mu S^{-1}`` (its pattern part; the maximum-determinant completion of that is
``mu S^{-1}`` itself, whose inverse is banded), ``z = mu / x0``, with ``mu`` fitted to the dual
equation by least squares. Feasible iterates are also cheaper: without a primal residual the
Schur chunks need no row blocks above their own. Otherwise (no warm start, or one that is not
strictly feasible) the start is infeasible: ``x = 0``, ``S`` and ``Y`` multiples of the identity.

Problems without a partition or factors are accepted too (several blocks are merged into one
block-diagonal LMI; missing factors come from an eigendecomposition of each coefficient), so the
backend solves every problem of the standard form.

Options: ``tol`` (default 1e-8: relative gap and relative primal/dual infeasibility),
``max_iter`` (default 100), ``time_limit``, ``verbose``, ``block_target`` (merge consecutive
partition blocks up to this many rows; default 0, none), and ``callback(x, info) -> bool``
called after every iteration (``info["dual_banded"]`` is the current dual on its pattern);
returning True stops the solve with ``OPTIMAL_INACCURATE`` (native status
``STOPPED_BY_CALLBACK``), and ``schur_callback(iteration, H, info)`` called with every Newton
matrix ``H`` (``M_ij`` above plus ``z_i / x_i`` on the diagonal of nonnegative variables) before
it is scaled and factored (its buffer is reused: copy it to keep it); ``info["slack"]`` and
``info["dual"]`` hold the dense ``S`` and the completion ``Y^`` it was built from, formed when
first read.

References
----------
M. Fukuda, M. Kojima, K. Murota, K. Nakata, "Exploiting sparsity in semidefinite programming via
matrix completion I: general framework", SIAM J. Optim. 11 (2000). K. Nakata, K. Fujisawa,
M. Fukuda, M. Kojima, K. Murota, "... II: implementation and numerical results", Math. Program.
95 (2003). L. Vandenberghe, M. S. Andersen, "Chordal graphs and semidefinite optimization",
Found. Trends Optim. 1 (2015). C. Helmberg, F. Rendl, R. Vanderbei, H. Wolkowicz, SIAM J. Optim.
6 (1996). S. Mehrotra, SIAM J. Optim. 2 (1992).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from solvers import banded_schur_factor as schur_factor
from solvers.banded_completion import (
    LazyDual,
    banded_info,
    clique_factors,
    completion_inverse,
    dense_completion,
    split_dual,
)
from solvers.banded_newton import BandedNewton
from solvers.banded_schur_factor import SchurFactor
from solvers.banded_structure import BandedStructure, single_block
from solvers.banded_tridiag import block_cholesky, inverse_band, tri_dense, tri_inner, tri_lin
from solvers.ipm_linalg import centring_mu
from solvers.options import backend_options
from solvers.problem import LMIProblem
from solvers.result import STOPPED_BY_CALLBACK, SolverResult, Status, failed_result

__all__ = ["NAME", "BandedStructure", "solve"]

logger = logging.getLogger(__name__)

NAME = "banded-ipm"

_OPTIONS = ("callback", "block_target", "schur_callback")

#: The dense dual completion (``O(m^2)``) is returned up to this side; beyond it, only the
#: pattern part in ``info["dual_banded"]``.
DENSE_DUAL_MAX_SIDE = 3000

#: Consecutive partition blocks are merged while the merged block has at most this many rows
#: (option ``block_target``). Off by default: merging the blocks of 50-100x3-10 into blocks of
#: up to 150 or 400 rows made the solve 1.2x and 1.8x slower (more fill, same call count).
BLOCK_TARGET = 0

#: From this LMI side on, the Schur matrix's chunks run on every thread (measured: 35.2 s -> 30.9 s
#: on 100-100x20-10, 8.5 s -> 7.6 s on 100-100x10-10; none at side 350, where it cost a little).
THREADED_CHUNKS_MIN_SIDE = 1000

#: A feasible start whose first step is shorter than this (both primal and dual) is abandoned
#: for the default start: it sits too close to the boundary of the cone (tests/test_ipm.py: from
#: ECLipsE-Fast's point on a 10-layer network the first steps are below 0.02).
BLOCKED_START_STEP = 0.1

def _feasible_start(st: BandedStructure, c: np.ndarray, nn: np.ndarray,
                    x0: np.ndarray | None) -> tuple | None:
    """``(x, S, s, Y, z)`` of the centred start at a strictly feasible ``x0`` (module docstring),
    or None where ``x0`` is missing or not strictly feasible."""
    if x0 is None or np.any(x0[nn] <= 0):
        return None
    S = st.matrix_blocks(x0)
    fac = block_cholesky(*S)
    if fac is None:
        return None
    Zb = inverse_band(fac)
    mu = centring_mu(c, st.adjoint(Zb), nn, x0)
    if mu is None:
        return None
    Y = ([mu * 0.5 * (d + d.T) for d in Zb[0]], [None] + [mu * b for b in Zb[1][1:]])
    return x0.copy(), S, x0[nn].copy(), Y, mu / x0[nn]

def solve(problem: LMIProblem, options: dict, warm_start: object = None) -> SolverResult:
    """Solve ``problem`` by the chordal HKM method (see the module docstring)."""
    x0 = warm_start.x if isinstance(warm_start, SolverResult) else warm_start
    x0 = None if x0 is None else np.asarray(x0, dtype=np.float64)
    common, rest = backend_options(options, NAME, _OPTIONS)
    callback = rest.get("callback")
    target = rest.get("block_target", BLOCK_TARGET)
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)) or target < 0:
        raise ValueError(f"options['block_target'] is {target!r}; expected an integer >= 0")
    t0 = time.perf_counter()
    try:
        st = BandedStructure.from_block(single_block(problem), target)
    except ValueError as exc:
        return failed_result(problem, Status.ERROR, solver=NAME, native_status="not_applicable",
                             message=str(exc))
    setup = time.perf_counter() - t0
    try:
        # One BLAS thread: the kernels are many mid-sized products, which gain nothing from a
        # second thread and lose badly when two libraries' thread pools alternate (measured:
        # 17 s on one thread, 36 s on two, for 100-200x5-10). Only the Schur factorisation
        # gets the machine's threads (see factor_schur).
        threads = max((i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"),
                      default=1)
        with threadpool_limits(limits=1, user_api="blas"):
            return _iterate(problem, st, tol=common.tol or 1e-8,
                            max_iter=common.max_iter or 100, time_limit=common.time_limit,
                            verbose=common.verbose, callback=callback, setup=setup,
                            schur_callback=rest.get("schur_callback"),
                            threads=threads, x0=x0)
    except (np.linalg.LinAlgError, FloatingPointError) as exc:
        logger.warning("%s: numerical failure: %s", NAME, exc)
        return failed_result(problem, Status.NUMERICAL_ERROR, solver=NAME,
                             native_status="linear_algebra_failure", message=str(exc),
                             setup_time=setup, solve_time=time.perf_counter() - t0 - setup)

def _iterate(problem: LMIProblem, st: BandedStructure, *, tol: float, max_iter: int,
             time_limit: float | None, verbose: bool, callback: Callable | None,
             setup: float, schur_callback: Callable | None = None, threads: int = 1,
             x0: np.ndarray | None = None) -> SolverResult:
    start = time.perf_counter()
    c = problem.c
    n = c.size
    nn = np.flatnonzero(problem.nonneg)
    m = int(st.offsets[-1])
    # One Schur matrix, and one single-precision copy where it is factored so, for the whole
    # solve: fresh ones page-faulted in 300 MB per iteration at 50 x 100.
    bufs = {"M": np.empty((n, n))}
    if n >= schur_factor.MIXED_SCHUR_MIN:
        bufs["M32"] = np.empty((n, n), dtype=np.float32)
    nu = m + nn.size
    block = problem.blocks[0]
    F0 = st.F0()

    # Initial point Y = xi I, S = eta I, x = 0. SDPT3's recipe (xi >= max(10, sqrt(m), ...),
    # eta >= 10) starts far too large for problems whose data are O(1), such as the balanced
    # LipSDP LMI (whose dual has trace(Y_00) = 1): 24 iterations against 18 on 3 x 200 with
    # xi = 0.1 and eta a tenth of SDPT3's. The smaller start is kept unless c or F is large.
    col_norms = np.sqrt(np.asarray(block.F.multiply(block.F).sum(axis=0)).ravel())
    f0_norm = max(np.sqrt(tri_inner(F0, F0)), 1.0)
    xi = max(0.1, float(np.max(np.abs(c) / (1 + col_norms))))
    eta = 0.1 * max(10.0, np.sqrt(m), max(f0_norm, float(col_norms.max(initial=0.0))) / np.sqrt(m))
    x = np.zeros(n)
    Y = st.identity(xi)
    S = st.identity(eta)
    z = np.full(nn.size, xi)
    s = np.full(nn.size, eta)
    feasible = _feasible_start(st, c, nn, x0)
    if feasible is not None:
        x, S, s, Y, z = feasible
    norm_c = 1.0 + np.linalg.norm(c)
    norm_F0 = 1.0 + np.sqrt(tri_inner(F0, F0))
    status, native = Status.MAX_ITERATIONS, "max_iterations"
    it = 0
    gap = pinf = dinf = np.inf
    pobj = dobj = np.nan
    a_p = a_d = 0.0
    for it in range(1, max_iter + 1):
        Ax = st.matrix_blocks(x)
        Rp = tri_lin(1.0, Ax, -1.0, S)
        rp_lp = x[nn] - s
        aY = st.adjoint(Y)
        rd = c - aY
        rd[nn] -= z
        mu = (tri_inner(Y, S) + z @ s) / nu
        pobj = float(c @ x)
        dobj = -tri_inner(F0, Y)
        # Relative gap: LipSDP's scaled objective can be far below 1 on deep networks.
        gap = abs(pobj - dobj) / max(abs(pobj), abs(dobj), 1e-10)
        pinf = np.sqrt(tri_inner(Rp, Rp) + rp_lp @ rp_lp) / norm_F0
        dinf = np.linalg.norm(rd) / norm_c
        if verbose:
            logger.info("%s it %3d  pobj %.10e  dobj %.10e  gap %.2e  pinf %.2e  dinf %.2e"
                        "  mu %.2e  steps %.3f %.3f", NAME, it, pobj, dobj, gap, pinf, dinf, mu,
                        a_p, a_d)
        if gap < tol and pinf < tol and dinf < tol:
            status, native = Status.OPTIMAL, "solved"
            break
        if dobj > 1e8 * (1 + abs(pobj)) and np.linalg.norm(c - rd) < tol * dobj:
            status, native = Status.INFEASIBLE, "primal_infeasible"
            break
        if -pobj > 1e8 * (1 + abs(dobj)):
            status, native = Status.UNBOUNDED, "dual_infeasible"
            break
        if time_limit is not None and time.perf_counter() - start > time_limit:
            status, native = Status.TIME_LIMIT, "time_limit"
            break
        if callback is not None:
            info = {"iteration": it, "gap": gap, "pinf": pinf, "dinf": dinf, "pobj": pobj,
                    "dobj": dobj, "dual": LazyDual(lambda Yc=Y: dense_completion(st, Yc)),
                    **banded_info(problem, st, Y)}
            if callback(x.copy(), info):
                status, native = Status.OPTIMAL_INACCURATE, STOPPED_BY_CALLBACK
                break

        def step(pinf=pinf, Ax=Ax, x=x, S=S, Rp=Rp, s=s, rp_lp=rp_lp, Y=Y, z=z, rd=rd, aY=aY,
                 mu=mu, it=it):
            """One predictor-corrector step from the current iterate (bound as defaults)."""
            # Once the primal residual is at rounding level, S is reset to F0 + A(x) itself: the
            # iterates then stay exactly primal feasible and the Rp terms vanish.
            facS = None
            if pinf < 1e-12:
                facS = block_cholesky(*Ax)
                if facS is not None:
                    S, Rp = Ax, None
                    if np.all(x[nn] > 0):
                        s, rp_lp = x[nn].copy(), np.zeros(nn.size)
            if facS is None:
                facS = block_cholesky(*S)
            cliques = clique_factors(Y)
            Winv = completion_inverse(Y, cliques) if cliques is not None else None
            facW = block_cholesky(*Winv) if Winv is not None else None
            if facS is None or facW is None:
                raise np.linalg.LinAlgError("an iterate lost positive definiteness")
            workers = threads if m >= THREADED_CHUNKS_MIN_SIDE else 1
            M, aZ, aWRZ = st.schur(facS, facW, Rp, workers=workers, out=bufs.get("M"))
            M[nn, nn] += z / s
            if schur_callback is not None:
                schur_callback(it, M, {"slack": LazyDual(lambda: tri_dense(st.offsets, S)),
                                       "dual": LazyDual(lambda: dense_completion(st, Y))})
            dsc = 1.0 / np.sqrt(np.maximum(np.diag(M), np.finfo(float).tiny))
            M *= dsc[:, None]  # in place: the unscaled matrix is not needed again
            M *= dsc[None, :]
            M[np.diag_indices(n)] += 1e-14
            Gm = SchurFactor.of(M, threads, bufs.get("M32"))
            if Gm is None:
                raise np.linalg.LinAlgError("Schur matrix is not positive definite")
            newton = BandedNewton(st, facS, facW, cliques, S, Y, z, s, Rp, rp_lp, rd, aY, aZ, aWRZ,
                             Gm, dsc, nn, Winv, workers=workers)
            # Predictor (affine scaling, sigma = 0).
            dx, dS, dY, ds, dz, K, VZ = newton.direction(0.0, -z, None)
            a_p, a_d = newton.steps(dS, dY, ds, dz, verify=False)
            mu_aff = (tri_inner(tri_lin(1.0, Y, a_d, dY), tri_lin(1.0, S, a_p, dS))
                      + (z + a_d * dz) @ (s + a_p * ds)) / nu
            sigma = min(1.0, (mu_aff / mu) ** 3) if mu > 0 else 0.0
            # Corrector: centring plus the second-order term dY_aff dS_aff Z (pattern part).
            second = newton.second_order(dS, K, VZ)
            g_lp = sigma * mu / s - z - dz * ds / s
            dx, dS, dY, ds, dz, _, _ = newton.direction(sigma * mu, g_lp, second)
            frac = 0.9 + 0.09 * min(1.0, a_p, a_d)
            a_p, a_d = newton.steps(dS, dY, ds, dz, frac=frac)
            x_new = x + a_p * dx
            if not (np.all(np.isfinite(x_new)) and np.isfinite(mu)):
                raise FloatingPointError("non-finite iterate")
            return (x_new, tri_lin(1.0, S, a_p, dS), s + a_p * ds, tri_lin(1.0, Y, a_d, dY),
                    z + a_d * dz, a_p, a_d)

        try:
            x, S, s, Y, z, a_p, a_d = step()
        except (np.linalg.LinAlgError, FloatingPointError) as exc:
            # Numerical trouble ends the solve with the last iterate and a status that says so.
            logger.warning("%s: numerical failure at iteration %d: %s", NAME, it, exc)
            status, native = Status.NUMERICAL_ERROR, "linear_algebra_failure"
            break
        if feasible is not None and it == 1 and max(a_p, a_d) < BLOCKED_START_STEP:
            # The feasible start sits too close to the boundary (its first step is blocked):
            # start again from the default point.
            logger.info("%s: feasible start blocked (steps %.1e, %.1e); default start instead",
                        NAME, a_p, a_d)
            x, Y, S = np.zeros(n), st.identity(xi), st.identity(eta)
            z, s = np.full(nn.size, xi), np.full(nn.size, eta)
            continue
        if max(a_p, a_d) < 1e-8:
            status, native = Status.NUMERICAL_ERROR, "stalled"
            break

    solve_time = time.perf_counter() - start
    if status in (Status.INFEASIBLE, Status.UNBOUNDED):
        failed = failed_result(problem, status, solver=NAME, native_status=native,
                               iterations=it, setup_time=setup, solve_time=solve_time)
        if status is Status.INFEASIBLE:  # Y / dobj tends to a Farkas certificate
            try:
                cert = dense_completion(st, Y) / dobj
            except np.linalg.LinAlgError:
                return failed
            return replace(failed, info={"certificate": split_dual(problem, cert)})
        return failed
    near = max(gap, pinf, dinf) < 1e3 * tol
    if status in (Status.MAX_ITERATIONS, Status.NUMERICAL_ERROR) and near:
        status, native = Status.OPTIMAL_INACCURATE, f"{native}_near_optimal"
    dual_nonneg = np.zeros(n)
    dual_nonneg[nn] = z
    dual: tuple[np.ndarray, ...] = ()
    if m <= DENSE_DUAL_MAX_SIDE:
        try:
            dual = split_dual(problem, dense_completion(st, Y))
        except np.linalg.LinAlgError:
            dual = ()
    return SolverResult(
        x=x, status=status, objective=pobj, dual=dual, iterations=it, solve_time=solve_time,
        setup_time=setup, solver=NAME, native_status=native,
        info={"gap": gap, "pinf": pinf, "dinf": dinf, "dual_nonneg": dual_nonneg,
              "dual_objective": dobj, **banded_info(problem, st, Y)},
    )
