"""Packed-triangle ("svec") orderings of symmetric matrices: the only module that knows them.

A symmetric ``(m, m)`` matrix ``S`` is packed into a vector of length ``p = m(m+1)/2`` holding
one triangle, with every off-diagonal entry multiplied by ``sqrt(2)`` so that the packing is an
isometry: ``svec(S) @ svec(T) == trace(S @ T)``.  Solvers disagree on which triangle and in which
order:

- ``"upper-colmajor"`` (alias ``"clarabel"``): ``S[0,0], S[0,1], S[1,1], S[0,2], S[1,2], ...``
- ``"lower-colmajor"`` (alias ``"scs"``): ``S[0,0], S[1,0], ..., S[m-1,0], S[1,1], S[2,1], ...``

(``upper-colmajor`` is the same sequence as lower-triangle row-major, and vice versa.)

Everything here packs the *symmetric part* ``(S + S.T) / 2``: for a symmetric input that is the
exact same number (the halving is exact in floating point), and for a non-symmetric input it
agrees with :meth:`solvers.problem.LMIBlock.matrix`, which symmetrises too.

Vectors of full matrices are column-major (``vec(S) = S.ravel(order="F")``), as in
:class:`solvers.problem.LMIBlock`.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.sparse as sp

__all__ = [
    "ORDERS",
    "smat",
    "svec",
    "svec_index",
    "svec_size",
    "svec_sparse",
]

_SQRT2 = float(np.sqrt(2.0))

#: Accepted ``order`` names, mapped to the canonical one.
ORDERS: dict[str, str] = {
    "upper-colmajor": "upper-colmajor",
    "lower-colmajor": "lower-colmajor",
    "clarabel": "upper-colmajor",
    "scs": "lower-colmajor",
}


def _canonical(order: str) -> str:
    try:
        return ORDERS[order]
    except (KeyError, TypeError):
        raise ValueError(f"order is {order!r}; expected one of {sorted(ORDERS)}") from None


def _check_size(m: object) -> int:
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 0:
        raise ValueError(f"m is {m!r}; expected a nonnegative integer matrix side")
    return int(m)


def svec_size(m: int) -> int:
    """Length ``m(m+1)/2`` of the packed triangle of an ``(m, m)`` matrix."""
    m = _check_size(m)
    return m * (m + 1) // 2


@lru_cache(maxsize=64)
def _tables(m: int, order: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cached index tables for side ``m`` and a canonical ``order`` (arrays are read-only).

    Returns ``(idx, scale, pos, weight)``: ``idx[k]`` is the column-major flat index of the
    ``k``-th packed entry and ``scale[k]`` its factor (1 or sqrt 2); ``pos[r]`` is the packed
    position of full entry ``r`` (both triangles map to the same position) and ``weight[r]`` the
    factor with which it enters that position when packing the symmetric part (1 on the
    diagonal, ``sqrt(2)/2`` off it).
    """
    p = m * (m + 1) // 2
    k = np.arange(p, dtype=np.int64)
    if order == "upper-colmajor":
        # column j holds rows 0..j; it starts at j(j+1)/2
        j = np.repeat(np.arange(m, dtype=np.int64), np.arange(1, m + 1))
        i = k - j * (j + 1) // 2
    else:
        # column j holds rows j..m-1; it starts at sum_{l<j} (m - l)
        counts = np.arange(m, 0, -1, dtype=np.int64)
        j = np.repeat(np.arange(m, dtype=np.int64), counts)
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        i = j + (k - starts[j])
    idx = i + j * m
    mirror = j + i * m
    offdiag = i != j
    scale = np.where(offdiag, _SQRT2, 1.0)
    pos = np.empty(m * m, dtype=np.int64)
    pos[idx] = k
    pos[mirror] = k
    weight = np.ones(m * m)
    weight[idx[offdiag]] = _SQRT2 / 2
    weight[mirror[offdiag]] = _SQRT2 / 2
    for a in (idx, scale, pos, weight):
        a.flags.writeable = False
    return idx, scale, pos, weight


def svec_index(m: int, order: str) -> tuple[np.ndarray, np.ndarray]:
    """Which entries of ``vec(S)`` a packed triangle holds, and with which factor.

    Parameters
    ----------
    m : int
        Matrix side.
    order : {"upper-colmajor", "lower-colmajor", "clarabel", "scs"}
        Packing order (see the module docstring).

    Returns
    -------
    idx : ndarray of int64, shape (m(m+1)/2,)
        Column-major flat indices into the ``m*m`` vector ``vec(S)``.
    scale : ndarray of float64, shape (m(m+1)/2,)
        ``1`` for diagonal entries, ``sqrt(2)`` for off-diagonal ones, so that
        ``svec(S) == scale * vec(S)[idx]`` for a symmetric ``S``.

    Raises
    ------
    ValueError
        If ``order`` is not a known name or ``m`` is not a nonnegative integer.

    Notes
    -----
    The arrays are cached and read-only; copy them before modifying.

    Examples
    --------
    >>> idx, scale = svec_index(2, "scs")
    >>> idx.tolist(), scale.round(4).tolist()
    ([0, 1, 3], [1.0, 1.4142, 1.0])
    """
    idx, scale, _, _ = _tables(_check_size(m), _canonical(order))
    return idx, scale


