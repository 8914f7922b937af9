"""Structured primal-dual interior-point backend (registry name ``"lowrank-ipm"``).

Problem (as for every backend) and its dual::

    (P)  minimise c^T x      s.t.  S_k = F0_k + sum_i x_i F_i^k >= 0,   x_i >= 0 (i nonneg)
    (D)  maximise -sum_k <F0_k, Y_k>
                             s.t.  sum_k <F_i^k, Y_k> + z_i = c_i,  Y_k >= 0,  z >= 0 (0 if free)

Infeasible-start path following with the HKM search direction and Mehrotra's predictor-corrector.
The Newton system has one row per scalar variable,

    M_ij = sum_k tr(F_i^k Y_k F_j^k S_k^{-1}) + [i = j nonneg] z_i / x_i,

and is assembled from low-rank factors ``F_i = U_i D_i U_i^T`` (:class:`~solvers.problem.LowRank`)
as ``M = Agg ((D Q) o (D P)^T) Agg^T`` with ``Q = U^T Y U`` and ``P = U^T S^{-1} U``: the cost
is dominated by ``O(m^3)`` dense work per block plus ``O(R^2)`` Hadamard products (``R`` the total
rank), never by forming ``tr(F_i Y F_j S^{-1})`` one pair at a time. Blocks without factors get
them from a small eigendecomposition of each ``F_i`` on its support.

Options: ``tol`` (default 1e-8: relative gap and relative primal/dual infeasibility),
``max_iter`` (default 100), ``time_limit``, ``verbose`` (logs each iteration at INFO), and
``callback``: a function ``callback(x, info) -> bool`` called after every iteration with the
current primal point and ``info["dual"]`` the dual matrices; returning True stops the solve with
status ``OPTIMAL_INACCURATE`` (the
caller decided the point is good enough, e.g. its certified gap is small). ``warm_start`` is
ignored: interior-point methods gain little from a primal guess.

References
----------
C. Helmberg, F. Rendl, R. Vanderbei, H. Wolkowicz, "An interior-point method for semidefinite
programming", SIAM J. Optim. 6 (1996). M. Kojima, S. Shindoh, S. Hara, SIAM J. Optim. 7 (1997).
R. Monteiro, SIAM J. Optim. 7 (1997). S. Mehrotra, SIAM J. Optim. 2 (1992).
K.-C. Toh, M. Todd, R. Tütüncü, "SDPT3", Optim. Methods Softw. 11 (1999).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from solvers.backends import backend_options, failed_result
from solvers.problem import LMIBlock, LMIProblem
from solvers.result import SolverResult, Status

__all__ = ["NAME", "solve"]

logger = logging.getLogger(__name__)

NAME = "lowrank-ipm"

_OPTIONS = ("callback", "step_fraction")

#: Largest block side solved with a single BLAS thread (see ``solve``).
SINGLE_THREAD_MAX_SIDE = 800


@dataclass
class _Block:
    """One LMI block with the data the iteration needs."""

    m: int
    F0: np.ndarray
    F: sp.csc_matrix  # (m*m, n)
    FT: sp.csr_matrix  # F^T, for <F_i, K> = F^T vec(K)
    U: sp.csc_matrix  # (m, R)
    UT: sp.csr_matrix
    D: sp.csr_matrix  # (R, R) block diagonal
    agg: sp.csr_matrix  # (n, R): agg[i, a] = 1 if column a belongs to variable i

    def op(self, K: np.ndarray) -> np.ndarray:
        """``[<F_i, K>]_i`` (K need not be symmetric: F_i is)."""
        return self.FT @ K.ravel(order="F")

    def adj(self, v: np.ndarray) -> np.ndarray:
        """``sum_i v_i F_i`` as a dense matrix."""
        return (self.F @ v).reshape(self.m, self.m, order="F")

    # Columns of U that are scaled unit vectors (e.g. a neuron's own coordinate) are handled by
    # indexing; the others (`rest`) by products, dense where BLAS beats sparse code.
    unit: np.ndarray | None = None  # column indices a with U[:, a] = unit_val * e_{unit_row}
    unit_row: np.ndarray | None = None
    unit_val: np.ndarray | None = None
    rest: np.ndarray | None = None
    Urest: np.ndarray | sp.csc_matrix | None = None

    def _gram(self, A: np.ndarray) -> np.ndarray:
        """``U^T A U`` for a dense symmetric ``A``."""
        R = self.U.shape[1]
        AU = np.asarray(self.Urest.T @ A).T  # A U_rest (A symmetric), shape (m, |rest|)
        out = np.empty((R, R))
        u, r, v = self.unit, self.unit_row, self.unit_val
        out[np.ix_(u, u)] = v[:, None] * A[np.ix_(r, r)] * v[None, :]
        cross = v[:, None] * AU[r]
        out[np.ix_(u, self.rest)] = cross
        out[np.ix_(self.rest, u)] = cross.T
        out[np.ix_(self.rest, self.rest)] = np.asarray(self.Urest.T @ AU)
        return out

    def schur(self, Y: np.ndarray, Sinv: np.ndarray) -> np.ndarray:
        """``[tr(F_i Y F_j S^{-1})]_ij`` from the low-rank factors."""
        Q = self._gram(Y)
        P = self._gram(Sinv)
        H = (self.D @ Q) * (self.D @ P).T
        M = self.agg @ (self.agg @ H.T).T
        return 0.5 * (M + M.T)


def _factor_columns(
    block: LMIBlock, tol: float = 1e-12
) -> tuple[sp.csc_matrix, sp.csr_matrix, np.ndarray]:
    """Low-rank factors of every ``F_i`` by an eigendecomposition on its support."""
    m, n = block.size, block.n_vars
    F = block.F
    rows_u, cols_u, vals_u, d_vals, owner = [], [], [], [], []
    col = 0
    for i in range(n):
        lo, hi = F.indptr[i], F.indptr[i + 1]
        idx = F.indices[lo:hi]
        if idx.size == 0:
            continue
        r, c = idx % m, idx // m
        support = np.unique(np.concatenate([r, c]))
        pos = np.searchsorted(support, r), np.searchsorted(support, c)
        Fi = np.zeros((support.size, support.size))
        Fi[pos] = F.data[lo:hi]
        Fi = 0.5 * (Fi + Fi.T)
        lam, V = np.linalg.eigh(Fi)
        keep = np.abs(lam) > tol * max(np.abs(lam).max(), np.finfo(float).tiny)
        for lk, vk in zip(lam[keep], V[:, keep].T, strict=True):
            nz = np.abs(vk) > 0
            rows_u.append(support[nz])
            cols_u.append(np.full(nz.sum(), col))
            vals_u.append(vk[nz])
            d_vals.append(lk)
            owner.append(i)
            col += 1
    U = sp.csc_matrix(
        (np.concatenate(vals_u), (np.concatenate(rows_u), np.concatenate(cols_u))), shape=(m, col)
    ) if col else sp.csc_matrix((m, 0))
    D = sp.diags(np.asarray(d_vals, dtype=float), format="csr")
    return U, D, np.asarray(owner, dtype=np.int64)


def _prepare(block: LMIBlock) -> _Block:
    if block.lowrank is not None:
        U, D, owner = block.lowrank.U, sp.csr_matrix(block.lowrank.D), block.lowrank.owner
    else:
        U, D, owner = _factor_columns(block)
    n = block.n_vars
    R = U.shape[1]
    agg = sp.csr_matrix((np.ones(R), (owner, np.arange(R))), shape=(n, R))
    F = block.F
    m = block.size
    U = sp.csc_matrix(U)
    counts = np.diff(U.indptr)
    unit = np.flatnonzero(counts == 1)
    rest = np.flatnonzero(counts != 1)
    Urest = U[:, rest]
    # Dense BLAS products win once U_rest is more than a few percent full (and fits in memory).
    if Urest.nnz > 0.02 * m * max(rest.size, 1) and m * rest.size <= 50_000_000:
        Urest = Urest.toarray()
    return _Block(
        unit=unit,
        unit_row=U.indices[U.indptr[unit]],
        unit_val=U.data[U.indptr[unit]],
        rest=rest,
        Urest=Urest,
        m=block.size,
        F0=block.F0,
        F=F,
        FT=sp.csr_matrix(F.T),
        U=sp.csc_matrix(U),
        UT=sp.csr_matrix(U.T),
        D=D,
        agg=agg,
    )


def _max_step(L: np.ndarray, dX: np.ndarray) -> float:
    """Largest ``a <= 1e3`` with ``X + a dX >= 0``, given the Cholesky factor ``L`` of ``X > 0``."""
    T = sla.solve_triangular(L, dX, lower=True, check_finite=False)
    T = sla.solve_triangular(L, T.T, lower=True, check_finite=False)
    T = 0.5 * (T + T.T)
    lam = sla.eigvalsh(T, subset_by_index=[0, 0], check_finite=False)[0]
    return 1e3 if lam >= -1e-3 else min(1e3, -1.0 / lam)


def _max_step_vec(x: np.ndarray, dx: np.ndarray) -> float:
    neg = dx < 0
    return float(min(1e3, np.min(-x[neg] / dx[neg]))) if np.any(neg) else 1e3


def _sym(A: np.ndarray) -> np.ndarray:
    return 0.5 * (A + A.T)


def solve(problem: LMIProblem, options: dict, warm_start: object = None) -> SolverResult:
    """Solve ``problem`` by the structured interior-point method (see the module docstring)."""
    del warm_start  # documented: ignored
    common, rest = backend_options(options, NAME, _OPTIONS)
    callback = rest.get("callback")
    gamma = rest.get("step_fraction")  # None: adaptive, 0.9 + 0.09 min(a_p, a_d) as in SDPT3
    if gamma is not None and not 0.5 <= float(gamma) < 1.0:
        raise ValueError(f"options['step_fraction'] is {gamma}; expected a number in [0.5, 1)")
    t0 = time.perf_counter()
    blocks = [_prepare(b) for b in problem.blocks]
    setup = time.perf_counter() - t0
    # Small dense kernels gain little from BLAS threads and lose badly when the cores are busy
    # (measured: 0.3 s on one thread against 14 s on two for a side-140 LMI on a loaded 2-core
    # machine), so blocks up to SINGLE_THREAD_MAX_SIDE run on one BLAS thread.
    threads = 1 if max(b.m for b in blocks) <= SINGLE_THREAD_MAX_SIDE else None
    try:
        with threadpool_limits(limits=threads, user_api="blas"):
            return _iterate(
                problem,
                blocks,
                tol=common.tol or 1e-8,
                max_iter=common.max_iter or 100,
                time_limit=common.time_limit,
                verbose=common.verbose,
                callback=callback,
                gamma=gamma,
                setup=setup,
            )
    except (np.linalg.LinAlgError, FloatingPointError, ValueError) as exc:
        logger.warning("%s: numerical failure: %s", NAME, exc)
        return failed_result(
            problem,
            Status.NUMERICAL_ERROR,
            solver=NAME,
            native_status="linear_algebra_failure",
            message=str(exc),
            setup_time=setup,
            solve_time=time.perf_counter() - t0 - setup,
        )


@dataclass
class _Newton:
    """One iteration's factorisations and the HKM direction built from them."""

    blocks: list[_Block]
    nn: np.ndarray
    Y: list[np.ndarray]
    S: list[np.ndarray]
    z: np.ndarray
    s: np.ndarray
    Rp: list[np.ndarray]
    rp_lp: np.ndarray
    rd: np.ndarray

    def __post_init__(self) -> None:
        self.LS = [sla.cholesky(Sk, lower=True, check_finite=False) for Sk in self.S]
        self.LY = [sla.cholesky(Yk, lower=True, check_finite=False) for Yk in self.Y]
        self.Sinv = []
        for L in self.LS:
            Li = sla.solve_triangular(L, np.eye(L.shape[0]), lower=True, check_finite=False)
            self.Sinv.append(Li.T @ Li)
        n = self.rd.size
        M = sum(b.schur(Yk, Si) for b, Yk, Si in zip(self.blocks, self.Y, self.Sinv, strict=True))
        M[self.nn, self.nn] += self.z / self.s
        # Diagonal scaling for a robust Cholesky of the Schur complement.
        self.dscale = 1.0 / np.sqrt(np.maximum(np.diag(M), np.finfo(float).tiny))
        Ms = M * self.dscale[:, None] * self.dscale[None, :]
        Ms[np.diag_indices(n)] += 1e-14
        self.Mfac = sla.cho_factor(Ms, lower=True, check_finite=False)
        # Kept even when Rp is at rounding level: dropping it broke convergence on sigmoid slopes.
        self.YRp = [Yk @ (R @ Si) for Yk, R, Si in zip(self.Y, self.Rp, self.Sinv, strict=True)]

    def direction(self, G: list[np.ndarray], g_lp: np.ndarray) -> tuple:
        """Solve ``M dx = A(G) - A(Y Rp S^-1) + g_lp - (z/s) rp_lp - rd`` and back-substitute."""
        nn, z, s = self.nn, self.z, self.s
        rhs = -self.rd.copy()
        for b, Gk, YR in zip(self.blocks, G, self.YRp, strict=True):
            rhs += b.op(Gk - YR)
        rhs[nn] += g_lp - (z / s) * self.rp_lp
        dx = self.dscale * sla.cho_solve(self.Mfac, self.dscale * rhs, check_finite=False)
        dS = [R + b.adj(dx) for b, R in zip(self.blocks, self.Rp, strict=True)]
        dY = [
            _sym(Gk - Yk @ (dSk @ Si))
            for Gk, Yk, dSk, Si in zip(G, self.Y, dS, self.Sinv, strict=True)
        ]
        ds = self.rp_lp + dx[nn]
        dz = g_lp - z * ds / s
        return dx, dS, dY, ds, dz

    def steps(self, dS: list, dY: list, ds: np.ndarray, dz: np.ndarray) -> tuple[float, float]:
        a_p = min(
            [_max_step(L, d) for L, d in zip(self.LS, dS, strict=True)]
            + [_max_step_vec(self.s, ds)]
        )
        a_d = min(
            [_max_step(L, d) for L, d in zip(self.LY, dY, strict=True)]
            + [_max_step_vec(self.z, dz)]
        )
        return a_p, a_d


