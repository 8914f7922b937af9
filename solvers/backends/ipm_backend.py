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

The iteration is :func:`solvers.ipm_core.iterate`, shared with banded-ipm; this module supplies
the linear algebra on dense blocks (:class:`_LowRankAlgebra`). The two methods' step rules
differ in one place, kept as it was: the predictor's step here is the whole estimated distance to
the boundary (banded-ipm: 0.995 of it).

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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas, lapack

from lipsdp_solvers.ipm_core import ConeAlgebra, Direction, NewtonSystem, run, warm_point
from lipsdp_solvers.ipm_linalg import (
    as_slice,
    boundary_step,
    centring_mu,
    chol,
    factor_columns,
    lanczos_min,
)
from lipsdp_solvers.options import backend_options
from lipsdp_solvers.problem import LMIBlock, LMIProblem
from lipsdp_solvers.registry import capabilities
from lipsdp_solvers.result import SolverResult

__all__ = ["NAME", "solve"]

logger = logging.getLogger(__name__)

NAME = "lowrank-ipm"

_OPTIONS = ("callback", "schur_callback", "step_fraction")


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
    x0 = warm_point(warm_start)
    common, rest = backend_options(options, NAME, _OPTIONS)
    gamma = rest.get("step_fraction")  # None: adaptive, 0.9 + 0.09 min(a_p, a_d) as in SDPT3
    if gamma is not None and not 0.5 <= float(gamma) < 1.0:
        raise ValueError(f"options['step_fraction'] is {gamma}; expected a number in [0.5, 1)")
    t0 = time.perf_counter()
    blocks = [_prepare(b) for b in problem.blocks]
    setup = time.perf_counter() - t0
    # Small dense kernels run on one BLAS thread: the registry's threading policy.
    threads = capabilities(NAME).blas_threads(max(b.m for b in blocks))
    # The predictor's step is the full distance to the boundary (banded-ipm takes 0.995 of it).
    return run(problem, _LowRankAlgebra(blocks), common, rest, setup=setup, t0=t0,
               threads=threads,
               errors=(np.linalg.LinAlgError, FloatingPointError, ValueError), x0=x0,
               step_fraction=gamma, predictor_fraction=1.0)


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


def _factors(X: list[np.ndarray]) -> list[np.ndarray] | None:
    """Cholesky factors of every block, or None where one is not positive definite."""
    L = [chol(Xk) for Xk in X]
    return None if any(G is None for G in L) else L


class _LowRankNewton(NewtonSystem):
    """:class:`NewtonSystem` on dense blocks (``second``: the full ``dY dS Z`` per block)."""

    def __init__(self, system: _Newton, S: list[np.ndarray], LY: list[np.ndarray]):
        self.system, self.S, self.LY = system, S, LY

    def direction(self, sigma_mu: float, g_lp: np.ndarray, second: Any) -> Direction:
        sy = self.system
        if second is None:
            G = [-Yk for Yk in sy.Y]
        else:
            G = [sigma_mu * Zk - Yk - Wk for Zk, Yk, Wk in zip(sy.Z, sy.Y, second, strict=True)]
        dx, dS, dY, ds, dz, VZ = sy.direction(G, g_lp)
        return Direction(dx, dS, dY, ds, dz, VZ)

    def second_order(self, d: Direction) -> list[np.ndarray]:
        return [dYk @ V for dYk, V in zip(d.dY, d.extra, strict=True)]

    def complementarity(self, a_p: float, a_d: float, d: Direction) -> float:
        Y, S = self.system.Y, self.S
        return (_inner(Y, S) + a_p * _inner(Y, d.dS) + a_d * _inner(d.dY, S)
                + a_p * a_d * _inner(d.dY, d.dS))

    def primal_step(self, d: Direction, cap: float, frac: float, verify: bool) -> tuple:
        return _step(self.S, self.system.LS, d.dS, cap, frac, verify)

    def dual_step(self, d: Direction, cap: float, frac: float, verify: bool) -> tuple:
        return _step(self.system.Y, self.LY, d.dY, cap, frac, verify)


