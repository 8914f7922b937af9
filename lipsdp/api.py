"""The public entry point: ``lipsdp.solve(net, variant=..., multipliers=..., solver=...)``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import numpy as np

import solvers

from .certify import certify_direction
from .closed_form import naive_bound, naive_directions
from .dual import dual_lower_bound
from .formulation import build_full
from .lowrank import with_lowrank
from .network import Network, as_network
from .result import LipschitzResult

__all__ = ["DEFAULT_OPTIONS", "MULTIPLIERS", "VARIANTS", "choose_solver", "solve"]

logger = logging.getLogger(__name__)

MULTIPLIERS = ("neuron", "layer")

#: Backend choice of ``solver="auto"`` by LMI side (after input compression), from
#: ``experiments/bench_backends.py`` on a 2-core machine: Clarabel's KKT system carries the PSD
#: cone's scaling as a dense block of side m(m+1)/2, so it wins only on small LMIs (0.5 s at side
#: 50, 13 s at side 110); CVXOPT through cvxpy is exact and fastest in between (1.3 s at side 110,
#: 10 s at side 208) where installed; SCS is first order (certified afterwards, ~1e-4 loose).
AUTO_CLARABEL_MAX_SIDE = 60
AUTO_CVXOPT_MAX_SIDE = 400
AUTO_CLARABEL_FALLBACK_MAX_SIDE = 100

#: Options lipsdp passes to a backend unless the caller sets them. A first-order point is slightly
#: infeasible, and certification along its ray magnifies that: at SCS's default accuracy (1e-4)
#: the certified bound was 2.3x the optimum on a side-50 LMI, at 1e-6 still 3e-3 above it on a
#: sigmoid layer whose objective was 6e-6 accurate; 1e-8 gave 5e-6 for ~35% more iterations.
DEFAULT_OPTIONS: dict[str, dict] = {"scs": {"tol": 1e-8, "max_iter": 100_000}}

#: Convex-combination weights tried when the solver's own direction fails certification.
_REPAIR_THETAS = (1e-9, 1e-7, 1e-5, 1e-3, 1e-2, 1e-1)


def choose_solver(net: Network) -> str:
    """The backend ``solver="auto"`` picks for ``net`` (see ``AUTO_*`` thresholds)."""
    side = min(net.widths[0], net.widths[1]) + net.n_neurons if net.n_hidden else 0
    preference = []
    if side <= AUTO_CLARABEL_MAX_SIDE:
        preference.append("clarabel")
    if side <= AUTO_CVXOPT_MAX_SIDE:
        preference.append("cvxpy:CVXOPT")
    if side <= AUTO_CLARABEL_FALLBACK_MAX_SIDE:
        preference.append("clarabel")
    preference += ["scs", "clarabel"]
    for name in preference:
        if solvers.is_installed(name):
            return name
    raise solvers.SolverNotInstalledError(
        "no SDP backend is installed; `pip install clarabel scs` fixes it"
    )


def _certify_solution(
    net: Network, rho_hat: float, ts: list[np.ndarray], method: str
) -> tuple[LipschitzResult, dict]:
    """Certify the solver's point along its ray; if that fails, mix in a little of the naive
    feasible point (the feasible set is convex) until a pivot sequence passes."""
    info: dict = {}
    ts = [np.maximum(t, 0.0) for t in ts]  # solvers return tiny negative values within tolerance
    res, _ = certify_direction(net, [2.0 * t / rho_hat for t in ts], method=method)
    if res.certified:
        return res, info
    info["raw_certification"] = res.status
    rho_ref = naive_bound(net) ** 2
    t_ref = [0.5 * rho_ref * lam for lam in naive_directions(net)]
    for theta in _REPAIR_THETAS:
        rho = (1 - theta) * rho_hat + theta * rho_ref
        mix = [(1 - theta) * t + theta * r for t, r in zip(ts, t_ref, strict=True)]
        res, _ = certify_direction(net, [2.0 * t / rho for t in mix], method=method)
        if res.certified:
            info["repair_theta"] = theta
            logger.info("certified after mixing theta=%g of the naive point", theta)
            return res, info
    return res, info


def _solve_full(
    net: Network,
    *,
    multipliers: str,
    solver: str,
    options: Mapping,
    warm_start: tuple[float, list[np.ndarray]] | None,
) -> LipschitzResult:
    method = f"lipsdp-{multipliers}"
    formulation = with_lowrank(build_full(net, multipliers), net)
    x0 = None
    if warm_start is not None:
        rho0, t0 = warm_start  # type: ignore[misc]
        x0 = formulation.from_multipliers(rho0, t0)
    options = {**DEFAULT_OPTIONS.get(solver, {}), **options}
    sres = solvers.solve(formulation.problem, solver, options=options, warm_start=x0)
    common = {
        "method": method,
        "variant": "full",
        "solver": sres.solver,
        "solve_time": sres.solve_time,
        "iterations": sres.iterations,
    }
    info = {"backend_status": str(sres.status), "native_status": sres.native_status,
            "lmi_size": formulation.problem.blocks[0].size}
    if not sres.ok or not np.all(np.isfinite(sres.x)):
        # A stopped or failed solve certifies nothing here, even if its iterate might.
        return LipschitzResult(value=np.nan, certified=False, multipliers=[],
                               status=f"solver_failed: {sres.status}", info=info, **common)
    rho_hat, ts = formulation.to_multipliers(sres.x)
    objective = float(np.sqrt(rho_hat)) if rho_hat > 0 else np.nan
    if not rho_hat > 0:
        return LipschitzResult(value=np.nan, certified=False, multipliers=[], objective=objective,
                               status=f"not_certified: solver returned rho = {rho_hat:g}",
                               info=info, **common)
    res, cert_info = _certify_solution(net, rho_hat, ts, method)
    info.update(cert_info)
    if res.certified and sres.dual:
        lower = dual_lower_bound(net, sres.dual[0], multipliers)
        if np.isfinite(lower):
            info["lower_bound"] = lower  # proved lower bound on sqrt(rho*) (DOMAIN.md §9)
            info["certified_gap"] = res.value / lower - 1.0 if lower > 0 else np.inf
    if res.certified:
        status = "optimal" if sres.status is solvers.Status.OPTIMAL else str(sres.status)
    else:
        status = res.status
    return replace(res, status=status, objective=objective, published_value=res.value,
                   info={**res.info, **info}, **common)


#: variant name -> solver function. Each is called as
#: ``fn(net, multipliers=..., solver=..., options=..., warm_start=..., **variant_options)``
#: and must validate its ``variant_options`` before any work.
VARIANTS: dict[str, Callable[..., LipschitzResult]] = {"full": _solve_full}


def _warm_start_point(net: Network, warm_start: object) -> tuple[float, list[np.ndarray]] | None:
    from .certify import _as_multipliers
    from .closed_form import CLOSED_FORM_METHODS, closed_form

    if warm_start is None:
        return None
    if isinstance(warm_start, str):
        if warm_start not in CLOSED_FORM_METHODS:
            raise ValueError(
                f"warm_start is {warm_start!r}; expected one of {sorted(CLOSED_FORM_METHODS)}, "
                "a LipschitzResult or a list of multipliers"
            )
        warm_start = closed_form(net, warm_start)
    if isinstance(warm_start, LipschitzResult):
        if not warm_start.certified:
            raise ValueError("warm_start is an uncertified result; expected a certified one")
        return warm_start.value**2, [np.asarray(t, float) for t in warm_start.multipliers]
    ts = _as_multipliers(net, warm_start, "warm_start")
    res, _ = certify_direction(net, ts)  # any scale: certify the direction, take its rho
    if not res.certified:
        raise ValueError(f"warm_start multipliers certify nothing ({res.status})")
    return res.value**2, res.multipliers


def solve(
    net: Network | Sequence[np.ndarray],
    variant: str = "full",
    multipliers: str = "neuron",
    solver: str = "auto",
    *,
    slopes: object = None,
    options: Mapping | None = None,
    warm_start: object = None,
    **variant_options: object,
) -> LipschitzResult:
    """Certified LipSDP upper bound on the l2 Lipschitz constant of a feed-forward network.

    Parameters
    ----------
    net : Network or list of ndarray
        The network; a plain list of weights ``W_0 ... W_l`` (shapes ``(n_{k+1}, n_k)``) uses
        ``slopes``.
    variant : {"full"}
        Which formulation (DOMAIN.md §4): ``"full"`` is the single LMI of §2.
    multipliers : {"neuron", "layer"}
        LipSDP-Neuron (one multiplier per neuron, tightest) or LipSDP-Layer (one per layer).
    solver : str
        ``"auto"`` (default: Clarabel for small LMIs, CVXOPT through cvxpy where installed for
        medium ones, else SCS; see :func:`choose_solver`), ``"clarabel"``,
        ``"scs"`` or ``"cvxpy:<NAME>"`` for any SDP solver installed for cvxpy.
    slopes : (float, float) or list of pairs, optional
        Activation slope bounds when ``net`` is a list (default ReLU ``(0, 1)``).
    options : mapping, optional
        Backend options (``tol``, ``max_iter``, ``time_limit``, ``verbose``, or native names).
        Never modified.
    warm_start : {"naive", "eclipse-fast"} or LipschitzResult or list of ndarray, optional
        Starting point for backends that accept one (SCS).
    **variant_options
        Options of the chosen variant (the ``"full"`` variant takes none).

    Returns
    -------
    LipschitzResult
        ``value`` is certified from the returned multipliers (DOMAIN.md §3), never copied from the
        solver's objective (kept as ``objective`` for diagnostics). On failure ``value`` is ``nan``,
        ``certified`` is False and ``status`` names the problem.

    Raises
    ------
    ValueError
        Unknown variant, multipliers or solver name; invalid network or options.
    solvers.SolverNotInstalledError
        A known backend that is not installed (a ``ValueError`` too); the message names the
        ``pip install`` that fixes it.

    References
    ----------
    M. Fazlyab, A. Robey, H. Hassani, M. Morari, G. J. Pappas, "Efficient and Accurate Estimation
    of Lipschitz Constants for Deep Neural Networks", NeurIPS 2019.

    Examples
    --------
    >>> import numpy as np, lipsdp
    >>> rng = np.random.default_rng(0)
    >>> net = lipsdp.Network([rng.standard_normal((8, 4)), rng.standard_normal((2, 8))])
    >>> res = lipsdp.solve(net, solver="clarabel")
    >>> res.certified, res.value <= lipsdp.closed_form(net, "naive").value
    (True, True)
    """
    start = time.perf_counter()
    if variant not in VARIANTS:
        raise ValueError(f"variant is {variant!r}; expected one of {sorted(VARIANTS)}")
    if multipliers not in MULTIPLIERS:
        raise ValueError(f"multipliers is {multipliers!r}; expected one of {list(MULTIPLIERS)}")
    if options is not None and not isinstance(options, Mapping):
        raise TypeError(f"options is {type(options).__name__}; expected a mapping")
    if not isinstance(solver, str):
        raise TypeError(f"solver is {type(solver).__name__}; expected a backend name")
    if variant == "full" and variant_options:
        raise TypeError(
            f"variant 'full' takes no options; got {sorted(variant_options)}"
        )
    net = as_network(net, slopes)
    solver = choose_solver(net) if solver == "auto" else solvers.check_solver(solver)
    warm = _warm_start_point(net, warm_start)
    if net.n_hidden == 0:
        res, _ = certify_direction(net, [], method=f"lipsdp-{multipliers}")
        res = replace(res, status="optimal", variant=variant, solver=None)
    else:
        res = VARIANTS[variant](
            net,
            multipliers=multipliers,
            solver=solver,
            options=options or {},
            warm_start=warm,
            **variant_options,
        )
    return replace(res, total_time=time.perf_counter() - start)
