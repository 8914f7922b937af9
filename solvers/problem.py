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

__all__ = ["LMIBlock", "LMIProblem", "LowRank"]


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
    """

    F0: np.ndarray
    F: sp.csc_matrix
    lowrank: LowRank | None = None

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
