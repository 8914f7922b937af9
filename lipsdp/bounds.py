"""Lower bounds and brackets: where the true ``L`` and the LipSDP optimum lie (docs/math.md §6).

Two lower bounds that mean different things:

* ``method="jacobian"`` -- ``max ||J_f(x)||_2`` over sampled inputs, improved by a short local
  ascent, with the network's *actual* activation: a lower bound on the true Lipschitz constant
  (``kind="lipschitz"``), hence on every valid upper bound.
* ``method="slope-class"`` -- ``max ||W_l D_l ... D_1 W_0||_2`` over diagonal ``D_k`` with
  entries in ``[alpha_k, beta_k]``: each such linear map is a network whose activations satisfy
  the slope restriction, so LipSDP must bound it too. A lower bound on the LipSDP optimum
  (``kind="lipsdp"``), not on the true ``L`` (the slope class is larger than any one network).

:func:`bracket` combines them with a certified closed-form upper bound (optionally an SDP solve).
"""

from __future__ import annotations

import logging
import numbers
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla

from .closed_form import CLOSED_FORM_METHODS, closed_form
from .network import Network, as_network
from .result import LipschitzResult

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "BracketResult",
    "LowerBoundResult",
    "bracket",
    "lower_bound",
]

logger = logging.getLogger(__name__)

LOWER_BOUND_METHODS = ("jacobian", "slope-class")


# --- activations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Activation:
    """An elementwise activation with its derivatives, for Jacobian lower bounds.

    Parameters
    ----------
    name : str
    phi, dphi : callable
        ``phi(z)`` and ``phi'(z)``, vectorised over arrays.
    d2phi : callable, optional
        ``phi''(z)``; steers the local ascent only (a central difference of ``dphi`` is used when
        it is missing). The reported value never depends on it.
    slopes : (float, float), optional
        The slope range ``[inf phi', sup phi']`` when known; :func:`bracket` checks it against the
        network's slopes.
    """

    name: str
    phi: Callable[[np.ndarray], np.ndarray]
    dphi: Callable[[np.ndarray], np.ndarray]
    d2phi: Callable[[np.ndarray], np.ndarray] | None = None
    slopes: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError(f"Activation.name is {type(self.name).__name__}; expected a str")
        for attr in ("phi", "dphi"):
            if not callable(getattr(self, attr)):
                raise TypeError(f"Activation.{attr} is not callable; expected a function")
        if self.d2phi is not None and not callable(self.d2phi):
            raise TypeError("Activation.d2phi is not callable; expected a function or None")

    def second_derivative(self, z: np.ndarray) -> np.ndarray:
        if self.d2phi is not None:
            return self.d2phi(z)
        h = 1e-5 * (1.0 + np.abs(z))
        return (self.dphi(z + h) - self.dphi(z - h)) / (2.0 * h)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _leaky_relu(a: float) -> Activation:
    return Activation(
        f"leaky_relu({a:g})",
        lambda z: np.where(z > 0, z, a * z),
        lambda z: np.where(z > 0, 1.0, a),
        lambda z: np.zeros_like(z),
        (min(a, 1.0), max(a, 1.0)),
    )


#: Named activations and their slope ranges (docs/math.md §1). ``"leaky_relu"`` takes its negative
#: slope from the network's ``alpha_k`` when ``0 < alpha_k < 1``, else 0.01.
ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation(
        "relu",
        lambda z: np.maximum(z, 0.0),
        lambda z: (z > 0).astype(np.float64),
        lambda z: np.zeros_like(z),
        (0.0, 1.0),
    ),
    "leaky_relu": _leaky_relu(0.01),
    "tanh": Activation(
        "tanh", np.tanh, lambda z: 1.0 - np.tanh(z) ** 2,
        lambda z: -2.0 * np.tanh(z) * (1.0 - np.tanh(z) ** 2), (0.0, 1.0),
    ),
    "sigmoid": Activation(
        "sigmoid", _sigmoid, lambda z: _sigmoid(z) * (1.0 - _sigmoid(z)),
        lambda z: _sigmoid(z) * (1.0 - _sigmoid(z)) * (1.0 - 2.0 * _sigmoid(z)), (0.0, 0.25),
    ),
    "elu": Activation(
        "elu", lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0.0))),
        lambda z: np.where(z > 0, 1.0, np.exp(np.minimum(z, 0.0))),
        lambda z: np.where(z > 0, 0.0, np.exp(np.minimum(z, 0.0))), (0.0, 1.0),
    ),
    "softplus": Activation(
        "softplus", lambda z: np.logaddexp(0.0, z), _sigmoid,
        lambda z: _sigmoid(z) * (1.0 - _sigmoid(z)), (0.0, 1.0),
    ),
}


