"""Certification: turning multipliers into a bound that is verified in float64 (DOMAIN.md §3).

The check is the forward block-LDL^T recursion of DOMAIN.md §5, from the input block to the output
block, one ``n_k x n_k`` Cholesky per hidden layer, so it costs ``O(sum n_k^3)`` and never factors
the whole ``(n_0 + N)``-sided matrix. The all-at-once elimination onto the input block is avoided
on purpose: it loses accuracy with depth, in the direction that makes a bound too small.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from .network import Network, as_network
from .result import LipschitzResult

__all__ = ["CERTIFICATION_MARGIN", "certify", "certify_direction"]

logger = logging.getLogger(__name__)

#: Relative margin ``delta`` added to every certified value: ``L = sqrt(lambda_max) * (1 + delta)``.
CERTIFICATION_MARGIN = 1e-10


@dataclass(frozen=True)
class Recursion:
    """Outcome of the forward recursion for a direction ``Lambda`` (internal)."""

    ok: bool
    rho: float  # lambda_max(W_l M_l^{-1} W_l^T); nan when a pivot failed
    reason: str = ""
    dropped: int = 0  # neurons removed because a zero multiplier made them irrelevant


def _cholesky(X: np.ndarray) -> np.ndarray | None:
    try:
        return sla.cholesky(X, lower=True, check_finite=False)
    except (np.linalg.LinAlgError, ValueError):
        return None


def _max_gram_eig(Y: np.ndarray) -> float:
    """``lambda_max(Y^T Y) = ||Y||_2^2`` through the smaller Gram matrix."""
    if Y.size == 0:
        return 0.0
    G = Y.T @ Y if Y.shape[1] <= Y.shape[0] else Y @ Y.T
    return float(sla.eigvalsh(G, subset_by_index=[G.shape[0] - 1, G.shape[0] - 1])[0])


def forward_recursion(net: Network, lams: Sequence[np.ndarray]) -> Recursion:
    """Run DOMAIN.md §5's recursion for ``Lambda_k = diag(lams[k-1])`` on ``net``.

    Returns the smallest ``rho`` with ``M(rho, rho * Lambda / 2) <= 0``, or a failure naming the
    pivot that is not positive definite. A neuron whose multiplier is exactly zero makes its row of
    the pivot vanish; it is removed when its outgoing coupling vanishes too (then the row is
    identically zero and PSD-ness of the rest is equivalent), and reported as infeasible otherwise.
    """
    Ws, p, m = net.weights, net.p, net.m
    l = net.n_hidden
    for k, lam in enumerate(lams):
        if np.any(lam < 0) or not np.all(np.isfinite(lam)):
            return Recursion(False, np.nan, f"multipliers[{k}] has negative or non-finite entries")
    dropped = 0
    M = None  # M_{k-1}; None stands for the identity M_0 = I
    for k in range(1, l + 1):
        W = Ws[k - 1]  # (n_k, n_{k-1})
        lam = lams[k - 1]
        LW = lam[:, None] * W  # Lambda_k W_{k-1}
        # Pivot X_{k-1} = M_{k-1} + p_k W^T Lambda_k W.
        if M is None and p[k - 1] == 0.0:
            # X_0 = I: no factorisation needed, and the n_0 x n_0 matrix is never formed.
            Mk = np.diag(lam) - m[k - 1] ** 2 * (LW @ LW.T)
        else:
            X = np.eye(W.shape[1]) if M is None else M
            if p[k - 1] != 0.0:
                X = X + p[k - 1] * (W.T @ LW)
            if M is not None:
                dead = np.flatnonzero(np.diag(X) == 0.0)
                if dead.size:
                    coupling = m[k - 1] * LW[:, dead]
                    if np.any(coupling != 0.0) or np.any(X[dead] != 0.0):
                        j = int(dead[np.argmax(np.abs(coupling).sum(axis=0))])
                        return Recursion(
                            False,
                            np.nan,
                            f"neuron {j} of hidden layer {k - 1} has multiplier 0 but feeds "
                            f"neurons of layer {k} with positive multipliers",
                        )
                    live = np.flatnonzero(np.diag(X) != 0.0)
                    X, LW = X[np.ix_(live, live)], LW[:, live]
                    dropped += dead.size
            G = _cholesky(X)
            if G is None:
                reason = f"pivot X_{k - 1} (block {k - 1}) is not positive definite"
                return Recursion(False, np.nan, reason)
            V = sla.solve_triangular(G, LW.T, lower=True, check_finite=False)
            Mk = np.diag(lam) - m[k - 1] ** 2 * (V.T @ V)
        M = 0.5 * (Mk + Mk.T)
    Wl = Ws[l]
    if M is None:  # no hidden layer
        return Recursion(True, _max_gram_eig(Wl))
    dead = np.flatnonzero(np.diag(M) == 0.0)
    if dead.size:
        if np.any(Wl[:, dead] != 0.0) or np.any(M[dead] != 0.0):
            return Recursion(
                False,
                np.nan,
                f"neuron {int(dead[0])} of hidden layer {l} has multiplier 0 "
                "but nonzero output weights",
            )
        live = np.flatnonzero(np.diag(M) != 0.0)
        M, Wl = M[np.ix_(live, live)], Wl[:, live]
        dropped += dead.size
    G = _cholesky(M)
    if G is None:
        return Recursion(False, np.nan, f"pivot M_{l} (block {l}) is not positive definite")
    Y = sla.solve_triangular(G, Wl.T, lower=True, check_finite=False)
    return Recursion(True, _max_gram_eig(Y), dropped=dropped)


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
        a = np.array(t, dtype=np.float64, copy=True)
        if a.ndim == 0:
            a = np.full(n, float(a))
        if a.ndim != 1 or a.size != n:
            raise ValueError(
                f"{name}[{k}] has shape {np.shape(t)}; expected ({n},) for hidden layer {k + 1}"
            )
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name}[{k}] has non-finite entries; expected finite numbers")
        out.append(a)
    return out


def certify_direction(
    net: Network,
    lams: Sequence[np.ndarray],
    *,
    method: str = "certify",
    margin: float = CERTIFICATION_MARGIN,
) -> tuple[LipschitzResult, Recursion]:
    """Certify the ray ``T = rho * Lambda / 2`` (DOMAIN.md §3) and rescale onto its bound."""
    rec = forward_recursion(net, lams)
    if not rec.ok:
        return (
            LipschitzResult(
                value=np.nan,
                certified=False,
                multipliers=[],
                status=f"not_certified: {rec.reason}",
                method=method,
                info={"reason": rec.reason},
            ),
            rec,
        )
    L = float(np.sqrt(max(rec.rho, 0.0))) * (1.0 + margin)
    ts = [0.5 * L * L * lam for lam in lams]
    info = {"margin": margin}
    if rec.dropped:
        info["dropped_neurons"] = rec.dropped
    return (
        LipschitzResult(
            value=L,
            certified=True,
            multipliers=ts,
            status="certified",
            method=method,
            published_value=L,
            info=info,
        ),
        rec,
    )


def certify(
    net: Network | Sequence[np.ndarray],
    multipliers: Sequence[np.ndarray],
    rho: float | None = None,
    *,
    slopes: object = None,
) -> LipschitzResult:
    """Certify a Lipschitz bound from LipSDP-Neuron multipliers (DOMAIN.md §3).

    Parameters
    ----------
    net : Network or list of ndarray
        The network (a list of weights uses ``slopes``, default ReLU).
    multipliers : list of array_like
        ``t_k >= 0`` for each hidden layer in the DOMAIN.md §2 convention (a scalar per layer is
        broadcast, as for LipSDP-Layer).
    rho : float, optional
        The solver's ``rho`` that came with these multipliers. When given, the direction
        ``Lambda_k = 2 t_k / rho`` is certified and rescaled (one recursion). When omitted, the
        smallest ``rho`` with ``M(rho, T) <= 0`` for exactly these ``t`` is found by bisection on
        the same stable recursion.
    slopes : optional
        Slopes when ``net`` is a list of weights.

    Returns
    -------
    LipschitzResult
        ``value`` is ``sqrt(rho) * (1 + 1e-10)`` for the certified ``rho``, with the multipliers
        that certify it; ``certified=False`` and ``value=nan`` when the multipliers certify nothing.

    Raises
    ------
    ValueError, TypeError
        If the multipliers do not match the network's hidden widths or are not finite.

    References
    ----------
    M. Fazlyab et al., "Efficient and Accurate Estimation of Lipschitz Constants for Deep Neural
    Networks", NeurIPS 2019.

    Examples
    --------
    >>> import numpy as np, lipsdp
    >>> net = lipsdp.Network([np.array([[1.0, 0.0]]), np.array([[2.0]])])
    >>> round(lipsdp.certify(net, [np.array([4.0])]).value, 6)
    2.0
    """
    start = time.perf_counter()
    net = as_network(net, slopes)
    ts = _as_multipliers(net, multipliers)
    if rho is not None:
        if not np.isfinite(rho) or rho <= 0:
            raise ValueError(f"rho is {rho}; expected a positive finite number")
        res, _ = certify_direction(net, [2.0 * t / rho for t in ts])
    else:
        res = _certify_fixed(net, ts)
    return _with(res, total_time=time.perf_counter() - start)


def _certify_fixed(net: Network, ts: list[np.ndarray]) -> LipschitzResult:
    """Smallest ``rho`` that these exact ``t`` certify, by bisection on ``log rho``."""
    if net.n_hidden == 0:
        return certify_direction(net, [])[0]

    def feasible(rho: float) -> bool:
        rec = forward_recursion(net, [2.0 * t / rho for t in ts])
        return rec.ok and rec.rho <= rho

    if any(np.any(t < 0) for t in ts):
        return certify_direction(net, ts)[0]  # reports the negative entries
    scale = float(np.prod([np.linalg.norm(W, 2) ** 2 for W in net.weights])) or 1.0
    hi = scale
    for _ in range(200):
        if feasible(hi):
            break
        hi *= 4.0
    else:
        rec = forward_recursion(net, [2.0 * t / hi for t in ts])
        reason = rec.reason or "M(rho, T) is not negative semidefinite for any rho tried"
        return LipschitzResult(
            value=np.nan,
            certified=False,
            multipliers=[],
            status=f"not_certified: {reason}",
            method="certify",
            info={"reason": reason},
        )
    lo = hi
    for _ in range(200):
        lo /= 4.0
        if not feasible(lo):
            break
    while hi / lo - 1.0 > 1e-13:
        mid = float(np.sqrt(lo * hi))
        if mid <= lo or mid >= hi:
            break
        lo, hi = (lo, mid) if feasible(mid) else (mid, hi)
    res, _ = certify_direction(net, [2.0 * t / hi for t in ts])
    return res


def _with(res: LipschitzResult, **changes: object) -> LipschitzResult:
    from dataclasses import replace

    return replace(res, **changes)
