"""Closed-form feasible points of LipSDP: certified bounds without an SDP solver (DOMAIN.md §5)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import scipy.linalg as sla

from .certify import CERTIFICATION_MARGIN, certify_direction
from .network import Network, as_network
from .result import LipschitzResult

__all__ = ["CLOSED_FORM_METHODS", "closed_form", "naive_bound", "naive_directions"]


def naive_bound(net: Network) -> float:
    """``prod ||W_k||_2 * prod max(|alpha_k|, |beta_k|)`` (DOMAIN.md §5)."""
    norms = [np.linalg.norm(W, 2) for W in net.weights]
    gains = [max(abs(a), abs(b)) for a, b in net.slopes]
    return float(np.prod(norms) * np.prod(gains))


def _best_layer_gain(p: float, m: float) -> float:
    """``u*`` maximising ``u - m^2 u^2 / (1 + p u)`` over ``u > 0`` with ``1 + p u > 0``.

    With ``Lambda_k = lambda_k I`` and ``M_{k-1} >= mu I``, the pivot bound
    ``M_k >= mu / S^2 * (u - m^2 u^2 / (1 + p u)) I`` holds for ``u = lambda_k S^2 / mu`` and
    ``S = ||W_{k-1}||_2``; the stationary point solves ``p d u^2 + 2 d u - 1 = 0`` with
    ``d = m^2 - p = (beta - alpha)^2 / 4``.
    """
    d = m * m - p
    if d <= 0.0:  # alpha == beta: a linear layer, any large u works; 1e6 is close to the limit
        return 1e6
    if p == 0.0:
        return 1.0 / (2.0 * d)
    return (-d + np.sqrt(d * d + p * d)) / (p * d)


def naive_directions(net: Network) -> list[np.ndarray]:
    """Per-layer scalar ``Lambda_k`` certifying at most the naive bound if ``alpha_k beta_k >= 0``.

    Tracks a lower bound ``mu_k`` on ``lambda_min(M_k)`` using only spectral norms; for ReLU this is
    ``t_k = prod_{j >= k} ||W_j||_2^2`` of DOMAIN.md §5 up to the common factor ``rho``.
    """
    lams, mu = [], 1.0
    for k in range(net.n_hidden):
        S2 = max(float(np.linalg.norm(net.weights[k], 2)) ** 2, np.finfo(float).tiny)
        p, m = float(net.p[k]), float(net.m[k])
        u = _best_layer_gain(p, m)
        lam = u * mu / S2
        lams.append(np.full(net.hidden_widths[k], lam))
        mu = mu / S2 * (u - m * m * u * u / (1.0 + p * u))
    return lams


def _naive(net: Network) -> tuple[list[np.ndarray], float, dict]:
    return naive_directions(net), naive_bound(net), {}


def _eclipse_fast(net: Network) -> tuple[list[np.ndarray], float, dict]:
    """ECLipsE-Fast (Xu & Sivaranjani 2024) as published: ``Lambda_k = lambda_k I`` with
    ``lambda_k = 1 / (2 m_k^2 lambda_max(W_{k-1} M_{k-1}^{-1} W_{k-1}^T))``; the ``p_k`` term is
    dropped from the pivot, as in the paper."""
    for k, (a, b) in enumerate(net.slopes):
        if a * b < 0:
            raise ValueError(
                f"slopes[{k}] is ({a}, {b}); ECLipsE-Fast needs alpha * beta >= 0 "
                "(it drops the alpha*beta term, which is only valid when that term is PSD)"
            )
        if a + b == 0:
            raise ValueError(f"slopes[{k}] is ({a}, {b}); ECLipsE-Fast needs alpha + beta > 0")
    lams = []
    G = None  # Cholesky factor of M_{k-1}; None is the identity
    for k in range(net.n_hidden):
        W = net.weights[k]
        V = W.T if G is None else sla.solve_triangular(G, W.T, lower=True, check_finite=False)
        K = V.T @ V  # W_{k-1} M_{k-1}^{-1} W_{k-1}^T
        n = K.shape[0]
        kmax = float(sla.eigvalsh(K, subset_by_index=[n - 1, n - 1])[0])
        if kmax <= 0.0:
            raise ValueError(f"weights[{k}] is zero; the network is constant (L = 0)")
        m2 = float(net.m[k]) ** 2
        lam = 1.0 / (2.0 * m2 * kmax)
        lams.append(np.full(n, lam))
        Mk = lam * np.eye(n) - m2 * lam * lam * K
        G = sla.cholesky(0.5 * (Mk + Mk.T), lower=True, check_finite=False)
    Wl = net.weights[-1]
    Y = Wl.T if G is None else sla.solve_triangular(G, Wl.T, lower=True, check_finite=False)
    published = float(np.linalg.norm(Y, 2))
    return lams, published, {}


#: name -> function returning (directions Lambda_k, published value, info)
CLOSED_FORM_METHODS: dict[str, Callable[[Network], tuple[list[np.ndarray], float, dict]]] = {
    "naive": _naive,
    "eclipse-fast": _eclipse_fast,
}


def closed_form(
    net: Network | Sequence[np.ndarray],
    method: str = "eclipse-fast",
    *,
    slopes: object = None,
) -> LipschitzResult:
    """Certified Lipschitz bound from a closed-form feasible point of LipSDP (no SDP solver).

    Parameters
    ----------
    net : Network or list of ndarray
        The network; a plain list of weights uses ``slopes`` (default ReLU ``(0, 1)``).
    method : {"eclipse-fast", "naive"}
        ``"naive"``: product of spectral norms and slope gains, with multipliers that certify it
        when every ``alpha_k beta_k >= 0``. ``"eclipse-fast"``: ECLipsE-Fast (DOMAIN.md §5).
    slopes : optional
        Slopes for a plain list of weights.

    Returns
    -------
    LipschitzResult
        ``value`` is certified by DOMAIN.md §3 from ``multipliers``. ``published_value`` is the
        method's own number: the product of norms for ``"naive"`` (also its ``value`` when
        certified), ECLipsE-Fast's published value, which for ``alpha_k > 0`` is larger than what
        the same multipliers certify.

    Raises
    ------
    ValueError
        Unknown method, or slopes that the method does not support.

    References
    ----------
    Y. Xu and S. Sivaranjani, "ECLipsE: Efficient Compositional Lipschitz Constant Estimation for
    Deep Neural Networks", NeurIPS 2024.

    Examples
    --------
    >>> import numpy as np, lipsdp
    >>> res = lipsdp.closed_form([np.eye(2), 2 * np.eye(2)], method="naive")
    >>> round(res.value, 6), res.certified
    (2.0, True)
    """
    start = time.perf_counter()
    if method not in CLOSED_FORM_METHODS:
        raise ValueError(
            f"method is {method!r}; expected one of {sorted(CLOSED_FORM_METHODS)}"
        )
    net = as_network(net, slopes)
    if net.n_hidden == 0:
        lams, published, info = [], float(np.linalg.norm(net.weights[0], 2)), {}
    else:
        lams, published, info = CLOSED_FORM_METHODS[method](net)
    res, _ = certify_direction(net, lams, method=method)
    if method == "naive" and res.certified:
        # The naive value is the method's definition (with the certification margin). Its
        # multipliers certify at most that in exact arithmetic; allow rounding at 1e-8.
        target = published * (1.0 + CERTIFICATION_MARGIN)
        if res.value <= published * (1.0 + 1e-8):
            value = max(target, res.value)
            scale = (value / res.value) ** 2 if res.value > 0 else 1.0
            res = replace(
                res,
                value=value,
                multipliers=[t * scale for t in res.multipliers],
                info={**res.info, "certified_by_multipliers": res.value},
            )
        else:
            res = replace(
                res,
                value=np.nan,
                certified=False,
                multipliers=[],
                status="not_certified: the naive multipliers certify only "
                f"{res.value:.6g} > naive {published:.6g} for these slopes",
            )
    status = "closed_form" if res.certified else res.status
    return replace(
        res,
        status=status,
        published_value=published,
        total_time=time.perf_counter() - start,
        info={**res.info, **info},
    )
