"""Dense kernels and step rules shared by the structured interior-point methods.

Cholesky factors and triangular solves, a Lanczos estimate of the smallest eigenvalue of a
symmetric operator (for the distance to the boundary of the cone), the step to the boundary
verified by a Cholesky test, the ratio test of the nonnegative variables, the centring of a
feasible start, and the low-rank factors of a coefficient matrix by eigendecomposition.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas, lapack

from lipsdp_solvers.problem import LMIBlock

__all__ = [
    "as_slice",
    "boundary_step",
    "centring_mu",
    "chol",
    "factor_columns",
    "lanczos_min",
    "max_step_vec",
    "step_to_boundary",
    "trsm",
]


def chol(A: np.ndarray) -> np.ndarray | None:
    """Lower Cholesky factor of the symmetric ``A`` (lower triangle read), or None."""
    G, info = lapack.dpotrf(A, lower=1, clean=1)
    return G if info == 0 else None


def trsm(G: np.ndarray, B: np.ndarray, trans: int = 0) -> np.ndarray:
    """``G^{-1} B`` (``trans=0``) or ``G^{-T} B`` (``trans=1``) for lower-triangular ``G``."""
    return blas.dtrsm(1.0, G, B, lower=1, trans_a=trans)


def as_slice(idx: np.ndarray) -> slice | np.ndarray:
    """``idx`` as a slice when it is a contiguous increasing range (cheaper indexing)."""
    if idx.size and np.all(np.diff(idx) == 1):
        return slice(int(idx[0]), int(idx[-1]) + 1)
    return idx


def lanczos_min(matvec: Callable[[np.ndarray], np.ndarray], dim: int, steps: int = 12) -> float:
    """Smallest Ritz value of a symmetric operator after ``steps`` Lanczos steps (full
    reorthogonalisation). It is >= the smallest eigenvalue, usually very close to it."""
    k = min(steps, dim)
    rng = np.random.default_rng(0)
    Q = np.empty((dim, k))
    q = rng.standard_normal(dim)
    q /= np.linalg.norm(q)
    alpha, beta = np.empty(k), np.empty(k)
    for j in range(k):
        Q[:, j] = q
        w = matvec(q)
        alpha[j] = q @ w
        w -= Q[:, : j + 1] @ (Q[:, : j + 1].T @ w)
        w -= Q[:, : j + 1] @ (Q[:, : j + 1].T @ w)
        beta[j] = np.linalg.norm(w)
        if beta[j] < 1e-12 * max(1.0, abs(alpha[j])) or j == k - 1:
            k = j + 1
            break
        q = w / beta[j]
    T = np.diag(alpha[:k]) + np.diag(beta[: k - 1], 1) + np.diag(beta[: k - 1], -1)
    return float(np.linalg.eigvalsh(T)[0])

def step_to_boundary(lam_min: float, ok: Callable[[float], bool], cap: float,
                      frac: float) -> float:
    """``min(cap, frac * alpha_max)`` for ``alpha_max = -1 / lam_min`` estimated by Lanczos,
    verified by ``ok`` (a Cholesky test) and shortened until it passes."""
    a = cap if lam_min >= -frac / cap else frac * (-1.0 / lam_min)
    a = min(a, cap)
    for _ in range(30):
        if ok(a):
            return a
        a *= 0.8
    return 0.0

def max_step_vec(x: np.ndarray, dx: np.ndarray) -> float:
    """Largest step ``a <= 1e3`` with ``x + a dx >= 0`` (the ratio test)."""
    neg = dx < 0
    return float(min(1e3, np.min(-x[neg] / dx[neg]))) if np.any(neg) else 1e3

def centring_mu(c: np.ndarray, aZ: np.ndarray, nn: np.ndarray, x0: np.ndarray) -> float | None:
    """The ``mu`` of the centred start ``Y = mu S^{-1}``, ``z = mu / x0``: the least-squares
    fit of the dual equation ``A^*(Y) + z = c``, given ``aZ = A^*(S^{-1})``; None unless
    finite and positive."""
    g = aZ.copy()
    g[nn] += 1.0 / x0[nn]
    gg = float(g @ g)
    mu = float(c @ g) / gg if gg > 0 else np.nan
    return mu if np.isfinite(mu) and mu > 0 else None

def factor_columns(
    block: LMIBlock, tol: float = 1e-12
) -> tuple[sp.csc_matrix, sp.csr_matrix, np.ndarray]:
    """Low-rank factors of every ``F_i`` by an eigendecomposition on its support."""
    m, n = block.size, block.n_vars
    F = block.F
    rows_u, cols_u, vals_u, d_vals, owner = [], [], [], [], []
    col = 0
    for i in range(n):
        lo, hi = F.indptr[i], F.indptr[i + 1]
        idx = F.indices[lo:hi]
        if idx.size == 0:
            continue
        r, c = idx % m, idx // m
        support = np.unique(np.concatenate([r, c]))
        pos = np.searchsorted(support, r), np.searchsorted(support, c)
        Fi = np.zeros((support.size, support.size))
        Fi[pos] = F.data[lo:hi]
        Fi = 0.5 * (Fi + Fi.T)
        lam, V = np.linalg.eigh(Fi)
        keep = np.abs(lam) > tol * max(np.abs(lam).max(), np.finfo(float).tiny)
        for lk, vk in zip(lam[keep], V[:, keep].T, strict=True):
            nz = np.abs(vk) > 0
            rows_u.append(support[nz])
            cols_u.append(np.full(nz.sum(), col))
            vals_u.append(vk[nz])
            d_vals.append(lk)
            owner.append(i)
            col += 1
    U = sp.csc_matrix(
        (np.concatenate(vals_u), (np.concatenate(rows_u), np.concatenate(cols_u))), shape=(m, col)
    ) if col else sp.csc_matrix((m, 0))
    D = sp.diags(np.asarray(d_vals, dtype=float), format="csr")
    return U, D, np.asarray(owner, dtype=np.int64)


def boundary_step(lam_min: float, factor: Callable[[float], object | None], cap: float,
                  frac: float, verify: bool) -> tuple[float, object | None]:
    """:func:`step_to_boundary` with ``factor(a)`` (a factorisation of the iterate after a step
    ``a``, None where it fails) as the test, returning the step and the factor of the accepted
    one (None without ``verify``, where the estimate is taken unchecked, or for a zero step)."""
    if not verify:
        return step_to_boundary(lam_min, lambda _a: True, cap, frac), None
    found: list = []

    def ok(a: float) -> bool:
        found.clear()
        f = factor(a)
        if f is None:
            return False
        found.append(f)
        return True

    a = step_to_boundary(lam_min, ok, cap, frac)
    return a, (found[0] if a > 0.0 and found else None)
