"""The banded method's Schur (Newton) matrix, ``M_ij = tr(F_i Y^ F_j S^{-1})``, assembled one
chunk of factor columns at a time from block-tridiagonal solves (docs/math.md §9).

With ``F_i = sum_{a: owner[a] = i} lam_a u_a u_a^T``,
``M_ij = sum_ab lam_a lam_b (u_a^T Y^ u_b)(u_a^T S^{-1} u_b)``: per chunk ``J`` of columns the
Grams ``U^T S^{-1} U_J`` and ``U^T Y^ U_J`` come from solves with the block factors of ``S`` and
``Y^{-1}`` (or, at a feasible iterate, from their inverses' semiseparable structure), their
Hadamard product is summed into variables, and the chunks run in parallel threads if asked.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from lipsdp_solvers.banded_tridiag import BlockFactor, Semiseparable, Tri, tri_apply
from lipsdp_solvers.ipm_linalg import as_slice

if TYPE_CHECKING:
    from lipsdp_solvers.banded_structure import BandedStructure

__all__ = ["add_gram", "assemble_schur", "paired"]


def _add_block(M: np.ndarray, rows: np.ndarray, cols: np.ndarray, A: np.ndarray) -> None:
    """``M[rows x cols] += A``, by slices where the indices are contiguous ranges (variables
    numbered layer by layer make them so; fancy indexing is several times slower)."""
    r, c = as_slice(rows), as_slice(cols)
    if isinstance(r, slice) and isinstance(c, slice):
        M[r, c] += A
    else:
        M[np.ix_(rows, cols)] += A

def paired(Ud: np.ndarray, Udl: np.ndarray, rows: np.ndarray, owner: np.ndarray) -> tuple:
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

def add_gram(G: np.ndarray, rows: slice | np.ndarray, dense: tuple, X: np.ndarray) -> None:
    """``G[rows] += U^T X`` for dense columns given as ``(B, rho)`` (see :func:`paired`)."""
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


def assemble_schur(st: BandedStructure, facS: BlockFactor, facW: BlockFactor, Rp: Tri | None,
                   workers: int = 1, out: np.ndarray | None = None) -> tuple:
    """HKM Schur matrix ``[tr(F_i W F_j Z)]``, ``A^*(Z)`` and ``A^*(W Rp Z)``.

    ``Z = S^{-1}`` and ``W = Y^`` are given by block-bidiagonal factors of ``S`` and ``W^{-1}``.
    The chunks of factor columns are independent; ``workers > 1`` runs them on that many
    threads (NumPy's kernels release the GIL; each chunk writes its own columns of ``M``).
    ``out``: an ``(n, n)`` array to assemble ``M`` in (overwritten), so that a solve reuses
    one buffer instead of page-faulting a fresh matrix in every iteration.
    """
    n = st.n_vars
    if out is None:
        M = np.zeros((n, n))
    else:
        M = out
        M.fill(0.0)
    # With owner runs each chunk writes its rows and columns of M directly (symmetric, and
    # no other chunk writes them); otherwise the other triangle's chunk rows go to Mt and
    # are transposed in at the end.
    Mt = None if st.runs_ok else np.zeros((n, n))
    chunks = st.chunks  # largest first: a chunk's solves run from its first block on
    lock = threading.Lock()
    if Rp is None and st.sizes.size > 1:
        # Feasible iterate: no Rp term, so each chunk needs only the pairs with earlier
        # columns, which the inverses' semiseparable structure gives by one product per
        # block (see _schur_chunk_up) instead of a forward and a backward solve.
        ups = (Semiseparable(facS), Semiseparable(facW))

        def run(chunk):
            if st.row_parts is not None:
                return _schur_chunk_rows(st, chunk, *ups, M)
            return _schur_chunk_up(st, chunk, *ups, M, Mt, lock)

        chunks = chunks[::-1]  # largest first: their work grows with the first block
    else:
        def run(chunk):
            return _schur_chunk(st, chunk, facS, facW, Rp, M, Mt, lock)

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

def _schur_chunk(st: BandedStructure, chunk, facS, facW, Rp, M, Mt, lock) -> tuple:
    """One chunk's share of :func:`assemble_schur`: its columns of ``M`` (and of ``Mt``) are written
    in place, ``A^*(Z)`` and ``A^*(W Rp Z)`` returned."""
    first, J = chunk
    n, R = st.n_vars, st.lam.size
    lam = st.lam
    P = st.sizes.size
    aZ = np.zeros(n)
    aWRZ = np.zeros(n)
    rhs = _chunk_rhs(st, first, J)
    # Only the pairs (a, b) with a in this chunk or a later one: the rest by symmetry.
    # (The term with Rp needs every row block.)
    stop = first if Rp is None else 0
    XZ = facS.solve(rhs, first, stop=stop)
    XW = facW.solve(rhs, first, stop=stop)
    s0, e0 = int(J[0]), int(J[-1]) + 1
    GZ = st.gram_rows(XZ, np.zeros((R, J.size)))[s0:]
    GW = st.gram_rows(XW, np.zeros((R, J.size)))[s0:]
    lamJ = lam[J]
    aJ = st.agg[:, J]
    aZ += aJ @ (lamJ * GZ[np.arange(J.size), np.arange(J.size)])
    if Rp is not None:
        RX = tri_apply(Rp, XZ)
        aWRZ += aJ @ (lamJ * sum(np.einsum("ij,ij->j", XW[p], RX[p]) for p in range(P)))
    GW *= GZ
    GW *= lam[s0:, None]
    GW *= lamJ[None, :]
    if st.runs_ok:
        # This chunk's variables own these columns of M and Mt: no other chunk writes them.
        k0, k1 = np.searchsorted(st.run_starts, [s0, e0])
        starts = st.run_starts[k0:] - s0
        A = _segment_sum(GW, starts)
        A = _segment_sum(A.T, st.run_starts[k0:k1] - s0).T
        rows, cols = st.run_owner[k0:], st.run_owner[k0:k1]
        own = A[: k1 - k0]
        _add_block(M, cols, cols, 0.5 * (own + own.T))
        if k1 < st.run_starts.size:
            _add_block(M, rows[k1 - k0 :], cols, A[k1 - k0 :])
            _add_block(M, cols, rows[k1 - k0 :], A[k1 - k0 :].T)
    else:
        T = st.agg[:, s0:] @ GW  # (n, |J|)
        upd = (aJ @ T.T).T
        updt = (aJ @ (st.agg[:, e0:] @ GW[e0 - s0 :]).T).T if e0 < R else None
        with lock:
            M += upd
            if updt is not None:
                Mt += updt
    return aZ, aWRZ

def _chunk_rhs(st: BandedStructure, first: int, J: np.ndarray) -> list[np.ndarray | None]:
    """Rows of the chunk's columns ``J`` in blocks ``first`` and ``first + 1``."""
    P = st.sizes.size
    rhs: list[np.ndarray | None] = [None] * P
    for p in (first, first + 1):
        if p < P:
            where = st.pos[p][J]
            if np.any(where >= 0):
                B = np.zeros((st.sizes[p], J.size))
                ok = where >= 0
                B[:, ok] = st.U[p][:, where[ok]]
                rhs[p] = B
    return rhs

def _schur_chunk_rows(st: BandedStructure, chunk, upZ: Semiseparable, upW: Semiseparable,
                      M: np.ndarray) -> tuple:
    """:func:`_schur_chunk_up` one row chunk at a time (where owner runs hold): the rows of
    ``Z U_J`` and ``W U_J`` are formed block by block down the chain, and each row chunk
    ``q``'s Grams, Hadamard product and run sums are taken on its own small block (a few
    hundred rows, cache-sized) and written into ``M``, instead of on tall arrays of every
    earlier column."""
    first, J = chunk
    n = st.n_vars
    lamJ = st.lam[J]
    rhs = _chunk_rhs(st, first, J)
    rhs_w = [None if B is None else B * lamJ for B in rhs]
    _, sum_J, own_J = st.row_parts[first]
    aZ = np.zeros(n)
    X = {}  # the two latest row blocks of (Z U_J, W U_lam,J)
    for (a, XZa), (_, XWa) in zip(upZ.columns_down(rhs, first),
                                  upW.columns_down(rhs_w, first), strict=True):
        X[a] = (XZa, XWa)
        X.pop(a + 2, None)
        if a > first:
            continue
        q = a  # row chunk q needs the row blocks q and q + 1
        parts, sum_q, own_q = st.row_parts[q]
        n_q = int(st.offsets_cols[q + 1] - st.offsets_cols[q])
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
                add_gram(GZ, rows, dense, XZp)
                add_gram(GW, rows, dense_lam, XWp)
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

def _schur_chunk_up(st: BandedStructure, chunk, upZ: Semiseparable, upW: Semiseparable, M, Mt,
                    lock) -> tuple:
    """:func:`_schur_chunk` for a feasible iterate (no ``Rp``) whose variables' columns do
    not form owner runs, pairing the chunk's columns with the columns of this and the
    earlier chunks: their Grams with ``Z`` and ``W`` need the row blocks ``<= first + 1`` of
    ``Z U_J`` and ``W U_J``, from the band and the upward transfer matrices
    (:class:`Semiseparable`)."""
    first, J = chunk
    n = st.n_vars
    lamJ = st.lam[J]
    rhs = _chunk_rhs(st, first, J)
    XZ = upZ.columns(rhs, first)
    # lam folded into both sides of W's Gram: GW = (U lam)^T W (U_J lam_J).
    XW = upW.columns([None if B is None else B * lamJ for B in rhs], first)
    s0, e0 = int(J[0]), int(J[-1]) + 1
    # Columns touching blocks <= first + 1 belong to chunks <= first + 1.
    e1 = int(st.offsets_cols[min(first + 2, st.sizes.size)])
    GZ = st.gram_rows(XZ, np.zeros((e1, J.size)))[:e0]
    GW = st.gram_rows(XW, np.zeros((e1, J.size)), scaled=True)[:e0]
    aJ = st.agg[:, J]
    aZ = aJ @ (lamJ * GZ[s0 + np.arange(J.size), np.arange(J.size)])
    GW *= GZ
    # Without owner runs (otherwise _schur_chunk_rows runs): aggregate under the lock.
    T = st.agg[:, :e0] @ GW  # (n, |J|)
    upd = (aJ @ T.T).T
    updt = (aJ @ (st.agg[:, :s0] @ GW[:s0]).T).T if s0 else None
    with lock:
        M += upd
        if updt is not None:
            Mt += updt
    return aZ, np.zeros(n)
