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
from .certify import certify_direction
from .closed_form import composition_result
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
    # else "auto" goes on: the decomposed variants choose per sub-problem (lipsdp.choose_solver).
    method = f"lipsdp-{multipliers}"
    exact = composition_result(net, method)
    if exact is not None:  # constant or linear network: L is known (docs/math.md §5)
        if variant != "full":
            check_variant_options(variant, len(net.weights), variant_options)
        return replace(exact, variant=variant, total_time=time.perf_counter() - start)
    normed, scaling = normalise(net)
    warm = warm_start_point(net, normed, scaling, warm_start)
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
    res = result_to_user(res, scaling)
    return replace(res, total_time=time.perf_counter() - start)
