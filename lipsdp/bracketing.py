"""Brackets: ``lower <= LipSDP optimum <= upper`` (docs/math.md §6).

:func:`bracket` combines the lower bounds of :mod:`lipsdp.lower_bounds` with a certified
closed-form upper bound (optionally an SDP solve) and reports the relative gap.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from .activations import _activations
from .closed_form import CLOSED_FORM_METHODS, closed_form
from .lower_bounds import (
    _as_input_starts,
    _check_int,
    _check_positive,
    _jacobian_bound,
    _rng,
    _slope_bound,
    _with_time,
    lower_bound,
)
from .network import Network, as_network
from .result import BracketResult, LowerBoundResult

__all__ = ["bracket", "supports_gap_tol"]

logger = logging.getLogger(__name__)


# --- bracketing -----------------------------------------------------------------------------


def supports_gap_tol(solver: str) -> bool:
    """Whether ``lipsdp.solve`` with backend ``solver`` accepts ``options={"gap_tol": ...}``.

    True when the backend's registry spec lists ``"gap_tol"`` among its ``options``, or when
    :data:`lipsdp.api.ANYTIME_BACKENDS` (backends whose iterates lipsdp certifies on the fly)
    contains it.
    """
    import lipsdp_solvers as solvers

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
