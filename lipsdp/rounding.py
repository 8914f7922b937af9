"""The float64 kernels of the proof and its rounding-error bounds (docs/math.md §4.2).

The BLAS/LAPACK wrappers the shifted recursion runs on, and the shift ``sigma`` of each diagonal
block: Higham's componentwise backward-error bound (4.1), the a priori row bounds (4.2), the
weighted Gershgorin sum (4.3) and the underflow allowance (4.4). The recursion itself is in
:mod:`lipsdp.proof`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
from scipy.linalg import blas, lapack

#: Unit roundoff of float64 (round to nearest).
UNIT_ROUNDOFF = 2.0**-53
#: Smallest positive subnormal: the absolute error of one operation whose result underflows.
_ETA = 2.0**-1074
#: Share of every diagonal entry reserved for the absolute (underflow) errors (docs/math.md §4).
_UNDERFLOW_SHARE = 2.0**-600
#: Extra roundings per entry allowed for beyond the inner products (shift, p-term, K-route
#: scaling by m^2 lambda_i lambda_j, the rounded multipliers, the reciprocal in triangular solves).
_EXTRA_ROUNDINGS = 8


def _gamma(n: int) -> float:
    """``gamma_n = n u / (1 - n u)`` (Higham), rounded up."""
    nu = n * UNIT_ROUNDOFF
    return nu / (1.0 - nu) * (1.0 + 16 * UNIT_ROUNDOFF)


# The hot loop calls SciPy's BLAS/LAPACK only. NumPy and SciPy wheels each bundle an OpenBLAS
# with its own thread pool; alternating between the two makes each pool's spinning threads
# steal the cores from the other (5x slower per stage at n = 256 on 2 cores, 2x at n = 1000).
# No BLAS routine is called on an empty matrix (LAPACK prints parameter errors for those).


def _cholesky(X: np.ndarray) -> np.ndarray | None:
    """Lower Cholesky factor of the symmetric ``X`` (its lower triangle is read), or None."""
    if X.size == 0:
        return np.zeros((0, 0))
    if X.flags.c_contiguous:
        # X.T is X in Fortran order (no copy) and its upper triangle is X's lower one:
        # X = U^T U gives the lower factor U^T (a C-ordered view, which _solve_lower reads as is).
        U, info = lapack.dpotrf(X.T, lower=0, clean=1)
        G = U.T
    else:
        G, info = lapack.dpotrf(X, lower=1, clean=1)
    if info != 0 or not np.all(np.isfinite(np.diagonal(G))):
        return None
    return G


def _solve_lower(G: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``G^{-1} B`` for the lower-triangular ``G`` (``B`` best in Fortran order, e.g. ``W.T``)."""
    if B.size == 0 or G.size == 0:
        return np.zeros(B.shape)
    if G.flags.c_contiguous and not G.flags.f_contiguous:
        # G^T is upper triangular in Fortran order: G^{-1} B = (G^T)^{-T} B, no copy.
        return blas.dtrsm(1.0, G.T, B, lower=0, trans_a=1)
    return blas.dtrsm(1.0, G, B, lower=1)


def _add_diagonal(A: np.ndarray, d: np.ndarray | float) -> None:
    """``A += diag(d)`` in place (a strided view of the diagonal: no index arrays)."""
    if A.flags.c_contiguous or A.flags.f_contiguous:
        A.ravel(order="K")[:: A.shape[0] + 1] += d
    else:
        A[np.diag_indices_from(A)] += d


def _symmetric(K: np.ndarray) -> np.ndarray:
    """Fill the (zero) strict upper triangle of ``K`` from its lower one, in place."""
    K += np.tril(K, -1).T
    return K


def _gram(A: np.ndarray, full: bool = True) -> np.ndarray:
    """``A^T A`` by a rank-k update: full and symmetric, or (``full=False``) its lower triangle
    only, for matrices read by LAPACK's lower-triangle routines alone."""
    if A.size == 0:
        return np.zeros((A.shape[1], A.shape[1]))
    G = blas.dsyrk(1.0, A, trans=1, lower=1)
    return _symmetric(G) if full else G