def _one_activation(spec: object, alpha: float, where: str) -> Activation:
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, str):
        if spec not in ACTIVATIONS:
            raise ValueError(f"{where} is {spec!r}; expected one of {sorted(ACTIVATIONS)}, an "
                             "Activation, or a pair (phi, dphi) of callables")
        if spec == "leaky_relu" and 0.0 < alpha < 1.0:
            return _leaky_relu(alpha)
        return ACTIVATIONS[spec]
    if isinstance(spec, tuple) and len(spec) in (2, 3) and all(callable(f) for f in spec):
        return Activation(getattr(spec[0], "__name__", "custom"), *spec)
    if callable(spec):
        raise TypeError(f"{where} is a single callable; expected a pair (phi, dphi) with its "
                        "derivative (the Jacobian needs phi')")
    raise TypeError(f"{where} is {type(spec).__name__}; expected an activation name, an "
                    "Activation, or a pair (phi, dphi) of callables")


def _activations(spec: object, net: Network) -> list[Activation]:
    """One :class:`Activation` per hidden layer (``None``: ReLU, or leaky ReLU for ``(a, 1)``)."""
    l = net.n_hidden
    if spec is None:
        out = []
        for k, (a, b) in enumerate(net.slopes):
            if b == 1.0 and a == 0.0:
                out.append(ACTIVATIONS["relu"])
            elif b == 1.0 and 0.0 < a < 1.0:
                out.append(_leaky_relu(a))
            else:
                raise ValueError(
                    f"activation is None but slopes[{k}] is ({a}, {b}); the Jacobian bound needs "
                    "the network's actual activation: pass activation= (e.g. 'sigmoid')"
                )
        return out
    if isinstance(spec, list):
        if len(spec) != l:
            raise ValueError(f"activation has {len(spec)} entries; expected {l}, one per hidden "
                             "layer (or a single activation for all)")
        return [_one_activation(s, float(net.alpha[k]), f"activation[{k}]")
                for k, s in enumerate(spec)]
    return [_one_activation(spec, float(net.alpha[k]), "activation") for k in range(l)]


# --- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LowerBoundResult:
    """A lower bound and the point that attains it.

    Attributes
    ----------
    value : float
    kind : {"lipschitz", "lipsdp"}
        ``"lipschitz"``: a lower bound on the true Lipschitz constant of the network with the given
        activation (so on every valid upper bound). ``"lipsdp"``: a lower bound on the LipSDP
        optimum for the network's slope class only.
    method : {"jacobian", "slope-class"}
    x : ndarray or None
        The input where the Jacobian norm is ``value`` (``"jacobian"``).
    D : list of ndarray
        The diagonal slopes: ``phi'(z_k(x))`` for ``"jacobian"``, the maximising vertex of
        ``[alpha_k, beta_k]`` for ``"slope-class"``.
    direction : ndarray
        Unit input vector ``v`` with ``||J v||_2 = value`` (top right singular vector).
    time : float
        Seconds.
    evaluations : int
        Jacobians (or products) evaluated.
    info : dict
    """

    value: float
    kind: str
    method: str
    x: np.ndarray | None
    D: list[np.ndarray]
    direction: np.ndarray
    time: float = 0.0
    evaluations: int = 0
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ("lipschitz", "lipsdp"):
            raise ValueError(f"kind is {self.kind!r}; expected 'lipschitz' or 'lipsdp'")

    def __repr__(self) -> str:
        return (f"LowerBoundResult(value={self.value:.10g}, kind={self.kind!r}, "
                f"method={self.method!r}, time={self.time:.3g}s)")


@dataclass(frozen=True)
class BracketResult:
    """Where the LipSDP optimum lies: ``lower <= LipSDP optimum <= upper``.

    Attributes
    ----------
    lower : float
        Lower bound on the LipSDP optimum: the larger of the slope-class bound and the Jacobian
        bound (the latter counts because the activation satisfies the slope restriction).
    upper : float
        Certified upper bound on the true ``L`` (and at least the LipSDP optimum, being a feasible
        point of it).
    gap : float
        ``upper / lower - 1`` (``inf`` when ``lower = 0``), the definition of
        ``lipsdp.solve``'s ``certified_gap`` and ``gap_tol``.
    lower_true : float
        Lower bound on the true ``L`` of the network with its actual activation (``nan`` when no
        Jacobian bound was computed). ``lower_true <= L <= upper``.
    lower_method, upper_method : str
        Which method produced ``lower`` and ``upper`` (``"slope-class"``/``"jacobian"``; a
        closed-form method name, or ``"solve:<backend>"``).
    upper_result : LipschitzResult
        The certified result behind ``upper`` (its multipliers certify it).
    lower_results : dict of str to LowerBoundResult
        ``"slope-class"`` and, when computed, ``"jacobian"``.
    total_time : float
    info : dict
        ``"closed_form"``: the closed-form result; ``"solve"``: the solve result or why it was
        skipped.
    """

    lower: float
    upper: float
    gap: float
    lower_true: float
    lower_method: str
    upper_method: str
    upper_result: LipschitzResult
    lower_results: dict
    total_time: float = 0.0
    info: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"BracketResult(lower={self.lower:.6g} [{self.lower_method}], "
                f"upper={self.upper:.6g} [{self.upper_method}], gap={self.gap:.3g}, "
                f"lower_true={self.lower_true:.6g})")