def svec(S: np.ndarray, order: str) -> np.ndarray:
    """Pack the symmetric part of a square matrix into a scaled triangle.

    Parameters
    ----------
    S : array_like, shape (m, m)
        Square matrix; only ``(S + S.T) / 2`` is packed.
    order : {"upper-colmajor", "lower-colmajor", "clarabel", "scs"}

    Returns
    -------
    ndarray, shape (m(m+1)/2,)

    Raises
    ------
    ValueError
        If ``S`` is not square or ``order`` is unknown.

    Examples
    --------
    >>> svec(np.array([[1.0, 2.0], [2.0, 3.0]]), "clarabel").round(4).tolist()
    [1.0, 2.8284, 3.0]
    """
    order = _canonical(order)
    S = np.asarray(S, dtype=np.float64)
    if S.ndim != 2 or S.shape[0] != S.shape[1]:
        raise ValueError(f"S has shape {S.shape}; expected a square matrix")
    m = S.shape[0]
    _, _, pos, weight = _tables(m, order)
    return np.bincount(pos, weights=weight * S.ravel(order="F"), minlength=m * (m + 1) // 2)


def smat(v: np.ndarray, m: int, order: str) -> np.ndarray:
    """Unpack a scaled triangle into the full symmetric matrix (inverse of :func:`svec`).

    Parameters
    ----------
    v : array_like, shape (m(m+1)/2,)
        Packed triangle, off-diagonal entries scaled by ``sqrt(2)``.
    m : int
        Matrix side.
    order : {"upper-colmajor", "lower-colmajor", "clarabel", "scs"}

    Returns
    -------
    ndarray, shape (m, m)
        Symmetric matrix ``S`` with ``svec(S, order) == v``.

    Raises
    ------
    ValueError
        If ``v`` does not have ``m(m+1)/2`` entries or ``order`` is unknown.
    """
    order = _canonical(order)
    m = _check_size(m)
    v = np.asarray(v, dtype=np.float64).ravel()
    if v.size != m * (m + 1) // 2:
        raise ValueError(
            f"v has {v.size} entries; expected m(m+1)/2 = {m * (m + 1) // 2} for m = {m}"
        )
    _, _, pos, weight = _tables(m, order)
    # entry r is v[pos[r]] divided by its scale: 1 on the diagonal, sqrt(2) off it, i.e. weight[r]
    return (v[pos] * weight).reshape(m, m, order="F")


def svec_sparse(F: sp.spmatrix | sp.sparray, m: int, order: str) -> sp.csc_matrix:
    """Pack every column of a sparse ``(m*m, n)`` matrix of ``vec(F_i)`` into its scaled triangle.

    Column ``i`` of the result is ``svec(F_i, order)`` where column ``i`` of ``F`` is
    ``vec(F_i)`` (column-major).  Works on the nonzeros only, in ``O(nnz(F))`` time and memory;
    the ``m*m x n`` matrix is never densified.

    Parameters
    ----------
    F : sparse matrix, shape (m*m, n)
    m : int
        Matrix side.
    order : {"upper-colmajor", "lower-colmajor", "clarabel", "scs"}

    Returns
    -------
    scipy.sparse.csc_matrix, shape (m(m+1)/2, n)
        With canonical format (sorted indices, no duplicates); explicit zeros produced by
        antisymmetric parts cancelling are dropped.

    Raises
    ------
    TypeError
        If ``F`` is not a scipy.sparse matrix.
    ValueError
        If ``F`` does not have ``m*m`` rows or ``order`` is unknown.
    """
    order = _canonical(order)
    m = _check_size(m)
    if not sp.issparse(F):
        raise TypeError(f"F must be a scipy.sparse matrix, got {type(F).__name__}")
    if F.shape[0] != m * m:
        raise ValueError(f"F has {F.shape[0]} rows; expected m*m = {m * m} for m = {m}")
    _, _, pos, weight = _tables(m, order)
    F = sp.csc_matrix(F, dtype=np.float64)
    n = F.shape[1]
    rows = pos[F.indices]
    data = F.data * weight[F.indices]
    # Both triangles of F_i land on the same packed row: COO -> CSC sums those duplicates.
    out = sp.csc_matrix((data, rows, F.indptr.copy()), shape=(m * (m + 1) // 2, n))
    out.sum_duplicates()
    out.eliminate_zeros()
    return out
