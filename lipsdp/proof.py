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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import scipy.linalg as sla
from scipy.linalg import blas

from .network import Network
from .rounding import (
    _EXTRA_ROUNDINGS,
    _add_diagonal,
    _backward_error_ok,
    _Block,
    _cholesky,
    _Factored,
    _gram,
    _max_gram_eig,
    _shift,
    _solve_lower,
    _underflow_ok,
)

__all__ = ["Proof", "StagePolicy", "prove"]

logger = logging.getLogger(__name__)

#: Relative steps tried above the float recursion's rho for the output pivot (search mode).
_RHO_STEPS = tuple(2.0**-45 * 8.0**j for j in range(13))
#: Bisection steps between the last failing and the first passing of them.
_BISECTIONS = 6

#: A stage policy: ``choose(k, K) -> Lambda_{k+1}`` for the 0-based hidden layer ``k``, given
#: ``K = W_k X_k^{-1} W_k^T`` (``n_{k+1} x n_{k+1}``, symmetric PSD, read-only) from the pivot the
#: certification has just factored (docs/math.md §3 with ``p = 0``, where ``X_k = M_k``).
StagePolicy = Callable[[int, np.ndarray], np.ndarray]


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
