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
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas, lapack
from scipy.sparse.csgraph import connected_components
from threadpoolctl import threadpool_info, threadpool_limits

from solvers.backends.ipm_backend import (
    _centring_mu,
    _factor_columns,
    _lanczos_min,
    _max_step_vec,
    _step_to_boundary,
)
from solvers.options import backend_options
from solvers.problem import BandedMatrix, LMIBlock, LMIProblem, LowRank
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

#: A symmetric block-tridiagonal matrix: its diagonal blocks and its sub-diagonal blocks
#: ``(p, p-1)`` (``sub[0]`` is None).
Tri = tuple[list[np.ndarray], list[np.ndarray | None]]


def _chol(A: np.ndarray) -> np.ndarray | None:
    """Lower Cholesky factor of the symmetric ``A`` (lower triangle read), or None."""
    G, info = lapack.dpotrf(A, lower=1, clean=1)
    return G if info == 0 else None


def _trsm(G: np.ndarray, B: np.ndarray, trans: int = 0) -> np.ndarray:
    """``G^{-1} B`` (``trans=0``) or ``G^{-T} B`` (``trans=1``) for lower-triangular ``G``."""
    return blas.dtrsm(1.0, G, B, lower=1, trans_a=trans)


def _coarsen(sizes: np.ndarray, target: int) -> np.ndarray:
    """Merge consecutive blocks (greedily, while the merged size stays <= ``target``): a
    coarser partition of a block-tridiagonal matrix is block tridiagonal too, and fewer, larger
    blocks trade a little fill for far fewer (Python-level) kernel calls."""
    out: list[int] = []
    for n in sizes.tolist():
        if out and out[-1] + n <= target:
            out[-1] += n
        else:
            out.append(n)
    return np.asarray(out, dtype=np.int64)


def _add_block(M: np.ndarray, rows: np.ndarray, cols: np.ndarray, A: np.ndarray) -> None:
    """``M[rows x cols] += A``, by slices where the indices are contiguous ranges (variables
    numbered layer by layer make them so; fancy indexing is several times slower)."""
    r, c = _as_slice(rows), _as_slice(cols)
    if isinstance(r, slice) and isinstance(c, slice):
        M[r, c] += A
    else:
        M[np.ix_(rows, cols)] += A


def _paired(Ud: np.ndarray, Udl: np.ndarray, rows: np.ndarray, owner: np.ndarray) -> tuple:
    """The dense factor columns ``Ud`` (and their ``lam``-scaled copy ``Udl``) of one row chunk
    in one block as ``(B, rho)``: where they come in consecutive pairs of one owner whose second
    column is ``rho`` times the first (a rank-2 coefficient rotated to diagonal form keeps both
    columns on the same vector in this block), ``B`` holds the first of each pair and ``U^T X``
    costs half the product; otherwise ``B = Ud`` and ``rho`` is None."""
    k = Ud.shape[1]
    plain = (np.ascontiguousarray(Ud), None), (np.ascontiguousarray(Udl), None)
    if k % 2 or np.any(owner[0::2] != owner[1::2]) or np.any(np.diff(rows) != 1):
        return plain
    out = []
    for A in (Ud, Udl):
        u1, u2 = A[:, 0::2], A[:, 1::2]
        nn = np.einsum("ij,ij->j", u1, u1)
        if np.any(nn == 0):
            return plain
        rho = np.einsum("ij,ij->j", u1, u2) / nn
        if np.max(np.abs(u2 - u1 * rho)) > 1e-13 * max(np.max(np.abs(u2)), 1e-300):
            return plain
        out.append((np.ascontiguousarray(u1), rho))
    return tuple(out)


def _add_gram(G: np.ndarray, rows: slice | np.ndarray, dense: tuple, X: np.ndarray) -> None:
    """``G[rows] += U^T X`` for dense columns given as ``(B, rho)`` (see :func:`_paired`)."""
    B, rho = dense
    if rho is None:
        G[rows] += B.T @ X
        return
    H = B.T @ X
    start = rows.start if isinstance(rows, slice) else int(rows[0])
    stop = start + 2 * rho.size
    G[start:stop:2] += H
    H *= rho[:, None]
    G[start + 1 : stop : 2] += H


def _add_at(M: np.ndarray, rows: slice | np.ndarray, cols: slice | np.ndarray,
            A: np.ndarray) -> None:
    """``M[rows x cols] += A`` for indices already made slices where contiguous."""
    if isinstance(rows, slice) and isinstance(cols, slice):
        M[rows, cols] += A
    else:
        M[np.ix_(np.arange(M.shape[0])[rows], np.arange(M.shape[1])[cols])] += A


