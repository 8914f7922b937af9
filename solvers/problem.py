"""The block-LMI standard form every backend accepts.

    minimise    c^T x
    subject to  F0^k + sum_i x_i F_i^k  is positive semidefinite, for every block k,
                x_i >= 0                                        where nonneg[i].

Each block stores its constant term ``F0`` as a dense symmetric ``(m, m)`` array and its
coefficient matrices as one sparse ``(m*m, n)`` matrix whose column ``i`` is ``vec(F_i)``
(column-major, full square, symmetric ``F_i``).  The layout is solver-neutral: conversion to a
backend's packed triangle lives in :mod:`solvers.svec` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

__all__ = ["BandedMatrix", "LMIBlock", "LMIProblem", "LowRank"]


@dataclass(frozen=True)
class LowRank:
    """Factored coefficient matrices ``F_i = U_i D_i U_i^T`` of one block (optional structure).

    ``U`` stacks every variable's factor columns side by side, ``owner[a]`` is the variable that
    column ``a`` belongs to, and ``D`` is block diagonal (a coupling between columns ``a`` and
    ``b`` only when ``owner[a] == owner[b]``). Backends that exploit low rank read it; the others
    use ``LMIBlock.F``, which must hold the same matrices.

    Parameters
    ----------
    U : sparse matrix, shape (m, R)
    D : sparse matrix, shape (R, R)
        Symmetric and block diagonal with respect to ``owner``.
    owner : ndarray of int, shape (R,)
        Variable index of each column, in ``0 .. n-1``.
    """

    U: sp.csc_matrix
    D: sp.csc_matrix
    owner: np.ndarray

    def __post_init__(self) -> None:
        U = sp.csc_matrix(self.U, dtype=np.float64)
        D = sp.csc_matrix(self.D, dtype=np.float64)
        owner = np.asarray(self.owner, dtype=np.int64).ravel()
        R = U.shape[1]
        if D.shape != (R, R):
            raise ValueError(f"D has shape {D.shape}; expected ({R}, {R}) to match U's columns")
        if owner.size != R:
            raise ValueError(f"owner has {owner.size} entries; expected {R}, one per column of U")
        Dc = D.tocoo()
        if np.any(owner[Dc.row] != owner[Dc.col]):
            raise ValueError("D couples columns of different variables; expected block diagonal")
        object.__setattr__(self, "U", U)
        object.__setattr__(self, "D", D)
        object.__setattr__(self, "owner", owner)

    def dense_coefficient(self, i: int) -> np.ndarray:
        """``F_i = U_i D_i U_i^T`` as a dense matrix (for checks)."""
        cols = np.flatnonzero(self.owner == i)
        Ui = self.U[:, cols]
        return (Ui @ self.D[np.ix_(cols, cols)] @ Ui.T).toarray()


@dataclass(frozen=True)
class LMIBlock:
    """One linear matrix inequality ``F0 + sum_i x_i F_i >= 0`` of side ``m``.

    Parameters
    ----------
    F0 : ndarray, shape (m, m)
        Symmetric constant term.
    F : sparse matrix, shape (m*m, n)
        Column ``i`` is ``vec(F_i)`` in column-major order; every ``F_i`` is symmetric.
    lowrank : LowRank, optional
        The same ``F_i`` in factored form, for backends that exploit low rank.
    partition : tuple of int, optional
        Block sizes (summing to ``m``) under which ``F0`` and every ``F_i`` are block
        tridiagonal, for backends that exploit that sparsity (checked by them, not here).
    """

    F0: np.ndarray
    F: sp.csc_matrix
    lowrank: LowRank | None = None
    partition: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        F0 = np.asarray(self.F0, dtype=np.float64)
        if F0.ndim != 2 or F0.shape[0] != F0.shape[1]:
            raise ValueError(f"F0 has shape {F0.shape}; expected a square matrix")
        if not sp.issparse(self.F):
            raise TypeError(f"F must be a scipy.sparse matrix, got {type(self.F).__name__}")
        m = F0.shape[0]
        if self.F.shape[0] != m * m:
            raise ValueError(f"F has {self.F.shape[0]} rows; expected m*m = {m * m} for m = {m}")
        if self.lowrank is not None:
            if not isinstance(self.lowrank, LowRank):
                raise TypeError(f"lowrank is {type(self.lowrank).__name__}; expected LowRank")
            if self.lowrank.U.shape[0] != m:
                raise ValueError(f"lowrank.U has {self.lowrank.U.shape[0]} rows; expected {m}")
            if self.lowrank.owner.size and self.lowrank.owner.max() >= self.F.shape[1]:
                raise ValueError("lowrank.owner names a variable beyond F's columns")
        if self.partition is not None:
            part = tuple(int(n) for n in self.partition)
            if any(n < 1 for n in part) or sum(part) != m:
                raise ValueError(
                    f"partition is {part}; expected positive block sizes summing to m = {m}"
                )
            object.__setattr__(self, "partition", part)
        object.__setattr__(self, "F0", F0)
        object.__setattr__(self, "F", sp.csc_matrix(self.F, dtype=np.float64))

    @property
    def size(self) -> int:
        """Side ``m`` of the matrix inequality."""
        return self.F0.shape[0]

    @property
    def n_vars(self) -> int:
        return self.F.shape[1]

    def matrix(self, x: np.ndarray) -> np.ndarray:
        """Evaluate ``F0 + sum_i x_i F_i`` (dense, symmetric)."""
        m = self.size
        S = self.F0 + (self.F @ np.asarray(x, dtype=np.float64)).reshape(m, m, order="F")
        return 0.5 * (S + S.T)


@dataclass(frozen=True)
class LMIProblem:
    """Minimise ``c^T x`` subject to one or more LMI blocks and optional ``x >= 0``.

    Parameters
    ----------
    c : ndarray, shape (n,)
        Objective.
    blocks : tuple of LMIBlock
        Matrix inequalities, all in the same ``n`` variables.
    nonneg : ndarray of bool, shape (n,), optional
        Variables constrained to be nonnegative; default none.
    """

    c: np.ndarray
    blocks: tuple[LMIBlock, ...]
    nonneg: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        c = np.asarray(self.c, dtype=np.float64).ravel()
        blocks = tuple(self.blocks)
        if not blocks:
            raise ValueError("an LMIProblem needs at least one block")
        for k, block in enumerate(blocks):
            if not isinstance(block, LMIBlock):
                raise TypeError(f"blocks[{k}] is {type(block).__name__}; expected LMIBlock")
            if block.n_vars != c.size:
                raise ValueError(
                    f"blocks[{k}] has {block.n_vars} variable columns; expected {c.size} to match c"
                )
        nonneg = (
            np.zeros(c.size, dtype=bool)
            if self.nonneg is None
            else np.asarray(self.nonneg, dtype=bool).ravel()
        )
        if nonneg.size != c.size:
            raise ValueError(f"nonneg has {nonneg.size} entries; expected {c.size} to match c")
        object.__setattr__(self, "c", c)
        object.__setattr__(self, "blocks", blocks)
        object.__setattr__(self, "nonneg", nonneg)

    @property
    def n_vars(self) -> int:
        return self.c.size

    def min_eigenvalue(self, x: np.ndarray) -> float:
        """Smallest eigenvalue over all blocks at ``x`` (a feasibility diagnostic)."""
        return min(float(np.linalg.eigvalsh(b.matrix(x))[0]) for b in self.blocks)


@dataclass(frozen=True)
class BandedMatrix:
    """A symmetric matrix known only on a block-tridiagonal pattern (a chain of cliques).

    Such a matrix stands for any of its completions; it has a positive definite one exactly when
    every clique block ``[[A_{p-1,p-1}, A_{p,p-1}^T], [A_{p,p-1}, A_pp]]`` is positive definite
    (chordal completion theorem). Structured backends return their dual this way.

    Parameters
    ----------
    offsets : ndarray of int, shape (P + 1,)
        Block boundaries, from 0 to the side ``m``.
    diag : tuple of ndarray
        The ``P`` diagonal blocks.
    sub : tuple of ndarray
        The ``P - 1`` sub-diagonal blocks ``(p, p-1)``, ``p = 1 .. P-1``.
    """

    offsets: np.ndarray
    diag: tuple[np.ndarray, ...]
    sub: tuple[np.ndarray, ...]

    @property
    def size(self) -> int:
        return int(self.offsets[-1])

    def _locate(self, i: int) -> int:
        return int(np.searchsorted(self.offsets, i, side="right") - 1)

    def block(self, rows: slice, cols: slice) -> np.ndarray:
        """The dense entries ``A[rows, cols]``; every entry must lie on the pattern."""
        r0, r1, _ = rows.indices(self.size)
        c0, c1, _ = cols.indices(self.size)
        out = np.empty((r1 - r0, c1 - c0))
        o = self.offsets
        for p in range(self._locate(r0), self._locate(r1 - 1) + 1):
            for q in range(self._locate(c0), self._locate(c1 - 1) + 1):
                if abs(p - q) > 1:
                    raise ValueError(f"entries of blocks ({p}, {q}) are not on the pattern")
                if p == q:
                    B = self.diag[p]
                elif p > q:
                    B = self.sub[p - 1]
                else:
                    B = self.sub[q - 1].T
                a0, a1 = max(r0, o[p]), min(r1, o[p + 1])
                b0, b1 = max(c0, o[q]), min(c1, o[q + 1])
                out[a0 - r0 : a1 - r0, b0 - c0 : b1 - c0] = B[a0 - o[p] : a1 - o[p],
                                                              b0 - o[q] : b1 - o[q]]
        return out

    def scaled(self, d: np.ndarray) -> BandedMatrix:
        """``D A D`` for ``D = diag(d)`` (keeps the pattern and positive definiteness)."""
        o = self.offsets
        ds = [d[o[p] : o[p + 1]] for p in range(len(self.diag))]
        return BandedMatrix(
            self.offsets,
            tuple(x[:, None] * B * x[None, :] for x, B in zip(ds, self.diag, strict=True)),
            tuple(ds[p][:, None] * B * ds[p - 1][None, :] for p, B in enumerate(self.sub, 1)),
        )

    def has_pd_completion(self) -> bool:
        """Whether a positive definite completion exists (a Cholesky test per clique)."""
        if len(self.diag) == 1:
            blocks = [self.diag[0]]
        else:
            blocks = [np.block([[self.diag[p - 1], self.sub[p - 1].T],
                                [self.sub[p - 1], self.diag[p]]])
                      for p in range(1, len(self.diag))]
        for C in blocks:
            try:
                np.linalg.cholesky(0.5 * (C + C.T))
            except np.linalg.LinAlgError:
                return False
        return True
