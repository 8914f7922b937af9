"""The dual on its pattern and its maximum-determinant completion ``Y^``.

The method keeps the dual only on the block-tridiagonal pattern (``Y_E``). ``Y_E`` has a positive
definite completion exactly when every clique block ``[[Y_{p-1,p-1}, .], [Y_{p,p-1}, Y_pp]]`` is
positive definite; the maximum-determinant one, ``Y^``, has a block-tridiagonal inverse in closed
form, ``sum_cliques E^T (Y_CC)^{-1} E - sum_separators E^T (Y_pp)^{-1} E``.

References
----------
M. Fukuda, M. Kojima, K. Murota, K. Nakata, "Exploiting sparsity in semidefinite programming via
matrix completion I: general framework", SIAM J. Optim. 11 (2000).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from lipsdp_solvers.banded_tridiag import Tri, block_cholesky
from lipsdp_solvers.ipm_linalg import chol, trsm
from lipsdp_solvers.problem import BandedMatrix, LMIProblem

if TYPE_CHECKING:
    from lipsdp_solvers.banded_structure import BandedStructure

__all__ = [
    "LazyDual",
    "banded_info",
    "clique_blocks",
    "clique_factors",
    "completable",
    "completion_inverse",
    "dense_completion",
    "split_dual",
]


def clique_factors(Y: Tri) -> list[np.ndarray] | None:
    """Cholesky factors of the clique blocks ``[[Y_{p-1,p-1}, .], [Y_{p,p-1}, Y_pp]]`` of
    ``Y_E`` (just ``Y_00`` for a single block), or None if one is not positive definite (then
    ``Y_E`` has no positive definite completion)."""
    diag, sub = Y
    if len(diag) == 1:
        G = chol(diag[0])
        return None if G is None else [G]
    out = []
    for p in range(1, len(diag)):
        G = chol(np.block([[diag[p - 1], sub[p].T], [sub[p], diag[p]]]))
        if G is None:
            return None
        out.append(G)
    return out

def completion_inverse(Y: Tri, cliques: list[np.ndarray]) -> Tri | None:
    """Inverse of the maximum-determinant completion of ``Y_E`` (block tridiagonal):
    ``sum_cliques E^T (Y_CC)^{-1} E - sum_separators E^T (Y_pp)^{-1} E``."""
    diag, sub = Y
    P = len(diag)

    def inv(G):
        Gi = trsm(G, np.eye(G.shape[0]))
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
        G = chol(diag[p])
        if G is None:
            return None
        out_d[p] -= inv(G)
    return ([0.5 * (d + d.T) for d in out_d], out_s)

def completable(Y: Tri) -> bool:
    """Whether every clique block of ``Y_E`` is positive definite."""
    return clique_factors(Y) is not None

def clique_blocks(V: Tri) -> list[np.ndarray]:
    diag, sub = V
    if len(diag) == 1:
        return [diag[0]]
    return [np.block([[diag[p - 1], sub[p].T], [sub[p], diag[p]]]) for p in range(1, len(diag))]

class LazyDual(Sequence):
    """``(Y,)`` computed when first read: the dense completion is ``O(m^2)`` memory."""

    def __init__(self, make: Callable[[], np.ndarray]):
        self._make, self._Y = make, None

    def __len__(self) -> int:
        return 1

    def __getitem__(self, i):
        if self._Y is None:
            self._Y = self._make()
        return (self._Y,)[i]

def dense_completion(st: BandedStructure, Y: Tri) -> np.ndarray:
    """The maximum-determinant completion ``Y^`` of ``Y_E`` as a dense matrix."""
    cl = clique_factors(Y)
    Winv = completion_inverse(Y, cl) if cl is not None else None
    fac = block_cholesky(*Winv) if Winv is not None else None
    if fac is None:
        raise np.linalg.LinAlgError("dual iterate has no positive definite completion")
    W = np.vstack(fac.inverse_rows())
    W = 0.5 * (W + W.T)
    return W

def banded_info(problem: LMIProblem, st: BandedStructure, Y: Tri) -> dict:
    """``{"dual_banded": BandedMatrix}``: the dual on its pattern, for a single-block problem
    (any positive semidefinite completion of it is a dual matrix)."""
    if len(problem.blocks) != 1:
        return {}
    diag, sub = Y
    return {"dual_banded": BandedMatrix(st.offsets.copy(), tuple(d.copy() for d in diag),
                                        tuple(b.copy() for b in sub[1:]))}

def split_dual(problem: LMIProblem, Y: np.ndarray) -> tuple[np.ndarray, ...]:
    """The dense dual of the merged block, split back into one matrix per original block."""
    out, off = [], 0
    for block in problem.blocks:
        out.append(Y[off : off + block.size, off : off + block.size].copy())
        off += block.size
    return tuple(out)