def _segment_sum(X: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sums of the row segments of ``X`` that begin at ``starts`` (increasing, from 0), as
    ``np.add.reduceat(X, starts, axis=0)`` computes them, but by a sparse 0/1 product: several
    times faster where most segments are one or two rows (a neuron's pair of columns)."""
    n = X.shape[0]
    agg = sp.csr_matrix((np.ones(n), np.arange(n), np.append(starts, n)), shape=(starts.size, n))
    return np.asarray(agg @ X)


def _as_slice(idx: np.ndarray) -> slice | np.ndarray:
    """``idx`` as a slice when it is a contiguous increasing range (cheaper indexing)."""
    if idx.size and np.all(np.diff(idx) == 1):
        return slice(int(idx[0]), int(idx[-1]) + 1)
    return idx


@dataclass
class _Factor:
    """Block-bidiagonal Cholesky factor ``S = L L^T`` of a block-tridiagonal ``S``."""

    diag: list[np.ndarray]  # L_pp, lower triangular
    sub: list[np.ndarray | None]  # L_{p,p-1} (None for p = 0)
    logdet: float
    _inv: list[np.ndarray] | None = None

    @property
    def inv(self) -> list[np.ndarray]:
        """``L_pp^{-1}`` (lower triangular), computed once: the solves then run as matrix
        products, twice as fast as triangular solves for these block sizes and on one BLAS
        (NumPy's), so that its threads never contend with another library's."""
        if self._inv is None:
            self._inv = [lapack.dtrtri(G, lower=1)[0] for G in self.diag]
        return self._inv

    def solve(self, rhs: list[np.ndarray | None], first: int = 0,
              stop: int = 0) -> list[np.ndarray | None]:
        """``S^{-1} B`` for ``B`` given per block (``None``: zero; all zero before ``first``),
        returning only the row blocks ``>= stop`` (the others are None)."""
        P = len(self.diag)
        y: list[np.ndarray | None] = [None] * P
        prev = None
        for p in range(first, P):
            r = rhs[p] if p < len(rhs) else None
            if prev is not None:
                t = self.sub[p] @ prev
                r = -t if r is None else r - t
            if r is None:
                continue
            prev = self.inv[p] @ r
            y[p] = prev
        out: list[np.ndarray | None] = [None] * P
        nxt = None
        for p in range(P - 1, stop - 1, -1):
            r = y[p]
            if nxt is not None:
                t = self.sub[p + 1].T @ nxt
                r = -t if r is None else r - t
            if r is None:
                r = np.zeros((self.diag[p].shape[0], rhs[first].shape[1]))
            nxt = self.inv[p].T @ r
            out[p] = nxt
        return out

    def forward(self, v: list[np.ndarray]) -> list[np.ndarray]:
        """``L^{-1} v`` (row blocks)."""
        out, prev = [], None
        for p in range(len(self.diag)):
            r = v[p] if prev is None else v[p] - self.sub[p] @ prev
            prev = self.inv[p] @ r
            out.append(prev)
        return out

    def backward(self, v: list[np.ndarray]) -> list[np.ndarray]:
        """``L^{-T} v`` (row blocks)."""
        P = len(self.diag)
        out: list[np.ndarray] = [None] * P  # type: ignore[list-item]
        nxt = None
        for p in range(P - 1, -1, -1):
            r = v[p] if nxt is None else v[p] - self.sub[p + 1].T @ nxt
            nxt = self.inv[p].T @ r
            out[p] = nxt
        return out

    def inverse_rows(self) -> list[np.ndarray]:
        """Row blocks of the dense ``S^{-1}``, one block column at a time (each solve starts at
        its own block)."""
        sizes = [G.shape[0] for G in self.diag]
        o = np.concatenate([[0], np.cumsum(sizes)])
        rows = [np.empty((n, o[-1])) for n in sizes]
        for q, n in enumerate(sizes):
            rhs: list[np.ndarray | None] = [None] * len(sizes)
            rhs[q] = np.eye(n)
            X = self.solve(rhs, q)
            for p in range(len(sizes)):
                rows[p][:, o[q] : o[q + 1]] = X[p]
        return rows


def _factor(diag: list[np.ndarray], sub: list[np.ndarray | None]) -> _Factor | None:
    """Block Cholesky of the block-tridiagonal matrix with these blocks, or None if not PD."""
    Ld: list[np.ndarray] = []
    Ls: list[np.ndarray | None] = [None]
    logdet = 0.0
    G = _chol(diag[0])
    if G is None:
        return None
    Ld.append(G)
    logdet += 2.0 * float(np.sum(np.log(np.diag(G))))
    for p in range(1, len(diag)):
        B = sub[p]  # block (p, p-1)
        C = _trsm(Ld[-1], B.T).T  # B L_{p-1}^{-T}
        G = _chol(diag[p] - C @ C.T)
        if G is None:
            return None
        Ls.append(C)
        Ld.append(G)
        logdet += 2.0 * float(np.sum(np.log(np.diag(G))))
    return _Factor(Ld, Ls, logdet)


class _Semiseparable:
    """Column blocks of ``A^{-1} B`` above a block-tridiagonal ``A`` (given by its block Cholesky
    factor) for ``B`` supported on two consecutive row blocks ``p, p + 1``.

    ``A^{-1}`` is block semiseparable: for row blocks ``a < b``, ``(A^{-1})_{ab} = Q_a
    (A^{-1})_{a+1, b}`` with ``Q_a = -L_aa^{-T} L_{a+1,a}^T``. So from the band of ``A^{-1}``
    (selected inversion) the row blocks ``<= p + 1`` of ``A^{-1} B`` cost one ``n x n`` product
    per block, where a solve costs four (a forward and a backward sweep)."""

    def __init__(self, fac: _Factor):
        self.diag, self.sub = _inverse_band(fac)
        self.Q = [-(fac.inv[a].T @ fac.sub[a + 1].T) for a in range(len(fac.diag) - 1)]

    def columns(self, rhs: list[np.ndarray | None], first: int) -> list[np.ndarray | None]:
        """Row blocks ``0 .. first + 1`` of ``A^{-1} B`` for ``B`` given by its row blocks
        ``first`` and ``first + 1`` (``rhs``; None: zero); the others are None."""
        out: list[np.ndarray | None] = [None] * len(self.diag)
        for a, block in self.columns_down(rhs, first):
            out[a] = block
        return out

    def columns_down(self, rhs: list[np.ndarray | None], first: int):
        """The row blocks of :meth:`columns` as ``(a, block)`` from ``first + 1`` (where it
        exists) down to 0, each formed from the one above: a caller can use and drop them in
        turn. ``rhs[first]`` must be set (the chunk's columns start in block ``first``)."""
        P = len(self.diag)
        B0 = rhs[first]
        B1 = rhs[first + 1] if first + 1 < P else None
        top = self.diag[first] @ B0
        if B1 is not None:
            top += self.sub[first + 1].T @ B1
        if first + 1 < P:
            low = self.sub[first + 1] @ B0
            if B1 is not None:
                low += self.diag[first + 1] @ B1
            yield first + 1, low
        yield first, top
        for a in range(first - 1, -1, -1):
            top = self.Q[a] @ top
            yield a, top


@dataclass
class BandedStructure:
    """The data of a block-tridiagonal low-rank LMI, arranged per partition block.

    Each coefficient matrix is ``F_i = sum_{a: owner[a] = i} lam_a u_a u_a^T`` (the given factors
    rotated so that ``D`` is diagonal); block ``p`` keeps the dense rows ``U_p`` of the columns
    ``cols[p]`` that touch it.
    """

    sizes: np.ndarray
    offsets: np.ndarray
    lam: np.ndarray  # (R,)
    owner: np.ndarray  # (R,)
    n_vars: int
    cols: list[np.ndarray]  # columns touching block p
    U: list[np.ndarray]  # (n_p, |cols[p]|)
    pair: list[tuple[np.ndarray, np.ndarray] | None]  # common columns of p and p-1, as positions
    F0_diag: list[np.ndarray]
    F0_sub: list[np.ndarray | None]
    chunks: list[tuple[int, np.ndarray]]  # (first block, columns) groups for the Newton matrix
    agg: sp.csr_matrix  # (n_vars, R): agg[i, a] = 1 if owner[a] == i
    pos: list[np.ndarray]  # pos[p][a] = position of column a in cols[p] (-1 if absent)
    # Per block p, its columns split into those with one entry in the block (a scaled unit
    # vector: handled by indexing) and the others (dense products): (target, rows, vals) and
    # (target, U dense part), targets as slices where contiguous.
    units: list = None  # type: ignore[assignment]
    dense: list = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        # Owner runs: where every variable's columns are one contiguous run that no chunk
        # boundary splits, aggregating columns into variables is a segmented sum over the runs
        # (_segment_sum) and a block write, instead of two products with agg under a lock.
        self.run_starts = np.concatenate([[0], np.flatnonzero(np.diff(self.owner)) + 1])
        self.run_owner = self.owner[self.run_starts]
        chunk_starts = {int(J[0]) for _, J in self.chunks}
        self.runs_ok = (np.unique(self.run_owner).size == self.run_owner.size
                        and chunk_starts <= set(self.run_starts.tolist()))
        # offsets_cols[p]: the first column whose first block is >= p (columns are sorted by
        # their first block), so columns touching blocks < p are those before it.
        firsts = np.full(self.lam.size, self.sizes.size)
        for p, J in self.chunks:
            firsts[J] = p
        self.offsets_cols = np.searchsorted(firsts, np.arange(self.sizes.size + 1))
        self.units, self.dense = [], []
        self.units_lam, self.dense_lam = [], []  # the same with each column scaled by lam
        for p in range(self.sizes.size):
            Up = self.U[p]
            nnz = np.count_nonzero(Up, axis=0)
            unit = np.flatnonzero(nnz == 1)
            rest = np.flatnonzero(nnz != 1)
            rows = np.argmax(Up[:, unit] != 0, axis=0)
            ucols, dcols = self.cols[p][unit], self.cols[p][rest]
            vals, Ud = Up[rows, unit], np.ascontiguousarray(Up[:, rest])
            # A unit column's row of U^T X is a scaled row of X: a sparse selection product.
            for units, dense, lam in ((self.units, self.dense, None),
                                      (self.units_lam, self.dense_lam, self.lam)):
                v = vals if lam is None else vals * lam[ucols]
                E = sp.csr_matrix((v, (np.arange(unit.size), rows)),
                                  shape=(unit.size, Up.shape[0]))
                units.append((_as_slice(ucols), E))
                dense.append((_as_slice(dcols), Ud if lam is None else Ud * lam[dcols]))
        self.row_parts = self._row_parts() if self.runs_ok else None

    def _row_parts(self) -> list:
        """Per chunk ``c`` (columns ``oc[c]:oc[c+1]``, those whose first block is ``c``), what
        :meth:`_schur_chunk_rows` needs for its rows: for each block ``p`` in ``c, c + 1``, the
        chunk's unit and dense columns touching ``p`` as ``(p, rows in the chunk, E, E_lam,
        Ud, Ud_lam)``, and the chunk's owner runs as a 0/1 summation matrix and their owners."""
        oc, P = self.offsets_cols, self.sizes.size
        out = []
        for c in range(P):
            lo, hi = int(oc[c]), int(oc[c + 1])
            parts = []
            for p in (c, c + 1):
                if p >= P or hi == lo:
                    continue
                for (tu, E), (_, El), (td, Ud), (_, Udl) in (
                    ((self.units[p], self.units_lam[p], (None, None), (None, None))),
                    (((None, None), (None, None), self.dense[p], self.dense_lam[p])),
                ):
                    t = tu if tu is not None else td
                    idx = np.arange(self.lam.size)[t]
                    keep = (idx >= lo) & (idx < hi)
                    if not np.any(keep):
                        continue
                    rows = _as_slice(idx[keep] - lo)
                    if E is not None:
                        parts.append((p, rows, sp.csr_matrix(E[np.flatnonzero(keep)]),
                                      sp.csr_matrix(El[np.flatnonzero(keep)]), None, None))
                    else:
                        parts.append((p, rows, None, None,
                                      *_paired(Ud[:, keep], Udl[:, keep], idx[keep] - lo,
                                               self.owner[idx[keep]])))
            k0, k1 = np.searchsorted(self.run_starts, [lo, hi])
            starts = self.run_starts[k0:k1] - lo
            n_c = hi - lo
            summ = sp.csr_matrix((np.ones(n_c), np.arange(n_c), np.append(starts, n_c)),
                                 shape=(starts.size, n_c))
            out.append((parts, summ, _as_slice(self.run_owner[k0:k1])))
        return out

    def gram_rows(self, X: list[np.ndarray], out: np.ndarray,
                  scaled: bool = False) -> np.ndarray:
        """``out += U^T X`` (``(U diag(lam))^T X`` if ``scaled``) for ``X`` given as row blocks
        (``out`` has one row per column)."""
        units, dense = (self.units_lam, self.dense_lam) if scaled else (self.units, self.dense)
        for p in range(self.sizes.size):
            Xp = X[p]
            if Xp is None:
                continue
            target, E = units[p]
            if E.shape[0]:
                out[target] += E @ Xp
            target, Ud = dense[p]
            if Ud.shape[1]:
                out[target] += Ud.T @ Xp
        return out

    @classmethod
    def from_block(cls, block: LMIBlock, target: int = 0) -> BandedStructure:
        if block.partition is None or block.lowrank is None:
            raise ValueError(f"{NAME} needs an LMIBlock with both partition and lowrank set")
        sizes = _coarsen(np.asarray(block.partition, dtype=np.int64), target)
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        P = sizes.size
        blk_of_row = np.repeat(np.arange(P), sizes)
        # Every coefficient and F0 must live on the block-tridiagonal pattern.
        F = block.F.tocoo()
        m = block.size
        r, c = F.row % m, F.row // m
        if F.nnz and np.max(np.abs(blk_of_row[r] - blk_of_row[c])) > 1:
            raise ValueError(f"{NAME}: a coefficient matrix is not block tridiagonal")
        F0 = block.F0
        nz0 = np.nonzero(F0)
        if nz0[0].size and np.max(np.abs(blk_of_row[nz0[0]] - blk_of_row[nz0[1]])) > 1:
            raise ValueError(f"{NAME}: F0 is not block tridiagonal")
        # Rotate each connected group of factor columns so that D becomes diagonal.
        lr = block.lowrank
        U0 = sp.csc_matrix(lr.U)
        D = sp.csr_matrix(lr.D)
        R = U0.shape[1]
        ncomp, label = connected_components(D + sp.eye(R, format="csr"), directed=False)
        order = np.argsort(label, kind="stable")
        bounds = np.searchsorted(label[order], np.arange(ncomp + 1))
        Q = sp.lil_matrix((R, R))
        lam = np.empty(R)
        Dd = D.toarray() if R <= 4000 else None
        for g in range(ncomp):
            idx = order[bounds[g] : bounds[g + 1]]
            Dg = Dd[np.ix_(idx, idx)] if Dd is not None else D[idx][:, idx].toarray()
            if idx.size == 1:
                lam[idx[0]] = Dg[0, 0]
                Q[idx[0], idx[0]] = 1.0
                continue
            w, V = np.linalg.eigh(0.5 * (Dg + Dg.T))
            lam[idx] = w
            for jj, a in enumerate(idx):
                for ii, b in enumerate(idx):
                    Q[b, a] = V[ii, jj]
        U = sp.csc_matrix(U0 @ Q.tocsc())
        U.eliminate_zeros()
        keep = np.abs(lam) > 1e-300
        owner = np.asarray(lr.owner, dtype=np.int64)
        U, lam, owner = sp.csc_matrix(U[:, keep]), lam[keep], owner[keep]
        R = lam.size
        # Columns must touch at most two consecutive blocks (rank <= 2 across a block pair).
        counts = np.diff(U.indptr)
        if np.any(counts == 0):
            raise ValueError(f"{NAME}: a factor column is zero")
        blocks_of = blk_of_row[U.indices]
        first = np.minimum.reduceat(blocks_of, U.indptr[:-1])
        last = np.maximum.reduceat(blocks_of, U.indptr[:-1])
        if np.any(last - first > 1):
            raise ValueError(f"{NAME}: a factor column spans more than two consecutive blocks")
        # Order the columns by their first block, so that every chunk is a contiguous range and
        # the Schur matrix can be built from its lower block triangle.
        perm = np.argsort(first, kind="stable")
        U, lam, owner, first = sp.csc_matrix(U[:, perm]), lam[perm], owner[perm], first[perm]
        Ucsr = U.tocsr()
        cols, Ub, pos = [], [], []
        for p in range(P):
            rows = Ucsr[offsets[p] : offsets[p + 1]].tocoo()
            touched = np.unique(rows.col)
            cols.append(touched)
            where = np.full(R, -1, dtype=np.int64)
            where[touched] = np.arange(touched.size)
            Up = np.zeros((rows.shape[0], touched.size))  # scattered: column slicing of a
            np.add.at(Up, (rows.row, where[rows.col]), rows.data)  # CSR matrix is slow
            Ub.append(Up)
            pos.append(where)
        pair: list[tuple[np.ndarray, np.ndarray] | None] = [None]
        for p in range(1, P):
            common = np.intersect1d(cols[p], cols[p - 1])
            pair.append((pos[p][common], pos[p - 1][common]))
        starts = np.searchsorted(first, np.arange(P + 1))
        chunks = [(p, np.arange(starts[p], starts[p + 1])) for p in range(P)
                  if starts[p + 1] > starts[p]]
        n_vars = block.n_vars
        agg = sp.csr_matrix((np.ones(R), (owner, np.arange(R))), shape=(n_vars, R))
        F0_diag = [np.array(F0[offsets[p] : offsets[p + 1], offsets[p] : offsets[p + 1]])
                   for p in range(P)]
        F0_sub: list[np.ndarray | None] = [None] + [
            np.array(F0[offsets[p] : offsets[p + 1], offsets[p - 1] : offsets[p]])
            for p in range(1, P)
        ]
        return cls(sizes, offsets, lam, owner, n_vars, cols, Ub, pair, F0_diag, F0_sub, chunks,
                   agg, pos)

    def matrix_blocks(self, x: np.ndarray, with_F0: bool = True) -> tuple[list, list]:
        """Diagonal and sub-diagonal blocks of ``S(x)`` (or of ``sum x_i F_i``)."""
        w = self.lam * x[self.owner]
        diag, sub = [], [None]
        for p in range(self.sizes.size):
            Up = self.U[p]
            d = (Up * w[self.cols[p]]) @ Up.T
            if with_F0:
                d += self.F0_diag[p]
            diag.append(d)
            if p:
                ip, iq = self.pair[p]
                s = (Up[:, ip] * w[self.cols[p][ip]]) @ self.U[p - 1][:, iq].T
                if with_F0:
                    s += self.F0_sub[p]
                sub.append(s)
        return diag, sub


    def adjoint(self, K: Tri) -> np.ndarray:
        """``[<F_i, K>]_i`` for a symmetric block-tridiagonal ``K`` (only its pattern is read)."""
        diag, sub = K
        v = np.zeros(self.lam.size)
        for p in range(self.sizes.size):
            Up = self.U[p]
            v[self.cols[p]] += np.einsum("ia,ia->a", Up, diag[p] @ Up)
            if p:
                ip, iq = self.pair[p]
                cross = np.einsum("ia,ia->a", Up[:, ip], sub[p] @ self.U[p - 1][:, iq])
                v[self.cols[p][ip]] += 2.0 * cross
        return self.agg @ (self.lam * v)

    def schur(self, facS: _Factor, facW: _Factor, Rp: Tri | None, workers: int = 1,
              out: np.ndarray | None = None) -> tuple:
        """HKM Schur matrix ``[tr(F_i W F_j Z)]``, ``A^*(Z)`` and ``A^*(W Rp Z)``.

        ``Z = S^{-1}`` and ``W = Y^`` are given by block-bidiagonal factors of ``S`` and ``W^{-1}``.
        The chunks of factor columns are independent; ``workers > 1`` runs them on that many
        threads (NumPy's kernels release the GIL; each chunk writes its own columns of ``M``).
        ``out``: an ``(n, n)`` array to assemble ``M`` in (overwritten), so that a solve reuses
        one buffer instead of page-faulting a fresh matrix in every iteration.
        """
        n = self.n_vars
        if out is None:
            M = np.zeros((n, n))
        else:
            M = out
            M.fill(0.0)
        # With owner runs each chunk writes its rows and columns of M directly (symmetric, and
        # no other chunk writes them); otherwise the other triangle's chunk rows go to Mt and
        # are transposed in at the end.
        Mt = None if self.runs_ok else np.zeros((n, n))
        chunks = self.chunks  # largest first: a chunk's solves run from its first block on
        lock = threading.Lock()
        if Rp is None and self.sizes.size > 1:
            # Feasible iterate: no Rp term, so each chunk needs only the pairs with earlier
            # columns, which the inverses' semiseparable structure gives by one product per
            # block (see _schur_chunk_up) instead of a forward and a backward solve.
            ups = (_Semiseparable(facS), _Semiseparable(facW))

            def run(chunk):
                if self.row_parts is not None:
                    return self._schur_chunk_rows(chunk, *ups, M)
                return self._schur_chunk_up(chunk, *ups, M, Mt, lock)

            chunks = chunks[::-1]  # largest first: their work grows with the first block
        else:
            def run(chunk):
                return self._schur_chunk(chunk, facS, facW, Rp, M, Mt, lock)

        if workers > 1 and len(chunks) > 1:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                parts = list(pool.map(run, chunks))
        else:
            parts = [run(ch) for ch in chunks]
        aZ = sum(p[0] for p in parts)
        aWRZ = sum(p[1] for p in parts)
        if Mt is not None:
            M += Mt.T
            M = 0.5 * (M + M.T)
        return M, aZ, aWRZ

    def _schur_chunk(self, chunk, facS, facW, Rp, M, Mt, lock) -> tuple:
        """One chunk's share of :meth:`schur`: its columns of ``M`` (and of ``Mt``) are written
        in place, ``A^*(Z)`` and ``A^*(W Rp Z)`` returned."""
        first, J = chunk
        n, R = self.n_vars, self.lam.size
        lam = self.lam
        P = self.sizes.size
        aZ = np.zeros(n)
        aWRZ = np.zeros(n)
        rhs = self._chunk_rhs(first, J)
        # Only the pairs (a, b) with a in this chunk or a later one: the rest by symmetry.
        # (The term with Rp needs every row block.)
        stop = first if Rp is None else 0
        XZ = facS.solve(rhs, first, stop=stop)
        XW = facW.solve(rhs, first, stop=stop)
        s0, e0 = int(J[0]), int(J[-1]) + 1
        GZ = self.gram_rows(XZ, np.zeros((R, J.size)))[s0:]
        GW = self.gram_rows(XW, np.zeros((R, J.size)))[s0:]
        lamJ = lam[J]
        aJ = self.agg[:, J]
        aZ += aJ @ (lamJ * GZ[np.arange(J.size), np.arange(J.size)])
        if Rp is not None:
            RX = _tri_apply_blocks(Rp, XZ)
            aWRZ += aJ @ (lamJ * sum(np.einsum("ij,ij->j", XW[p], RX[p]) for p in range(P)))
        GW *= GZ
        GW *= lam[s0:, None]
        GW *= lamJ[None, :]
        if self.runs_ok:
            # This chunk's variables own these columns of M and Mt: no other chunk writes them.
            k0, k1 = np.searchsorted(self.run_starts, [s0, e0])
            starts = self.run_starts[k0:] - s0
            A = _segment_sum(GW, starts)
            A = _segment_sum(A.T, self.run_starts[k0:k1] - s0).T
            rows, cols = self.run_owner[k0:], self.run_owner[k0:k1]
            own = A[: k1 - k0]
            _add_block(M, cols, cols, 0.5 * (own + own.T))
            if k1 < self.run_starts.size:
                _add_block(M, rows[k1 - k0 :], cols, A[k1 - k0 :])
                _add_block(M, cols, rows[k1 - k0 :], A[k1 - k0 :].T)
        else:
            T = self.agg[:, s0:] @ GW  # (n, |J|)
            upd = (aJ @ T.T).T
            updt = (aJ @ (self.agg[:, e0:] @ GW[e0 - s0 :]).T).T if e0 < R else None
            with lock:
                M += upd
                if updt is not None:
                    Mt += updt
        return aZ, aWRZ

    def _chunk_rhs(self, first: int, J: np.ndarray) -> list[np.ndarray | None]:
        """Rows of the chunk's columns ``J`` in blocks ``first`` and ``first + 1``."""
        P = self.sizes.size
        rhs: list[np.ndarray | None] = [None] * P
        for p in (first, first + 1):
            if p < P:
                where = self.pos[p][J]
                if np.any(where >= 0):
                    B = np.zeros((self.sizes[p], J.size))
                    ok = where >= 0
                    B[:, ok] = self.U[p][:, where[ok]]
                    rhs[p] = B
        return rhs

    def _schur_chunk_rows(self, chunk, upZ: _Semiseparable, upW: _Semiseparable,
                          M: np.ndarray) -> tuple:
        """:meth:`_schur_chunk_up` one row chunk at a time (where owner runs hold): the rows of
        ``Z U_J`` and ``W U_J`` are formed block by block down the chain, and each row chunk
        ``q``'s Grams, Hadamard product and run sums are taken on its own small block (a few
        hundred rows, cache-sized) and written into ``M``, instead of on tall arrays of every
        earlier column."""
        first, J = chunk
        n = self.n_vars
        lamJ = self.lam[J]
        rhs = self._chunk_rhs(first, J)
        rhs_w = [None if B is None else B * lamJ for B in rhs]
        _, sum_J, own_J = self.row_parts[first]
        aZ = np.zeros(n)
        X = {}  # the two latest row blocks of (Z U_J, W U_lam,J)
        for (a, XZa), (_, XWa) in zip(upZ.columns_down(rhs, first),
                                      upW.columns_down(rhs_w, first), strict=True):
            X[a] = (XZa, XWa)
            X.pop(a + 2, None)
            if a > first:
                continue
            q = a  # row chunk q needs the row blocks q and q + 1
            parts, sum_q, own_q = self.row_parts[q]
            n_q = int(self.offsets_cols[q + 1] - self.offsets_cols[q])
            if n_q == 0:
                continue
            GZ = np.zeros((n_q, J.size))
            GW = np.zeros((n_q, J.size))
            for p, rows, E, El, dense, dense_lam in parts:
                XZp, XWp = X[p]
                if E is not None:
                    GZ[rows] += E @ XZp
                    GW[rows] += El @ XWp
                else:
                    _add_gram(GZ, rows, dense, XZp)
                    _add_gram(GW, rows, dense_lam, XWp)
            if q == first:
                aZ[own_J] += sum_J @ (lamJ * np.diagonal(GZ))
            GW *= GZ
            A = sum_J @ (sum_q @ GW).T  # (runs of J, runs of q)
            if q == first:
                _add_at(M, own_J, own_J, 0.5 * (A + A.T))
            else:
                _add_at(M, own_J, own_q, A)
                _add_at(M, own_q, own_J, A.T)
        return aZ, np.zeros(n)

    def _schur_chunk_up(self, chunk, upZ: _Semiseparable, upW: _Semiseparable, M, Mt,
                        lock) -> tuple:
        """:meth:`_schur_chunk` for a feasible iterate (no ``Rp``) whose variables' columns do
        not form owner runs, pairing the chunk's columns with the columns of this and the
        earlier chunks: their Grams with ``Z`` and ``W`` need the row blocks ``<= first + 1`` of
        ``Z U_J`` and ``W U_J``, from the band and the upward transfer matrices
        (:class:`_Semiseparable`)."""
        first, J = chunk
        n = self.n_vars
        lamJ = self.lam[J]
        rhs = self._chunk_rhs(first, J)
        XZ = upZ.columns(rhs, first)
        # lam folded into both sides of W's Gram: GW = (U lam)^T W (U_J lam_J).
        XW = upW.columns([None if B is None else B * lamJ for B in rhs], first)
        s0, e0 = int(J[0]), int(J[-1]) + 1
        # Columns touching blocks <= first + 1 belong to chunks <= first + 1.
        e1 = int(self.offsets_cols[min(first + 2, self.sizes.size)])
        GZ = self.gram_rows(XZ, np.zeros((e1, J.size)))[:e0]
        GW = self.gram_rows(XW, np.zeros((e1, J.size)), scaled=True)[:e0]
        aJ = self.agg[:, J]
        aZ = aJ @ (lamJ * GZ[s0 + np.arange(J.size), np.arange(J.size)])
        GW *= GZ
        # Without owner runs (otherwise _schur_chunk_rows runs): aggregate under the lock.
        T = self.agg[:, :e0] @ GW  # (n, |J|)
        upd = (aJ @ T.T).T
        updt = (aJ @ (self.agg[:, :s0] @ GW[:s0]).T).T if s0 else None
        with lock:
            M += upd
            if updt is not None:
                Mt += updt
        return aZ, np.zeros(n)

    def identity(self, value: float) -> Tri:
        return ([value * np.eye(n) for n in self.sizes],
                [None] + [np.zeros((self.sizes[p], self.sizes[p - 1]))
                          for p in range(1, self.sizes.size)])

    def F0(self) -> Tri:
        return (self.F0_diag, self.F0_sub)


def _tri_apply_blocks(A: Tri, X: list[np.ndarray | None], stop: int = 0) -> list:
    """``A X`` for a block-tridiagonal ``A`` and ``X`` given as a list of row blocks; only the
    row blocks ``>= stop`` are formed (``X`` is read from ``stop - 1`` on... as available)."""
    diag, sub = A
    P = len(diag)
    out: list[np.ndarray | None] = [None] * P
    for p in range(stop, P):
        r = diag[p] @ X[p]
        if p and X[p - 1] is not None:
            r = r + sub[p] @ X[p - 1]
        if p + 1 < P:
            r = r + sub[p + 1].T @ X[p + 1]
        out[p] = r
    return out


def _tri_lin(a: float, A: Tri, b: float, B: Tri) -> Tri:
    """``a A + b B``."""
    return ([a * x + b * y for x, y in zip(A[0], B[0], strict=True)],
            [None] + [a * x + b * y for x, y in zip(A[1][1:], B[1][1:], strict=True)])


def _tri_inner(A: Tri, B: Tri) -> float:
    """``<A, B>`` (Frobenius) of two symmetric block-tridiagonal matrices."""
    out = sum(float(np.vdot(x, y)) for x, y in zip(A[0], B[0], strict=True))
    return out + 2.0 * sum(float(np.vdot(x, y)) for x, y in zip(A[1][1:], B[1][1:], strict=True))


def _cliques(Y: Tri) -> list[np.ndarray] | None:
    """Cholesky factors of the clique blocks ``[[Y_{p-1,p-1}, .], [Y_{p,p-1}, Y_pp]]`` of
    ``Y_E`` (just ``Y_00`` for a single block), or None if one is not positive definite (then
    ``Y_E`` has no positive definite completion)."""
    diag, sub = Y
    if len(diag) == 1:
        G = _chol(diag[0])
        return None if G is None else [G]
    out = []
    for p in range(1, len(diag)):
        G = _chol(np.block([[diag[p - 1], sub[p].T], [sub[p], diag[p]]]))
        if G is None:
            return None
        out.append(G)
    return out


def _completion_inverse(Y: Tri, cliques: list[np.ndarray]) -> Tri | None:
    """Inverse of the maximum-determinant completion of ``Y_E`` (block tridiagonal):
    ``sum_cliques E^T (Y_CC)^{-1} E - sum_separators E^T (Y_pp)^{-1} E``."""
    diag, sub = Y
    P = len(diag)

    def inv(G):
        Gi = _trsm(G, np.eye(G.shape[0]))
        return Gi.T @ Gi

    if P == 1:
        return ([inv(cliques[0])], [None])
    out_d = [np.zeros_like(d) for d in diag]
    out_s: list[np.ndarray | None] = [None] + [np.zeros_like(sub[p]) for p in range(1, P)]
    for p in range(1, P):
        a = diag[p - 1].shape[0]
        Ci = inv(cliques[p - 1])
        out_d[p - 1] += Ci[:a, :a]
        out_d[p] += Ci[a:, a:]
        out_s[p] += Ci[a:, :a]
    for p in range(1, P - 1):
        G = _chol(diag[p])
        if G is None:
            return None
        out_d[p] -= inv(G)
    return ([0.5 * (d + d.T) for d in out_d], out_s)


def _completable(Y: Tri) -> bool:
    """Whether every clique block of ``Y_E`` is positive definite."""
    return _cliques(Y) is not None


def _clique_blocks(V: Tri) -> list[np.ndarray]:
    diag, sub = V
    if len(diag) == 1:
        return [diag[0]]
    return [np.block([[diag[p - 1], sub[p].T], [sub[p], diag[p]]]) for p in range(1, len(diag))]


class _LazyDual(Sequence):
    """``(Y,)`` computed when first read: the dense completion is ``O(m^2)`` memory."""

    def __init__(self, make: Callable[[], np.ndarray]):
        self._make, self._Y = make, None

    def __len__(self) -> int:
        return 1

    def __getitem__(self, i):
        if self._Y is None:
            self._Y = self._make()
        return (self._Y,)[i]


def _tri_dense(st: BandedStructure, A: Tri) -> np.ndarray:
    """A symmetric block-tridiagonal matrix as a dense one."""
    o = st.offsets
    out = np.zeros((o[-1], o[-1]))
    diag, sub = A
    for p, d in enumerate(diag):
        out[o[p] : o[p + 1], o[p] : o[p + 1]] = d
        if p:
            out[o[p] : o[p + 1], o[p - 1] : o[p]] = sub[p]
            out[o[p - 1] : o[p], o[p] : o[p + 1]] = sub[p].T
    return out


def _dense_completion(st: BandedStructure, Y: Tri) -> np.ndarray:
    """The maximum-determinant completion ``Y^`` of ``Y_E`` as a dense matrix."""
    cl = _cliques(Y)
    Winv = _completion_inverse(Y, cl) if cl is not None else None
    fac = _factor(*Winv) if Winv is not None else None
    if fac is None:
        raise np.linalg.LinAlgError("dual iterate has no positive definite completion")
    W = np.vstack(fac.inverse_rows())
    W = 0.5 * (W + W.T)
    return W


class _Newton:
    """One iteration's factorisations and the HKM directions built from them (internal)."""

    def __init__(self, st, facS, facW, cliques, S, Y, z, s, Rp, rp_lp, rd, aY, aZ, aWRZ, Gm,
                 dsc, nn, Winv, workers: int = 1):
        self.workers = workers  # threads for the two chains of the second-order term
        self.st, self.facS, self.facW, self.cliques = st, facS, facW, cliques
        self.S, self.Y, self.z, self.s = S, Y, z, s
        self.Rp, self.rp_lp, self.rd, self.aY, self.aZ, self.aWRZ = Rp, rp_lp, rd, aY, aZ, aWRZ
        self.Gm, self.dsc, self.nn = Gm, dsc, nn
        # Inverses of the cliques' Cholesky factors, stacked, where the cliques have one size
        # (the dual step's Lanczos operator is then batched; see steps).
        self.clique_inv = None
        if len({G.shape[0] for G in cliques}) == 1:
            self.clique_inv = np.stack([lapack.dtrtri(G, lower=1)[0] for G in cliques])
        # Band of Y^ C Z = (W^-1)^-1 C S^-1 and of longer such chains, from the factors alone.
        self.band = _ProductBand(facW, facS, Winv[1], S[1])
        # Few blocks: dense S^{-1} rows are cheaper than the chains (see BAND_MIN_BLOCKS).
        self.dense = st.sizes.size < BAND_MIN_BLOCKS
        if self.dense:
            self.Z = facS.inverse_rows()  # dense S^{-1} as row blocks
            self.PZ = _sym_pattern(st, self.Z)
        else:
            ZB, PB = self.band.ZB, self.band.PB
            self.PZ = (ZB, [None] + [-ZB[p] @ PB[p] for p in range(1, st.sizes.size)])

    def direction(self, sigma_mu: float, g_lp: np.ndarray, second: Tri | None):
        """HKM direction for ``G = sigma_mu Z - Y^ - second``. The predictor's (``second`` None)
        also returns, for the second-order term, ``K = Y^ dS Z`` and ``dS Z`` (dense row blocks)
        with few blocks, else the band of ``K`` (:meth:`_ProductBand.band`) and None; the
        corrector's takes the pattern of ``Y^ dS Z`` from :class:`_ProductBand`."""
        st, nn, z, s = self.st, self.nn, self.z, self.s
        rhs = -self.rd + sigma_mu * self.aZ - self.aY - self.aWRZ
        PG = _tri_lin(sigma_mu, self.PZ, -1.0, self.Y)
        if second is not None:
            rhs -= st.adjoint(second)
            PG = _tri_lin(1.0, PG, -1.0, second)
        rhs[nn] += g_lp - (z / s) * self.rp_lp
        dx = self.dsc * self.Gm.solve(self.dsc * rhs)
        dS = st.matrix_blocks(dx, with_F0=False)
        if self.Rp is not None:
            dS = _tri_lin(1.0, self.Rp, 1.0, dS)
        ds = self.rp_lp + dx[nn]
        dz = g_lp - z * ds / s
        if second is not None or not self.dense:  # only the pattern of Y^ dS Z is needed
            parts = self.band.band(dS)
            dY = _tri_lin(1.0, PG, -1.0, self.band.sym(dS, parts))
            return dx, dS, dY, ds, dz, (parts if second is None else None), None
        VZ = _tri_apply_blocks(dS, self.Z)
        K = self.facW.solve(VZ)  # row blocks of Y^ dS Z
        dY = _tri_lin(1.0, PG, -1.0, _sym_pattern(st, K))
        return dx, dS, dY, ds, dz, K, VZ

    def second_order(self, dS: Tri, K: list | None, VZ: list | None) -> Tri:
        """Pattern part of ``sym(dY dS Z)`` for the affine ``dY = -Y^ - sym(K)``, ``K = Y^ dS Z``:
        ``dY dS Z = -K - (K + K^T) dS Z / 2``, from the dense ``K`` and ``dS Z`` or, with many
        blocks, from the bands of the chains ``Y^ dS Z``, ``Y^ dS Z dS Z`` and
        ``Z dS Y^ dS Z``."""
        if not self.dense:
            P = self.st.sizes.size
            k1 = K if K is not None else self.band.band(dS)  # the predictor's, when it has it
            if self.workers > 1:
                with ThreadPoolExecutor(max_workers=2) as pool:
                    k2, k3 = pool.map(lambda labels: self.band.chain(labels, dS), ("ABB", "BAB"))
            else:
                k2 = self.band.chain("ABB", dS)
                k3 = self.band.chain("BAB", dS)
            D = [[-a - 0.5 * (b + c) if a is not None else None
                  for a, b, c in zip(*parts, strict=True)]
                 for parts in zip(k1, k2, k3, strict=True)]
            return ([0.5 * (d + d.T) for d in D[0]],
                    [None] + [0.5 * (D[1][p] + D[2][p].T) for p in range(1, P)])
        st = self.st
        o = st.offsets
        P = st.sizes.size
        Kf = np.vstack(K)

        def row(p):  # rows of sym(K) in block p
            return 0.5 * (K[p] + Kf[:, o[p] : o[p + 1]].T)

        symK = [row(p) for p in range(P)]
        # dY dS Z = -(Y^ dS Z) - sym(K) dS Z = -K - sym(K) VZ;  pattern blocks only.
        VZf = np.vstack(VZ)
        diag, sub = [], [None]
        for p in range(P):
            Dp = -K[p][:, o[p] : o[p + 1]] - symK[p] @ VZf[:, o[p] : o[p + 1]]
            diag.append(0.5 * (Dp + Dp.T))
            if p:
                lo = -K[p][:, o[p - 1] : o[p]] - symK[p] @ VZf[:, o[p - 1] : o[p]]
                up = -K[p - 1][:, o[p] : o[p + 1]] - symK[p - 1] @ VZf[:, o[p] : o[p + 1]]
                sub.append(0.5 * (lo + up.T))
        return diag, sub

    def steps(self, dS: Tri, dY: Tri, ds: np.ndarray, dz: np.ndarray, frac: float = 0.995,
              verify: bool = True):
        """Primal and dual step lengths, ``<= 1`` and ``frac`` of the way to the boundary;
        without ``verify``, the Lanczos estimates alone (the predictor's, which only set the
        centring parameter, need no Cholesky test)."""
        st, facS = self.st, self.facS

        def always(_a: float) -> bool:
            return True

        o = st.offsets
        m = int(o[-1])

        def mv_S(v):
            blocks = [v[o[p] : o[p + 1], None] for p in range(st.sizes.size)]
            out = facS.forward(_tri_apply_blocks(dS, facS.backward(blocks)))
            return np.concatenate([b.ravel() for b in out])

        cap_p = min(1.0, _max_step_vec(self.s, ds) * frac)
        a_p = _step_to_boundary(
            _lanczos_min(mv_S, m),
            (lambda a: _factor(*_tri_lin(1.0, self.S, a, dS)) is not None) if verify else always,
            cap_p, frac)
        dC = _clique_blocks(dY)
        sizes = [G.shape[0] for G in self.cliques]
        co = np.concatenate([[0], np.cumsum(sizes)])

        if self.clique_inv is not None:
            # Cliques of one size: the operator is three batched products (one call each
            # instead of three per clique).
            Gi = self.clique_inv
            GiT = Gi.transpose(0, 2, 1)
            dCs = np.stack(dC)
            shape = (len(sizes), sizes[0], 1)

            def mv_Y(v):
                return (Gi @ (dCs @ (GiT @ v.reshape(shape)))).ravel()
        else:
            def mv_Y(v):
                out = np.empty_like(v)
                for q, G in enumerate(self.cliques):
                    u = _trsm(G, v[co[q] : co[q + 1], None], trans=1)
                    out[co[q] : co[q + 1]] = _trsm(G, dC[q] @ u).ravel()
                return out

        cap_d = min(1.0, _max_step_vec(self.z, dz) * frac)
        a_d = _step_to_boundary(
            _lanczos_min(mv_Y, int(co[-1])),
            (lambda a: _completable(_tri_lin(1.0, self.Y, a, dY))) if verify else always,
            cap_d, frac)
        return a_p, a_d


class _ProductBand:
    """The band (block-tridiagonal part) of ``A^{-1} C B^{-1}`` for block-tridiagonal ``A``,
    ``B`` (given by their block Cholesky factors) and any block-tridiagonal symmetric ``C``, in
    ``O(sum n_p^3)``: no dense inverse is formed.

    It is the upper-right block of the inverse of ``T = [[A, -C], [0, B]]``, whose blocks
    interleaved by partition block form a block-tridiagonal matrix with block upper-triangular
    2 x 2 blocks. The selected inversion of ``T`` (left Schur complements, then the band of the
    inverse from the last block back) keeps that triangular form; its diagonal parts are the
    selected inversions of ``A`` and ``B`` alone (computed once here) and its off-diagonal part
    is linear in ``C`` (computed per call).
    """

    def __init__(self, facA: _Factor, facB: _Factor, A_sub: list, B_sub: list):
        """``A_sub``, ``B_sub``: the sub-diagonal blocks ``(p, p-1)`` of ``A`` and ``B``."""
        P = len(facA.diag)
        self.P = P
        self.sub = {"A": A_sub, "B": B_sub}  # for :meth:`chain`
        self.sA = [G.T @ G for G in facA.inv]  # left Schur complements' inverses
        self.sB = [G.T @ G for G in facB.inv]
        # P[p] = M_{p, p-1} sigma_{p-1}^{-1}, from the factors' L_{p,p-1} = M_{p,p-1} L^{-T}.
        self.PA = [None] + [facA.sub[p] @ facA.inv[p - 1] for p in range(1, P)]
        self.PB = [None] + [facB.sub[p] @ facB.inv[p - 1] for p in range(1, P)]
        self.XA = self._inverse_diag(self.sA, self.PA)  # diagonal blocks of A^{-1}
        self.ZB = self._inverse_diag(self.sB, self.PB)

    @staticmethod
    def _inverse_diag(sig: list[np.ndarray], Pm: list) -> list[np.ndarray]:
        out = [None] * len(sig)
        out[-1] = sig[-1]
        for p in range(len(sig) - 2, -1, -1):
            out[p] = sig[p] + Pm[p + 1].T @ out[p + 1] @ Pm[p + 1]
        return out

    def band(self, C: Tri) -> tuple[list, list, list]:
        """Blocks ``(p, p)``, ``(p, p-1)`` and ``(p-1, p)`` of ``A^{-1} C B^{-1}`` (the last two
        lists start with None)."""
        Cd, Cs = C
        P, sA, sB, PA, PB = self.P, self.sA, self.sB, self.PA, self.PB
        xs = [-Cd[0]]
        for p in range(1, P):
            xs.append(-Cd[p] + PA[p] @ (Cs[p].T + xs[p - 1] @ PB[p].T) + Cs[p] @ PB[p].T)
        diag: list = [None] * P
        lower: list = [None] * P
        upper: list = [None] * P
        g = -sA[-1] @ xs[-1] @ sB[-1]
        diag[-1] = g
        for p in range(P - 2, -1, -1):
            q = p + 1
            Vx = -(PA[q] @ xs[p] + Cs[q]) @ sB[p]
            low = -(self.XA[q] @ Vx + g @ PB[q])
            Ux = -sA[p] @ (Cs[q].T + xs[p] @ PB[q].T)
            upper[q] = -(PA[q].T @ g + Ux @ self.ZB[q])
            lower[q] = low
            g = -sA[p] @ xs[p] @ sB[p] - PA[q].T @ low + Ux @ (self.ZB[q] @ PB[q])
            diag[p] = g
        return diag, lower, upper

    def chain(self, labels: str, C: Tri) -> tuple[list, list, list]:
        """Like :meth:`band` for ``M_0^{-1} C M_1^{-1} C ... M_{k-1}^{-1}`` with ``M_i`` the
        matrix named ``labels[i]`` (``"A"`` or ``"B"``): the corner block of the inverse of the
        block upper-bidiagonal ``[[M_0, -C], [M_1, -C], ..., [M_{k-1}]]``, again by selected
        inversion; the diagonal entries of every ``k x k`` triangular block are the single
        matrices' and known, so only the ``k (k - 1) / 2`` others are computed."""
        k, P = len(labels), self.P
        Cd, Cs = C
        sig = [self.sA if c == "A" else self.sB for c in labels]
        Pm = [self.PA if c == "A" else self.PB for c in labels]
        Xd = [self.XA if c == "A" else self.ZB for c in labels]
        raw = [self.sub[c] for c in labels]

        def mul(X, Y, dX, dY):
            """Strictly upper entries of X Y, given both's diagonal entries dX, dY."""
            out = {}
            for i in range(k):
                for j in range(i + 1, k):
                    acc = dX[i] @ Y[(i, j)] if (i, j) in Y else None
                    for l in range(i + 1, j):
                        if (i, l) in X and (l, j) in Y:
                            t = X[(i, l)] @ Y[(l, j)]
                            acc = t if acc is None else acc + t
                    if (i, j) in X:
                        t = X[(i, j)] @ dY[j]
                        acc = t if acc is None else acc + t
                    if acc is not None:
                        out[(i, j)] = acc
            return out

        def inv(X, dinv):
            """Strictly upper entries of X^{-1}, given the inverses dinv of its diagonal."""
            out = {}
            for j in range(k):
                for i in range(j - 1, -1, -1):
                    acc = None
                    for l in range(i + 1, j + 1):
                        b = dinv[j] if l == j else out.get((l, j))
                        if (i, l) in X and b is not None:
                            t = X[(i, l)] @ b
                            acc = t if acc is None else acc + t
                    if acc is not None:
                        out[(i, j)] = -dinv[i] @ acc
            return out

        def coupling(block):  # strictly upper entries of D_p, E_p or F_p: -C on (i, i+1)
            return {(i, i + 1): -block for i in range(k - 1)}

        # Forward: strictly upper parts of the left Schur complements Sigma_p.
        sig_up = [coupling(Cd[0])]
        for p in range(1, P):
            E = coupling(Cs[p])
            F = coupling(Cs[p].T)
            Einv = mul(E, inv(sig_up[p - 1], [sg[p - 1] for sg in sig]),
                       [r[p] for r in raw], [sg[p - 1] for sg in sig])
            EinvF = mul(Einv, F, [pm[p] for pm in Pm], [r[p].T for r in raw])
            up = coupling(Cd[p])
            for key, val in EinvF.items():
                up[key] = up[key] - val if key in up else -val
            sig_up.append(up)
        # Backward: the band of T^{-1}, corner entries only returned.
        corner = (0, k - 1)
        diag: list = [None] * P
        lower: list = [None] * P
        upper: list = [None] * P
        G = inv(sig_up[-1], [sg[-1] for sg in sig])
        diag[-1] = G.get(corner)
        for p in range(P - 2, -1, -1):
            q = p + 1
            dsi = [sg[p] for sg in sig]
            Si = inv(sig_up[p], dsi)
            E = coupling(Cs[q])
            F = coupling(Cs[q].T)
            V = mul(E, Si, [r[q] for r in raw], dsi)  # E_q Sigma_p^{-1}; diag P_q
            U = mul(Si, F, dsi, [r[q].T for r in raw])  # Sigma_p^{-1} F_q; diag P_q^T
            dV = [pm[q] for pm in Pm]
            dU = [pm[q].T for pm in Pm]
            dG = [x[q] for x in Xd]
            GV = mul(G, V, dG, dV)  # diag entries: X_qq P_q
            dGV = [x[q] @ pm[q] for x, pm in zip(Xd, Pm, strict=True)]
            UG = mul(U, G, dU, dG)
            low = {key: -val for key, val in GV.items()}
            UGV = mul(U, GV, dU, dGV)
            Gp = dict(Si)
            for key, val in UGV.items():
                Gp[key] = Gp[key] + val if key in Gp else val
            lower[q] = low.get(corner)
            upper[q] = -UG[corner] if corner in UG else None
            diag[p] = Gp.get(corner)
            G = Gp
        return diag, lower, upper

    def sym(self, C: Tri, parts: tuple | None = None) -> Tri:
        """The band of ``sym(A^{-1} C B^{-1})``, as a symmetric block-tridiagonal matrix
        (``parts``: :meth:`band` of ``C``, where already computed)."""
        diag, lower, upper = self.band(C) if parts is None else parts
        return ([0.5 * (d + d.T) for d in diag],
                [None] + [0.5 * (lower[p] + upper[p].T) for p in range(1, self.P)])


def _sym_pattern(st: BandedStructure, K: list[np.ndarray]) -> Tri:
    """Pattern part of ``sym(K)`` for a dense ``K`` given as row blocks."""
    o = st.offsets
    diag, sub = [], [None]
    for p in range(st.sizes.size):
        Kpp = K[p][:, o[p] : o[p + 1]]
        diag.append(0.5 * (Kpp + Kpp.T))
        if p:
            sub.append(0.5 * (K[p][:, o[p - 1] : o[p]] + K[p - 1][:, o[p] : o[p + 1]].T))
    return diag, sub


def _banded_info(problem: LMIProblem, st: BandedStructure, Y: Tri) -> dict:
    """``{"dual_banded": BandedMatrix}``: the dual on its pattern, for a single-block problem
    (any positive semidefinite completion of it is a dual matrix)."""
    if len(problem.blocks) != 1:
        return {}
    diag, sub = Y
    return {"dual_banded": BandedMatrix(st.offsets.copy(), tuple(d.copy() for d in diag),
                                        tuple(b.copy() for b in sub[1:]))}


def _split_dual(problem: LMIProblem, Y: np.ndarray) -> tuple[np.ndarray, ...]:
    """The dense dual of the merged block, split back into one matrix per original block."""
    out, off = [], 0
    for block in problem.blocks:
        out.append(Y[off : off + block.size, off : off + block.size].copy())
        off += block.size
    return tuple(out)


def _single_block(problem: LMIProblem) -> LMIBlock:
    """The problem's LMI blocks as one block-diagonal block with a partition and factors.

    A block without a ``partition`` is one part; one without ``lowrank`` factors gets them from
    an eigendecomposition of each coefficient on its support (as lowrank-ipm does).
    """
    parts, Us, Ds, owners, F0s, Fs = [], [], [], [], [], []
    for block in problem.blocks:
        parts.extend(block.partition or (block.size,))
        if block.lowrank is not None:
            U, D, owner = block.lowrank.U, block.lowrank.D, block.lowrank.owner
        else:
            U, D, owner = _factor_columns(block)
        Us.append(sp.csc_matrix(U))
        Ds.append(sp.csc_matrix(D))
        owners.append(np.asarray(owner, dtype=np.int64))
        F0s.append(block.F0)
        Fs.append(block.F)
    if len(problem.blocks) == 1 and problem.blocks[0].partition and problem.blocks[0].lowrank:
        return problem.blocks[0]
    sizes = [b.size for b in problem.blocks]
    m = sum(sizes)
    F0 = np.zeros((m, m))
    rows, vals, var = [], [], []
    off = 0
    for block, mk in zip(problem.blocks, sizes, strict=True):
        F0[off : off + mk, off : off + mk] = block.F0
        C = block.F.tocoo()
        r, c = C.row % mk, C.row // mk
        rows.append(off + r + (off + c) * m)
        var.append(C.col)
        vals.append(C.data)
        off += mk
    F = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(var))),
                      shape=(m * m, problem.n_vars))
    U = sp.block_diag(Us, format="csc") if len(Us) > 1 else Us[0]
    # block_diag stacks columns too: that is what we want (each block's own columns).
    D = sp.block_diag(Ds, format="csc") if len(Ds) > 1 else Ds[0]
    lowrank = LowRank(U=U, D=D, owner=np.concatenate(owners))
    return LMIBlock(F0=F0, F=F, lowrank=lowrank, partition=tuple(int(n) for n in parts))


