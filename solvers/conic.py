"""The conic form shared by Clarabel and SCS::

    minimise  c^T x   subject to   A x + s = b,   s in K,

with ``K = R_+^{n_nonneg} x S_+^{m_1} x ... x S_+^{m_K}`` (nonnegative rows first, then one
packed PSD triangle per block), ``A = [-E_nonneg; -svec(F^1); ...]`` and
``b = [0; svec(F0^1); ...]``, so that ``s = [x_nonneg; svec(F0^k + sum_i x_i F_i^k)]``.
The dual ``z`` satisfies ``c = -A^T z`` i.e. ``c_i = sum_k trace(Y_k F_i^k) + mu_i`` with
``Y_k = smat(z_k)`` and ``mu_i >= 0`` the multiplier of ``x_i >= 0`` (zero for free variables).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from lipsdp_solvers import svec as _svec
from lipsdp_solvers.problem import LMIProblem

__all__ = ["ConicForm", "build_conic_form"]


@dataclass(frozen=True)
class ConicForm:
    """``min c^T x  s.t.  A x + s = b,  s in R_+^{n_nonneg} x S_+^{sizes[0]} x ...``.

    Attributes
    ----------
    A : scipy.sparse.csc_matrix, shape (n_rows, n)
    b : ndarray, shape (n_rows,)
    c : ndarray, shape (n,)
    nonneg_index : ndarray of int, shape (n_nonneg,)
        Variables with a nonnegativity row, in row order.
    sizes : tuple of int
        Side of each PSD block, in row order after the nonnegative rows.
    order : str
        The packed-triangle order (see :mod:`solvers.svec`) of the PSD rows.
    """

    A: sp.csc_matrix
    b: np.ndarray
    c: np.ndarray
    nonneg_index: np.ndarray
    sizes: tuple[int, ...]
    order: str

    @property
    def n_nonneg(self) -> int:
        return int(self.nonneg_index.size)

    def psd_slices(self) -> list[slice]:
        """Row range of each PSD block."""
        out, start = [], self.n_nonneg
        for m in self.sizes:
            stop = start + _svec.svec_size(m)
            out.append(slice(start, stop))
            start = stop
        return out

    def split_dual(self, z: np.ndarray) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """Turn a conic dual vector into ``(mu, (Y_1, ..., Y_K))``.

        ``mu`` has one entry per variable (zero for free ones); each ``Y_k`` is a dense symmetric
        matrix.
        """
        z = np.asarray(z, dtype=np.float64).ravel()
        mu = np.zeros(self.c.size)
        mu[self.nonneg_index] = z[: self.n_nonneg]
        duals = tuple(
            _svec.smat(z[rows], m, self.order)
            for rows, m in zip(self.psd_slices(), self.sizes, strict=True)
        )
        return mu, duals

    def pack_dual(self, mu: np.ndarray, duals: tuple[np.ndarray, ...]) -> np.ndarray:
        """Inverse of :meth:`split_dual` (``mu`` is read at the nonnegative variables only)."""
        parts = [np.asarray(mu, dtype=np.float64)[self.nonneg_index]]
        parts += [_svec.svec(Y, self.order) for Y in duals]
        return np.concatenate(parts)


def build_conic_form(problem: LMIProblem, order: str) -> ConicForm:
    """Stack a problem's nonnegativity rows and packed LMI blocks into one ``(A, b)``.

    Parameters
    ----------
    problem : LMIProblem
    order : str
        Packed-triangle order the solver wants (see :mod:`solvers.svec`).

    Returns
    -------
    ConicForm
    """
    n = problem.n_vars
    nonneg_index = np.flatnonzero(problem.nonneg)
    k = nonneg_index.size
    E = sp.csc_matrix((-np.ones(k), (np.arange(k), nonneg_index)), shape=(k, n), dtype=np.float64)
    A_parts = [E] + [-_svec.svec_sparse(blk.F, blk.size, order) for blk in problem.blocks]
    b_parts = [np.zeros(k)] + [_svec.svec(blk.F0, order) for blk in problem.blocks]
    A = sp.vstack(A_parts, format="csc", dtype=np.float64)
    A.sort_indices()
    return ConicForm(
        A=A,
        b=np.concatenate(b_parts),
        c=problem.c.copy(),
        nonneg_index=nonneg_index,
        sizes=tuple(blk.size for blk in problem.blocks),
        order=order,
    )