def _max_gram_eig(Y: np.ndarray) -> float:
    """``lambda_max(Y^T Y) = ||Y||_2^2`` through the smaller Gram matrix."""
    if Y.size == 0:
        return 0.0
    G = _gram(Y, False) if Y.shape[1] <= Y.shape[0] else _gram(Y.T, False)
    if not np.all(np.isfinite(G)):
        return float("nan")
    return float(sla.eigvalsh(G, subset_by_index=[G.shape[0] - 1, G.shape[0] - 1],
                              check_finite=False)[0])


# --- the shift (docs/math.md §4) -------------------------------------------------------------


@dataclass(frozen=True)
class _Block:
    """What the shift of one diagonal block needs: its pattern (the widths of the blocks before
    and after it and whether the block before is the exactly factored identity)."""

    size: int
    prev: int = 0  # width of block b-1 (0 for the first block)
    prev_exact: bool = False  # block b-1 is the input block I, factored exactly
    next: int = 0  # width of block b+1 (0 for the output block)

    @property
    def gamma_own(self) -> float:
        """Backward error of the entries inside the block (inner products over b-1 and b)."""
        return _gamma(max(self.prev, self.size) + _EXTRA_ROUNDINGS)

    @property
    def gamma_max(self) -> float:
        """The largest backward-error constant of the block's rows (any column block)."""
        return _gamma(max(self.prev, self.size) + _EXTRA_ROUNDINGS)

    def cholesky_weight(self) -> float:
        """``sum over the pattern of count * gamma``: the a priori shift per unit of ``D_i``."""
        w = self.size * self.gamma_own
        if self.prev and not self.prev_exact:
            w += self.prev * _gamma(self.prev + _EXTRA_ROUNDINGS)
        if self.next:
            w += self.next * _gamma(self.size + _EXTRA_ROUNDINGS)
        return w


@dataclass
class _Shift:
    """The shift of one diagonal block and what its a posteriori check needs."""

    sigma: np.ndarray
    D: np.ndarray  # bounds on the squared row norms of the computed factor
    budget: np.ndarray  # the part of sigma reserved for the factorisation's backward error
    gamma: float