# --- validation -----------------------------------------------------------------------------


def _check_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} is {type(value).__name__}; expected an integer")
    if value < minimum:
        raise ValueError(f"{name} is {value}; expected an integer >= {minimum}")
    return int(value)


def _check_positive(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} is {type(value).__name__}; expected a positive number")
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"{name} is {value}; expected a positive finite number")
    return float(value)


def _rng(seed: object) -> np.random.Generator:
    if isinstance(seed, bool) or not (
        seed is None or isinstance(seed, (numbers.Integral, np.random.Generator))
    ):
        raise TypeError(
            f"seed is {type(seed).__name__}; expected an int, a numpy Generator or None"
        )
    return np.random.default_rng(seed)


# --- linear algebra -------------------------------------------------------------------------


def _top_singular(P: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """``(sigma_max, u, v)`` of ``P`` through the smaller Gram matrix."""
    r, c = P.shape
    if not np.all(np.isfinite(P)):
        return float("nan"), np.eye(r)[0], np.eye(c)[0]
    if c <= r:
        G = P.T @ P
        w, V = sla.eigh(G, subset_by_index=[c - 1, c - 1], check_finite=False)
        sigma = float(np.sqrt(max(w[0], 0.0)))
        v = V[:, 0]
        u = P @ v
        nu = np.linalg.norm(u)
        u = u / nu if nu > 0 else np.eye(r)[0]
    else:
        G = P @ P.T
        w, U = sla.eigh(G, subset_by_index=[r - 1, r - 1], check_finite=False)
        sigma = float(np.sqrt(max(w[0], 0.0)))
        u = U[:, 0]
        v = P.T @ u
        nv = np.linalg.norm(v)
        v = v / nv if nv > 0 else np.eye(c)[0]
    return sigma, u, v


def _chain(Ws: Sequence[np.ndarray], Ds: Sequence[np.ndarray]) -> np.ndarray:
    """``W_l D_l ... D_1 W_0`` (multiplied from the narrower end)."""
    if Ws[-1].shape[0] <= Ws[0].shape[1]:
        P = Ws[-1]
        for k in range(len(Ds), 0, -1):
            P = (P * Ds[k - 1]) @ Ws[k - 1]
        return P
    P = Ws[0]
    for k in range(1, len(Ws)):
        P = Ws[k] @ (Ds[k - 1][:, None] * P)
    return P


def _jacobians(
    Ws: Sequence[np.ndarray], acts: Sequence[Activation], X: np.ndarray
) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """Batched Jacobians ``J(x_s)`` (``S x n_out x n_0``), pre-activations and slopes."""
    Z, Dv = [], []
    h = X
    for k, act in enumerate(acts):
        z = h @ Ws[k].T
        Z.append(z)
        Dv.append(np.asarray(act.dphi(z), dtype=np.float64))
        h = np.asarray(act.phi(z), dtype=np.float64)
    J = np.broadcast_to(Ws[-1], (X.shape[0], *Ws[-1].shape))
    for k in range(len(acts), 0, -1):
        J = (J * Dv[k - 1][:, None, :]) @ Ws[k - 1]
    return J, Z, Dv


def _batched_top(J: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top singular triplets of a stack of matrices."""
    U, s, Vt = np.linalg.svd(J, full_matrices=False)
    return s[:, 0], U[:, :, 0], Vt[:, 0, :]


def _ascent_gradient(
    Ws: Sequence[np.ndarray],
    acts: Sequence[Activation],
    Z: list[np.ndarray],
    Dv: list[np.ndarray],
    u: np.ndarray,
    v: np.ndarray,
) -> np.ndarray:
    """``grad_x (u^T J(x) v)`` per sample: ``sum_k (dz_k/dx)^T (phi''(z_k) * a_k * b_k)``."""
    l = len(acts)
    b = [v @ Ws[0].T]  # b_1 = W_0 v (tangent of z_1 along v)
    for k in range(1, l):
        b.append((Dv[k - 1] * b[k - 1]) @ Ws[k].T)
    a = [np.zeros(0)] * l
    a[l - 1] = u @ Ws[l]  # a_l = W_l^T u
    for k in range(l - 1, 0, -1):
        a[k - 1] = (Dv[k] * a[k]) @ Ws[k]
    zeta = None
    for k in range(l, 0, -1):
        c = acts[k - 1].second_derivative(Z[k - 1]) * a[k - 1] * b[k - 1]
        zeta = c if zeta is None else c + Dv[k - 1] * (zeta @ Ws[k])
    return zeta @ Ws[0]


# --- the two lower bounds -------------------------------------------------------------------


def _jacobian_bound(
    net: Network,
    acts: list[Activation],
    n_samples: int,
    rng: np.random.Generator,
    ascent_steps: int,
    input_scale: float,
    n_restarts: int,
    extra_inputs: Sequence[np.ndarray] = (),
) -> LowerBoundResult:
    Ws = net.weights
    n0 = net.widths[0]
    X = input_scale * rng.standard_normal((n_samples, n0))
    if len(extra_inputs):
        X = np.vstack([np.asarray(extra_inputs, dtype=np.float64).reshape(-1, n0), X])
        n_samples = X.shape[0]
    # Evaluate in chunks so the stack of Jacobians stays small.
    chunk = max(1, int(4e6 // max(1, net.widths[-1] * max(net.widths))))
    sig = np.empty(n_samples)
    for i in range(0, n_samples, chunk):
        J, _, _ = _jacobians(Ws, acts, X[i : i + chunk])
        sig[i : i + chunk] = np.linalg.norm(J, 2, axis=(1, 2))
    evaluations = n_samples
    best_sample = float(np.max(sig))
    order = np.argsort(sig)[::-1][: min(n_restarts, n_samples)]
    Xr = X[order].copy()
    J, Z, Dv = _jacobians(Ws, acts, Xr)
    s, u, v = _batched_top(J)
    evaluations += Xr.shape[0]
    step = 0.05 * input_scale * np.sqrt(n0) * np.ones(Xr.shape[0])
    for _ in range(ascent_steps):
        g = _ascent_gradient(Ws, acts, Z, Dv, u, v)
        norms = np.linalg.norm(g, axis=1)
        flat = norms <= 1e-14 * np.maximum(s, 1e-300)
        # Where the gradient vanishes (piecewise-linear activations), hill-climb at random.
        rand = rng.standard_normal(Xr.shape)
        d = np.where(flat[:, None], rand / np.linalg.norm(rand, axis=1, keepdims=True),
                     g / np.where(flat, 1.0, norms)[:, None])
        Xt = Xr + step[:, None] * d
        Jt, Zt, Dt = _jacobians(Ws, acts, Xt)
        st, ut, vt = _batched_top(Jt)
        evaluations += Xr.shape[0]
        up = st > s
        step = np.where(up, 1.5 * step, 0.5 * step)
        Xr[up], s[up], u[up], v[up] = Xt[up], st[up], ut[up], vt[up]
        for k in range(len(Z)):
            Z[k][up], Dv[k][up] = Zt[k][up], Dt[k][up]
    i = int(np.argmax(s))
    return LowerBoundResult(
        value=float(s[i]),
        kind="lipschitz",
        method="jacobian",
        x=Xr[i].copy(),
        D=[d_[i].copy() for d_ in Dv],
        direction=v[i].copy(),
        evaluations=evaluations,
        info={
            "activation": [a.name for a in acts],
            "best_sample": best_sample,
            "ascent_gain": float(s[i]) / best_sample if best_sample > 0 else np.nan,
        },
    )


def _slope_vertex_ascent(
    Ws: Sequence[np.ndarray], alpha: np.ndarray, beta: np.ndarray, Ds: list[np.ndarray],
    sweeps: int,
) -> tuple[float, list[np.ndarray], np.ndarray, int]:
    """Monotone coordinate ascent of ``||W_l D_l ... D_1 W_0||_2`` over the vertices.

    With ``(u, v)`` the top singular pair, ``u^T P v = a_k^T D_k b_k`` is linear in ``D_k`` for
    the others fixed, so the best ``D_k`` is the vertex ``beta`` where ``a_k b_k > 0`` and
    ``alpha`` where ``< 0``; sweeping the layers forward keeps ``u^T P v`` non-decreasing, and
    ``sigma_max`` of the new product is at least that.
    """
    l = len(Ds)
    Ds = [d.copy() for d in Ds]
    sigma, u, v = _top_singular(_chain(Ws, Ds))
    evaluations = 1
    for _ in range(sweeps):
        a = [np.zeros(0)] * l
        a[l - 1] = Ws[l].T @ u
        for k in range(l - 1, 0, -1):
            a[k - 1] = Ws[k].T @ (Ds[k] * a[k])
        b = Ws[0] @ v
        for k in range(l):
            s_ = a[k] * b
            Ds[k] = np.where(s_ > 0, beta[k], np.where(s_ < 0, alpha[k], Ds[k]))
            if k + 1 < l:
                b = Ws[k + 1] @ (Ds[k] * b)
        new_sigma, u, v = _top_singular(_chain(Ws, Ds))
        evaluations += 1
        if new_sigma <= sigma * (1.0 + 1e-13):
            sigma = max(sigma, new_sigma)
            break
        sigma = new_sigma
    return sigma, Ds, v, evaluations


def _slope_bound(
    net: Network,
    rng: np.random.Generator,
    ascent_steps: int,
    n_restarts: int,
    starts: Sequence[Sequence[np.ndarray]],
) -> LowerBoundResult:
    Ws = net.weights
    alpha, beta = net.alpha, net.beta
    widths = net.hidden_widths
    candidates = [[np.full(n, beta[k]) for k, n in enumerate(widths)]]
    candidates += [list(s) for s in starts]
    for _ in range(n_restarts):
        candidates.append([np.where(rng.random(n) < 0.5, alpha[k], beta[k])
                           for k, n in enumerate(widths)])
    best = None
    evaluations = 0
    for Ds in candidates:
        Ds = [np.clip(np.asarray(d, dtype=np.float64), alpha[k], beta[k])
              for k, d in enumerate(Ds)]
        sigma, Ds, v, ev = _slope_vertex_ascent(Ws, alpha, beta, Ds, max(ascent_steps, 1))
        evaluations += ev
        if best is None or sigma > best[0]:
            best = (sigma, Ds, v)
    sigma, Ds, v = best
    return LowerBoundResult(
        value=float(sigma),
        kind="lipsdp",
        method="slope-class",
        x=None,
        D=Ds,
        direction=v,
        evaluations=evaluations,
        info={"starts": len(candidates)},
    )


def _as_input_starts(starts: object, net: Network, scale: float) -> list[np.ndarray]:
    """Start inputs for ``"jacobian"``: points, or results (their ``x``, else ``+-direction``)."""
    if starts is None:
        return []
    if isinstance(starts, (LowerBoundResult, np.ndarray)):
        starts = [starts]
    if isinstance(starts, (str, bytes)) or not isinstance(starts, Sequence):
        raise TypeError(f"starts is {type(starts).__name__}; expected a list of input points or "
                        "LowerBoundResults")
    n0 = net.widths[0]
    out = []
    for i, s in enumerate(starts):
        if isinstance(s, LowerBoundResult):
            if s.x is not None:
                out.append(s.x)
            else:  # a slope-class direction: the linear map stretches it most
                v = s.direction * scale * np.sqrt(n0)
                out += [v, -v]
            continue
        a = np.asarray(s, dtype=np.float64)
        if a.shape != (n0,) or not np.all(np.isfinite(a)):
            raise ValueError(f"starts[{i}] has shape {a.shape}; expected ({n0},), finite")
        out.append(a)
    return out


def _as_starts(starts: object, net: Network) -> list[list[np.ndarray]]:
    if starts is None:
        return []
    if isinstance(starts, LowerBoundResult):
        starts = [starts]
    if isinstance(starts, (str, bytes)) or not isinstance(starts, Sequence):
        raise TypeError(f"starts is {type(starts).__name__}; expected a list of D-patterns or "
                        "LowerBoundResults")
    out = []
    for i, s in enumerate(starts):
        Ds = s.D if isinstance(s, LowerBoundResult) else s
        if isinstance(Ds, (str, bytes)) or not isinstance(Ds, Sequence) or len(Ds) != net.n_hidden:
            raise ValueError(f"starts[{i}] is not a list of {net.n_hidden} diagonals (one per "
                             "hidden layer)")
        pattern = []
        for k, (d, n) in enumerate(zip(Ds, net.hidden_widths, strict=True)):
            a = np.asarray(d, dtype=np.float64)
            if a.shape != (n,) or not np.all(np.isfinite(a)):
                raise ValueError(f"starts[{i}][{k}] has shape {a.shape}; expected ({n},), finite")
            pattern.append(a)
        out.append(pattern)
    return out


def lower_bound(
    net: Network | Sequence[np.ndarray],
    method: str = "jacobian",
    *,
    activation: object = None,
    n_samples: int = 256,
    seed: int | np.random.Generator | None = 0,
    ascent_steps: int = 30,
    n_restarts: int = 8,
    input_scale: float = 1.0,
    starts: object = None,
    slopes: object = None,
) -> LowerBoundResult:
    """A lower bound on the true Lipschitz constant or on the LipSDP optimum (docs/math.md §6).

    Parameters
    ----------
    net : Network or list of ndarray
        The network; a plain list of weights uses ``slopes`` (default ReLU).
    method : {"jacobian", "slope-class"}
        ``"jacobian"``: ``max ||J_f(x)||_2`` over ``n_samples`` Gaussian inputs (standard
        deviation ``input_scale``), then ``ascent_steps`` steps of a local ascent from the
        ``n_restarts`` best: gradient ascent on ``sigma_max(J(x))`` (exact through ``phi''``; a
        random hill-climb where the gradient vanishes, as for ReLU). A lower bound on the true
        ``L`` (``kind="lipschitz"``). ``"slope-class"``: ``max ||W_l D_l ... D_1 W_0||_2`` over
        diagonal ``D_k`` in ``[alpha_k, beta_k]`` by monotone coordinate ascent over vertices
        from ``1 + n_restarts`` starts (all ``beta``, random vertices, and ``starts``), at most
        ``ascent_steps`` sweeps each. A lower bound on the LipSDP optimum (``kind="lipsdp"``).
    activation : str, Activation, (phi, dphi) or list of them, optional
        The activation for ``"jacobian"``: ``"relu"``, ``"leaky_relu"`` (negative slope from
        ``alpha_k`` when ``0 < alpha_k < 1``, else 0.01), ``"tanh"``, ``"sigmoid"``, ``"elu"``,
        ``"softplus"`` (see :data:`ACTIVATIONS`), an :class:`Activation`, or a pair (or triple
        with ``phi''``) of vectorised callables; one for all hidden layers or a list with one per
        layer. Default: ReLU for slopes ``(0, 1)``, leaky ReLU for ``(a, 1)``; other slopes
        need it given.
    n_samples, ascent_steps, n_restarts : int
    seed : int, numpy Generator or None
        Seeds the samples and restarts (default 0: reproducible).
    input_scale : float
        Standard deviation of the sampled inputs (``"jacobian"``).
    starts : list or LowerBoundResult, optional
        Extra starts. ``"slope-class"``: diagonals ``[D_1, ..., D_l]`` or results (their ``D``;
        from a Jacobian result the ascent ends at least at its norm). ``"jacobian"``: input
        points or results (their ``x``; for a slope-class result, ``+-`` its ``direction``,
        which often lands in the activation pattern of the maximising ``D``).
    slopes : optional
        Slopes when ``net`` is a list of weights.

    Returns
    -------
    LowerBoundResult

    Raises
    ------
    ValueError
        Unknown method or activation name, a non-positive count or scale, activation list of
        the wrong length, non-ReLU slopes without an activation.
    TypeError
        Arguments of the wrong kind (e.g. a single callable without its derivative).

    Notes
    -----
    For a piecewise-linear activation, ``||J(x)||`` at a point of differentiability is the norm
    of the local linear map, so it never exceeds ``L``; random inputs avoid the kinks almost
    surely. Every Jacobian of an activation with slopes in ``[alpha_k, beta_k]`` is one of the
    products of ``"slope-class"``, so (with the Jacobian's ``D`` among its starts) the
    slope-class bound is at least the Jacobian one.

    References
    ----------
    M. Fazlyab et al., "Efficient and Accurate Estimation of Lipschitz Constants for Deep Neural
    Networks", NeurIPS 2019 (the slope restriction).
    A. Virmaux and K. Scaman, "Lipschitz regularity of deep neural networks: analysis and
    efficient estimation", NeurIPS 2018 (gradient-ascent lower bounds, greedy activation
    patterns).

    Examples
    --------
    >>> import numpy as np, lipsdp
    >>> net = lipsdp.Network([np.eye(2), np.array([[1.0, 1.0]])])
    >>> round(lipsdp.lower_bound(net, "slope-class").value, 6)
    1.414214
    """
    start = time.perf_counter()
    if not isinstance(method, str):
        raise TypeError(f"method is {type(method).__name__}; expected one of "
                        f"{list(LOWER_BOUND_METHODS)}")
    if method not in LOWER_BOUND_METHODS:
        raise ValueError(f"method is {method!r}; expected one of {list(LOWER_BOUND_METHODS)}")
    n_samples = _check_int(n_samples, "n_samples", 1)
    ascent_steps = _check_int(ascent_steps, "ascent_steps", 0)
    n_restarts = _check_int(n_restarts, "n_restarts", 0)
    input_scale = _check_positive(input_scale, "input_scale")
    rng = _rng(seed)
    net = as_network(net, slopes)
    if net.n_hidden == 0:
        from .scaling import normalise, to_user_value

        normed, scaling = normalise(net)
        sigma, _, v = _top_singular(normed.weights[0])
        sigma = to_user_value(sigma, scaling.value_exponent, upper=False)
        kind = "lipschitz" if method == "jacobian" else "lipsdp"
        return LowerBoundResult(sigma, kind, method, None, [], v,
                                time.perf_counter() - start, 1)
    if method == "jacobian":
        acts = _activations(activation, net)
        extra = _as_input_starts(starts, net, input_scale)
        res = _jacobian_bound(net, acts, n_samples, rng, ascent_steps, input_scale, n_restarts,
                              extra)
    else:
        if activation is not None:
            raise ValueError("activation applies to method='jacobian' only; the slope-class "
                             "bound depends on the network's slopes")
        res = _slope_bound_scaled(net, rng, ascent_steps, n_restarts, _as_starts(starts, net))
    return _with_time(res, time.perf_counter() - start)


def _slope_bound_scaled(net, rng, ascent_steps, n_restarts, starts) -> LowerBoundResult:
    """The slope-class bound on the normalised network (:mod:`lipsdp.scaling`: the class and
    the norm are homogeneous in each layer's scale), mapped back exactly, rounded down."""
    from dataclasses import replace

    from .scaling import normalise, to_user_value

    normed, scaling = normalise(net)
    if scaling.is_identity:
        return _slope_bound(net, rng, ascent_steps, n_restarts, starts)
    gains = [c - d for c, d in zip(scaling.c[1:], scaling.d[1:-1], strict=True)]  # D = 2^g D'
    starts = [[np.ldexp(d, -g) for d, g in zip(p, gains, strict=True)] for p in starts]
    res = _slope_bound(normed, rng, ascent_steps, n_restarts, starts)
    with np.errstate(over="ignore", under="ignore"):
        value = to_user_value(res.value, scaling.value_exponent, upper=False)
        D = [np.ldexp(d, g) for d, g in zip(res.D, gains, strict=True)]
    return replace(res, value=value, D=D)


def _with_time(res: LowerBoundResult, seconds: float) -> LowerBoundResult:
    from dataclasses import replace

    return replace(res, time=seconds)


# --- bracketing -----------------------------------------------------------------------------


def supports_gap_tol(solver: str) -> bool:
    """Whether ``lipsdp.solve`` with backend ``solver`` accepts ``options={"gap_tol": ...}``.

    True when the backend's registry spec lists ``"gap_tol"`` among its ``options``, or when
    :data:`lipsdp.api.ANYTIME_BACKENDS` (backends whose iterates lipsdp certifies on the fly)
    contains it.
    """
    import solvers

    from . import api

    spec = solvers.get_spec(solver)
    if "gap_tol" in tuple(getattr(spec, "options", ()) or ()):
        return True
    return spec.name in getattr(api, "ANYTIME_BACKENDS", ())


def bracket(
    net: Network | Sequence[np.ndarray],
    *,
    upper: str = "best",
    solve: bool = False,
    solver: str = "auto",
    options: Mapping | None = None,
    gap_tol: float | None = None,
    activation: object = None,
    n_samples: int = 256,
    seed: int | np.random.Generator | None = 0,
    ascent_steps: int = 30,
    slopes: object = None,
) -> BracketResult:
    """Bracket the LipSDP optimum: ``lower <= LipSDP optimum <= upper`` (docs/math.md §6).

    Parameters
    ----------
    net : Network or list of ndarray
    upper : str
        Closed-form method for the upper bound (default ``"best"``, the smallest certified member
        of :data:`~lipsdp.CLOSED_FORM_METHODS`).
    solve : bool
        Also run :func:`lipsdp.solve` (warm-started from the closed form) and keep its certified
        value when smaller. Skipped when ``gap_tol`` is given and the closed-form gap is already
        below it.
    solver : str
        Backend for ``solve`` (``"auto"`` as in :func:`lipsdp.solve`).
    options : mapping, optional
        Backend options for ``solve``; never modified.
    gap_tol : float, optional
        Relative gap ``upper / lower - 1`` that is good enough. Hook for solvers that stop
        once their certified gap is below a tolerance: when the chosen backend declares
        ``"gap_tol"`` among its options (see :func:`supports_gap_tol`), it is passed on as
        ``options={"gap_tol": gap_tol}``; other backends ignore it.
    activation : optional
        The network's actual activation, for the lower bound on the true ``L`` (see
        :func:`lower_bound`). Default: ReLU for slopes ``(0, 1)``, leaky ReLU for ``(a, 1)``;
        for other slopes without an activation the Jacobian bound is skipped
        (``lower_true = nan``).
    n_samples, seed, ascent_steps :
        As for :func:`lower_bound`.
    slopes : optional
        Slopes when ``net`` is a list of weights.

    Returns
    -------
    BracketResult
        ``lower`` bounds the LipSDP optimum from below, ``lower_true`` the true ``L``, ``upper``
        both from above (certified).

    Raises
    ------
    ValueError
        Unknown ``upper`` method, bad counts or ``gap_tol``, or an activation whose slope range is
        not inside the network's slopes (the bracket would compare different function classes).

    References
    ----------
    M. Fazlyab et al., NeurIPS 2019 (LipSDP); Y. Xu and S. Sivaranjani, NeurIPS 2024 (ECLipsE).

    Examples
    --------
    >>> import numpy as np, lipsdp
    >>> rng = np.random.default_rng(0)
    >>> net = lipsdp.Network([rng.standard_normal((8, 4)), rng.standard_normal((2, 8))])
    >>> b = lipsdp.bracket(net)
    >>> b.lower_true <= b.lower <= b.upper
    True
    """
    start = time.perf_counter()
    if not isinstance(upper, str):
        raise TypeError(f"upper is {type(upper).__name__}; expected a closed-form method name")
    if upper not in CLOSED_FORM_METHODS:
        raise ValueError(f"upper is {upper!r}; expected one of {sorted(CLOSED_FORM_METHODS)}")
    if not isinstance(solve, bool):
        raise TypeError(f"solve is {type(solve).__name__}; expected a bool")
    if gap_tol is not None:
        gap_tol = _check_positive(gap_tol, "gap_tol")
    if options is not None and not isinstance(options, Mapping):
        raise TypeError(f"options is {type(options).__name__}; expected a mapping")
    n_samples = _check_int(n_samples, "n_samples", 1)
    ascent_steps = _check_int(ascent_steps, "ascent_steps", 0)
    rng = _rng(seed)
    net = as_network(net, slopes)
    acts = None
    if net.n_hidden:
        try:
            acts = _activations(activation, net)
        except ValueError:
            if activation is not None:
                raise
            acts = None  # non-ReLU slopes and no activation: no lower bound on the true L
        for k, act in enumerate(acts or []):
            a, b = net.slopes[k]
            if act.slopes is not None and not (a <= act.slopes[0] and act.slopes[1] <= b):
                raise ValueError(
                    f"activation {act.name!r} has slopes {act.slopes}, outside slopes[{k}] = "
                    f"({a}, {b}); the lower bound would be for a different network class"
                )

    cf = closed_form(net, upper)
    up_res, up_method = cf, upper
    lower_results: dict[str, LowerBoundResult] = {}
    jac = None
    if net.n_hidden == 0:
        jac = lower_bound(net, "jacobian")  # a linear map: its norm is L
        slope = lower_bound(net, "slope-class")
    else:
        t0 = time.perf_counter()
        slope = _slope_bound(net, rng, ascent_steps, 8, [])
        if acts is not None:
            # Inputs along the slope-class direction tend to realise its activation pattern.
            starts = _as_input_starts(slope, net, 1.0)
            jac = _with_time(*_timed(_jacobian_bound, net, acts, n_samples, rng, ascent_steps,
                                     1.0, 8, starts))
            # From the Jacobian's D the slope-class ascent ends at least at the Jacobian's norm.
            again = _slope_bound(net, rng, ascent_steps, 0, [jac.D])
            if again.value > slope.value:
                slope = again
        slope = _with_time(slope, time.perf_counter() - t0 - (jac.time if jac else 0.0))
    if jac is not None:
        lower_results["jacobian"] = jac
    lower_results["slope-class"] = slope
    lower, lower_method = slope.value, "slope-class"
    # A Jacobian of an activation inside the slope class bounds the LipSDP optimum too.
    if jac is not None and all(a.slopes is not None for a in acts or []) and jac.value > lower:
        lower, lower_method = jac.value, "jacobian"
    info: dict = {"closed_form": cf}

    def gap_of(u: float) -> float:
        if lower > 0:
            return u / lower - 1.0
        return 0.0 if u <= 0 else float("inf")

    if solve and net.n_hidden:
        if gap_tol is not None and gap_of(cf.value) <= gap_tol:
            info["solve"] = f"skipped: closed-form gap {gap_of(cf.value):.3g} <= gap_tol"
        else:
            from .api import choose_solver
            from .api import solve as lipsdp_solve

            name = choose_solver(net) if solver == "auto" else solver
            opts = dict(options or {})
            if gap_tol is not None and supports_gap_tol(name):
                opts["gap_tol"] = gap_tol
            sres = lipsdp_solve(net, solver=name, options=opts, warm_start=cf)
            info["solve"] = sres
            if sres.certified and sres.value < up_res.value:
                up_res, up_method = sres, f"solve:{sres.solver}"
    value = up_res.value
    return BracketResult(
        lower=float(lower),
        upper=float(value),
        gap=float(gap_of(value)),
        lower_true=float(jac.value) if jac is not None else float("nan"),
        lower_method=lower_method,
        upper_method=up_method,
        upper_result=up_res,
        lower_results=lower_results,
        total_time=time.perf_counter() - start,
        info=info,
    )


def _timed(fn: Callable, *args: object) -> tuple[LowerBoundResult, float]:
    t0 = time.perf_counter()
    res = fn(*args)
    return res, time.perf_counter() - t0