def _inverse_band(fac: _Factor) -> Tri:
    """The block-tridiagonal part of ``S^{-1}`` from the block Cholesky factor of ``S``, by
    selected inversion (``O(sum n_p^3)``)."""
    sig = [G.T @ G for G in fac.inv]
    Pm = [None] + [fac.sub[p] @ fac.inv[p - 1] for p in range(1, len(fac.diag))]
    diag = _ProductBand._inverse_diag(sig, Pm)
    return diag, [None] + [-diag[p] @ Pm[p] for p in range(1, len(diag))]


def _feasible_start(st: BandedStructure, c: np.ndarray, nn: np.ndarray,
                    x0: np.ndarray | None) -> tuple | None:
    """``(x, S, s, Y, z)`` of the centred start at a strictly feasible ``x0`` (module docstring),
    or None where ``x0`` is missing or not strictly feasible."""
    if x0 is None or np.any(x0[nn] <= 0):
        return None
    S = st.matrix_blocks(x0)
    fac = _factor(*S)
    if fac is None:
        return None
    Zb = _inverse_band(fac)
    mu = _centring_mu(c, st.adjoint(Zb), nn, x0)
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
        st = BandedStructure.from_block(_single_block(problem), target)
    except ValueError as exc:
        return failed_result(problem, Status.ERROR, solver=NAME, native_status="not_applicable",
                             message=str(exc))
    setup = time.perf_counter() - t0
    try:
        # One BLAS thread: the kernels are many mid-sized products, which gain nothing from a
        # second thread and lose badly when two libraries' thread pools alternate (measured:
        # 17 s on one thread, 36 s on two, for 100-200x5-10). Only the Schur factorisation
        # gets the machine's threads (see _factor_schur).
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


