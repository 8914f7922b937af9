"""The public entry point: ``lipsdp.solve(net, variant=..., multipliers=..., solver=...)``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import numpy as np
from threadpoolctl import threadpool_limits

import solvers
from solvers.registry import capabilities

from .certify import _as_multipliers, certify_direction, failed
from .closed_form import composition_result, naive_bound, naive_directions
from .dual import dual_lower_bound
from .formulation import build_full
from .lowrank import with_lowrank
from .network import Network, as_network
from .result import Certificate, LipschitzResult
from .scaling import Scaling, normalise, result_to_user

__all__ = [
    "DEFAULT_OPTIONS",
    "MULTIPLIERS",
    "VARIANTS",
    "choose_solver",
    "choose_solver_for_side",
    "solve",
]

logger = logging.getLogger(__name__)

MULTIPLIERS = ("neuron", "layer")

#: ``solver="auto"`` uses the chordal interior-point backend, which exploits both the rank-2
#: coefficients and the block-tridiagonal sparsity of the LMI (exact, and the fastest path
#: measured by ``experiments/bench_solvers.py``; Clarabel's dense PSD scaling block needs 1.4 GB
#: at side 140 and crashes at side 350) ...
AUTO_SOLVER = "banded-ipm"

#: ... except up to this LMI side, where the dense-matrix HKM backend is as fast or faster (its
#: O(m^3) kernels are a few BLAS calls; measured on 2 cores, 2026-12-03,
#: ``experiments/bench_solvers.py --crossover``: 0.52 s against 0.66 s at side 350 (4 blocks),
#: 0.81 s against 0.85 s at side 450 (5 blocks); with more blocks the banded kernels win: 1.58 s
#: against 1.34 s at side 600 (6 blocks), 12.6 s against 3.3 s at side 1100 (11 blocks)) ...
DENSE_AUTO_MAX_SIDE = 450
#: ... and up to this side when the LMI has at most DENSE_AUTO_MAX_BLOCKS blocks (input and up
#: to three hidden layers), where the banded kernels have little sparsity to exploit (measured:
#: 2.68 s against 3.16 s for 100-200x3-10, side 700, and 8.16 s against 9.57 s for
#: 100-300x3-10, side 1000, ``--crossover``; 16.0 s against 19.1 s for the compressed
#: 784-400-400-10 MNIST network, side 1200, ``--real``).
DENSE_AUTO_MAX_SIDE_FEW_BLOCKS = 1200
DENSE_AUTO_MAX_BLOCKS = 4
DENSE_AUTO_SOLVER = "lowrank-ipm"

#: Options lipsdp passes to a backend unless the caller sets them. A first-order point is slightly
#: infeasible, and certification along its ray magnifies that: at SCS's default accuracy (1e-4)
#: the certified bound was 2.3x the optimum on a side-50 LMI, at 1e-6 still 3e-3 above it on a
#: sigmoid layer whose objective was 6e-6 accurate; 1e-8 gave 5e-6 for ~35% more iterations.
DEFAULT_OPTIONS: dict[str, dict] = {"scs": {"tol": 1e-8, "max_iter": 100_000}}

#: Backends that report their iterates to a callback (anytime certified bounds, ``gap_tol``).
ANYTIME_BACKENDS = frozenset({"lowrank-ipm", "banded-ipm"})

#: Feasible points handed to the structured interior-point backends as their start are scaled
#: by this factor (see _solve_full): far enough inside the cone for long first steps, close
#: enough to keep the reference point's scale.
START_SCALE = 1.1

#: Convex-combination weights tried when the solver's own direction fails certification.
_REPAIR_THETAS = (1e-9, 1e-7, 1e-5, 1e-3, 1e-2, 1e-1)


def choose_solver_for_side(side: int, blocks: int | None = None) -> str:
    """The backend ``solver="auto"`` picks for an LMI of side ``side`` with ``blocks`` partition
    blocks (input and hidden layers; None: unknown): ``lowrank-ipm`` up to
    :data:`DENSE_AUTO_MAX_SIDE`, or up to :data:`DENSE_AUTO_MAX_SIDE_FEW_BLOCKS` with at most
    :data:`DENSE_AUTO_MAX_BLOCKS` blocks, ``banded-ipm`` beyond (both need only SciPy; the
    fastest exact paths measured)."""
    few = blocks is not None and blocks <= DENSE_AUTO_MAX_BLOCKS
    dense = side <= (DENSE_AUTO_MAX_SIDE_FEW_BLOCKS if few else DENSE_AUTO_MAX_SIDE)
    return DENSE_AUTO_SOLVER if dense else AUTO_SOLVER


def choose_solver(net: Network) -> str:
    """The backend ``solver="auto"`` picks for ``net`` (see :func:`choose_solver_for_side`)."""
    return choose_solver_for_side(net.lmi_size, net.n_hidden + 1)


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


class _Anytime:
    """Backend callback that certifies iterates, keeps the best, and stops at a certified gap.

    Certifying an iterate costs ``O(sum n_k^3)``, well below one interior-point iteration on the
    ``(n_0 + N)``-sided LMI; it is tried only once the iterate is nearly primal feasible.
    """

    def __init__(self, net: Network, formulation, method: str, multipliers: str, gap_tol):
        self.net, self.formulation, self.method = net, formulation, method
        self.multipliers, self.gap_tol = multipliers, gap_tol
        self.best: LipschitzResult | None = None
        self.lower = np.nan

    def __call__(self, x: np.ndarray, info: dict) -> bool:
        if info["pinf"] > 1e-2:
            return False
        rho_hat, ts = self.formulation.to_multipliers(x)
        if not rho_hat > 0:
            return False
        ts = [np.maximum(t, 0.0) for t in ts]
        res, _ = certify_direction(self.net, [2.0 * t / rho_hat for t in ts], method=self.method)
        if res.certified and (self.best is None or res.value < self.best.value):
            self.best = res
        # The backend's gap is relative in rho = L^2, about twice the relative gap in L that
        # gap_tol bounds: the lower bound is worth computing from twice gap_tol on.
        if self.gap_tol is None or self.best is None or info["gap"] > 2.0 * self.gap_tol:
            return False
        lower = dual_lower_bound(
            self.net, self.formulation.unscale_dual(_dual_of(info)), self.multipliers
        )
        if np.isfinite(lower) and lower > 0:
            self.lower = max(lower, self.lower) if np.isfinite(self.lower) else lower
        return bool(np.isfinite(self.lower) and self.best.value / self.lower - 1 <= self.gap_tol)


def _dual_of(info: Mapping) -> object:
    """The backend's dual matrix: on its block-tridiagonal pattern where the backend gives it
    that way (exact, and ``O(sum n_k^2)``), else the dense one."""
    banded = info.get("dual_banded")
    return banded if banded is not None else info["dual"][0]


def _gap_tol(options: dict, solver: str) -> float | None:
    gap_tol = options.pop("gap_tol", None)
    if gap_tol is None:
        return None
    if isinstance(gap_tol, bool) or not isinstance(gap_tol, (int, float)) or not gap_tol > 0:
        raise ValueError(f"options['gap_tol'] is {gap_tol!r}; expected a positive number")
    if solver not in ANYTIME_BACKENDS:
        raise ValueError(
            f"options['gap_tol'] needs a backend that reports its iterates "
            f"({sorted(ANYTIME_BACKENDS)}); solver is {solver!r}"
        )
    return float(gap_tol)


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
    if solver in ANYTIME_BACKENDS:
        # The structured interior-point backends start primal-feasible and centred from the
        # formulation's reference point (x = 1, the point its balanced scaling is built around)
        # scaled by START_SCALE: scaling up keeps a point feasible (M(c rho, c t) =
        # c M(rho, t) - (c - 1) W_l^T W_l for c >= 1) and moves it off the boundary. A user's
        # warm start is not their start: a closed form's point can sit so near the boundary in
        # this scaling that the first step is blocked (tests/test_ipm.py, ECLipsE-Fast's point
        # on a 10-layer network); it stays the fallback bound.
        x0 = START_SCALE * np.ones(formulation.problem.n_vars)
    elif warm_start is not None:
        rho0, t0 = warm_start  # type: ignore[misc]
        x0 = formulation.from_multipliers(rho0, t0)
        dual = getattr(warm_start, "dual", None)
        if dual is not None and np.shape(dual[1]) == formulation.scale.shape:
            Y, mu = dual
            x0 = solvers.SolverResult(
                x=x0, status=solvers.Status.OPTIMAL,
                dual=(formulation.scale_dual(Y),), info={"dual_nonneg": mu * formulation.scale},
            )
    options = {**DEFAULT_OPTIONS.get(solver, {}), **options}
    anytime = None
    if solver in ANYTIME_BACKENDS:
        anytime = _Anytime(net, formulation, method, multipliers, _gap_tol(options, solver))
        options["callback"] = anytime
    else:
        _gap_tol(options, solver)
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
    if anytime is not None and anytime.best is not None and (
        not sres.ok or sres.stopped_by_callback
    ):
        # Anytime: a stopped solve returns the best certified iterate, and says so.
        best = anytime.best
        if np.isfinite(anytime.lower):
            info["lower_bound"] = anytime.lower
            info["certified_gap"] = best.value / anytime.lower - 1.0
        reason = "gap_tol reached" if sres.ok else f"stopped: {sres.status}"
        return replace(best, status=f"{reason}; best certified iterate",
                       objective=float(np.sqrt(max(sres.objective * formulation.scale[0], 0))),
                       info={**best.info, **info}, **common)
    if not np.all(np.isfinite(sres.x)):
        # No point to prove; with a warm start proved for this network, its bound instead.
        res = replace(failed(method, f"solver_failed: {sres.status} ({sres.native_status})",
                             info=info), status=f"solver_failed: {sres.status}", **common)
        return _fallback_to_warm_start(res, warm_start, str(sres.status))
    rho_hat, ts = formulation.to_multipliers(sres.x)
    objective = float(np.sqrt(rho_hat)) if rho_hat > 0 else np.nan
    if not rho_hat > 0:
        res = replace(failed(method, f"solver returned rho = {rho_hat:g}", info=info,
                             objective=objective), **common)
        return _fallback_to_warm_start(res, warm_start, "returned rho <= 0")
    # Any finite point may be proved, whatever the backend's status: the proof does not trust it.
    res, cert_info = _certify_solution(net, rho_hat, ts, method)
    info.update(cert_info)
    if anytime is not None and anytime.best is not None and (
        not res.certified or anytime.best.value < res.value
    ):
        # An earlier iterate proves a smaller bound than the last point (near the optimum the
        # last point can be too close to the boundary for the proof): keep the best.
        info["final_point"] = res.value if res.certified else res.status
        res = replace(anytime.best, info={**anytime.best.info, "best_iterate": True})
    if res.certified and (sres.dual or "dual_banded" in sres.info):
        dual = formulation.unscale_dual(_dual_of({"dual": sres.dual, **sres.info}))
        lower = dual_lower_bound(net, dual, multipliers)
        if np.isfinite(lower):
            info["lower_bound"] = lower  # lower bound on sqrt(rho*) (docs/math.md §6)
            info["certified_gap"] = res.value / lower - 1.0 if lower > 0 else np.inf
    if res.certified:
        status = {solvers.Status.OPTIMAL: "optimal",
                  solvers.Status.OPTIMAL_INACCURATE: "optimal_inaccurate"}.get(
            sres.status, f"stopped: {sres.status}; its point certified")
    else:
        status = res.status
    if sres.dual and "dual_nonneg" in sres.info:
        # For a later warm start (e.g. after a training step): the dual in -M's own scale.
        info["warm_dual"] = (formulation.unscale_dual(sres.dual[0]),
                             sres.info["dual_nonneg"] / formulation.scale)
    res = replace(res, status=status, objective=objective,
                  published_value=res.value if res.certified else np.nan,
                  info={**res.info, **info}, **common)
    if status != "optimal":
        why = str(sres.status) if res.certified else f"{sres.status}, {res.status}"
        return _fallback_to_warm_start(res, warm_start, why)
    return res


#: variant name -> solver function. Each is called as
#: ``fn(net, multipliers=..., solver=..., options=..., warm_start=..., **variant_options)``
#: and must validate its ``variant_options`` before any work.
VARIANTS: dict[str, Callable[..., LipschitzResult]] = {"full": _solve_full}


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


def _prove_warm(net: Network, ts: list[np.ndarray], rho: float | None, source: str,
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


def _warm_start_point(net: Network, normed: Network, scaling: Scaling,
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
            logger.info("warm_start %r gives no multipliers (%s)", warm_start, res.status)
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
        return _prove_warm(normed, ts_n, rho_n, warm_start.method, dual=dual)
    ts = _as_multipliers(net, warm_start, "warm_start")
    # Multipliers t in the §2 convention: the smallest rho these exact t prove.
    # (Proving t as a direction Lambda instead would pick another point on another ray.)
    ts_n = [np.ldexp(t, -En) for t, En in zip(ts, E, strict=True)]
    warm = _prove_warm(normed, ts_n, None, "multipliers")
    if not warm.certified:
        raise ValueError("warm_start multipliers prove no bound for this network")
    return warm


def _fallback_to_warm_start(
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
        status=f"fallback: solver {why}; value from warm start {warm_start.source}",
        published_value=value0,
        info={**fields, "warm_start_value": value0, "solver_status": res.status},
    )


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
    """Proved LipSDP upper bound on the l2 Lipschitz constant of a feed-forward network.

    Parameters
    ----------
    net : Network or list of ndarray
        The network; a plain list of weights ``W_0 ... W_l`` (shapes ``(n_{k+1}, n_k)``) uses
        ``slopes``.
    variant : {"full", "chordal", "split", "sequential"}
        Which formulation (docs/math.md §7): ``"full"`` is the single LMI of §2; ``"chordal"`` its
        clique decomposition (same optimum; option ``clique_size``); ``"split"`` independent
        LipSDPs on blocks of layers combined by the product rule (options ``split`` or ``cuts``,
        ``n_jobs``); ``"sequential"`` ECLipsE, one small SDP per layer. See
        :mod:`lipsdp.variants`.
    multipliers : {"neuron", "layer"}
        LipSDP-Neuron (one multiplier per neuron, tightest) or LipSDP-Layer (one per layer).
    solver : str
        ``"auto"`` (default: :func:`choose_solver`, ``"lowrank-ipm"`` for small LMIs and the
        chordal ``"banded-ipm"`` beyond), ``"banded-ipm"``, ``"lowrank-ipm"``, ``"clarabel"``,
        ``"scs"`` or ``"cvxpy:<NAME>"`` for any SDP solver installed for cvxpy.
    slopes : (float, float) or list of pairs, optional
        Activation slope bounds when ``net`` is a list (default ReLU ``(0, 1)``).
    options : mapping, optional
        Backend options (``tol``, ``max_iter``, ``time_limit``, ``verbose``, or native names).
        ``gap_tol`` (``banded-ipm`` and ``lowrank-ipm``) stops as soon as the certified value is
        within that relative gap of a lower bound (docs/math.md §6). With these a solve stopped
        by ``time_limit`` or ``max_iter`` returns its best certified iterate. Never modified.
    warm_start : str or LipschitzResult or list of ndarray, optional
        A closed-form method name (see :data:`~lipsdp.CLOSED_FORM_METHODS`), a certified result
        (of this network or another one of the same widths, e.g. before a training step) or
        multipliers: the starting point for backends that accept one (SCS). Its multipliers are
        proved again for *this* network; where that succeeds it is also a bound: if the solve
        fails, is stopped or is not certified, the result falls back on it (``certified=True``,
        its proved value and multipliers, ``status="fallback: ..."``). Without a proved warm
        start such a solve returns ``nan``.
    **variant_options
        Options of the chosen variant (the ``"full"`` and ``"sequential"`` variants take none);
        an option the variant does not take is a ``TypeError``.

    Returns
    -------
    LipschitzResult
        ``value`` is proved from ``certificate`` (docs/math.md §4: ``M(rho, T) <= 0`` in exact
        arithmetic for the weights as given), never copied from the solver's objective (kept as
        ``objective`` for diagnostics). A constant network (a zero weight matrix or slopes
        ``(0, 0)``) gives ``0``, an all-linear one (``alpha_k = beta_k``) its product's norm
        (docs/math.md §5; status ``"constant_network"``, ``"linear_network"``). On failure
        ``value`` is ``nan``, ``certified`` is False and ``status`` names the problem.

    Raises
    ------
    ValueError
        Unknown variant, multipliers or solver name; invalid network, options or warm start.
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
    if solver != "auto":
        solver = solvers.check_solver(solver)
    elif variant == "full" or net.n_hidden == 0:
        solver = choose_solver(net)
    # else "auto" goes on: the decomposed variants choose per sub-problem (lipsdp.variants).
    method = f"lipsdp-{multipliers}"
    exact = composition_result(net, method)
    if exact is not None:  # constant or linear network: L is known (docs/math.md §5)
        if variant != "full":
            from .variants import check_variant_options

            check_variant_options(variant, len(net.weights), variant_options)
        return replace(exact, variant=variant, total_time=time.perf_counter() - start)
    normed, scaling = normalise(net)
    warm = _warm_start_point(net, normed, scaling, warm_start)
    if net.n_hidden == 0:
        res, _ = certify_direction(normed, [], method=method)
        res = replace(res, status="optimal" if res.certified else res.status, variant=variant,
                      solver=None)
    else:
        # Small dense kernels: one BLAS thread (see solvers.backends.ipm_backend.solve).
        threads = capabilities("lowrank-ipm").blas_threads(net.lmi_size)
        with threadpool_limits(limits=threads, user_api="blas"):
            res = VARIANTS[variant](
                normed,
                multipliers=multipliers,
                solver=solver,
                options=options or {},
                warm_start=warm,
                **variant_options,
            )
    if "warm_dual" in res.info:  # in the normalised units: say which
        res = replace(res, info={**res.info, "warm_dual_scaling": scaling})
    res = result_to_user(res, scaling)
    return replace(res, total_time=time.perf_counter() - start)
