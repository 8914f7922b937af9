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
status ``OPTIMAL_INACCURATE`` and native status ``STOPPED_BY_CALLBACK`` (the caller decided
the point is good enough, e.g. its certified gap is small); ``schur_callback``: a function
``schur_callback(iteration, H, info)`` called with every Newton matrix ``H = M`` above before it
is factored (read-only, valid during the call: copy it to keep it), ``info["slack"]`` and
``info["dual"]`` the iterate's ``S_k`` and ``Y_k`` it was built from. A ``warm_start``
point ``x0`` that is strictly feasible gives a primal-feasible, perfectly centred start
(``S = F0 + A(x0)``, ``Y = mu S^{-1}``, ``z = mu / x0``, ``mu`` fitted to the dual equation by
least squares); otherwise, or without one, the start is infeasible (``x = 0``, ``S`` and ``Y``
multiples of the identity).

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
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas, lapack
from threadpoolctl import threadpool_limits

from solvers.ipm_linalg import (
    as_slice,
    centring_mu,
    chol,
    factor_columns,
    lanczos_min,
    max_step_vec,
    step_to_boundary,
)
from solvers.options import backend_options
from solvers.problem import LMIBlock, LMIProblem
from solvers.registry import capabilities
from solvers.result import STOPPED_BY_CALLBACK, SolverResult, Status, failed_result

__all__ = ["NAME", "solve"]

logger = logging.getLogger(__name__)

NAME = "lowrank-ipm"

_OPTIONS = ("callback", "schur_callback", "step_fraction")

#: A feasible start whose first step is shorter than this (both primal and dual) is abandoned
#: for the default start (as in banded-ipm).
BLOCKED_START_STEP = 0.1


