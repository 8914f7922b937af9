"""Bounds proved by composition instead of by an LMI point (docs/math.md §5).

* A network with a zero weight matrix, or a hidden layer with slopes ``(0, 0)`` (a constant
  activation), is constant: ``L = 0`` exactly.
* A network whose every activation is linear (``alpha_k = beta_k = c_k``) computes
  ``x -> (prod c_k) W_l ... W_0 x``: ``L = |prod c_k| ||W_l ... W_0||_2``, bounded here through the
  float product and a componentwise bound on its rounding error (no LMI point exists: LipSDP's
  infimum is approached as the multipliers grow without bound).
* The naive bound ``prod ||W_k||_2 prod max(|alpha_k|, |beta_k|)`` holds for every slope class,
  with each spectral norm proved by the single-matrix LMI ``rho I - W^T W >= 0``.

Every product is rounded up; the networks passed here are the normalised ones of
:mod:`lipsdp.scaling`.
"""

from __future__ import annotations

import numpy as np

from .certify import value_from_rho
from .network import Network
from .proof import prove
from .rounding import _gamma

__all__ = ["constant_reason", "linear_bound", "proved_naive", "proved_norm"]


def _mul_up(x: float, y: float) -> float:
    """An upper bound on ``x * y`` for ``x, y >= 0``."""
    return float(np.nextafter(x * y, np.inf)) if x * y != 0.0 else 0.0


def product_up(values) -> float:
    """An upper bound on the product of nonnegative numbers (each step rounded up)."""
    out = 1.0
    for v in values:
        out = _mul_up(out, float(v))
    return out


def constant_reason(net: Network) -> str:
    """Why the network is constant (``L = 0`` exactly), or ``""``."""
    for k, W in enumerate(net.weights):
        if not np.any(W):
            return f"weights[{k}] is zero"
    for k, (a, b) in enumerate(net.slopes):
        if a == b == 0.0:
            return f"hidden layer {k + 1} has slopes (0, 0) (a constant activation)"
    return ""


def is_linear(net: Network) -> bool:
    """Whether every hidden activation is linear (``alpha_k == beta_k``) and there is one."""
    return net.n_hidden > 0 and all(a == b for a, b in net.slopes)


def proved_norm(W: np.ndarray) -> float:
    """An upper bound on ``||W||_2`` proved by ``rho I - W^T W >= 0`` (docs/math.md §4), or
    ``nan`` where the proof fails (a zero matrix gives 0)."""
    if not np.any(W):
        return 0.0
    proof = prove(Network([W]), [])
    return value_from_rho(proof.rho) if proof.ok else float("nan")


def proved_naive(net: Network) -> float:
    """``prod ||W_k||_2 * prod max(|alpha_k|, |beta_k|)``, every factor and product rounded up
    (``nan`` if a norm cannot be proved)."""
    norms = [proved_norm(W) for W in net.weights]
    gains = [max(abs(a), abs(b)) for a, b in net.slopes]
    return product_up([*norms, *gains])


def _product_with_radius(Ws: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``(P, R)``: the float product ``W_l ... W_0`` and ``R >= |exact - P|`` componentwise.

    ``P_k = fl(W_k P_{k-1})`` and ``R_k = |W_k| (R_{k-1} + gamma_n |P_{k-1}|)``, every
    nonnegative product inflated by its own ``gamma`` (Higham, §3.5).
    """
    P = Ws[0]
    R = np.zeros_like(P)
    for W in Ws[1:]:
        n = W.shape[1]
        g = _gamma(n + 2)
        absW = np.abs(W)
        R = (absW @ (R + g * np.abs(P))) * (1.0 + _gamma(n + 4))
        P = W @ P
    return P, R


def linear_bound(net: Network) -> tuple[float, dict]:
    """A proved upper bound on ``|prod c_k| ||W_l ... W_0||_2`` for an all-linear network, the
    smaller of the product's bound and the naive bound; ``(value, info)``."""
    gain = product_up(abs(a) for a, _ in net.slopes)
    P, R = _product_with_radius(net.weights)
    radius = float(np.sqrt(np.sum(R * R))) * (1.0 + _gamma(R.size + 4))
    radius = float(np.nextafter(radius, np.inf)) if radius > 0 else 0.0
    norm_p = proved_norm(P)
    product = product_up([float(np.nextafter(norm_p + radius, np.inf)), gain])
    naive = proved_naive(net)
    candidates = [v for v in (product, naive) if np.isfinite(v)]
    info = {"product_bound": product, "naive_bound": naive, "product_radius": radius}
    return (min(candidates) if candidates else float("nan")), info
