"""Lower bounds: where the true ``L`` and the LipSDP optimum lie from below (docs/math.md §6).

Two lower bounds that mean different things:

* ``method="jacobian"`` -- ``max ||J_f(x)||_2`` over sampled inputs, improved by a short local
  ascent, with the network's *actual* activation: a lower bound on the true Lipschitz constant
  (``kind="lipschitz"``), hence on every valid upper bound.
* ``method="slope-class"`` -- ``max ||W_l D_l ... D_1 W_0||_2`` over diagonal ``D_k`` with
  entries in ``[alpha_k, beta_k]``: each such linear map is a network whose activations satisfy
  the slope restriction, so LipSDP must bound it too. A lower bound on the LipSDP optimum
  (``kind="lipsdp"``), not on the true ``L`` (the slope class is larger than any one network).

:func:`lipsdp.bracket` (:mod:`lipsdp.bracketing`) combines them with a certified upper bound.
"""

from __future__ import annotations

import logging
import numbers
import time
from collections.abc import Sequence

import numpy as np
import scipy.linalg as sla

from .activations import Activation, _activations
from .network import Network, as_network
from .result import LowerBoundResult

__all__ = ["LOWER_BOUND_METHODS", "lower_bound"]

logger = logging.getLogger(__name__)

LOWER_BOUND_METHODS = ("jacobian", "slope-class")


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
        return LowerBoundResult(sigma, kind, method, None, [], v, evaluations=1,
                                total_time=time.perf_counter() - start)
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

    return replace(res, total_time=seconds)
