"""Activations with their derivatives, for the Jacobian lower bound (docs/math.md §1, §6).

Each :class:`Activation` names a function ``phi``, its derivative and (optionally) its second
derivative, and the slope class ``[alpha, beta]`` it belongs to, so that a bound computed with it
can be checked against the network's slopes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .network import Network

__all__ = ["ACTIVATIONS", "Activation"]


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
