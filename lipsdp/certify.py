"""Certification: a proof in exact arithmetic that the LipSDP inequality holds (docs/math.md §4).

Given the directions ``Lambda_k`` of a point, the forward block-LDL^T recursion from the input
block to the output block (one ``n_k x n_k`` Cholesky per hidden layer, ``O(sum n_k^3)``) is run
in float64 on the matrix ``-M(rho, T) / rho`` *with its diagonal lowered by a shift* ``sigma``
that bounds, a priori, every rounding error the recursion can make (Higham's componentwise
backward-error bound for Cholesky, Cauchy-Schwarz on the computed factor, and Gershgorin with the
weights ``D^{-1/2}``; Rump's verified positive-definiteness test, applied block by block). If
every pivot passes its Cholesky, ``-M(rho, T) >= 0`` holds in exact arithmetic for the reported
``rho`` and the reported float multipliers ``t = rho * Lambda / 2``; the reported value rounds
``sqrt(rho)`` up. The proof is stated in docs/math.md §4; the constants below carry its names.

The all-at-once elimination onto the input block is not used: it loses accuracy with depth.
Quantities are not rescaled here: callers pass the normalised network of
:mod:`lipsdp.scaling`, where nothing under- or overflows (the public :func:`certify` does so).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import scipy.linalg as sla
from scipy.linalg import blas, lapack

from .network import Network, as_network
from .result import Certificate, LipschitzResult

__all__ = ["StagePolicy", "certify", "certify_direction", "prove"]

logger = logging.getLogger(__name__)

#: Unit roundoff of float64 (round to nearest).
UNIT_ROUNDOFF = 2.0**-53
#: Smallest positive subnormal: the absolute error of one operation whose result underflows.
_ETA = 2.0**-1074
#: Share of every diagonal entry reserved for the absolute (underflow) errors (docs/math.md §4).
_UNDERFLOW_SHARE = 2.0**-600
#: Extra roundings per entry allowed for beyond the inner products (shift, p-term, K-route
#: scaling by m^2 lambda_i lambda_j, the rounded multipliers, the reciprocal in triangular solves).
_EXTRA_ROUNDINGS = 8
#: Relative steps tried above the float recursion's rho for the output pivot (search mode).
_RHO_STEPS = tuple(2.0**-45 * 8.0**j for j in range(13))
#: Bisection steps between the last failing and the first passing of them.
_BISECTIONS = 6


def _gamma(n: int) -> float:
    """``gamma_n = n u / (1 - n u)`` (Higham), rounded up."""
    nu = n * UNIT_ROUNDOFF
    return nu / (1.0 - nu) * (1.0 + 16 * UNIT_ROUNDOFF)


#: A stage policy: ``choose(k, K) -> Lambda_{k+1}`` for the 0-based hidden layer ``k``, given
#: ``K = W_k X_k^{-1} W_k^T`` (``n_{k+1} x n_{k+1}``, symmetric PSD, read-only) from the pivot the
#: certification has just factored (docs/math.md §3 with ``p = 0``, where ``X_k = M_k``).
StagePolicy = Callable[[int, np.ndarray], np.ndarray]


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


def _bad_direction(lam: object, n: int, k: int) -> str:
    """Why ``lam`` is not a valid policy direction for hidden layer ``k`` (0-based), or ``""``."""
    if not isinstance(lam, np.ndarray) or lam.shape != (n,):
        return f"multipliers[{k}] has shape {np.shape(lam)}; expected ({n},)"
    if not np.all(np.isfinite(lam)) or np.any(lam <= 0):
        return f"multipliers[{k}] has zero, negative or non-finite entries"
    return ""


@dataclass(frozen=True)
class Proof:
    """Outcome of :func:`prove` (internal).

    When ``ok``, ``-M(rho, t) >= 0`` holds in exact arithmetic for ``t_k = rho * lams[k] / 2``
    rounded to float64 (search mode), or for the caller's exact ``t`` with ``lams = 2 t / rho``
    (fixed mode). ``estimate`` is the float recursion's ``lambda_max(W_l M_l^{-1} W_l^T)`` for
    the shifted matrix, the value an unproved float64 check would have reported.
    """

    ok: bool
    rho: float = float("nan")
    reason: str = ""
    lams: tuple[np.ndarray, ...] = ()
    dropped: int = 0
    estimate: float = float("nan")
    #: Whether the factorisation's backward error was bounded with its actual |L| (a
    #: posteriori) or, after that failed, a priori.
    a_posteriori: bool = True


def _fail(reason: str, lams: Sequence[np.ndarray] = ()) -> Proof:
    return Proof(False, reason=reason, lams=tuple(lams))


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


# --- dead neurons ----------------------------------------------------------------------------


def _drop_dead(
    net: Network, lams: list[np.ndarray]
) -> tuple[list[np.ndarray], list[np.ndarray], int, str]:
    """Weights and directions with the neurons removed whose row of ``M`` is identically zero.

    Neuron ``i`` of hidden layer ``k`` has such a row when ``Lambda_k,i = 0`` and every neuron it
    feeds has ``Lambda_{k+1,j} W_k[j, i] = 0`` (for the last hidden layer: its output weights are
    zero). Removing a zero row and column keeps positive semidefiniteness equivalent. Returns
    ``(weights, lams, dropped, reason)``; ``reason`` is non-empty when a zero multiplier sits on a
    row that is not zero (then ``M`` is not negative semidefinite).
    """
    Ws = list(net.weights)
    l = net.n_hidden
    keep = []
    for k in range(1, l + 1):
        lam = lams[k - 1]
        zero = lam == 0.0
        if not np.any(zero):
            keep.append(None)
            continue
        if k < l:
            feeds = (lams[k][:, None] * Ws[k]) != 0.0  # (n_{k+1}, n_k)
        else:
            feeds = Ws[l] != 0.0
        live_feed = np.any(feeds, axis=0)
        # A zero multiplier on a live row leaves the diagonal p_{k+1} sum_j lambda_j w_ji^2
        # (or -||w_i||^2 / rho at the output) against nonzero couplings: only p_{k+1} > 0 helps.
        bad = zero & live_feed & (k == l or net.p[k] <= 0.0)
        if np.any(bad):
            j = int(np.flatnonzero(bad)[0])
            where = (f"feeds neurons of layer {k + 1} with positive multipliers" if k < l
                     else "has nonzero output weights")
            return Ws, lams, 0, f"neuron {j} of hidden layer {k} has multiplier 0 but {where}"
        keep.append(~(zero & ~live_feed))
    dropped = 0
    out_lams = list(lams)
    for k in range(1, l + 1):
        mask = keep[k - 1]
        if mask is None or np.all(mask):
            continue
        if not np.any(mask):
            return Ws, lams, 0, f"every neuron of hidden layer {k} has multiplier 0"
        dropped += int(np.count_nonzero(~mask))
        Ws[k - 1] = Ws[k - 1][mask]
        Ws[k] = Ws[k][:, mask]
        out_lams[k - 1] = out_lams[k - 1][mask]
    return Ws, out_lams, dropped, ""


# --- the proof -------------------------------------------------------------------------------


def prove(
    net: Network, lams: Sequence[np.ndarray] | StagePolicy, rho: float | None = None
) -> Proof:
    """Prove ``M(rho, rho * Lambda / 2) <= 0`` for the directions ``lams`` (docs/math.md §4).

    Parameters
    ----------
    net : Network
        The network, best normalised (:func:`lipsdp.scaling.normalise`); the proof holds for any
        scale, but values far from 1 may under- or overflow and then fail to certify.
    lams : list of ndarray or StagePolicy
        Nonnegative directions ``Lambda_k`` (one per hidden layer), or a policy that chooses
        each from the ``K_k`` this recursion computes anyway (closed forms, certified in the same
        pass with one Cholesky per stage; a policy must return positive entries).
    rho : float, optional
        Prove at exactly this ``rho`` (the exact multipliers are then ``t = rho * lams / 2`` in
        real arithmetic: the caller passes ``lams = fl(2 t / rho)`` and keeps its ``t``). Without
        it, the smallest ``rho`` found by trying ``rho_hat (1 + delta)`` above the float
        recursion's ``rho_hat`` for ``delta = 2^-45, 2^-42, ...`` and bisecting.

    Returns
    -------
    Proof
        ``ok`` with the proved ``rho``, or a reason naming the pivot that failed.

    Notes
    -----
    The pass first reserves :data:`_A_POSTERIORI_SHARE` of the a priori backward-error bound and
    checks the actual one afterwards (docs/math.md §4.2); where a row exceeds its share, the pass
    is repeated with the full a priori bound, which needs no check.
    """
    l = net.n_hidden
    policy = lams if callable(lams) else None
    if policy is None:
        lams = [np.asarray(lam, dtype=np.float64) for lam in lams]
        if len(lams) != l:
            return _fail(f"{len(lams)} directions for {l} hidden layers")
        for k, lam in enumerate(lams):
            if lam.shape != (net.hidden_widths[k],):
                return _fail(f"multipliers[{k}] has shape {lam.shape}; "
                             f"expected ({net.hidden_widths[k]},)")
            if np.any(lam < 0) or not np.all(np.isfinite(lam)):
                return _fail(f"multipliers[{k}] has negative or non-finite entries")
        Ws, used, dropped, reason = _drop_dead(net, lams)
        if reason:
            return _fail(reason, lams)
    else:
        Ws, used, dropped = list(net.weights), None, 0
    if l == 0:
        proof = _prove_single(Ws[0], rho, _A_POSTERIORI_SHARE)
        if proof.reason == _OVER_BUDGET:
            proof = replace(_prove_single(Ws[0], rho, 1.0), a_posteriori=False)
        return proof
    proof = _pass(net, Ws, used, policy, rho, _A_POSTERIORI_SHARE)
    if not proof.ok and proof.reason == _OVER_BUDGET:
        proof = replace(_pass(net, Ws, used, policy, rho, 1.0), a_posteriori=False)
    if not proof.ok:
        return proof
    return replace(proof, lams=tuple(_expand(proof.lams, lams)), dropped=dropped)


#: Share of the a priori backward-error bound reserved at first (docs/math.md §4.2): on dense
#: random and trained networks the actual one measured 2-25% of it.
_A_POSTERIORI_SHARE = 0.3
_OVER_BUDGET = "the factorisation's backward error exceeds the reserved share"


def _pass(net: Network, Ws: list[np.ndarray], lams: list[np.ndarray] | None,
          policy: StagePolicy | None, rho: float | None, share: float) -> Proof:
    """One shifted recursion (docs/math.md §4.2) with ``share`` of the a priori bound."""
    l = net.n_hidden
    used: list[np.ndarray] = [] if lams is None else lams
    p, m = net.p, net.m
    sizes = [Ws[0].shape[1], *(W.shape[0] for W in Ws[:-1])]
    first_exact = p[0] == 0.0
    factored: list[_Factored] = []
    pattern = max(a + b + c for a, b, c in zip([0, *sizes[:-1]], sizes, [*sizes[1:], 0],
                                               strict=True))
    inner = max(sizes) + _EXTRA_ROUNDINGS
    M: np.ndarray | None = None  # Schur complement of block k-1 (unshifted); None: identity
    Yabs_c: tuple | None = None  # |Y| and c of the coupling into the block being factored
    for k in range(1, l + 1):
        V = Ws[k - 1]  # (n_k, n_{k-1})
        pk, mk = float(p[k - 1]), float(m[k - 1])
        b = k - 1  # the block whose pivot is factored at this stage
        block = _Block(sizes[b], sizes[b - 1] if b else 0, b == 1 and first_exact, sizes[k])
        lam_b = np.ones(sizes[0]) if b == 0 else used[b - 1]
        coupling = {} if Yabs_c is None else {"Yabs": Yabs_c[0], "c": Yabs_c[1]}
        K = None
        if pk == 0.0:
            if b == 0:  # the exact input block: G_0 = I, Y = W_0^T
                Y = V.T
                factored.append(_Factored(None))
            else:
                sh = _shift(block, lam_b, share)
                X = M  # M is not needed again: shift and factor it in place
                _add_diagonal(X, -sh.sigma)
                G = _cholesky(X)
                if G is None:
                    return _fail(f"pivot X_{b} (block {b}) is not positive definite", used)
                factored.append(_Factored(G, shift=sh, **coupling))
                Y = _solve_lower(G, V.T)
            K = _gram(Y, full=policy is not None)  # the rest reads its lower triangle
            if not np.all(np.isfinite(K)):
                return _fail(f"K_{k} has non-finite entries", used)
        if policy is not None:
            if K is None:  # p != 0: the policy's K from the pivot without its p-term
                G0 = None if M is None else _cholesky(M)
                if M is not None and G0 is None:
                    return _fail(f"pivot M_{b} (block {b}) is not positive definite", used)
                Kp = _gram(V.T if G0 is None else _solve_lower(G0, V.T))
            else:
                Kp = K
            try:
                lam = policy(k - 1, Kp)
            except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
                return _fail(f"the stage policy failed at hidden layer {k}: {exc}", used)
            bad = _bad_direction(lam, V.shape[0], k - 1)
            if bad:
                return _fail(f"the stage policy returned bad {bad}", used)
            used.append(np.array(lam, dtype=np.float64))
        lam = used[k - 1]
        if pk == 0.0:
            Yabs_c = (np.abs(Y), abs(mk) * lam)
            Mk = K  # K is not needed again (the policy has seen it): scale it in place
            Mk *= (-mk * mk) * lam[:, None]
            Mk *= lam[None, :]
        else:
            LW = lam[:, None] * V  # Lambda_k W_{k-1}
            sh = _shift(block, lam_b, share, p_term=(pk, V, lam))
            X = np.eye(sizes[0]) if M is None else M  # M is not needed again
            X += pk * blas.dgemm(1.0, V.T, LW.T, trans_b=1)
            _add_diagonal(X, -sh.sigma)
            G = _cholesky(X)
            if G is None:
                return _fail(f"pivot X_{b} (block {b}) is not positive definite", used)
            factored.append(_Factored(G, shift=sh, **coupling))
            Y = _solve_lower(G, LW.T)
            Yabs_c = (np.abs(Y), np.full(lam.size, abs(mk)))
            Mk = _gram(Y, full=False)
            Mk *= -mk * mk
            if not np.all(np.isfinite(Mk)):
                return _fail(f"M_{k} has non-finite entries", used)
        _add_diagonal(Mk, lam)
        M = Mk
    # The output block: M_l - W_l^T W_l / rho, shifted.
    Wl = Ws[l]
    block = _Block(sizes[l], sizes[l - 1], l == 1 and first_exact)
    lam_l = used[l - 1]
    Gout = _gram(Wl, full=False)
    X = M.copy()
    _add_diagonal(X, -_shift(block, lam_l, share).sigma)
    F = _cholesky(X)
    if F is None:
        return _fail(f"pivot M_{l} (block {l}) is not positive definite", used)
    estimate = _max_gram_eig(_solve_lower(F, Wl.T))
    if not (np.isfinite(estimate) and estimate > 0):
        return _fail(f"the recursion gives rho = {estimate:g}", used)

    def passes(r: float) -> _Factored | None:
        sh = _shift(block, lam_l, share, g_term=(Wl, r))
        P = Gout * (-1.0 / r)  # one temporary (two roundings per entry, within (4.1))
        P += M
        _add_diagonal(P, -sh.sigma)
        G = _cholesky(P)
        return None if G is None else _Factored(G, Yabs_c[0], Yabs_c[1], sh)

    r, last = _search(passes, estimate, rho)
    if last is None:
        what = f"rho = {rho:.17g}" if rho is not None else f"rho up to {r:.6g}"
        return _fail(f"output pivot (block {l}) is not positive definite at {what}", used)
    factored.append(last)
    D_all = [f.shift.D for f in factored if f.shift is not None]
    coef = float(np.max(net.m**2 + np.abs(net.p)))
    if not _underflow_ok(D_all, inner, pattern, coef, r):
        return _fail("the multipliers span too many orders of magnitude for the "
                     "rounding-error bound (docs/math.md §4)", used)
    if share < 1.0 and not _backward_error_ok(factored):
        return _fail(_OVER_BUDGET, used)
    return Proof(True, float(r), lams=tuple(used), estimate=estimate)


def _search(passes: Callable[[float], object], estimate: float, rho: float | None):
    """``(rho, passes(rho))`` for the fixed ``rho``, or the smallest ``rho`` found above
    ``estimate``: the steps of :data:`_RHO_STEPS`, then bisection (in ``log``) between the last
    failing and the first passing step. ``passes`` returns None where the pivot fails."""
    if rho is not None:
        return rho, passes(rho)
    lo = None
    for step in _RHO_STEPS:
        r = estimate * (1.0 + step)
        out = passes(r)
        if out is not None:
            break
        lo = step
    else:
        return r, None
    if lo is not None:
        hi = step
        for _ in range(_BISECTIONS):
            mid = float(np.sqrt(lo * hi))
            trial = passes(estimate * (1.0 + mid))
            if trial is None:
                lo = mid
            else:
                hi, out = mid, trial
        r = estimate * (1.0 + hi)
    return r, out


def _expand(used: Sequence[np.ndarray], given: object) -> list[np.ndarray]:
    """The directions at full width (zeros where dead neurons were removed)."""
    if callable(given):
        return list(used)
    return [np.asarray(lam, dtype=np.float64).copy() for lam in given]


def _prove_single(W: np.ndarray, rho: float | None, share: float) -> Proof:
    """``rho I - W^T W >= 0`` through the smaller Gram (same nonzero spectrum)."""
    A = W.T if W.shape[0] > W.shape[1] else W  # rows: the smaller side
    G = _gram(A.T, full=False)  # A A^T, (r, r), lower triangle
    r_side = G.shape[0]
    block = _Block(r_side)
    ones = np.ones(r_side)
    estimate = float(sla.eigvalsh(G, subset_by_index=[r_side - 1, r_side - 1],
                                  check_finite=False)[0]) if np.all(np.isfinite(G)) else np.nan
    if not (np.isfinite(estimate) and estimate > 0):
        return _fail(f"||W||^2 estimate is {estimate:g}")
    At = np.ascontiguousarray(A.T)  # A A^T = At^T At: the output term's matrix

    def passes(r: float) -> _Factored | None:
        sh = _shift(block, ones, share, g_term=(At, r))
        P = G * (-1.0 / r)
        _add_diagonal(P, 1.0 - sh.sigma)
        L = _cholesky(P)
        return None if L is None else _Factored(L, shift=sh)

    r, last = _search(passes, estimate, rho)
    if last is None:
        return _fail("rho I - W^T W is not positive definite at the rho tried")
    if not _underflow_ok([last.shift.D], r_side + _EXTRA_ROUNDINGS, r_side, 0.0, r):
        return _fail("the weights span too many orders of magnitude")
    if share < 1.0 and not _backward_error_ok([last]):
        return _fail(_OVER_BUDGET)
    return Proof(True, float(r), estimate=estimate)


# --- results ---------------------------------------------------------------------------------


def value_from_rho(rho: float) -> float:
    """An upper bound ``v`` on ``sqrt(rho)`` with ``fl(v * v) >= rho`` (three floats up)."""
    v = float(np.sqrt(rho))
    for _ in range(3):
        v = float(np.nextafter(v, np.inf))
    return v


def multipliers_of(proof: Proof) -> list[np.ndarray]:
    """The float multipliers ``t_k = fl(rho * Lambda_k / 2)`` that a search-mode proof covers."""
    half = 0.5 * proof.rho
    return [half * lam for lam in proof.lams]


def _subnormal(ts: Sequence[np.ndarray]) -> bool:
    tiny = np.finfo(float).tiny
    return any(np.any((t != 0) & (np.abs(t) < tiny)) for t in ts)


def failed(method: str, reason: str, *, info: dict | None = None,
           **fields: object) -> LipschitzResult:
    """The uncertified result: ``nan``, no multipliers, a status that says why."""
    return LipschitzResult(value=np.nan, certified=False, multipliers=[],
                           status=f"not_certified: {reason}", method=method,
                           info={"reason": reason, **(info or {})}, **fields)


def result_of(proof: Proof, method: str, ts: list[np.ndarray] | None = None) -> LipschitzResult:
    """The certified result of a successful proof (``ts``: the exact multipliers of a
    fixed-mode proof; default those of the search mode)."""
    ts = multipliers_of(proof) if ts is None else ts
    if _subnormal(ts):
        return failed(method, "a multiplier is below float64's normal range")
    value = value_from_rho(proof.rho)
    info = {"rho_estimate": proof.estimate, "proof_margin": proof.rho / proof.estimate - 1.0,
            "backward_error": "a posteriori" if proof.a_posteriori else "a priori"}
    if proof.dropped:
        info["dropped_neurons"] = proof.dropped
    return LipschitzResult(
        value=value,
        certified=True,
        multipliers=ts,
        status="certified",
        method=method,
        published_value=value,
        certificate=Certificate(rho=proof.rho, multipliers=tuple(ts)),
        info=info,
    )


def certify_direction(
    net: Network,
    lams: Sequence[np.ndarray] | StagePolicy,
    *,
    method: str = "certify",
) -> tuple[LipschitzResult, Proof]:
    """Prove the ray ``T = rho * Lambda / 2`` (docs/math.md §4) at its smallest proved ``rho``.

    ``lams`` is a list of directions or a :data:`StagePolicy` (see :func:`prove`); the returned
    multipliers are those of the directions actually proved. ``net`` is used as given (pass the
    normalised network, :func:`lipsdp.scaling.normalise`).
    """
    proof = prove(net, lams)
    if not proof.ok:
        return failed(method, proof.reason), proof
    return result_of(proof, method), proof


def _as_multipliers(
    net: Network, multipliers: object, name: str = "multipliers"
) -> list[np.ndarray]:
    if isinstance(multipliers, np.ndarray) and multipliers.ndim == 1 and net.n_hidden == 1:
        multipliers = [multipliers]
    if isinstance(multipliers, (str, bytes)) or not isinstance(multipliers, (Sequence, np.ndarray)):
        raise TypeError(f"{name} is {type(multipliers).__name__}; expected a list of 1-D arrays")
    if len(multipliers) != net.n_hidden:
        raise ValueError(
            f"{name} has {len(multipliers)} entries; expected {net.n_hidden}, one per hidden layer"
        )
    out = []
    for k, (t, n) in enumerate(zip(multipliers, net.hidden_widths, strict=True)):
        try:
            a = np.array(t, dtype=np.float64, copy=True)
        except (TypeError, ValueError):
            raise TypeError(f"{name}[{k}] is {type(t).__name__}; expected numbers") from None
        if a.ndim == 0:
            a = np.full(n, float(a))
        if a.ndim != 1 or a.size != n:
            raise ValueError(
                f"{name}[{k}] has shape {np.shape(t)}; expected ({n},) for hidden layer {k + 1}"
            )
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name}[{k}] has non-finite entries; expected finite numbers")
        if np.any(a < 0):
            raise ValueError(f"{name}[{k}] has negative entries; expected t >= 0")
        out.append(a)
    return out


def certify(
    net: Network | Sequence[np.ndarray],
    multipliers: Sequence[np.ndarray] | Certificate,
    rho: float | None = None,
    *,
    slopes: object = None,
) -> LipschitzResult:
    """Prove a Lipschitz bound from LipSDP-Neuron multipliers (docs/math.md §4).

    Parameters
    ----------
    net : Network or list of ndarray
        The network (a list of weights uses ``slopes``, default ReLU).
    multipliers : list of array_like or Certificate
        ``t_k >= 0`` for each hidden layer in the §2 convention of docs/math.md (a scalar per
        layer is broadcast, as for LipSDP-Layer), or a result's ``certificate`` (multipliers and
        ``rho`` with exact powers of two, for networks whose multipliers leave float64's range).
    rho : float, optional
        The solver's ``rho`` that came with these multipliers. When given, the direction
        ``Lambda_k = 2 t_k / rho`` is proved at its smallest proved ``rho`` and rescaled. When
        omitted, the smallest ``rho`` with ``M(rho, T) <= 0`` for exactly these ``t`` is found
        by bisection, each step a proof. A certificate carries its ``rho`` (its ray is proved).
    slopes : optional
        Slopes when ``net`` is a list of weights.

    Returns
    -------
    LipschitzResult
        ``value`` rounds ``sqrt(rho)`` up for the proved ``rho``, with the multipliers and the
        ``certificate`` that prove it; ``certified=False`` and ``value=nan`` when the
        multipliers prove nothing (``status`` says why).

    Raises
    ------
    ValueError, TypeError
        If the multipliers do not match the network's hidden widths, are negative or not finite.

    References
    ----------
    M. Fazlyab et al., "Efficient and Accurate Estimation of Lipschitz Constants for Deep Neural
    Networks", NeurIPS 2019.
    S. M. Rump, "Verification of positive definiteness", BIT 46, 2006.

    Examples
    --------
    >>> import numpy as np, lipsdp
    >>> net = lipsdp.Network([np.array([[1.0, 0.0]]), np.array([[2.0]])])
    >>> round(lipsdp.certify(net, [np.array([4.0])]).value, 6)
    2.0
    """
    from .scaling import normalise, result_to_user

    start = time.perf_counter()
    net = as_network(net, slopes)
    if isinstance(multipliers, Certificate):
        ts, exps, rho_cert = multipliers.checked(net.hidden_widths)
    else:
        ts, exps, rho_cert = _as_multipliers(net, multipliers), [0] * net.n_hidden, None
    if rho is not None:
        if isinstance(rho, bool) or not isinstance(rho, (int, float, np.floating)):
            raise TypeError(f"rho is {type(rho).__name__}; expected a positive number")
        if not np.isfinite(rho) or rho <= 0:
            raise ValueError(f"rho is {rho}; expected a positive finite number")
        rho_cert = (float(rho), 0)
    normed, scaling = normalise(net)
    E = scaling.multiplier_exponents()
    two_d = 2 * scaling.value_exponent
    ts_n = [np.ldexp(t, e - En) for t, e, En in zip(ts, exps, E, strict=True)]
    if net.n_hidden == 0:
        proof = prove(normed, [])
        res = result_of(proof, "certify", []) if proof.ok else failed("certify", proof.reason)
    elif rho_cert is not None:
        rho_n = float(np.ldexp(rho_cert[0], rho_cert[1] - two_d))
        if not (np.isfinite(rho_n) and rho_n > 0):
            res = failed("certify", "rho is outside float64's range in the network's units")
        else:
            res, _ = certify_direction(normed, [2.0 * t / rho_n for t in ts_n])
    else:
        res = _certify_fixed(normed, ts_n)
    res = result_to_user(res, scaling)
    return replace(res, total_time=time.perf_counter() - start)


def _certify_fixed(net: Network, ts: list[np.ndarray]) -> LipschitzResult:
    """Smallest ``rho`` that these exact ``t`` prove, by bisection on ``log rho``."""
    if net.n_hidden == 0:
        return certify_direction(net, [])[0]

    def attempt(r: float) -> Proof:
        return prove(net, [2.0 * t / r for t in ts], rho=r)

    scale = float(np.prod([np.linalg.norm(W, 2) ** 2 for W in net.weights])) or 1.0
    if not (np.isfinite(scale) and scale > 0):
        scale = 1.0
    hi, proof = scale, None
    for _ in range(200):
        proof = attempt(hi)
        if proof.ok:
            break
        hi *= 4.0
        if not np.isfinite(hi):
            break
    if proof is None or not proof.ok:
        reason = (proof.reason if proof is not None else "") or "no rho tried proves these t"
        return failed("certify", f"M(rho, T) is not negative semidefinite for any rho tried "
                      f"({reason})")
    best, lo = proof, hi
    for _ in range(200):
        lo /= 4.0
        trial = attempt(lo)
        if not trial.ok:
            break
        best, hi = trial, lo
    while hi / lo - 1.0 > 1e-13:
        mid = float(np.sqrt(lo * hi))
        if mid <= lo or mid >= hi:
            break
        trial = attempt(mid)
        if trial.ok:
            best, hi = trial, mid
        else:
            lo = mid
    return result_of(best, "certify", [t.copy() for t in ts])