@dataclass
class _Block:
    """One LMI block with the data the iteration needs.

    The factor columns are reordered once: first those that are scaled unit vectors (a neuron's
    own coordinate: handled by indexing), then the others grouped by the rows they span
    (``groups``: dense ``U_g`` on rows ``lo:hi``, so that ``A U`` costs one product per group
    against the rows it touches, not against all ``m``). ``D`` and ``agg`` follow that order.
    """

    m: int
    F0: np.ndarray
    F: sp.csc_matrix  # (m*m, n)
    FT: sp.csr_matrix  # F^T, for <F_i, K> = F^T vec(K)
    D: sp.csr_matrix  # (R, R) block diagonal, columns in the order below
    agg: sp.csr_matrix  # (n, R): agg[i, a] = 1 if column a belongs to variable i
    unit_rows: slice | np.ndarray  # columns 0 .. n_unit-1 are e_r, r in unit_rows (values in D)
    groups: list[tuple[int, int, int, int, np.ndarray]] | None  # (lo, hi, c0, c1, U_g)
    Urest: sp.csc_matrix | None  # the other columns, where too sparse for dense groups
    D_diag: np.ndarray  # D's diagonal
    D_runs: list[tuple[int, int, np.ndarray]] | None  # D's off-diagonal as (row0, col0, values)
    segments: list[tuple[int, int, int, bool]] | None  # (c0, c1, owner0, summed): see schur

    def op(self, K: np.ndarray) -> np.ndarray:
        """``[<F_i, K>]_i`` (K need not be symmetric: F_i is)."""
        return self.FT @ K.ravel(order="F")

    def adj(self, v: np.ndarray) -> np.ndarray:
        """``sum_i v_i F_i`` as a dense matrix."""
        return (self.F @ v).reshape(self.m, self.m, order="F")

    # Schur assembly in reused buffers: it works on (R, R) arrays every iteration, and fresh
    # temporaries of that size are page-faulted in from the system on every call
    # (``experiments/bench_solvers.py --kernels`` prints the minor faults per solve).
    _work: dict = field(default_factory=dict, init=False, repr=False)

    def _buf(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        a = self._work.get(name)
        if a is None or a.shape != shape:
            a = self._work[name] = np.empty(shape)
        return a

    def _gram(self, A: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``U^T A U`` for a dense symmetric ``A``, written into ``out`` (R, R)."""
        R = self.D.shape[0]
        r = self.unit_rows
        if isinstance(r, slice):
            k = r.stop - r.start
            out[:k, :k] = A[r, r]
        else:
            k = r.size
            out[:k, :k] = A[np.ix_(r, r)]
        if k == R:
            return out
        if self.groups is not None:
            AU = self._buf("AU", (self.m, R - k))
            for lo, hi, c0, c1, Ug in self.groups:
                np.matmul(A[:, lo:hi], Ug, out=AU[:, c0:c1])
            for lo, hi, c0, c1, Ug in self.groups:
                np.matmul(Ug.T, AU[lo:hi], out=out[k + c0 : k + c1, k:])
        else:
            AU = np.asarray(self.Urest.T @ A).T
            out[k:, k:] = np.asarray(self.Urest.T @ AU)
        cross = AU[r]
        out[:k, k:] = cross
        out[k:, :k] = cross.T
        return out

    def _apply_D(self, G: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``D G`` into ``out``: the diagonal scaling plus, per run of off-diagonal entries that
        pair consecutive rows with consecutive columns, one slice update (a sparse product,
        which allocates, where the entries form no such runs)."""
        if self.D_runs is None:
            out[...] = self.D @ G
            return out
        np.multiply(G, self.D_diag[:, None], out=out)
        for p0, q0, v in self.D_runs:
            t = self._buf(f"run{p0}", (v.size, G.shape[1]))
            np.multiply(G[q0 : q0 + v.size], v[:, None], out=t)
            out[p0 : p0 + v.size] += t
        return out

    def schur(self, Y: np.ndarray, Z: np.ndarray) -> np.ndarray:
        """``[tr(F_i Y F_j Z)]_ij`` from the low-rank factors: ``agg (DG_Y o (DG_Z)^T) agg^T``."""
        R = self.D.shape[0]
        G = self._buf("G", (R, R))
        DY = self._apply_D(self._gram(Y, G), self._buf("DY", (R, R)))
        DZ = self._apply_D(self._gram(Z, G), self._buf("DZ", (R, R)))
        n = self.agg.shape[0]
        if self.segments is None:
            H = DY * DZ.T
            M = self.agg @ (self.agg @ H).T  # M^T; symmetrised below
        else:
            # Column segments of one owner ("sum") or of consecutive owners ("diag"): each
            # segment pair's Hadamard block is summed into M by slices.
            M = np.zeros((n, n))
            T = self._buf("T", (R, R))
            for c0, c1, o0, rs in self.segments:
                for d0, d1, p0, cs in self.segments:
                    blk = np.multiply(DY[c0:c1, d0:d1], DZ[d0:d1, c0:c1].T,
                                      out=T[: c1 - c0, : d1 - d0])
                    if rs and cs:
                        M[o0, p0] += blk.sum()
                    elif rs:
                        M[o0, p0 : p0 + d1 - d0] += blk.sum(axis=0)
                    elif cs:
                        M[o0 : o0 + c1 - c0, p0] += blk.sum(axis=1)
                    else:
                        M[o0 : o0 + c1 - c0, p0 : p0 + d1 - d0] += blk
        return 0.5 * (M + M.T)


def _prepare(block: LMIBlock) -> _Block:
    if block.lowrank is not None:
        U, D, owner = block.lowrank.U, block.lowrank.D, block.lowrank.owner
    else:
        U, D, owner = factor_columns(block)
    m, n = block.size, block.n_vars
    U = sp.csc_matrix(U)
    counts = np.diff(U.indptr)
    unit = np.flatnonzero(counts == 1)
    rest = np.flatnonzero(counts != 1)
    # Group the other columns by the partition blocks their rows span (one group without a
    # partition): each group is a dense U_g on a contiguous row range.
    bounds = np.concatenate([[0], np.cumsum(block.partition or (m,))])
    Ur = U[:, rest]
    Ur.sort_indices()
    nz = np.diff(Ur.indptr) > 0  # zero columns (no rows) go with the first group
    lo_row = np.zeros(rest.size, dtype=np.int64)
    hi_row = np.zeros(rest.size, dtype=np.int64)
    lo_row[nz] = Ur.indices[Ur.indptr[:-1][nz]]
    hi_row[nz] = Ur.indices[Ur.indptr[1:][nz] - 1]
    first = np.searchsorted(bounds, lo_row, side="right") - 1
    last = np.searchsorted(bounds, hi_row, side="right") - 1
    key = first * (bounds.size + 1) + last
    order = np.argsort(key, kind="stable")
    rest, Ur, key = rest[order], Ur[:, order], key[order]
    starts = np.flatnonzero(np.r_[True, np.diff(key) != 0]).tolist() if rest.size else []
    spans = [(int(bounds[first[order][s]]), int(bounds[last[order][s] + 1]), s, e)
             for s, e in zip(starts, [*starts[1:], rest.size][: len(starts)], strict=True)]
    dense_size = sum((hi - lo) * (c1 - c0) for lo, hi, c0, c1 in spans)
    groups: list | None = None
    Urest = None
    # Dense BLAS products win once the groups are more than a few percent full.
    if rest.size and (Ur.nnz > 0.02 * dense_size and dense_size <= 50_000_000):
        groups = [(lo, hi, c0, c1, np.ascontiguousarray(Ur[lo:hi, c0:c1].toarray()))
                  for lo, hi, c0, c1 in spans]
    elif rest.size:
        Urest = Ur
    perm = np.concatenate([unit, rest]).astype(np.int64)
    R = perm.size
    # Unit columns carry their value in D (D <- V D V), so that their Gram block is a plain
    # submatrix of A (a slice where the rows are contiguous, as a neuron's coordinates are).
    unit_val = U.data[U.indptr[unit]]
    v = np.concatenate([unit_val, np.ones(rest.size)])
    Dp = sp.diags(v) @ sp.csr_matrix(D)[perm][:, perm] @ sp.diags(v)
    unit_row = U.indices[U.indptr[unit]]
    agg = sp.csr_matrix((np.ones(R), (np.asarray(owner)[perm], np.arange(R))), shape=(n, R))
    Dp = sp.csr_matrix(Dp)
    F = block.F
    return _Block(
        m=m,
        F0=block.F0,
        F=F,
        FT=sp.csr_matrix(F.T),
        D=Dp,
        agg=agg,
        unit_rows=as_slice(unit_row),
        groups=groups,
        Urest=Urest,
        D_diag=Dp.diagonal(),
        D_runs=_diagonal_runs(Dp),
        segments=_owner_segments(np.asarray(owner)[perm]),
    )


def _owner_segments(own: np.ndarray, max_segments: int = 8) -> list | None:
    """The columns' owners ``own`` as maximal segments ``(c0, c1, o0, summed)``: columns
    ``c0:c1`` all owned by ``o0`` (``summed``) or by ``o0, o0 + 1, ...`` one each; None where
    that takes more than ``max_segments`` segments."""
    out = []
    c, R = 0, own.size
    while c < R:
        e = c + 1
        if e < R and own[e] == own[c]:
            while e < R and own[e] == own[c]:
                e += 1
            out.append((c, e, int(own[c]), True))
        else:
            while e < R and own[e] == own[e - 1] + 1:
                e += 1
            out.append((c, e, int(own[c]), False))
        c = e
        if len(out) > max_segments:
            return None
    return out


def _diagonal_runs(D: sp.csr_matrix, max_runs: int = 16) -> list | None:
    """``D``'s off-diagonal entries as runs ``(p0, q0, v)``, ``D[p0 + t, q0 + t] = v[t]``; None
    where they need more than ``max_runs`` runs or a row has two of them."""
    C = sp.coo_matrix(D)
    off = C.row != C.col
    p, q, v = C.row[off], C.col[off], C.data[off]
    order = np.lexsort((q, p))
    p, q, v = p[order], q[order], v[order]
    if p.size and np.any(np.diff(p) == 0):
        return None
    brk = np.flatnonzero((np.diff(p) != 1) | (np.diff(q) != 1)) + 1
    if brk.size + 1 > max_runs:
        return None
    return [(int(p[a]), int(q[a]), v[a:b]) for a, b in
            zip(np.r_[0, brk], np.r_[brk, p.size], strict=True) if b > a]


def _inverse(L: np.ndarray) -> np.ndarray:
    """``(L L^T)^{-1}`` from the lower Cholesky factor ``L`` (both triangles filled)."""
    Zl, info = lapack.dpotri(L, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError("singular Cholesky factor")
    Z = Zl + Zl.T  # dpotri fills the lower triangle; L's strict upper triangle is zero
    Z[np.diag_indices_from(Z)] *= 0.5
    return Z


def _min_eig_scaled(L: np.ndarray, dX: np.ndarray) -> float:
    """Lanczos estimate of the smallest eigenvalue of ``L^{-1} dX L^{-T}``."""

    def mv(v):
        return blas.dtrsv(L, dX @ blas.dtrsv(L, v, lower=1, trans=1), lower=1)

    return lanczos_min(mv, L.shape[0])


def _sym(A: np.ndarray) -> np.ndarray:
    return 0.5 * (A + A.T)


def solve(problem: LMIProblem, options: dict, warm_start: object = None) -> SolverResult:
    """Solve ``problem`` by the structured interior-point method (see the module docstring)."""
    x0 = warm_start.x if isinstance(warm_start, SolverResult) else warm_start
    x0 = None if x0 is None else np.asarray(x0, dtype=np.float64)
    common, rest = backend_options(options, NAME, _OPTIONS)
    callback = rest.get("callback")
    gamma = rest.get("step_fraction")  # None: adaptive, 0.9 + 0.09 min(a_p, a_d) as in SDPT3
    if gamma is not None and not 0.5 <= float(gamma) < 1.0:
        raise ValueError(f"options['step_fraction'] is {gamma}; expected a number in [0.5, 1)")
    t0 = time.perf_counter()
    blocks = [_prepare(b) for b in problem.blocks]
    setup = time.perf_counter() - t0
    # Small dense kernels run on one BLAS thread: the registry's threading policy.
    threads = capabilities(NAME).blas_threads(max(b.m for b in blocks))
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
                schur_callback=rest.get("schur_callback"),
                gamma=gamma,
                setup=setup,
                x0=x0,
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
    """One iteration's factorisations and the HKM directions built from them."""

    blocks: list[_Block]
    nn: np.ndarray
    Y: list[np.ndarray]
    LS: list[np.ndarray]  # Cholesky factors of S
    z: np.ndarray
    s: np.ndarray
    Rp: list[np.ndarray] | None  # None once S = F0 + A(x) exactly
    rp_lp: np.ndarray
    rd: np.ndarray
    hook: Callable[[np.ndarray], object] | None = None  # shown M (see schur_callback)

    def __post_init__(self) -> None:
        self.Z = [_inverse(L) for L in self.LS]
        n = self.rd.size
        M = sum(b.schur(Yk, Zk) for b, Yk, Zk in zip(self.blocks, self.Y, self.Z, strict=True))
        M[self.nn, self.nn] += self.z / self.s
        if self.hook is not None:
            self.hook(M)
        # Diagonal scaling for a robust Cholesky of the Schur complement.
        self.dscale = 1.0 / np.sqrt(np.maximum(np.diag(M), np.finfo(float).tiny))
        with np.errstate(over="ignore", invalid="ignore"):  # non-finite: the Cholesky fails
            Ms = M * self.dscale[:, None] * self.dscale[None, :]
        Ms[np.diag_indices(n)] += 1e-14
        self.Mfac = chol(Ms)
        if self.Mfac is None:
            raise np.linalg.LinAlgError("Schur matrix is not positive definite")
        self.aYRZ = 0.0
        if self.Rp is not None:
            self.aYRZ = sum(b.op(Yk @ (R @ Zk)) for b, Yk, R, Zk
                            in zip(self.blocks, self.Y, self.Rp, self.Z, strict=True))

    def direction(self, G: list[np.ndarray], g_lp: np.ndarray) -> tuple:
        """Solve ``M dx = A^*(G - Y Rp Z) + g_lp - (z/s) rp_lp - rd`` and back-substitute:
        ``dS = A(dx) + Rp``, ``dY = sym(G - Y dS Z)``. Also returns ``dS Z`` (per block)."""
        nn, z, s = self.nn, self.z, self.s
        rhs = -self.rd - self.aYRZ
        for b, Gk in zip(self.blocks, G, strict=True):
            rhs += b.op(Gk)
        rhs[nn] += g_lp - (z / s) * self.rp_lp
        y = blas.dtrsv(self.Mfac, self.dscale * rhs, lower=1)
        dx = self.dscale * blas.dtrsv(self.Mfac, y, lower=1, trans=1)
        dS = [b.adj(dx) for b in self.blocks]
        if self.Rp is not None:
            dS = [d + R for d, R in zip(dS, self.Rp, strict=True)]
        VZ = [d @ Zk for d, Zk in zip(dS, self.Z, strict=True)]
        dY = [_sym(Gk - Yk @ V) for Gk, Yk, V in zip(G, self.Y, VZ, strict=True)]
        ds = self.rp_lp + dx[nn]
        dz = g_lp - z * ds / s
        return dx, dS, dY, ds, dz, VZ


def _inner(A: list[np.ndarray], B: list[np.ndarray]) -> float:
    return sum(float(np.vdot(a, b)) for a, b in zip(A, B, strict=True))


def _estimate_step(L: list[np.ndarray], dX: list[np.ndarray], cap: float) -> float:
    """Largest ``a <= cap`` with every ``X + a dX >= 0`` (a Lanczos estimate, unverified)."""
    lam = min(_min_eig_scaled(Lk, d) for Lk, d in zip(L, dX, strict=True))
    return cap if lam >= -1.0 / cap else -1.0 / lam


def _verified_step(X: list[np.ndarray], L: list[np.ndarray], dX: list[np.ndarray], cap: float,
                   frac: float) -> tuple[float, list[np.ndarray]]:
    """``frac`` of the way to the boundary of ``X + a dX >= 0`` (at most ``cap``), verified by a
    Cholesky factorisation of every block; returns the step and those factors (the next
    iteration's)."""
    lam = min(_min_eig_scaled(Lk, d) for Lk, d in zip(L, dX, strict=True))
    factors: list[np.ndarray] = []

    def ok(a: float) -> bool:
        factors.clear()
        for Xk, d in zip(X, dX, strict=True):
            G = chol(Xk + a * d)
            if G is None:
                return False
            factors.append(G)
        return True

    a = step_to_boundary(lam, ok, cap, frac)
    if a == 0.0:
        return 0.0, list(L)
    return a, list(factors)


def _default_start(blocks: list[_Block], n: int, n_nonneg: int, xi: float, eta: float) -> tuple:
    """``(x, S, L_S, s, Y, L_Y, z)`` of the infeasible start: ``x = 0``, ``S = eta I``,
    ``Y = xi I``."""
    return (np.zeros(n), [eta * np.eye(b.m) for b in blocks],
            [np.sqrt(eta) * np.eye(b.m) for b in blocks], np.full(n_nonneg, eta),
            [xi * np.eye(b.m) for b in blocks], [np.sqrt(xi) * np.eye(b.m) for b in blocks],
            np.full(n_nonneg, xi))


def _feasible_start(blocks: list[_Block], c: np.ndarray, nn: np.ndarray,
                    x0: np.ndarray | None) -> tuple | None:
    """``(x, S, L_S, s, Y, L_Y, z)`` of the centred start at a strictly feasible ``x0`` (module
    docstring), or None where ``x0`` is missing or not strictly feasible."""
    if x0 is None or np.any(x0[nn] <= 0):
        return None
    S = [b.F0 + b.adj(x0) for b in blocks]
    LS = [chol(Sk) for Sk in S]
    if any(L is None for L in LS):
        return None
    Z = [_inverse(L) for L in LS]
    mu = centring_mu(c, sum(b.op(Zk) for b, Zk in zip(blocks, Z, strict=True)), nn, x0)
    if mu is None:
        return None
    Y = [mu * Zk for Zk in Z]
    LY = [chol(Yk) for Yk in Y]
    if any(L is None for L in LY):
        return None
    return x0.copy(), S, LS, x0[nn].copy(), Y, LY, mu / x0[nn]


def _iterate(
    problem: LMIProblem,
    blocks: list[_Block],
    *,
    tol: float,
    max_iter: int,
    time_limit: float | None,
    verbose: bool,
    callback: Callable | None,
    schur_callback: Callable | None = None,
    gamma: float | None,
    setup: float,
    x0: np.ndarray | None = None,
) -> SolverResult:
    start = time.perf_counter()
    c = problem.c
    n = c.size
    nn = np.flatnonzero(problem.nonneg)
    nu = sum(b.m for b in blocks) + nn.size
    m_max = max(b.m for b in blocks)

    # Initial point Y = xi I, S = eta I, x = 0. SDPT3's recipe (xi >= max(10, sqrt(m), ...),
    # eta >= 10) starts far too large for problems whose data are O(1), such as the balanced
    # LipSDP LMI (whose dual has trace(Y_00) = 1): a tenth of it, as in banded-ipm, saves
    # iterations there and is kept unless c or F is large.
    col_norms = np.sqrt(sum(np.asarray(b.F.multiply(b.F).sum(axis=0)).ravel() for b in blocks))
    f0_norm = max(np.sqrt(sum(np.linalg.norm(b.F0) ** 2 for b in blocks)), 1.0)
    xi = max(0.1, float(np.max(np.abs(c) / (1 + col_norms))))
    eta = 0.1 * max(10.0, np.sqrt(m_max),
                    max(f0_norm, float(col_norms.max(initial=0.0))) / np.sqrt(m_max))
    # s: slack of x_nn >= 0; z: its dual.
    feasible = _feasible_start(blocks, c, nn, x0)
    x, S, LS, s, Y, LY, z = feasible or _default_start(blocks, n, nn.size, xi, eta)

    norm_c = 1.0 + np.linalg.norm(c)
    norm_F0 = 1.0 + np.sqrt(sum(np.linalg.norm(b.F0) ** 2 for b in blocks))
    status, native = Status.MAX_ITERATIONS, "max_iterations"
    it = 0
    gap = pinf = dinf = np.inf
    pobj = dobj = np.nan
    a_p = a_d = 0.0
    for it in range(1, max_iter + 1):
        Ax = [b.F0 + b.adj(x) for b in blocks]
        Rp: list[np.ndarray] | None = [A - Sk for A, Sk in zip(Ax, S, strict=True)]
        rp_lp = x[nn] - s
        rd = c - sum(b.op(Yk) for b, Yk in zip(blocks, Y, strict=True))
        rd[nn] -= z
        mu = (_inner(Y, S) + z @ s) / nu
        pobj = float(c @ x)
        dobj = -_inner([b.F0 for b in blocks], Y)
        # Relative gap: LipSDP's scaled objective can be far below 1 on deep networks.
        gap = abs(pobj - dobj) / max(abs(pobj), abs(dobj), 1e-10)
        pinf = np.sqrt(_inner(Rp, Rp) + rp_lp @ rp_lp) / norm_F0
        dinf = np.linalg.norm(rd) / norm_c
        if verbose:
            logger.info("%s it %3d  pobj %.10e  dobj %.10e  gap %.2e  pinf %.2e  dinf %.2e"
                        "  mu %.2e  steps %.3f %.3f", NAME, it, pobj, dobj, gap, pinf, dinf, mu,
                        a_p, a_d)
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
            status, native = Status.OPTIMAL_INACCURATE, STOPPED_BY_CALLBACK
            break
        # Once the primal residual is at rounding level, S is reset to F0 + A(x) itself: the
        # iterates then stay exactly primal feasible and the Rp terms vanish.
        if pinf < 1e-12:
            LA = [chol(A) for A in Ax]
            if all(G is not None for G in LA):
                S, LS, Rp = Ax, LA, None  # type: ignore[assignment]
                if np.all(x[nn] > 0):
                    s, rp_lp = x[nn].copy(), np.zeros(nn.size)
        try:
            hook = None if schur_callback is None else partial(
                schur_callback, it, info={"slack": tuple(S), "dual": tuple(Y)})
            newton = _Newton(blocks, nn, Y, LS, z, s, Rp, rp_lp, rd, hook)
            # Predictor (affine scaling, sigma = 0).
            dx, dS, dY, ds, dz, VZ = newton.direction([-Yk for Yk in Y], -z)
            a_p = _estimate_step(LS, dS, min(1.0, max_step_vec(s, ds)))
            a_d = _estimate_step(LY, dY, min(1.0, max_step_vec(z, dz)))
            mu_aff = (_inner(Y, S) + a_p * _inner(Y, dS) + a_d * _inner(dY, S)
                      + a_p * a_d * _inner(dY, dS) + (z + a_d * dz) @ (s + a_p * ds)) / nu
            sigma = min(1.0, (mu_aff / mu) ** 3) if mu > 0 else 0.0
            # Corrector: centring plus the second-order term dY_aff dS_aff Z.
            G = [sigma * mu * Zk - Yk - dYk @ V
                 for Zk, Yk, dYk, V in zip(newton.Z, Y, dY, VZ, strict=True)]
            g_lp = sigma * mu / s - z - dz * ds / s
            dx, dS, dY, ds, dz, _ = newton.direction(G, g_lp)
            frac = gamma if gamma is not None else 0.9 + 0.09 * min(1.0, a_p, a_d)
            a_p, LS = _verified_step(S, LS, dS, min(1.0, frac * max_step_vec(s, ds)), frac)
            a_d, LY = _verified_step(Y, LY, dY, min(1.0, frac * max_step_vec(z, dz)), frac)
        except (np.linalg.LinAlgError, FloatingPointError) as exc:
            # Numerical trouble ends the solve with the last iterate and a status that says so.
            logger.warning("%s: numerical failure at iteration %d: %s", NAME, it, exc)
            status, native = Status.NUMERICAL_ERROR, "linear_algebra_failure"
            break
        x = x + a_p * dx
        S = [Sk + a_p * d for Sk, d in zip(S, dS, strict=True)]
        s = s + a_p * ds
        Y = [Yk + a_d * d for Yk, d in zip(Y, dY, strict=True)]
        z = z + a_d * dz
        if not (np.all(np.isfinite(x)) and np.isfinite(mu)):
            status, native = Status.NUMERICAL_ERROR, "non_finite_iterate"
            break
        if feasible is not None and it == 1 and max(a_p, a_d) < BLOCKED_START_STEP:
            # The feasible start sits too close to the boundary (its first step is blocked):
            # start again from the default point.
            logger.info("%s: feasible start blocked (steps %.1e, %.1e); default start instead",
                        NAME, a_p, a_d)
            x, S, LS, s, Y, LY, z = _default_start(blocks, n, nn.size, xi, eta)
            continue
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