#: From this many partition blocks on, the dual step never forms a dense S^{-1}: the pattern
#: parts of Y^ dS S^{-1} and of the second-order term come from :class:`_ProductBand` in
#: O(sum n_p^3), against O(m^2 n) for the dense rows.
#: (Measured, 2 cores: 7 blocks 2.39 s dense against 2.67 s banded; 12 blocks 6.90 s against
#: 6.42 s; 22 blocks 29.3 s against 23.0 s; same iterates.)
BAND_MIN_BLOCKS = 10

#: From this LMI side on, the Schur matrix's chunks run on every thread (measured: 35.2 s -> 30.9 s
#: on 100-100x20-10, 8.5 s -> 7.6 s on 100-100x10-10; none at side 350, where it cost a little).
THREADED_CHUNKS_MIN_SIDE = 1000

#: A feasible start whose first step is shorter than this (both primal and dual) is abandoned
#: for the default start: it sits too close to the boundary of the cone (tests/test_ipm.py: from
#: ECLipsE-Fast's point on a 10-layer network the first steps are below 0.02).
BLOCKED_START_STEP = 0.1

#: Schur matrices at least this large are factored with every BLAS thread.
THREADED_SCHUR_MIN = 1500


#: Schur matrices at least this large are factored in single precision, their solves refined
#: to double precision's accuracy against the matrix itself (half the factorisation's time).
MIXED_SCHUR_MIN = 2000

