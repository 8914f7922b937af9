"""Exact power-of-two normalisation of a network (docs/math.md §4.5).

LipSDP is homogeneous in the scale of each layer: with integers ``c_k`` (hidden variables,
``c_0 = 0``) and ``d_k`` (pre-activations), the substitution ``x_k = 2^{c_k} x'_k``,
``z_k = 2^{d_k} z'_k`` maps the network ``(W_k, [alpha_k, beta_k])`` onto the network with
weights ``W'_{k-1} = 2^{c_{k-1} - d_k} W_{k-1}`` and slopes ``2^{d_k - c_k} [alpha_k, beta_k]``,
and ``M(rho, T) <= 0`` for the first holds exactly when it holds for the second at
``rho' = 2^{-2 d_{l+1}} rho``, ``t'_k = 2^{2 c_k - 2 d_{l+1}} t_k``; the Lipschitz constants differ
by ``2^{d_{l+1}}``. Powers of two are exact in binary floating point, so the normalised network
(every weight of spectral norm about 1, every slope pair of magnitude about 1) *is* the user's
network, in other units, and every quantity can be mapped back exactly -- where the mapped float
is in range (a mixed-scale network can have multipliers below float64's smallest number).

Everything the package computes is computed on the normalised network; nothing under- or
overflows because the user's weights are ``1e-300`` or ``1e300``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import blas

from .network import Network, computed_once

__all__ = ["Scaling", "normalise", "result_to_user", "round_up", "to_user_value"]

#: ``frexp`` exponent of the smallest positive normal float64 (``2^-1022 = 0.5 * 2^-1021``).
_MIN_NORMAL_EXP = -1021
_POWER_ITERATIONS = 4


def round_up(x: float) -> float:
    """The next float above ``x`` (``x`` itself for ``inf``; ``nan`` stays ``nan``)."""
    return float(np.nextafter(x, np.inf))


def _exact_shift_limit(A: np.ndarray) -> int:
    """Largest ``a`` such that ``ldexp(A, -a)`` is exact: every nonzero entry stays normal."""
    nz = np.abs(A[A != 0])
    if nz.size == 0:
        return 0
    return int(np.frexp(nz.min())[1]) - _MIN_NORMAL_EXP


def _norm_exponent(W: np.ndarray) -> int:
    """Integer ``a`` with ``2^a`` about ``||W||_2`` (an estimate: any ``a`` is exact and valid).

    A few power iterations from a fixed start, floored by ``||W||_F / sqrt(rank bound)``;
    SciPy's BLAS only (see the note on thread pools in :mod:`lipsdp.certify`).
    """
    top = max(float(W.max()), -float(W.min()))  # no temporary
    e0 = int(np.frexp(top)[1])
    # Entries within 2^+-400 are used as they are (nothing below over- or underflows);
    # others are brought to [-1, 1) first.
    V = W if abs(e0) < 400 and W.flags.c_contiguous else np.ldexp(W, -e0)
    if V is W:
        e0 = 0
    Vt = V.T  # Fortran order: the BLAS reads it without a copy
    x = np.ones(V.shape[1]) + np.linspace(0.0, 0.5, V.shape[1])
    est = 0.0
    for _ in range(_POWER_ITERATIONS):
        y = blas.dgemv(1.0, Vt, x, trans=1)
        x = blas.dgemv(1.0, Vt, y)
        nx, ny = float(blas.dnrm2(x)), float(blas.dnrm2(y))
        if not (nx > 0 and ny > 0):
            break
        est = nx / ny  # = ||W^T W x|| / ||W x||, which tends to sigma_max
        x = x / nx
    frob = float(blas.dnrm2(V.ravel())) / np.sqrt(min(V.shape))
    est = max(est, frob, np.finfo(float).tiny)
    return e0 + int(np.round(np.log2(est)))


def _slope_exponent(alpha: float, beta: float) -> int:
    """``s`` with ``2^s`` about ``max(|alpha|, |beta|)``, limited so that both shift exactly."""
    g = max(abs(alpha), abs(beta))
    s = int(np.frexp(g)[1])
    for v in (alpha, beta):
        if v != 0.0:
            s = min(s, int(np.frexp(abs(v))[1]) - _MIN_NORMAL_EXP)
    return s


@dataclass(frozen=True)
class Scaling:
    """The exponents of :func:`normalise`: ``x_k = 2^{c[k]} x'_k``, ``z_k = 2^{d[k]} z'_k``.

    ``c`` has ``l + 1`` entries (``c[0] = 0``, the input is not rescaled); ``d`` has ``l + 2``
    (``d[0]`` is unused and 0; ``d[l+1]`` is the output's exponent).
    """

    c: tuple[int, ...]
    d: tuple[int, ...]

    @property
    def n_hidden(self) -> int:
        return len(self.c) - 1

    @property
    def value_exponent(self) -> int:
        """``L = 2^{value_exponent} L'`` (``d_{l+1}``)."""
        return self.d[-1]

    def multiplier_exponents(self, first: int = 0, last: int | None = None) -> list[int]:
        """``E_k`` with ``t_k = 2^{E_k} t'_k`` for the hidden layers of the sub-network that maps
        ``x_first`` to ``z_last`` (default: the whole network), in its own ``rho`` convention."""
        last = self.n_hidden + 1 if last is None else last
        shift = 2 * (self.d[last] - self.c[first])
        return [shift - 2 * (self.c[k] - self.c[first]) for k in range(first + 1, last)]

    def sub_exponent(self, first: int, last: int) -> int:
        """``L_part = 2^{e} L'_part`` for the sub-network from ``x_first`` to ``z_last``."""
        return self.d[last] - self.c[first]

    @property
    def is_identity(self) -> bool:
        return not any(self.c) and not any(self.d)


#: A network whose layer and slope exponents stay within this many binary orders of magnitude,
#: and whose running products of them within ``_MODERATE_RUN``, is used as it is: nothing in
#: its recursion comes near float64's range, and solvers see exactly the user's problem.
_MODERATE_LAYER = 8
_MODERATE_RUN = 64


def _exponents(a: list[int], s: list[int]) -> tuple[list[int], list[int]]:
    l = len(s)
    c, d = [0], [0]
    for k in range(1, l + 1):
        d.append(c[k - 1] + a[k - 1])
        c.append(d[k] + s[k - 1])
    d.append(c[l] + a[l])
    return c, d


def normalise(net: Network) -> tuple[Network, Scaling]:
    """The same network in units where every weight has norm about 1 and every slope pair
    magnitude about 1 (module docstring); exact, with the exponents to map results back.

    A moderately scaled network (layer norms and slope gains within ``2^8`` of 1, running
    products within ``2^64``) is returned as it is, with the identity scaling. A layer whose
    slopes are ``(0, 0)`` keeps them (the network is constant; callers handle it), and a zero
    weight matrix is kept as it is. The result is kept on the (immutable) network: computed
    once per network.
    """
    return computed_once(net, "_normalised", _normalise)


def _surely_moderate(net: Network) -> bool:
    """Whether the network is moderate for every norm within ``||W||_F / sqrt(rank) <= ||W||_2
    <= ||W||_F``: then no power iteration is needed to decide it."""
    bound = []
    for W in net.weights:
        top = max(float(W.max()), -float(W.min()))  # no temporary
        if top == 0.0:
            bound.append(0)
            continue
        e0 = int(np.frexp(top)[1])
        if abs(e0) < 400:  # the sum of squares cannot overflow, nor the norm underflow
            frob = float(blas.dnrm2(W.ravel())) * 2.0**-e0
        else:
            frob = float(blas.dnrm2(np.ldexp(W, -e0).ravel()))
        lo, hi = np.log2(frob / np.sqrt(min(W.shape))) + e0, np.log2(frob) + e0
        bound.append(int(np.ceil(max(abs(lo), abs(hi)))) + 1)
    for alpha, beta in net.slopes:
        g = max(abs(alpha), abs(beta))
        bound.append(0 if g == 0.0 else int(np.ceil(abs(np.log2(g)))) + 1)
    if max(bound) > _MODERATE_LAYER:
        return False
    return sum(bound) <= _MODERATE_RUN


def _normalise(net: Network) -> tuple[Network, Scaling]:
    l = net.n_hidden
    if _surely_moderate(net):
        return net, Scaling((0,) * (l + 1), (0,) * (l + 2))
    a = []
    for W in net.weights:
        if not np.any(W):
            a.append(0)
            continue
        want = _norm_exponent(W)
        # Shifting down (want > 0) must keep the smallest entries normal, hence exact.
        a.append(min(want, _exact_shift_limit(W)) if want > 0 else want)
    s = []
    for alpha, beta in net.slopes:
        # Gains in [1, 2): ReLU's (0, 1) is left as it is.
        s.append(0 if alpha == beta == 0.0 else _slope_exponent(alpha, beta) - 1)
    c, d = _exponents(a, s)
    if (max(map(abs, a + s), default=0) <= _MODERATE_LAYER
            and max(map(abs, c + d)) <= _MODERATE_RUN):
        return net, Scaling((0,) * (l + 1), (0,) * (l + 2))
    weights = []
    for k, W in enumerate(net.weights):
        V = np.ldexp(W, -a[k])
        if not np.array_equal(np.ldexp(V, a[k]), W):  # cannot happen by construction
            raise RuntimeError(f"normalising weights[{k}] was not exact")
        weights.append(V)
    slopes = []
    for k, (alpha, beta) in enumerate(net.slopes):
        pair = (float(np.ldexp(alpha, -s[k])), float(np.ldexp(beta, -s[k])))
        if np.ldexp(pair[0], s[k]) != alpha or np.ldexp(pair[1], s[k]) != beta:
            raise RuntimeError(f"normalising slopes[{k}] was not exact")
        slopes.append(pair)
    return Network(weights, slopes), Scaling(tuple(c), tuple(d))


def to_user_value(value: float, exponent: int, *, upper: bool) -> float:
    """``2^exponent * value`` rounded outwards (up for an upper bound, down for a lower one).

    ``ldexp`` is exact unless the result is subnormal or out of range; then it is moved one
    float outwards (an upper bound too small to represent becomes the smallest subnormal).
    """
    if not np.isfinite(value):
        return float(value)
    out = float(np.ldexp(value, exponent))
    if out == 0.0 and value == 0.0:
        return 0.0
    if np.ldexp(out, -exponent) != value:
        out = float(np.nextafter(out, np.inf if upper else -np.inf))
    return out


def result_to_user(res, scaling: Scaling, first: int = 0, last: int | None = None):
    """A :class:`~lipsdp.LipschitzResult` of the normalised network in the user's units.

    ``first, last``: the result is for the sub-network from ``x_first`` to ``z_last`` (a part
    of ``variant="split"``); default the whole network. The value is rounded up, a lower bound
    down; multipliers are exact where in range (``info["multipliers_exact"]`` says whether all
    are), and the certificate keeps the exact powers of two.
    """
    last = scaling.n_hidden + 1 if last is None else last
    if scaling.is_identity:
        return res
    with np.errstate(over="ignore", under="ignore"):
        return _to_user(res, scaling, first, last)


def _to_user(res, scaling: Scaling, first: int, last: int):
    from dataclasses import replace

    from .result import Certificate, Status

    e = scaling.sub_exponent(first, last)
    E = scaling.multiplier_exponents(first, last)
    info = dict(res.info)
    for key, upper in (("lower_bound", False), ("product", True)):
        if key in info and np.isfinite(info[key]):
            info[key] = to_user_value(float(info[key]), e, upper=upper)
    for key in ("rho_estimate",):
        if key in info and np.isfinite(info[key]):
            info[key] = float(np.ldexp(info[key], 2 * e))
    for key in ("members", "multipliers_prove"):  # values of other closed forms (upper bounds)
        if isinstance(info.get(key), dict):
            info[key] = {name: to_user_value(v, e, upper=True) if isinstance(v, float) else v
                         for name, v in info[key].items()}
        elif isinstance(info.get(key), float):
            info[key] = to_user_value(info[key], e, upper=True)
    changes = {
        "published_value": float(np.ldexp(res.published_value, e)),
        "objective": float(np.ldexp(res.objective, e)),
        "info": info,
    }
    if np.isfinite(res.lower_bound):  # as info["lower_bound"]: rounded down
        changes["lower_bound"] = to_user_value(float(res.lower_bound), e, upper=False)
    blocks = info.get("blocks")
    if res.parts and blocks is not None and len(blocks) == len(res.parts):
        changes["parts"] = [result_to_user(part, scaling, first + a, first + b)
                            for part, (a, b) in zip(res.parts, blocks, strict=True)]
    if res.multipliers and len(res.multipliers) == len(E):
        ts = [np.ldexp(t, k) for t, k in zip(res.multipliers, E, strict=True)]
        exact = all(np.array_equal(np.ldexp(t, -k), t0)
                    for t, k, t0 in zip(ts, E, res.multipliers, strict=True))
        changes["multipliers"] = ts
        if not exact:
            info["multipliers_exact"] = False
    if res.certificate is not None:
        c = res.certificate
        changes["certificate"] = Certificate(
            rho=c.rho, multipliers=c.multipliers, rho_exponent=c.rho_exponent + 2 * e,
            exponents=tuple(x + k for x, k in zip(c.exponents, E, strict=True)),
        )
    if res.certified:
        value = to_user_value(res.value, e, upper=True)
        if not np.isfinite(value):
            log2 = float(np.log2(res.value)) + e
            info["log2_value"] = log2
            return replace(res, value=np.nan, certified=False, multipliers=[],
                           status=Status.NOT_CERTIFIED,
                           message=f"the proved bound 2^{log2:.1f} exceeds float64's range",
                           **{k: v for k, v in changes.items() if k != "multipliers"})
        changes["value"] = value
    return replace(res, **changes)
