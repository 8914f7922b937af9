"""Certification: turning multipliers into a bound that is verified in float64 (DOMAIN.md §3).

The check is the forward block-LDL^T recursion of DOMAIN.md §5, from the input block to the output
block, one ``n_k x n_k`` Cholesky per hidden layer, so it costs ``O(sum n_k^3)`` and never factors
the whole ``(n_0 + N)``-sided matrix. The all-at-once elimination onto the input block is avoided
on purpose: it loses accuracy with depth, in the direction that makes a bound too small.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
from scipy.linalg import blas, lapack

from .network import Network, as_network
from .result import LipschitzResult

__all__ = ["CERTIFICATION_MARGIN", "StagePolicy", "certify", "certify_direction"]

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
    lams: tuple[np.ndarray, ...] = ()  # the directions used (those a policy chose, if one did)


#: A stage policy: ``choose(k, K) -> Lambda_{k+1}`` for the 0-based hidden layer ``k``, given
#: ``K = W_k X_k^{-1} W_k^T`` (``n_{k+1} x n_{k+1}``, symmetric PSD, read-only) from the pivot the
#: certification has just factored (DOMAIN.md §5 with ``p = 0``, where ``X_k = M_k``).
StagePolicy = Callable[[int, np.ndarray], np.ndarray]


# The hot loop calls SciPy's BLAS/LAPACK only. NumPy and SciPy wheels each bundle an OpenBLAS
# with its own thread pool; alternating between the two makes each pool's spinning threads
# steal the cores from the other (5x slower per stage at n = 256 on 2 cores, 2x at n = 1000).


def _cholesky(X: np.ndarray) -> np.ndarray | None:
    """Lower Cholesky factor of the symmetric ``X`` (its lower triangle is read), or None."""
    # X.T is the same symmetric matrix in Fortran order: no transposing copy.
    G, info = lapack.dpotrf(X.T if X.flags.c_contiguous else X, lower=1, clean=1)
    return G if info == 0 else None


def _solve_lower(G: np.ndarray, B: np.ndarray) -> np.ndarray:
    """``G^{-1} B`` for the lower-triangular ``G`` (``B`` best in Fortran order, e.g. ``W.T``)."""
    return blas.dtrsm(1.0, G, B, lower=1)


def _symmetric(K: np.ndarray) -> np.ndarray:
    """Fill the (zero) strict upper triangle of ``K`` from its lower one, in place."""
    K += np.tril(K, -1).T
    return K


def _gram(A: np.ndarray) -> np.ndarray:
    """``A^T A`` (full, symmetric) by a rank-k update."""
    return _symmetric(blas.dsyrk(1.0, A, trans=1, lower=1))


def _max_gram_eig(Y: np.ndarray) -> float:
    """``lambda_max(Y^T Y) = ||Y||_2^2`` through the smaller Gram matrix."""
    if Y.size == 0:
        return 0.0
    G = _gram(Y) if Y.shape[1] <= Y.shape[0] else _gram(Y.T)
    return float(sla.eigvalsh(G, subset_by_index=[G.shape[0] - 1, G.shape[0] - 1],
                              check_finite=False)[0])


def _bad_direction(lam: object, n: int, k: int) -> str:
    """Why ``lam`` is not a valid direction for hidden layer ``k`` (0-based), or ``""``."""
    if not isinstance(lam, np.ndarray) or lam.shape != (n,):
        return f"multipliers[{k}] has shape {np.shape(lam)}; expected ({n},)"
    if np.any(lam < 0) or not np.all(np.isfinite(lam)):
        return f"multipliers[{k}] has negative or non-finite entries"
    return ""


def _gram_through(M: np.ndarray | None, W: np.ndarray, k: int) -> tuple[np.ndarray | None, str]:
    """``K = W M^{-1} W^T`` through a Cholesky factor of ``M`` (``None`` is the identity).

    Returns ``(K, "")``, or ``(None, reason)`` when ``M`` is not positive definite. Used where the
    pivot is ``M`` itself (``p = 0``) or where a policy needs ``K`` before choosing.
    """
    if M is None:
        return _gram(W.T), ""
    G = _cholesky(M)
    if G is None:
        return None, f"pivot X_{k} (block {k}) is not positive definite"
    return _gram(_solve_lower(G, W.T)), ""


def _drop_dead(
    M: np.ndarray | None, W: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """``(M, W, dead)`` with the zero-diagonal rows of ``M`` (and columns of ``W``) removed."""
    if M is None:
        return None, W, np.zeros(0, dtype=np.intp)
    diag = np.diag(M)
    dead = np.flatnonzero(diag == 0.0)
    if not dead.size:
        return M, W, dead
    live = np.flatnonzero(diag != 0.0)
    return M[np.ix_(live, live)], W[:, live], dead


def _dead_failure(k: int, dead: np.ndarray, weight: np.ndarray) -> Recursion:
    j = int(dead[np.argmax(weight)])
    return Recursion(
        False,
        np.nan,
        f"neuron {j} of hidden layer {k - 1} has multiplier 0 but feeds "
        f"neurons of layer {k} with positive multipliers",
    )


def forward_recursion(net: Network, lams: Sequence[np.ndarray] | StagePolicy) -> Recursion:
    """Run DOMAIN.md §5's recursion for ``Lambda_k = diag(lams[k-1])`` on ``net``.

    Returns the smallest ``rho`` with ``M(rho, rho * Lambda / 2) <= 0``, or a failure naming the
    pivot that is not positive definite. A neuron whose multiplier is exactly zero makes its row of
    the pivot vanish; it is removed when its outgoing coupling vanishes too (then the row is
    identically zero and PSD-ness of the rest is equivalent), and reported as infeasible otherwise.

    ``lams`` may also be a :data:`StagePolicy` that chooses each ``Lambda_k`` from the ``K`` this
    recursion computes anyway: a closed form (DOMAIN.md §5) is then certified in the same pass,
    with one Cholesky per stage instead of two. The policy only chooses; every pivot is still
    factored here and the bound is read off here, in float64.

    Notes
    -----
    With ``p_k = 0`` the pivot is ``X_{k-1} = M_{k-1}``, independent of ``Lambda_k``, so the stage
    computes ``K_k = W_{k-1} M_{k-1}^{-1} W_{k-1}^T`` once (one Cholesky, one triangular solve,
    one symmetric rank-k product) and ``M_k = Lambda_k - m_k^2 Lambda_k K_k Lambda_k``
    elementwise. With ``p_k != 0`` the pivot ``M_{k-1} + p_k W^T Lambda_k W`` is formed and
    factored as it stands.
    """
    Ws, p, m = net.weights, net.p, net.m
    l = net.n_hidden
    policy = lams if callable(lams) else None
    if policy is None:
        for k, lam in enumerate(lams):
            if np.any(lam < 0) or not np.all(np.isfinite(lam)):
                return Recursion(
                    False, np.nan, f"multipliers[{k}] has negative or non-finite entries"
                )
    used: list[np.ndarray] = []
    dropped = 0
    M = None  # M_{k-1}; None stands for the identity M_0 = I
    for k in range(1, l + 1):
        W = Ws[k - 1]  # (n_k, n_{k-1})
        pk, mk = float(p[k - 1]), float(m[k - 1])
        K = None
        if pk == 0.0 or policy is not None:
            # K_k = W M_{k-1}^{-1} W^T over the live neurons of layer k-1 (a zero multiplier
            # leaves a zero row in M_{k-1}); for p_k = 0 its Cholesky is the pivot's check.
            Mx, Wx, dead = _drop_dead(M, W)
            if dead.size and np.any(M[dead] != 0.0):
                return _dead_failure(k, dead, np.abs(W[:, dead]).sum(axis=0))
            K, reason = _gram_through(Mx, Wx, k - 1)
            if K is None:
                return Recursion(False, np.nan, reason)
        if policy is not None:
            lam = policy(k - 1, K)
            bad = _bad_direction(lam, W.shape[0], k - 1)
            if bad:
                return Recursion(False, np.nan, f"the stage policy returned bad {bad}")
        else:
            lam = lams[k - 1]
        used.append(lam)
        if pk == 0.0:
            if dead.size:
                coupling = mk * (lam[:, None] * W[:, dead])
                if np.any(coupling != 0.0):
                    return _dead_failure(k, dead, np.abs(coupling).sum(axis=0))
                dropped += dead.size
            # The pivot X_{k-1} = M_{k-1} was factored in computing K (or is the identity).
            Mk = K * (-mk * mk * np.outer(lam, lam))
        else:
            LW = lam[:, None] * W  # Lambda_k W_{k-1}
            # Pivot X_{k-1} = M_{k-1} + p_k W^T Lambda_k W.
            X = np.eye(W.shape[1]) if M is None else M
            X = X + pk * blas.dgemm(1.0, W.T, LW.T, trans_b=1)
            if M is not None:
                dead = np.flatnonzero(np.diag(X) == 0.0)
                if dead.size:
                    coupling = mk * LW[:, dead]
                    if np.any(coupling != 0.0) or np.any(X[dead] != 0.0):
                        return _dead_failure(k, dead, np.abs(coupling).sum(axis=0))
                    live = np.flatnonzero(np.diag(X) != 0.0)
                    X, LW = X[np.ix_(live, live)], LW[:, live]
                    dropped += dead.size
            G = _cholesky(X)
            if G is None:
                reason = f"pivot X_{k - 1} (block {k - 1}) is not positive definite"
                return Recursion(False, np.nan, reason)
            Mk = _gram(_solve_lower(G, LW.T))
            Mk *= -mk * mk
        Mk[np.diag_indices_from(Mk)] += lam
        M = Mk
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
    Y = _solve_lower(G, Wl.T)
    return Recursion(True, _max_gram_eig(Y), dropped=dropped, lams=tuple(used))


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
    lams: Sequence[np.ndarray] | StagePolicy,
    *,
    method: str = "certify",
    margin: float = CERTIFICATION_MARGIN,
) -> tuple[LipschitzResult, Recursion]:
    """Certify the ray ``T = rho * Lambda / 2`` (DOMAIN.md §3) and rescale onto its bound.

    ``lams`` is a list of directions or a :data:`StagePolicy` (see :func:`forward_recursion`);
    the returned multipliers are those of the directions actually certified.
    """
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
    ts = [0.5 * L * L * lam for lam in (rec.lams if callable(lams) else lams)]
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