def _abs_gershgorin(V: np.ndarray, w: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``(|V|^T diag(w) |V| s)_i / s_i`` rounded up (``w, s >= 0``): the weighted Gershgorin
    row sums of ``|V|^T diag(w) |V|``, exactly as computed (no Cauchy-Schwarz)."""
    A = np.abs(V)
    out = (A.T @ (w * (A @ s))) / s
    return out * (1.0 + _gamma(sum(V.shape) + 8))


def _shift(
    block: _Block,
    lam: np.ndarray,
    share: float,
    p_term: tuple[float, np.ndarray, np.ndarray] | None = None,
    g_term: tuple[np.ndarray, float] | None = None,
) -> _Shift:
    """The shift of one diagonal block (docs/math.md §4.2, (4.1)-(4.3)).

    ``lam``: the block's multipliers (ones for the input block); ``p_term = (p, W, lam_next)``:
    the ``p W^T Lambda_next W`` part; ``g_term = (W_l, rho)``: the output part
    ``W_l^T W_l / rho``. ``D_i`` bounds the squared norm of row ``i`` of the computed factor
    (4.2); ``sigma_i`` bounds row ``i`` of the Gershgorin sum of every error with the weights
    ``D^{-1/2}`` (4.3). Of the factorisation's backward error only ``share`` of the a priori
    bound is reserved (``budget``); with ``share < 1`` the caller checks it a posteriori.
    """
    n = lam.size
    inflate = 1.0 + 2.0 * _gamma(n + 16)
    lam_up = lam * (1.0 + 4.0 * UNIT_ROUNDOFF)
    a_up = lam_up.copy()
    e_diag = _gamma(_EXTRA_ROUNDINGS) * 2.0 * lam
    if p_term is not None:
        p, V, lam_next = p_term
        gp = _gamma(V.shape[0] + _EXTRA_ROUNDINGS)
        w = lam_next * (1.0 + 4.0 * UNIT_ROUNDOFF)
        b = np.einsum("ji,ji->i", w[:, None] * V, V) * (1.0 + gp)  # >= diag(W^T Lambda W)
        a_up = a_up + max(p, 0.0) * b
        e_diag = e_diag + gp * abs(p) * b
    if g_term is not None:
        Wl, rho = g_term
        gg = _gamma(Wl.shape[0] + _EXTRA_ROUNDINGS)
        g = np.einsum("ji,ji->i", Wl, Wl) * (1.0 + gg) / rho * (1.0 + 4.0 * UNIT_ROUNDOFF)
        e_diag = e_diag + gg * g
    D = (a_up + e_diag) / (1.0 - block.gamma_own) * inflate
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        sqrt_d = np.sqrt(D)
        s = 1.0 / sqrt_d
        budget = share * D * block.cholesky_weight()
        sigma = budget + e_diag
        if p_term is not None and p != 0.0:
            sigma = sigma + gp * abs(p) * _abs_gershgorin(V, w, s)
        if g_term is not None:
            sigma = sigma + gg / rho * _abs_gershgorin(Wl, np.ones(Wl.shape[0]), s)
        sigma = (sigma + _UNDERFLOW_SHARE * D) * inflate
    return _Shift(sigma, D, budget, block.gamma_max)


@dataclass
class _Factored:
    """One block of the computed factor ``L-hat`` (docs/math.md §4.2): the Cholesky factor of
    its pivot (None for the exactly factored input block) and its coupling to the block before,
    ``|L-hat_{b,b-1}| = c[:, None] * |Y|^T``; with the block's shift."""

    G: np.ndarray | None
    Yabs: np.ndarray | None = None
    c: np.ndarray | None = None
    shift: _Shift | None = None


def _backward_error_ok(blocks: list[_Factored]) -> bool:
    """Whether the computed factor's backward error fits the budgets: for every row,
    ``gamma * (|L| |L|^T s)_i / s_i <= budget_i`` with ``s = D^{-1/2}`` (docs/math.md §4.2,
    (4.1) and (4.3) with the actual ``|L-hat|`` in place of the Cauchy-Schwarz bound), over the
    entries that have an error (not those of the exact input block)."""
    nb = len(blocks)
    s = [None if f.shift is None else 1.0 / np.sqrt(f.shift.D) for f in blocks]
    absG = [None if f.G is None else np.abs(f.G) for f in blocks]
    # v_b = |L|^T s on the columns of block b, from the rows of blocks b and b + 1 (the rows of
    # the exact input block have no error and are left out).
    v = []
    for b in range(nb):
        vb = absG[b].T @ s[b] if absG[b] is not None else 0.0
        if b + 1 < nb:
            nxt = blocks[b + 1]
            vb = vb + nxt.Yabs @ (nxt.c * s[b + 1])
        v.append(vb)
    for b in range(nb):
        f = blocks[b]
        if f.shift is None:  # the exact input block: no error in its rows
            continue
        row = absG[b] @ v[b]
        if f.Yabs is not None:
            row = row + f.c * (f.Yabs.T @ v[b - 1])
        need = f.shift.gamma * row * np.sqrt(f.shift.D) * (1.0 + _gamma(3 * row.size + 8))
        if not np.all(need <= f.shift.budget):
            return False
    return True


def _underflow_ok(D_all: list[np.ndarray], inner: int, pattern: int, coef: float,
                  rho: float) -> bool:
    """Whether the reserved share ``_UNDERFLOW_SHARE * D_i`` covers every absolute error.

    An operation whose result underflows errs by at most ``eta`` absolutely, on top of its
    relative error (docs/math.md §4.2, (4.4)). Written into the backward-error relations, the
    errors of entry ``(i, j)`` are at most ``(inner + 16) eta`` times the largest factor they
    are scaled by: ``1 + m^2 + |p|`` (the slopes), ``1 + max D`` (the multipliers and the
    computed factor) and ``1 + 1 / rho`` (the output term); weighted by ``sqrt(D_i / D_j)``
    and summed over the ``pattern`` entries of a row, relative to ``D_i``, they are at most
    that times ``pattern / min(1, min D)``.
    """
    D = np.concatenate([np.ones(1), *D_all]) if D_all else np.ones(1)
    d_min, d_max = float(D.min()), float(D.max())
    if not (d_min > 0 and np.isfinite(d_max)) or d_max > 2.0**200:
        return False
    tau = ((inner + 16) * _ETA * pattern * (1.0 + coef) * (1.0 + d_max) * (1.0 + 1.0 / rho)
           / min(1.0, d_min))
    return tau <= _UNDERFLOW_SHARE