#: Refinement steps before a single-precision factor is given up for a double-precision one.
MIXED_MAX_REFINE = 10


class _SchurFactor:
    """A Cholesky factorisation of the scaled Schur matrix ``Ms`` that solves ``Ms x = b``.

    Large matrices (``MIXED_SCHUR_MIN``) are factored in single precision, at half the cost,
    and each solve is refined in double precision (``r = b - Ms x``, ``x += solve(r)``) until
    the normwise backward error is at double precision's level (LAPACK's ``dsposv`` test,
    ``||r|| <= ||x|| ||Ms|| eps sqrt(n)``, with the Frobenius norm); a solve that does not get
    there within ``MIXED_MAX_REFINE`` steps, or a single-precision factorisation that fails,
    falls back on the double-precision factor. Smaller matrices are factored in double
    precision, in place."""

    def __init__(self, G: np.ndarray, M: np.ndarray | None, threads: int):
        self.G, self.M, self.threads = G, M, threads  # M: kept for refinement (mixed only)
        if M is not None:
            # The Frobenius norm bounds ||Ms|| and takes one pass, no temporary.
            self.tol = np.sqrt(M.shape[0]) * np.finfo(float).eps * float(np.linalg.norm(M))

    @classmethod
    def of(cls, Ms: np.ndarray, threads: int,
           work32: np.ndarray | None = None) -> _SchurFactor | None:
        """``work32``: a float32 array of ``Ms``'s shape for the single-precision factor
        (overwritten; a fresh one when None)."""
        if Ms.shape[0] >= MIXED_SCHUR_MIN:
            if work32 is None:
                work32 = np.empty(Ms.shape, dtype=np.float32)
            np.copyto(work32, Ms, casting="same_kind")
            G32 = _factor_schur(work32, threads)
            if G32 is not None:
                return cls(G32, Ms, threads)
        G = _factor_schur(Ms, threads)
        return None if G is None else cls(G, None, threads)

    def _solve_factor(self, b: np.ndarray) -> np.ndarray:
        G = self.G
        y = blas.strsv(G, b.astype(np.float32), lower=1) if G.dtype == np.float32 else None
        if y is not None:
            return blas.strsv(G, y, lower=1, trans=1).astype(np.float64)
        return _trsm(G, _trsm(G, b[:, None]), trans=1).ravel()

    def solve(self, b: np.ndarray) -> np.ndarray:
        if self.M is None:
            return self._solve_factor(b)
        x = self._solve_factor(b)
        for _ in range(MIXED_MAX_REFINE):
            r = b - self.M @ x
            if np.linalg.norm(r) <= self.tol * np.linalg.norm(x):
                return x
            x += self._solve_factor(r)
        # Not refined to double precision's accuracy: factor in double precision (in place:
        # the matrix is not needed after this) and solve with that from now on.
        G = _factor_schur(self.M, self.threads)
        if G is None:
            raise np.linalg.LinAlgError("Schur matrix is not positive definite")
        logger.info("%s: single-precision Schur factor not accurate enough; double instead",
                    NAME)
        self.G, self.M = G, None
        return self._solve_factor(b)