def _inner(A: list[np.ndarray], B: list[np.ndarray]) -> float:
    return sum(float(np.vdot(a, b)) for a, b in zip(A, B, strict=True))


def _iterate(
    problem: LMIProblem,
    blocks: list[_Block],
    *,
    tol: float,
    max_iter: int,
    time_limit: float | None,
    verbose: bool,
    callback: Callable | None,
    gamma: float | None,
    setup: float,
) -> SolverResult:
    start = time.perf_counter()
    c = problem.c
    n = c.size
    nn = np.flatnonzero(problem.nonneg)
    nu = sum(b.m for b in blocks) + nn.size
    m_max = max(b.m for b in blocks)

    # Initial point (SDPT3's recipe, in this problem's roles): Y = xi I, S = eta I, x = 0.
    col_norms = np.sqrt(sum(np.asarray(b.F.multiply(b.F).sum(axis=0)).ravel() for b in blocks))
    f0_norm = max(max(np.linalg.norm(b.F0) for b in blocks), 1.0)
    xi = max(10.0, np.sqrt(m_max), m_max * float(np.max((1 + np.abs(c)) / (1 + col_norms))))
    f_norm = max(f0_norm, float(col_norms.max(initial=0.0)))
    eta = max(10.0, np.sqrt(m_max), f_norm / np.sqrt(m_max))
    x = np.zeros(n)
    Y = [xi * np.eye(b.m) for b in blocks]
    S = [eta * np.eye(b.m) for b in blocks]
    z = np.full(nn.size, xi)  # dual of x_nn >= 0
    s = np.full(nn.size, eta)  # slack of x_nn >= 0

    norm_c = 1.0 + np.linalg.norm(c)
    norm_F0 = 1.0 + np.sqrt(sum(np.linalg.norm(b.F0) ** 2 for b in blocks))
    status, native = Status.MAX_ITERATIONS, "max_iterations"
    it = 0
    history: list[tuple[float, float, float]] = []
    pobj = dobj = np.nan
    for it in range(1, max_iter + 1):
        Rp = [b.F0 + b.adj(x) - Sk for b, Sk in zip(blocks, S, strict=True)]
        rp_lp = x[nn] - s
        rd = c - sum(b.op(Yk) for b, Yk in zip(blocks, Y, strict=True))
        rd[nn] -= z
        mu = (_inner(Y, S) + z @ s) / nu
        pobj = float(c @ x)
        dobj = -_inner([b.F0 for b in blocks], Y)
        gap = abs(pobj - dobj) / (1.0 + abs(pobj) + abs(dobj))
        pinf = np.sqrt(sum(np.linalg.norm(R) ** 2 for R in Rp) + rp_lp @ rp_lp) / norm_F0
        dinf = np.linalg.norm(rd) / norm_c
        history.append((gap, pinf, dinf))
        if verbose:
            logger.info("%s it %3d  pobj %.10e  dobj %.10e  gap %.2e  pinf %.2e  dinf %.2e",
                        NAME, it, pobj, dobj, gap, pinf, dinf)
        if gap < tol and pinf < tol and dinf < tol:
            status, native = Status.OPTIMAL, "solved"
            break
        # Rays: Y / dobj tends to a Farkas certificate (A(Y) + z = 0, <F0, Y> = -1) when the LMI
        # is infeasible; x / (-c^T x) to a direction of unboundedness when it is unbounded.
        if dobj > 1e8 * (1 + abs(pobj)) and np.linalg.norm(c - rd) < tol * dobj:
            status, native = Status.INFEASIBLE, "primal_infeasible"
            break
        if -pobj > 1e8 * (1 + abs(dobj)) and np.sqrt(
            sum(np.linalg.norm(b.adj(x)) ** 2 for b in blocks)
        ) < 1e3 * tol * -pobj:
            status, native = Status.UNBOUNDED, "dual_infeasible"
            break
        if time_limit is not None and time.perf_counter() - start > time_limit:
            status, native = Status.TIME_LIMIT, "time_limit"
            break
        if callback is not None and callback(
            x.copy(),
            {"iteration": it, "gap": gap, "pinf": pinf, "dinf": dinf, "pobj": pobj,
             "dobj": dobj, "dual": tuple(Y)},
        ):
            status, native = Status.OPTIMAL_INACCURATE, "stopped_by_callback"
            break

        newton = _Newton(blocks, nn, Y, S, z, s, Rp, rp_lp, rd)
        # Predictor (affine scaling, sigma = 0).
        dx, dS, dY, ds, dz = newton.direction([-Yk for Yk in Y], -z)
        a_p, a_d = (min(1.0, a) for a in newton.steps(dS, dY, ds, dz))
        Y_aff = [Yk + a_d * d for Yk, d in zip(Y, dY, strict=True)]
        S_aff = [Sk + a_p * d for Sk, d in zip(S, dS, strict=True)]
        mu_aff = (_inner(Y_aff, S_aff) + (z + a_d * dz) @ (s + a_p * ds)) / nu
        sigma = min(1.0, (mu_aff / mu) ** 3) if mu > 0 else 0.0
        # Corrector: centring plus the second-order term dY_aff dS_aff.
        G = [
            sigma * mu * Si - Yk - dYk @ (dSk @ Si)
            for Si, Yk, dYk, dSk in zip(newton.Sinv, Y, dY, dS, strict=True)
        ]
        g_lp = sigma * mu / s - z - dz * ds / s
        dx, dS, dY, ds, dz = newton.direction(G, g_lp)
        a_p, a_d = newton.steps(dS, dY, ds, dz)
        frac = gamma if gamma is not None else 0.9 + 0.09 * min(1.0, a_p, a_d)
        a_p, a_d = min(1.0, frac * a_p), min(1.0, frac * a_d)
        x = x + a_p * dx
        S = [_sym(Sk + a_p * d) for Sk, d in zip(S, dS, strict=True)]
        s = s + a_p * ds
        Y = [_sym(Yk + a_d * d) for Yk, d in zip(Y, dY, strict=True)]
        z = z + a_d * dz
        if not (np.all(np.isfinite(x)) and np.isfinite(mu)):
            raise FloatingPointError("non-finite iterate")
        if max(a_p, a_d) < 1e-8:
            status, native = Status.NUMERICAL_ERROR, "stalled"
            break

    solve_time = time.perf_counter() - start
    if status in (Status.INFEASIBLE, Status.UNBOUNDED):
        certificate = {"certificate": tuple(Yk / dobj for Yk in Y)}
        return replace(
            failed_result(problem, status, solver=NAME, native_status=native, iterations=it,
                          setup_time=setup, solve_time=solve_time),
            info=certificate if status is Status.INFEASIBLE else {},
        )
    gap, pinf, dinf = history[-1]
    near = max(gap, pinf, dinf) < 1e3 * tol
    if status in (Status.MAX_ITERATIONS, Status.NUMERICAL_ERROR) and near:
        status, native = Status.OPTIMAL_INACCURATE, f"{native}_near_optimal"
    dual_nonneg = np.zeros(n)
    dual_nonneg[nn] = z
    return SolverResult(
        x=x,
        status=status,
        objective=pobj,
        dual=tuple(Y),
        iterations=it,
        solve_time=solve_time,
        setup_time=setup,
        solver=NAME,
        native_status=native,
        info={"gap": gap, "pinf": pinf, "dinf": dinf, "dual_nonneg": dual_nonneg,
              "dual_objective": dobj},
    )
