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

__all__ = ["LMIBlock", "LMIProblem"]


@dataclass(frozen=True)
class LMIBlock:
    """One linear matrix inequality ``F0 + sum_i x_i F_i >= 0`` of side ``m``.

    Parameters
    ----------
    F0 : ndarray, shape (m, m)
        Symmetric constant term.
    F : sparse matrix, shape (m*m, n)
        Column ``i`` is ``vec(F_i)`` in column-major order; every ``F_i`` is symmetric.
    """

    F0: np.ndarray
    F: sp.csc_matrix

    def __post_init__(self) -> None:
        F0 = np.asarray(self.F0, dtype=np.float64)
        if F0.ndim != 2 or F0.shape[0] != F0.shape[1]:
            raise ValueError(f"F0 has shape {F0.shape}; expected a square matrix")
        if not sp.issparse(self.F):
            raise TypeError(f"F must be a scipy.sparse matrix, got {type(self.F).__name__}")
        m = F0.shape[0]
        if self.F.shape[0] != m * m:
            raise ValueError(f"F has {self.F.shape[0]} rows; expected m*m = {m * m} for m = {m}")
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