def _factor_schur(Ms: np.ndarray, threads: int) -> np.ndarray | None:
    """Cholesky factor of the (scaled, symmetric) Schur matrix, computed in its memory (``Ms``
    is overwritten: its transpose is the Fortran-ordered matrix LAPACK works on, so no copy of
    an ``n x n`` array is made); a large one on ``threads`` BLAS threads (the caller's setting
    when the solve began)."""

    potrf = lapack.spotrf if Ms.dtype == np.float32 else lapack.dpotrf

    def factor():
        G, info = potrf(Ms.T, lower=1, clean=1, overwrite_a=1)
        return G if info == 0 else None

    if Ms.shape[0] < THREADED_SCHUR_MIN or threads <= 1:
        return factor()
    with threadpool_limits(limits=threads, user_api="blas"):
        return factor()


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
    if n >= MIXED_SCHUR_MIN:
        bufs["M32"] = np.empty((n, n), dtype=np.float32)
    nu = m + nn.size
    block = problem.blocks[0]
    F0 = st.F0()

    # Initial point Y = xi I, S = eta I, x = 0. SDPT3's recipe (xi >= max(10, sqrt(m), ...),
    # eta >= 10) starts far too large for problems whose data are O(1), such as the balanced
    # LipSDP LMI (whose dual has trace(Y_00) = 1): 24 iterations against 18 on 3 x 200 with
    # xi = 0.1 and eta a tenth of SDPT3's. The smaller start is kept unless c or F is large.
    col_norms = np.sqrt(np.asarray(block.F.multiply(block.F).sum(axis=0)).ravel())
    f0_norm = max(np.sqrt(_tri_inner(F0, F0)), 1.0)
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
    norm_F0 = 1.0 + np.sqrt(_tri_inner(F0, F0))
    status, native = Status.MAX_ITERATIONS, "max_iterations"
    it = 0
    gap = pinf = dinf = np.inf
    pobj = dobj = np.nan
    a_p = a_d = 0.0
    for it in range(1, max_iter + 1):
        Ax = st.matrix_blocks(x)
        Rp = _tri_lin(1.0, Ax, -1.0, S)
        rp_lp = x[nn] - s
        aY = st.adjoint(Y)
        rd = c - aY
        rd[nn] -= z
        mu = (_tri_inner(Y, S) + z @ s) / nu
        pobj = float(c @ x)
        dobj = -_tri_inner(F0, Y)
        # Relative gap: LipSDP's scaled objective can be far below 1 on deep networks.
        gap = abs(pobj - dobj) / max(abs(pobj), abs(dobj), 1e-10)
        pinf = np.sqrt(_tri_inner(Rp, Rp) + rp_lp @ rp_lp) / norm_F0
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
                    "dobj": dobj, "dual": _LazyDual(lambda Yc=Y: _dense_completion(st, Yc)),
                    **_banded_info(problem, st, Y)}
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
                facS = _factor(*Ax)
                if facS is not None:
                    S, Rp = Ax, None
                    if np.all(x[nn] > 0):
                        s, rp_lp = x[nn].copy(), np.zeros(nn.size)
            if facS is None:
                facS = _factor(*S)
            cliques = _cliques(Y)
            Winv = _completion_inverse(Y, cliques) if cliques is not None else None
            facW = _factor(*Winv) if Winv is not None else None
            if facS is None or facW is None:
                raise np.linalg.LinAlgError("an iterate lost positive definiteness")
            workers = threads if m >= THREADED_CHUNKS_MIN_SIDE else 1
            M, aZ, aWRZ = st.schur(facS, facW, Rp, workers=workers, out=bufs.get("M"))
            M[nn, nn] += z / s
            if schur_callback is not None:
                schur_callback(it, M, {"slack": _LazyDual(lambda: _tri_dense(st, S)),
                                       "dual": _LazyDual(lambda: _dense_completion(st, Y))})
            dsc = 1.0 / np.sqrt(np.maximum(np.diag(M), np.finfo(float).tiny))
            M *= dsc[:, None]  # in place: the unscaled matrix is not needed again
            M *= dsc[None, :]
            M[np.diag_indices(n)] += 1e-14
            Gm = _SchurFactor.of(M, threads, bufs.get("M32"))
            if Gm is None:
                raise np.linalg.LinAlgError("Schur matrix is not positive definite")
            newton = _Newton(st, facS, facW, cliques, S, Y, z, s, Rp, rp_lp, rd, aY, aZ, aWRZ,
                             Gm, dsc, nn, Winv, workers=workers)
            # Predictor (affine scaling, sigma = 0).
            dx, dS, dY, ds, dz, K, VZ = newton.direction(0.0, -z, None)
            a_p, a_d = newton.steps(dS, dY, ds, dz, verify=False)
            mu_aff = (_tri_inner(_tri_lin(1.0, Y, a_d, dY), _tri_lin(1.0, S, a_p, dS))
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
            return (x_new, _tri_lin(1.0, S, a_p, dS), s + a_p * ds, _tri_lin(1.0, Y, a_d, dY),
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
                cert = _dense_completion(st, Y) / dobj
            except np.linalg.LinAlgError:
                return failed
            return replace(failed, info={"certificate": _split_dual(problem, cert)})
        return failed
    near = max(gap, pinf, dinf) < 1e3 * tol
    if status in (Status.MAX_ITERATIONS, Status.NUMERICAL_ERROR) and near:
        status, native = Status.OPTIMAL_INACCURATE, f"{native}_near_optimal"
    dual_nonneg = np.zeros(n)
    dual_nonneg[nn] = z
    dual: tuple[np.ndarray, ...] = ()
    if m <= DENSE_DUAL_MAX_SIDE:
        try:
            dual = _split_dual(problem, _dense_completion(st, Y))
        except np.linalg.LinAlgError:
            dual = ()
    return SolverResult(
        x=x, status=status, objective=pobj, dual=dual, iterations=it, solve_time=solve_time,
        setup_time=setup, solver=NAME, native_status=native,
        info={"gap": gap, "pinf": pinf, "dinf": dinf, "dual_nonneg": dual_nonneg,
              "dual_objective": dobj, **_banded_info(problem, st, Y)},
    )
