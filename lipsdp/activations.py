"""Activations: the one table of names, their derivatives and their slope bounds.

Each :class:`Activation` names a function ``phi``, its derivative and (optionally) its second
derivative, and the slope class ``[alpha, beta]`` it belongs to. The same table gives
``Network(weights, activation="tanh")`` its slopes (docs/math.md §1), the loaders
(:func:`lipsdp.load`) the slopes of a model's layers, and the Jacobian lower bound (§6) its
``phi'``. A name may carry parameters: ``"leaky_relu(0.1)"``, ``"elu(2)"``, ``"hardtanh(-2, 2)"``,
``"softplus(3)"``.

Every slope pair is *outward*: ``alpha <= inf phi'`` and ``sup phi' <= beta`` hold for the exact
function (the float64 numbers are rounded away from the true range where it is not exact).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import erf

if TYPE_CHECKING:
    from .network import Network

__all__ = ["ACTIVATIONS", "Activation", "activation_slopes", "get_activation"]


# --- activations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Activation:
    """An elementwise activation with its derivatives and slope bounds.

    Parameters
    ----------
    name : str
        The canonical name, which :func:`get_activation` reads back (``"leaky_relu(0.1)"``).
    phi, dphi : callable
        ``phi(z)`` and ``phi'(z)``, vectorised over arrays.
    d2phi : callable, optional
        ``phi''(z)``; steers the local ascent only (a central difference of ``dphi`` is used when
        it is missing). The reported value never depends on it.
    slopes : (float, float), optional
        Outward bounds ``alpha <= inf phi'``, ``sup phi' <= beta`` when known; :func:`bracket`
        checks it against the network's slopes and ``Network(activation=...)`` uses it.
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


def _relu() -> Activation:
    return Activation("relu", lambda z: np.maximum(z, 0.0),
                      lambda z: (np.asarray(z) > 0).astype(np.float64),
                      lambda z: np.zeros_like(z), (0.0, 1.0))


def _leaky_relu(a: float = 0.01) -> Activation:
    a = float(a)
    return Activation(
        f"leaky_relu({a!r})" if a != 0.01 else "leaky_relu",
        lambda z: np.where(z > 0, z, a * z),
        lambda z: np.where(z > 0, 1.0, a),
        lambda z: np.zeros_like(z),
        (min(a, 1.0), max(a, 1.0)),
    )


def _elu(alpha: float = 1.0) -> Activation:
    """ELU(alpha): ``z`` for ``z > 0``, ``alpha (e^z - 1)`` else; ``phi'`` is 1 on the right and
    ``alpha e^z``, between 0 and ``alpha``, on the left: slopes ``(min(0, alpha), max(1, alpha))``
    (phi is continuous and piecewise C¹, so its difference quotients lie in that range)."""
    al = float(alpha)
    return Activation(
        "elu" if al == 1.0 else f"elu({al!r})",
        lambda z: np.where(z > 0, z, al * np.expm1(np.minimum(z, 0.0))),
        lambda z: np.where(z > 0, 1.0, al * np.exp(np.minimum(z, 0.0))),
        lambda z: np.where(z > 0, 0.0, al * np.exp(np.minimum(z, 0.0))),
        (min(0.0, al), max(1.0, al)),
    )


def _softplus(beta: float = 1.0) -> Activation:
    """``log(1 + e^(beta z)) / beta``: ``phi' = sigmoid(beta z)`` in (0, 1) for every beta > 0.
    (PyTorch switches to ``z`` above ``beta z > threshold``; that jump, below 1e-8 / beta, is a
    float device below float32 resolution there: the exact function is what is bounded.)"""
    b = float(beta)
    if not b > 0:
        raise ValueError(f"softplus beta is {beta}; expected a positive number")
    return Activation(
        "softplus" if b == 1.0 else f"softplus({b!r})",
        lambda z: np.logaddexp(0.0, b * z) / b,
        lambda z: _sigmoid(b * z),
        lambda z: b * _sigmoid(b * z) * (1.0 - _sigmoid(b * z)),
        (0.0, 1.0),
    )


def _hardtanh(min_val: float = -1.0, max_val: float = 1.0) -> Activation:
    lo, hi = float(min_val), float(max_val)
    if not lo < hi:
        raise ValueError(f"hardtanh({lo:g}, {hi:g}): expected min_val < max_val")
    name = "hardtanh" if (lo, hi) == (-1.0, 1.0) else f"hardtanh({lo!r}, {hi!r})"
    if (lo, hi) == (0.0, 6.0):
        name = "relu6"
    return Activation(
        name, lambda z: np.clip(z, lo, hi),
        lambda z: ((z > lo) & (z < hi)).astype(np.float64),
        lambda z: np.zeros_like(z), (0.0, 1.0),
    )


def _identity() -> Activation:
    return Activation("identity", lambda z: np.array(z, dtype=np.float64),
                      lambda z: np.ones_like(z, dtype=np.float64),
                      lambda z: np.zeros_like(z, dtype=np.float64), (1.0, 1.0))


# --- GELU and SiLU: slopes outside [0, 1], computed with a proved outward margin -------------

