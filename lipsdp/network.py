"""A feed-forward network as LipSDP sees it: weight matrices and activation slope bounds."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from .activations import activation_slopes, get_activation

__all__ = ["RELU", "Network", "as_network"]

RELU = (0.0, 1.0)


def real_array(obj: object, name: str) -> np.ndarray:
    """``np.asarray(obj)``, refused with a ``TypeError`` naming ``name`` unless it is a real
    numeric (or boolean) array: the one check every array the package is handed goes through."""
    A = np.asarray(obj)
    if A.dtype == object or not (
        np.issubdtype(A.dtype, np.number) or np.issubdtype(A.dtype, np.bool_)
    ):
        raise TypeError(f"{name} has dtype {A.dtype}; expected a real numeric array")
    if np.iscomplexobj(A):
        raise TypeError(f"{name} is complex; expected a real array")
    return A


def _as_weight(W: object, k: int) -> np.ndarray:
    if isinstance(W, np.ndarray) or hasattr(W, "__array__"):
        A = np.asarray(W)
    elif isinstance(W, (list, tuple)):
        A = np.asarray(W)
    else:
        raise TypeError(f"weights[{k}] is {type(W).__name__}; expected a 2-D array")
    A = real_array(A, f"weights[{k}]")
    if A.ndim != 2:
        raise ValueError(f"weights[{k}] has {A.ndim} dimension(s) (shape {A.shape}); expected 2-D")
    if 0 in A.shape:
        raise ValueError(f"weights[{k}] has shape {A.shape}; expected no empty dimension")
    # Always copy: the network owns its arrays and never aliases the caller's.
    A = np.array(A, dtype=np.float64, copy=True)
    if not np.all(np.isfinite(A)):
        bad = int(np.size(A) - np.count_nonzero(np.isfinite(A)))
        raise ValueError(f"weights[{k}] has {bad} non-finite entries (nan or inf); expected finite")
    A.setflags(write=False)
    return A


def _as_pair(pair: object, where: str) -> tuple[float, float]:
    if isinstance(pair, (str, bytes)) or not isinstance(pair, (Sequence, np.ndarray)):
        raise TypeError(f"{where} is {pair!r}; expected a pair (alpha, beta)")
    if len(pair) != 2:
        raise ValueError(f"{where} has {len(pair)} entries; expected a pair (alpha, beta)")
    alpha, beta = pair
    for name, v in (("alpha", alpha), ("beta", beta)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"{where}: {name} is {v!r}; expected a real number")
        if not np.isfinite(float(v)):
            raise ValueError(f"{where}: {name} is {v}; expected a finite number")
    alpha, beta = float(alpha), float(beta)
    if alpha > beta:
        raise ValueError(f"{where} is ({alpha}, {beta}); expected alpha <= beta")
    return alpha, beta


def _normalise_slopes(slopes: object, n_hidden: int) -> tuple[tuple[float, float], ...]:
    if slopes is None:
        slopes = RELU
    if isinstance(slopes, np.ndarray) and slopes.ndim == 2:
        slopes = [tuple(row) for row in slopes]
    is_pair = (
        isinstance(slopes, (Sequence, np.ndarray))
        and not isinstance(slopes, (str, bytes))
        and len(slopes) == 2
        and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in slopes)
    )
    if is_pair:
        pair = _as_pair(slopes, "slopes")
        return (pair,) * n_hidden
    if isinstance(slopes, (str, bytes)) or not isinstance(slopes, (Sequence, np.ndarray)):
        raise TypeError(
            f"slopes is {slopes!r}; expected a pair (alpha, beta) or a list of pairs, "
            "one per hidden layer" + (" (an activation name goes in activation=)"
                                      if isinstance(slopes, str) else "")
        )
    if len(slopes) != n_hidden:
        raise ValueError(
            f"slopes has {len(slopes)} pairs; expected {n_hidden}, one per hidden layer "
            f"(the network has {n_hidden + 1} weight matrices)"
        )
    return tuple(_as_pair(p, f"slopes[{k}]") for k, p in enumerate(slopes))


def _normalise_activation(activation: object, n_hidden: int) -> tuple[str, ...] | None:
    if activation is None:
        return None
    if isinstance(activation, str):
        return (get_activation(activation).name,) * n_hidden
    if not isinstance(activation, (Sequence, np.ndarray)):
        raise TypeError(f"activation is {type(activation).__name__}; expected a name or a list "
                        "of names, one per hidden layer")
    if len(activation) != n_hidden:
        raise ValueError(f"activation has {len(activation)} entries; expected {n_hidden}, one per "
                         f"hidden layer (or one name for all)")
    names = []
    for k, a in enumerate(activation):
        if not isinstance(a, str):
            raise TypeError(f"activation[{k}] is {type(a).__name__}; expected an activation name")
        names.append(get_activation(a, f"activation[{k}]").name)
    return tuple(names)


T = TypeVar("T")


def computed_once(net: Network, key: str, compute: Callable[[Network], T]) -> T:
    """``compute(net)``, kept on the network under ``key`` (a network is immutable, its weights
    read-only): what depends only on the network is computed once per network."""
    cached = net.__dict__.get(key)
    if cached is None:
        cached = compute(net)
        object.__setattr__(net, key, cached)
    return cached


@dataclass(frozen=True, eq=False)
class Network:
    """A feed-forward network ``y = W_l phi_l(... phi_1(W_0 x))`` (docs/math.md §1).

    Parameters
    ----------
    weights : sequence of array_like
        ``W_0, ..., W_l``; ``W_k`` has shape ``(n_{k+1}, n_k)``. A single matrix is a valid network
        (no hidden layer, ``L = ||W_0||_2``). The arrays are copied as read-only float64.
    slopes : (float, float) or sequence of (float, float), optional
        Slope bounds ``[alpha_k, beta_k]`` of the hidden activations: one pair for every hidden
        layer, or one pair per hidden layer. ReLU, tanh, ELU and softplus are ``(0, 1)``,
        sigmoid ``(0, 0.25)``, leaky ReLU(a) ``(a, 1)``. Default: the slopes of ``activation``,
        else ReLU's ``(0, 1)``.
    activation : str or sequence of str, optional
        The hidden activations by name, one for every hidden layer or one per hidden layer
        (``"tanh"``, ``"leaky_relu(0.1)"``, ``"gelu"``; the table is
        :data:`lipsdp.ACTIVATIONS`). Without ``slopes`` they give the slopes. With ``slopes``
        both are kept if every pair contains its activation's range (a wider sector is a valid,
        deliberate choice); a pair that does not is an error. Stored as canonical names; the
        Jacobian lower bound uses them.

    Raises
    ------
    TypeError
        If a weight is not a real numeric array, the slopes are not pairs of numbers or an
        activation is not a name.
    ValueError
        If a weight is not 2-D, has non-finite entries, shapes do not chain, the list is empty,
        ``alpha > beta``, the slopes or activation list has the wrong length, an activation name
        is unknown, or ``slopes[k]`` does not contain the range of ``activation[k]``.

    Examples
    --------
    >>> import numpy as np, lipsdp
    >>> net = lipsdp.Network([np.eye(3), np.ones((1, 3))], slopes=(0.0, 1.0))
    >>> net.widths
    (3, 3, 1)
    >>> lipsdp.Network([np.eye(3), np.ones((1, 3))], activation="sigmoid").slopes
    ((0.0, 0.25),)
    """

    weights: tuple[np.ndarray, ...]
    slopes: tuple[tuple[float, float], ...] = None  # type: ignore[assignment]
    activation: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        weights = self.weights
        if isinstance(weights, np.ndarray) and weights.ndim == 2:
            weights = [weights]
        if isinstance(weights, np.ndarray) and weights.ndim != 2 and weights.dtype != object:
            raise ValueError(
                f"weights is a {weights.ndim}-D array; expected a list of 2-D weight matrices"
            )
        if isinstance(weights, (str, bytes, dict)) or not isinstance(
            weights, (Sequence, np.ndarray)
        ):
            raise TypeError(
                f"weights is {type(weights).__name__}; expected a list of 2-D weight matrices"
            )
        if len(weights) == 0:
            raise ValueError("weights is empty; expected at least one weight matrix")
        Ws = tuple(_as_weight(W, k) for k, W in enumerate(weights))
        for k in range(1, len(Ws)):
            if Ws[k].shape[1] != Ws[k - 1].shape[0]:
                raise ValueError(
                    f"weights[{k}] has shape {Ws[k].shape}; expected {Ws[k - 1].shape[0]} columns "
                    f"to match weights[{k - 1}] ({Ws[k - 1].shape[0]} rows)"
                )
        object.__setattr__(self, "weights", Ws)
        names = _normalise_activation(self.activation, len(Ws) - 1)
        if names is None:
            slopes = _normalise_slopes(self.slopes, len(Ws) - 1)
        else:
            implied = tuple(activation_slopes(n) for n in names)
            if self.slopes is None:
                slopes = implied
            else:
                slopes = _normalise_slopes(self.slopes, len(Ws) - 1)
                for k, ((a, b), (a0, b0)) in enumerate(zip(slopes, implied, strict=True)):
                    if not (a <= a0 and b0 <= b):
                        raise ValueError(
                            f"slopes[{k}] is ({a}, {b}) but activation[{k}] {names[k]!r} has "
                            f"slopes ({a0}, {b0}); expected slopes containing them (or pass "
                            "only one of slopes and activation)"
                        )
        object.__setattr__(self, "slopes", slopes)
        object.__setattr__(self, "activation", names)

    # --- shape -------------------------------------------------------------------------------
    @property
    def n_hidden(self) -> int:
        """Number of hidden layers ``l``."""
        return len(self.weights) - 1

    @property
    def widths(self) -> tuple[int, ...]:
        """``(n_0, n_1, ..., n_l, n_{l+1})``: input, hidden and output widths."""
        return (self.weights[0].shape[1], *(W.shape[0] for W in self.weights))

    @property
    def hidden_widths(self) -> tuple[int, ...]:
        return self.widths[1:-1]

    @property
    def n_neurons(self) -> int:
        """Total number of hidden neurons ``N``."""
        return int(sum(self.hidden_widths))

    @property
    def lmi_size(self) -> int:
        """Side ``n_0 + N`` of the full LipSDP matrix inequality (docs/math.md §2)."""
        return self.widths[0] + self.n_neurons

    @property
    def solved_size(self) -> int:
        """Side ``min(n_0, n_1) + N`` of the LMI the solvers are given: ``W_0`` enters only through
        its Gram matrix, so a wide input is compressed first (docs/math.md §8; a 784-50-10
        network gives side 100)."""
        return min(self.widths[0], self.widths[1]) + self.n_neurons

    # --- slope helpers used by every formula (docs/math.md §3 notation) -------------------------
    @property
    def alpha(self) -> np.ndarray:
        return np.array([a for a, _ in self.slopes])

    @property
    def beta(self) -> np.ndarray:
        return np.array([b for _, b in self.slopes])

    @property
    def p(self) -> np.ndarray:
        """``alpha_k * beta_k`` per hidden layer."""
        return self.alpha * self.beta

    @property
    def m(self) -> np.ndarray:
        """``(alpha_k + beta_k) / 2`` per hidden layer."""
        return 0.5 * (self.alpha + self.beta)

    def __repr__(self) -> str:
        widths = "-".join(str(n) for n in self.widths)
        slopes = set(self.slopes)
        s = self.slopes[0] if len(slopes) == 1 else list(self.slopes)
        if self.activation is None:
            return f"Network({widths}, slopes={s})"
        acts = set(self.activation)
        a = self.activation[0] if len(acts) == 1 else list(self.activation)
        return f"Network({widths}, activation={a!r}, slopes={s})"


def as_network(net: object, slopes: object = None) -> Network:
    """Return ``net`` if it is a :class:`Network`, else build one from a list of weights.

    ``slopes`` applies only when ``net`` is a plain list (default ReLU's ``(0, 1)``); passing
    slopes together with a ``Network`` is an error, so that a mismatch is never silent.
    """
    if isinstance(net, Network):
        if slopes is not None:
            raise ValueError("slopes was given together with a Network; set them on the Network")
        return net
    return Network(net, RELU if slopes is None else slopes)  # type: ignore[arg-type]
