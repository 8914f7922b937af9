"""The public entry point: ``lipsdp.solve(net, variant=..., multipliers=..., solver=...)``.

It validates the arguments, answers constant and linear networks by composition (docs/math.md
§5), normalises the network (§4.5), proves the warm start, dispatches to the variant through
:data:`lipsdp.variants.VARIANTS` and maps the result back to the user's units.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
from threadpoolctl import threadpool_limits

import lipsdp_solvers as solvers
from lipsdp_solvers.registry import capabilities

from . import progress
from .certify import certify_direction, failed
from .closed_form import _eclipse_unsupported, closed_form, composition_result
from .limits import check_time_limit, deadline, remaining
from .memory import check_max_memory, fitting_solver, memory_limit
from .network import Network, as_network
from .result import LipschitzResult, Status
from .scaling import normalise, result_to_user
from .solver_choice import (  # noqa: F401  (re-exported: lipsdp.api is where they were)
    ANYTIME_BACKENDS,
    AUTO_SOLVER,
    DEFAULT_OPTIONS,
    DENSE_AUTO_MAX_BLOCKS,
    DENSE_AUTO_MAX_SIDE,
    DENSE_AUTO_MAX_SIDE_FEW_BLOCKS,
    DENSE_AUTO_SOLVER,
    choose_solver,
    choose_solver_for_side,
)
from .variants import VARIANTS, check_variant_options
from .warm_start import warm_start_point

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


def solve(
    net: Network | Sequence[np.ndarray],
    variant: str = "full",
    multipliers: str = "neuron",
    solver: str = "auto",
    *,
    slopes: object = None,
    options: Mapping | None = None,
    warm_start: object = None,
    time_limit: float | None = None,
    max_memory: float | str | None = None,
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
    time_limit : float, optional
        Wall-clock seconds for the whole call (normalisation, warm start, formulation, solve,
        proof). A proved closed-form bound is computed first (ECLipsE-Fast where the slopes
        allow it, else the naive product); every backend gets what is left, less a reserve for
        the proof (:mod:`lipsdp.limits`). If the limit is reached, the result is the best bound
        proved by then, the SDP's best certified iterate or that closed form, with status
        ``"time_limit"`` and a ``message`` saying which. Distinct from ``options["time_limit"]``,
        the backend's own limit (both may be given; the smaller applies).
    max_memory : float or str, optional
        Peak memory the solve may use, in bytes or as a size (``"8GB"``, ``"500MiB"``); default
        80% of the memory available when the call starts; ``math.inf`` turns the guard off.
        The estimate (:func:`lipsdp.estimate_memory`, calibrated per backend) is checked before
        anything is built: ``solver="auto"`` takes the fastest backend that fits, and a path
        that does not fit raises :class:`lipsdp.MemoryLimitError` naming the estimate, the
        limit and the paths that fit.
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
    limit = check_time_limit(time_limit)
    memory = check_max_memory(max_memory)
    net = as_network(net, slopes)
    auto = solver == "auto"
    if not auto:
        solver = solvers.check_solver(solver)
    elif variant == "full" or net.n_hidden == 0:
        solver = choose_solver(net)
    # else "auto" goes on: the decomposed variants choose per sub-problem (lipsdp.choose_solver).
    method = f"lipsdp-{multipliers}"
    exact = composition_result(net, method)
    if exact is not None:  # constant or linear network: L is known (docs/math.md §5)
        if variant != "full":
            check_variant_options(variant, len(net.weights), variant_options)
        return replace(exact, variant=variant, total_time=time.perf_counter() - start)
    if net.n_hidden > 0:
        if variant != "full":  # the estimate reads them: bad ones are errors first
            check_variant_options(variant, len(net.weights), variant_options)
        solver = fitting_solver(net, variant, multipliers, solver, auto, variant_options,
                                memory_limit(memory))
    if limit is not None:
        with deadline(start + limit):
            floor = _floor_bound(net)
            res = _solve_normalised(net, variant, multipliers, solver, options, warm_start,
                                    variant_options)
        res = _within_time_limit(res, floor, limit, start)
    else:
        res = _solve_normalised(net, variant, multipliers, solver, options, warm_start,
                                variant_options)
    return replace(res, total_time=time.perf_counter() - start)


def _solve_normalised(net: Network, variant: str, multipliers: str, solver: str,
                      options: Mapping | None, warm_start: object,
                      variant_options: dict) -> LipschitzResult:
    """Normalise (docs/math.md §4.5), prove the warm start, run the variant, map back."""
    method = f"lipsdp-{multipliers}"
    normed, scaling = normalise(net)
    warm = warm_start_point(net, normed, scaling, warm_start)
    left = remaining()
    if left is not None and left <= 0:
        return replace(failed(method, "time limit reached before the solve started"),
                       status=Status.TIME_LIMIT, variant=variant)
    if net.n_hidden == 0:
        res, _ = certify_direction(normed, [], method=method)
        res = replace(res, status=Status.OPTIMAL if res.certified else res.status, variant=variant,
                      solver=None)
    else:
        # Small dense kernels: one BLAS thread (the lowrank-ipm spec's capabilities).
        threads = capabilities("lowrank-ipm").blas_threads(net.lmi_size)
        with threadpool_limits(limits=threads, user_api="blas"), progress.units(scaling):
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
    return result_to_user(res, scaling)


def _floor_bound(net: Network) -> LipschitzResult:
    """The proved bound a timed call returns at least: ECLipsE-Fast where the slopes allow it,
    else the naive product (``O(sum n_k^3)``, milliseconds to a second)."""
    return closed_form(net, "naive" if _eclipse_unsupported(net) else "eclipse-fast")


def _within_time_limit(res: LipschitzResult, floor: LipschitzResult, limit: float,
                       start: float) -> LipschitzResult:
    """The timed call's result: the solve's where it finished, or else the smaller proved bound
    of the solve's and the floor's, with status TIME_LIMIT saying which it is."""
    elapsed = time.perf_counter() - start
    hit = (res.status is Status.TIME_LIMIT or elapsed >= limit
           or res.info.get("backend_status") == "time_limit")
    solve_wins = res.certified and (not floor.certified or res.value <= floor.value)
    if not hit and (res.certified or not floor.certified):
        return res  # finished within the limit (a finished solve is never replaced)
    if hit and solve_wins:
        why = res.message or "its last certified point"
        return replace(res, status=Status.TIME_LIMIT,
                       message=f"time limit of {limit:g} s reached; {why}")
    if not floor.certified:
        return res
    reason = f"time limit of {limit:g} s reached" if hit else "the solve failed"
    return replace(
        floor, variant=res.variant, solver=res.solver, iterations=res.iterations,
        solve_time=res.solve_time,
        status=Status.TIME_LIMIT if hit else Status.FALLBACK,
        message=f"{reason} ({res.summary}); the value is the proved {floor.method} bound",
        info={**floor.info, "solve_result": res.summary, "solve_value": res.value},
    )
