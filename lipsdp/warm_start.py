"""Warm starts: a user's starting point proved again for the network being solved."""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from .certify import _as_multipliers, certify_direction
from .closed_form import naive_bound
from .network import Network
from .result import Certificate, LipschitzResult, Status
from .scaling import Scaling

__all__ = ["WarmStart", "fallback_to_warm_start", "prove_warm", "warm_start_point"]

logger = logging.getLogger(__name__)


class WarmStart(tuple):
    """A starting point ``(rho, t)`` in the solved network's (normalised) units: unpacks as that
    pair, and carries ``source`` (what it came from), ``certified`` (whether it was proved for
    *this* network, docs/math.md §4, so that a failed or stopped solve may fall back on it) and
    ``value`` (the proved bound, ``nan`` if none)."""

    source: str
    certified: bool = False
    value: float = float("nan")
    certificate: Certificate | None = None
    #: ``(Y, mu)`` of a previous LipSDP-Neuron/Layer solve of a network with the same scaling
    #: exponents, in the convention of ``-M(rho, t)`` (``Y`` dense; ``mu`` the multipliers of
    #: ``t >= 0`` per unscaled variable), or None. Backends that take a primal-dual start (SCS)
    #: use it with the multipliers.
    dual: tuple | None = None

    def __new__(cls, rho: float, multipliers: list[np.ndarray], source: str, *,
                proved: LipschitzResult | None = None, dual: tuple | None = None) -> WarmStart:
        self = super().__new__(cls, (rho, multipliers))
        self.source = source
        self.dual = dual
        if proved is not None and proved.certified:
            self.certified, self.value, self.certificate = True, proved.value, proved.certificate
        return self


def prove_warm(net: Network, ts: list[np.ndarray], rho: float | None, source: str,
                dual: tuple | None = None) -> WarmStart:
    """Prove multipliers ``ts`` (normalised units) for ``net``: along the ray of ``rho`` when
    given, else at the smallest ``rho`` for exactly these ``t``."""
    from .certify import _certify_fixed

    if rho is not None and np.isfinite(rho) and rho > 0:
        res, _ = certify_direction(net, [2.0 * t / rho for t in ts], method=source)
    else:
        res = _certify_fixed(net, ts)
    if res.certified:
        return WarmStart(res.value**2, res.multipliers, source, proved=res, dual=dual)
    point_rho = rho if rho is not None and np.isfinite(rho) and rho > 0 else naive_bound(net) ** 2
    return WarmStart(point_rho, ts, source, dual=dual)


def warm_start_point(net: Network, normed: Network, scaling: Scaling,
                      warm_start: object) -> WarmStart | None:
    """The warm start in ``normed``'s units, proved for this network (never trusted: a result
    of another network proves nothing here until its multipliers are proved again)."""
    from .closed_form import CLOSED_FORM_METHODS, closed_form

    if warm_start is None:
        return None
    E = scaling.multiplier_exponents()
    two_d = 2 * scaling.value_exponent
    if isinstance(warm_start, str):
        if warm_start not in CLOSED_FORM_METHODS:
            raise ValueError(
                f"warm_start is {warm_start!r}; expected one of {sorted(CLOSED_FORM_METHODS)}, "
                "a LipschitzResult or a list of multipliers"
            )
        res = closed_form(normed, warm_start)  # proved for this network, in its units
        if not res.certified or not res.multipliers:
            logger.info("warm_start %r gives no multipliers (%s)", warm_start, res.summary)
            return None
        return WarmStart(res.value**2, res.multipliers, warm_start, proved=res)
    if isinstance(warm_start, LipschitzResult):
        if not warm_start.certified:
            raise ValueError("warm_start is an uncertified result; expected a certified one")
        if not warm_start.multipliers and warm_start.certificate is None:
            raise ValueError(
                f"warm_start ({warm_start.method}, {warm_start.status}) has no multipliers; "
                "expected a result proved by an LMI point"
            )
        if warm_start.certificate is not None:
            try:
                ts, exps, (rho_m, rho_e) = warm_start.certificate.checked(net.hidden_widths)
            except ValueError as exc:
                raise ValueError(f"warm_start does not fit this network: {exc}") from None
        else:
            ts = _as_multipliers(net, warm_start.multipliers, "warm_start.multipliers")
            exps, rho_m, rho_e = [0] * len(ts), warm_start.value**2, 0
        ts_n = [np.ldexp(t, e - En) for t, e, En in zip(ts, exps, E, strict=True)]
        rho_n = float(np.ldexp(rho_m, rho_e - two_d))
        dual = warm_start.info.get("warm_dual")
        side = min(net.widths[0], net.widths[1]) + net.n_neurons if net.n_hidden else 0
        if dual is not None and (np.shape(dual[0]) != (side, side)
                                 or warm_start.info.get("warm_dual_scaling") != scaling):
            dual = None  # another network's shape or units: the primal point alone
        return prove_warm(normed, ts_n, rho_n, warm_start.method, dual=dual)
    ts = _as_multipliers(net, warm_start, "warm_start")
    # Multipliers t in the §2 convention: the smallest rho these exact t prove.
    # (Proving t as a direction Lambda instead would pick another point on another ray.)
    ts_n = [np.ldexp(t, -En) for t, En in zip(ts, E, strict=True)]
    warm = prove_warm(normed, ts_n, None, "multipliers")
    if not warm.certified:
        raise ValueError("warm_start multipliers prove no bound for this network")
    return warm


def fallback_to_warm_start(
    res: LipschitzResult, warm_start: WarmStart | None, why: str
) -> LipschitzResult:
    """A failed, stopped or uncertified solve falls back on its warm start where that was proved
    for this network; a solve whose own bound is smaller keeps it. Otherwise ``res``."""
    if warm_start is None or not warm_start.certified:
        return res
    value0 = warm_start.value
    if res.certified and res.value <= value0:
        return replace(res, info={**res.info, "warm_start_value": value0})
    fields = {k: v for k, v in res.info.items() if k != "reason"}
    return replace(
        res,
        value=value0,
        certified=True,
        multipliers=[np.array(t, dtype=float, copy=True) for t in warm_start[1]],
        certificate=warm_start.certificate,
        status=Status.FALLBACK,
        message=f"solver {why}; value from warm start {warm_start.source}",
        published_value=value0,
        info={**fields, "warm_start_value": value0, "solver_status": res.summary},
        proved_gap=(value0 / res.lower_bound - 1.0 if res.lower_bound > 0 else np.inf)
        if np.isfinite(res.lower_bound) else np.nan,
    )