#: Added outward to the computed extremes of GELU's and SiLU's ``phi'`` (see :func:`_extremes`).
SMOOTH_MARGIN = 1e-12


def _gelu_dphi(z):
    z = np.asarray(z, dtype=np.float64)
    return 0.5 * (1.0 + erf(z / math.sqrt(2.0))) + z * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)


def _gelu_d2phi(z):
    z = np.asarray(z, dtype=np.float64)
    return np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) * (2.0 - z * z)


def _silu_dphi(z):
    s = _sigmoid(np.asarray(z, dtype=np.float64))
    return s * (1.0 + z * (1.0 - s))


def _silu_d2phi(z):
    s = _sigmoid(np.asarray(z, dtype=np.float64))
    return s * (1.0 - s) * (2.0 - z * np.tanh(0.5 * z))


def _extremes(dphi: Callable, g: Callable[[float], float], lo: float, hi: float
              ) -> tuple[float, float]:
    """Outward bounds ``(inf phi', sup phi')`` of GELU or SiLU.

    Both have ``phi'' = w(z) g(z)`` with ``w > 0`` and ``g`` even, decreasing on ``z > 0`` from
    ``g(0) = 2`` to ``-inf`` (GELU: ``g = 2 - z²``; SiLU: ``g = 2 - z tanh(z/2)``), so ``phi'``
    increases on ``(-z*, z*)``, decreases outside, and tends to 0 and 1 at ``∓inf``: its extremes
    are ``phi'(∓z*)`` at the one positive root ``z*`` of ``g`` (``√2`` for GELU, ``≈ 2.3994``
    for SiLU).

    Proof of the margin. Bisection on ``[lo, hi]`` (``g(lo) > 0 > g(hi)``) keeps a bracket
    ``[a, b]`` of ``z*`` of width ``δ`` below ``4e-16 * z*``; near ``z*`` ``|g'| >= 1``, so a sign
    of ``g`` misjudged by float64 evaluation error (< 1e-15) moves the bracket by < 1e-15.
    ``phi'(z*)`` is the maximum and ``phi''(z*) = 0``, so for every ``z`` in the bracket
    ``0 <= phi'(z*) - phi'(z) <= K (z - z*)² / 2`` with ``K = sup |phi'''| < 2`` (GELU:
    ``|phi'''| = φ(z)|z³ - 4z| <= 0.4 (sup |z|³e^(-z²/2) + 4 sup |z|e^(-z²/2)) < 1.5``; SiLU, with
    ``s = σ(z)``: ``phi''' = 3 s(1-s)(1-2s) + z s(1-s)((1-2s)² - 2s(1-s))``, at most
    ``3/4 + 1/e < 2`` as ``|z| s(1-s) <= |z| e^(-|z|) <= 1/e``): a term below 1e-29. The float64
    evaluation of ``phi'`` at one point (erf, exp, tanh: a few ulps, terms of size <= 1.2) errs by
    < 1e-15. So ``max(phi'(a), phi'(b)) + 1e-12`` exceeds ``sup phi'`` by a margin of more than
    999 times the total error; the minimum likewise, at ``-a``, ``-b``. The sampled test in
    tests/lipsdp/test_loaders.py checks the result within 1e-6 of a dense sampling, and mpmath
    agrees to 1e-15.
    """
    a, b = lo, hi
    if not (g(a) > 0 > g(b)):
        raise AssertionError("bracket does not contain the root")  # pragma: no cover
    while True:
        m = 0.5 * (a + b)
        if not a < m < b:
            break
        if g(m) > 0:
            a = m
        else:
            b = m
    top = max(float(dphi(a)), float(dphi(b)))
    bottom = min(float(dphi(-a)), float(dphi(-b)))
    return bottom - SMOOTH_MARGIN, top + SMOOTH_MARGIN


def _gelu() -> Activation:
    """GELU ``z Φ(z)`` (erf form; PyTorch's default ``approximate='none'``)."""
    slopes = _extremes(_gelu_dphi, lambda z: 2.0 - z * z, 1.0, 2.0)
    return Activation(
        "gelu", lambda z: 0.5 * z * (1.0 + erf(np.asarray(z) / math.sqrt(2.0))),
        _gelu_dphi, _gelu_d2phi, slopes,
    )


def _silu() -> Activation:
    """SiLU (swish) ``z σ(z)``."""
    slopes = _extremes(_silu_dphi, lambda z: 2.0 - z * math.tanh(0.5 * z), 2.0, 3.0)
    return Activation("silu", lambda z: z * _sigmoid(z), _silu_dphi, _silu_d2phi, slopes)