def _step(X: list[np.ndarray], L: list[np.ndarray], dX: list[np.ndarray], cap: float,
          frac: float, verify: bool) -> tuple[float, list[np.ndarray] | None]:
    """``frac`` of the way to the boundary of ``X + a dX >= 0`` (at most ``cap``), from a
    Lanczos estimate per block; with ``verify``, checked by a Cholesky factorisation of every
    block (the factors returned: the next iteration's)."""
    lam = min(_min_eig_scaled(Lk, d) for Lk, d in zip(L, dX, strict=True))
    return boundary_step(lam, lambda a: _factors([Xk + a * d for Xk, d in zip(X, dX,
                                                                              strict=True)]),
                         cap, frac, verify)


class _LowRankAlgebra(ConeAlgebra):
    """:class:`~solvers.ipm_core.ConeAlgebra` of dense blocks with low-rank coefficients."""

    name = NAME

    def __init__(self, blocks: list[_Block]):
        self.blocks = blocks
        self.order = sum(b.m for b in blocks)
        self.side = max(b.m for b in blocks)
        self.col_norms = np.sqrt(sum(np.asarray(b.F.multiply(b.F).sum(axis=0)).ravel()
                                     for b in blocks))
        self.F0 = [b.F0 for b in blocks]
        self.f0_norm = np.sqrt(sum(np.linalg.norm(b.F0) ** 2 for b in blocks))

    def identity(self, value: float) -> list[np.ndarray]:
        return [value * np.eye(b.m) for b in self.blocks]

    def slack(self, x: np.ndarray) -> list[np.ndarray]:
        return [b.F0 + b.adj(x) for b in self.blocks]

    def operator_norm(self, x: np.ndarray) -> float:
        return np.sqrt(sum(np.linalg.norm(b.adj(x)) ** 2 for b in self.blocks))

    def adjoint(self, Y: list[np.ndarray]) -> np.ndarray:
        return sum(b.op(Yk) for b, Yk in zip(self.blocks, Y, strict=True))

    def lin(self, a: float, A: list, b: float, B: list) -> list[np.ndarray]:
        # a = 1 and b = -1 written as such: the same floating-point numbers, no products.
        if a == 1.0 and b == -1.0:
            return [x - y for x, y in zip(A, B, strict=True)]
        if a == 1.0:
            return [x + b * y for x, y in zip(A, B, strict=True)]
        return [a * x + b * y for x, y in zip(A, B, strict=True)]

    def inner(self, A: list, B: list) -> float:
        return _inner(A, B)

    def factor(self, S: list[np.ndarray]) -> list[np.ndarray] | None:
        return _factors(S)

    def dual_factor(self, Y: list[np.ndarray]) -> list[np.ndarray] | None:
        return _factors(Y)

    def feasible_start(self, c: np.ndarray, nn: np.ndarray,
                       x0: np.ndarray | None) -> tuple | None:
        if x0 is None or np.any(x0[nn] <= 0):
            return None
        S = self.slack(x0)
        LS = _factors(S)
        if LS is None:
            return None
        Z = [_inverse(L) for L in LS]
        mu = centring_mu(c, self.adjoint(Z), nn, x0)
        if mu is None:
            return None
        Y = [mu * Zk for Zk in Z]
        if _factors(Y) is None:
            return None
        return x0.copy(), S, x0[nn].copy(), Y, mu / x0[nn]

    def newton(self, S, fac_S, Y, fac_Y, z, s, Rp, rp_lp, rd, aY, nn, hook) -> NewtonSystem:
        return _LowRankNewton(_Newton(self.blocks, nn, Y, fac_S, z, s, Rp, rp_lp, rd, hook), S,
                              fac_Y)

    def iterate_info(self, Y: list[np.ndarray]) -> dict:
        return {"dual": tuple(Y)}

    def schur_info(self, S: list[np.ndarray], Y: list[np.ndarray]) -> dict:
        return {"slack": tuple(S), "dual": tuple(Y)}

    def result_dual(self, Y: list[np.ndarray]) -> tuple[np.ndarray, ...]:
        return tuple(Y)

    def result_info(self, Y: list[np.ndarray]) -> dict:
        return {}

    def certificate(self, Y: list[np.ndarray], dobj: float) -> tuple[np.ndarray, ...]:
        return tuple(Yk / dobj for Yk in Y)
