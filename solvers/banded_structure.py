"""A block-tridiagonal low-rank LMI arranged per partition block (banded-ipm's data).

:class:`BandedStructure` holds the coefficient factors rotated so that ``D`` is diagonal, split by
partition block, and evaluates ``S(x)`` and ``A^*(K)`` on the block-tridiagonal pattern; its
Schur matrix is assembled in :mod:`solvers.banded_schur`. :func:`single_block` merges a problem's
blocks into the one block-diagonal block the method solves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from lipsdp_solvers.banded_schur import assemble_schur, paired
from lipsdp_solvers.banded_tridiag import BlockFactor, Tri
from lipsdp_solvers.ipm_linalg import as_slice, factor_columns
from lipsdp_solvers.problem import LMIBlock, LMIProblem, LowRank

__all__ = ["BandedStructure", "single_block"]

#: The method's registry name, for messages.
NAME = "banded-ipm"


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
                units.append((as_slice(ucols), E))
                dense.append((as_slice(dcols), Ud if lam is None else Ud * lam[dcols]))
        self.row_parts = self._row_parts() if self.runs_ok else None

    def _row_parts(self) -> list:
        """Per chunk ``c`` (columns ``oc[c]:oc[c+1]``, those whose first block is ``c``), what
        ``solvers.banded_schur._schur_chunk_rows`` needs for its rows: for each block ``p`` in
        ``c, c + 1``, the chunk's unit and dense columns touching ``p`` as ``(p, rows in the
        chunk, E, E_lam, Ud, Ud_lam)``, and the chunk's owner runs as a 0/1 summation matrix
        and their owners."""
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
                    rows = as_slice(idx[keep] - lo)
                    if E is not None:
                        parts.append((p, rows, sp.csr_matrix(E[np.flatnonzero(keep)]),
                                      sp.csr_matrix(El[np.flatnonzero(keep)]), None, None))
                    else:
                        parts.append((p, rows, None, None,
                                      *paired(Ud[:, keep], Udl[:, keep], idx[keep] - lo,
                                               self.owner[idx[keep]])))
            k0, k1 = np.searchsorted(self.run_starts, [lo, hi])
            starts = self.run_starts[k0:k1] - lo
            n_c = hi - lo
            summ = sp.csr_matrix((np.ones(n_c), np.arange(n_c), np.append(starts, n_c)),
                                 shape=(starts.size, n_c))
            out.append((parts, summ, as_slice(self.run_owner[k0:k1])))
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

    def schur(self, facS: BlockFactor, facW: BlockFactor, Rp: Tri | None, workers: int = 1,
              out: np.ndarray | None = None) -> tuple:
        """HKM Schur matrix ``[tr(F_i W F_j Z)]``, ``A^*(Z)`` and ``A^*(W Rp Z)``: see
        :func:`solvers.banded_schur.assemble_schur`."""
        return assemble_schur(self, facS, facW, Rp, workers=workers, out=out)
    def identity(self, value: float) -> Tri:
        return ([value * np.eye(n) for n in self.sizes],
                [None] + [np.zeros((self.sizes[p], self.sizes[p - 1]))
                          for p in range(1, self.sizes.size)])

    def F0(self) -> Tri:
        return (self.F0_diag, self.F0_sub)


def single_block(problem: LMIProblem) -> LMIBlock:
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
            U, D, owner = factor_columns(block)
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