#: Constructors by name; the parameters in a name ``"leaky_relu(0.1)"`` are their arguments.
_FACTORIES: dict[str, tuple[Callable[..., Activation], int]] = {
    "relu": (_relu, 0),
    "leaky_relu": (_leaky_relu, 1),
    "tanh": (lambda: Activation(
        "tanh", np.tanh, lambda z: 1.0 - np.tanh(z) ** 2,
        lambda z: -2.0 * np.tanh(z) * (1.0 - np.tanh(z) ** 2), (0.0, 1.0)), 0),
    "sigmoid": (lambda: Activation(
        "sigmoid", _sigmoid, lambda z: _sigmoid(z) * (1.0 - _sigmoid(z)),
        lambda z: _sigmoid(z) * (1.0 - _sigmoid(z)) * (1.0 - 2.0 * _sigmoid(z)), (0.0, 0.25)), 0),
    "elu": (_elu, 1),
    "softplus": (_softplus, 1),
    "hardtanh": (_hardtanh, 2),
    "relu6": (lambda: _hardtanh(0.0, 6.0), 0),
    "gelu": (_gelu, 0),
    "silu": (_silu, 0),
    "identity": (_identity, 0),
}
_ALIASES = {"linear": "identity", "leakyrelu": "leaky_relu"}

#: Named activations with their default parameters and slope ranges (docs/math.md §1):
#: relu, leaky_relu (0.01), tanh, sigmoid, elu, softplus, hardtanh, relu6 (0, 1) except
#: sigmoid (0, 1/4) and leaky ReLU(a) (min(a, 1), max(a, 1)); gelu and silu have negative lower
#: and > 1 upper slopes (:func:`_extremes`); identity (1, 1). ``"leaky_relu"`` in a lower-bound
#: call takes its negative slope from the network's ``alpha_k`` when ``0 < alpha_k < 1``.
ACTIVATIONS: dict[str, Activation] = {name: f() for name, (f, _) in _FACTORIES.items()}

_NAME = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?\s*")


def get_activation(spec: str | Activation, where: str = "activation") -> Activation:
    """The :class:`Activation` named ``spec``: a table name, optionally with parameters.

    Parameters
    ----------
    spec : str or Activation
        ``"tanh"``, ``"leaky_relu(0.2)"``, ``"elu(2)"``, ``"softplus(3)"``, ``"hardtanh(-2, 2)"``
        (case-insensitive; ``"linear"`` is ``"identity"``); an
        :class:`Activation` is returned as it is.
    where : str
        How the error messages name the argument.

    Raises
    ------
    ValueError
        An unknown name, a malformed or wrong number of parameters.
    TypeError
        If ``spec`` is neither a str nor an Activation.
    """
    if isinstance(spec, Activation):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"{where} is {type(spec).__name__}; expected an activation name")
    m = _NAME.fullmatch(spec)
    name = m.group(1).lower() if m else None
    name = _ALIASES.get(name, name)
    if name not in _FACTORIES:
        raise ValueError(f"{where} is {spec!r}; expected one of {sorted(_FACTORIES)} (names may "
                         "carry parameters: 'leaky_relu(0.1)', 'elu(2)', 'hardtanh(-2, 2)')")
    factory, n_params = _FACTORIES[name]
    args: list[float] = []
    if m.group(2) is not None and m.group(2).strip():
        try:
            args = [float(t) for t in m.group(2).split(",")]
        except ValueError:
            raise ValueError(f"{where} is {spec!r}; its parameters are not numbers") from None
    if len(args) > n_params:
        raise ValueError(f"{where} is {spec!r}; {name} takes at most {n_params} parameter(s)")
    if not all(math.isfinite(v) for v in args):
        raise ValueError(f"{where} is {spec!r}; expected finite parameters")
    if not args:
        return ACTIVATIONS[name]
    return factory(*args)


def activation_slopes(spec: str | Activation, where: str = "activation") -> tuple[float, float]:
    """The slope bounds ``(alpha, beta)`` of the activation ``spec`` (see :func:`get_activation`).

    Examples
    --------
    >>> from lipsdp.activations import activation_slopes
    >>> activation_slopes("sigmoid"), activation_slopes("leaky_relu(0.1)")
    ((0.0, 0.25), (0.1, 1.0))
    """
    act = get_activation(spec, where)
    if act.slopes is None:
        raise ValueError(f"{where} {act.name!r} has no known slope bounds; pass slopes=")
    return act.slopes


def _one_activation(spec: object, alpha: float, where: str) -> Activation:
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, str):
        if spec == "leaky_relu" and 0.0 < alpha < 1.0:
            return _leaky_relu(alpha)
        return get_activation(spec, where)
    if isinstance(spec, tuple) and len(spec) in (2, 3) and all(callable(f) for f in spec):
        return Activation(getattr(spec[0], "__name__", "custom"), *spec)
    if callable(spec):
        raise TypeError(f"{where} is a single callable; expected a pair (phi, dphi) with its "
                        "derivative (the Jacobian needs phi')")
    raise TypeError(f"{where} is {type(spec).__name__}; expected an activation name, an "
                    "Activation, or a pair (phi, dphi) of callables")


def _activations(spec: object, net: Network) -> list[Activation]:
    """One :class:`Activation` per hidden layer (``None``: the network's own ``activation`` when
    it was built with one, else ReLU, or leaky ReLU for ``(a, 1)``)."""
    l = net.n_hidden
    if spec is None and getattr(net, "activation", None) is not None:
        spec = list(net.activation)
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
