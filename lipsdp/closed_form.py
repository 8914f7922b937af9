"""Closed-form feasible points of LipSDP: certified bounds without an SDP solver (docs/math.md §3).

Every method here only *chooses* the directions ``Lambda_k``; the bound is always the one the
forward recursion of docs/math.md §4 certifies for them in float64 (:func:`certify_direction`).

The family
----------
``"eclipse-fast"``
    ECLipsE-Fast as published: ``Lambda_k = lambda_k I``, ``lambda_k`` maximising
    ``lambda_min(M_k)`` in the recursion that drops the ``alpha_k beta_k`` term.
``"lookahead"``, ``"lookahead-jacobi"``, ``"lookahead-mix"``
    Forward recursion with ``Lambda_k = lambda_k D_k`` and ``lambda_k`` minimising the
    look-ahead ``lambda_max(W_k M_k(lambda)^{-1} W_k^T)`` -- ECLipsE's per-stage criterion
    ("maximise ``s`` with ``M_k >= s W_k^T W_k``") restricted to one scalar, which makes it a
    one-dimensional convex problem, cheap once ``D^{1/2} K_k D^{1/2}`` is eigendecomposed (every
    ``M_k(lambda)`` shares its eigenvectors, the ``alpha beta`` term included). At the last
    hidden layer the look-ahead *is* the final bound. ``D_k = I``; ``D_k = diag(K_k)^{-1}``
    (Jacobi scaling: the incoming row norms of ``W_{k-1}`` at the first layer, exact for diagonal
    weights); or, per stage, whichever of ``I, diag(K_k)^{-1/2}, diag(K_k)^{-1}`` gives the
    smaller look-ahead.
``"backward"``, ``"backward-lookahead"``, ``"backward-lookahead-jacobi"``
    The same ideas from the output block: eliminate blocks ``l, l-1, ...`` by Schur complements
    with ``T_k = tau_k D_k``; ``tau_k`` greedy (minimising ``lambda_max`` of the next block's
    coupling term, the mirror image of ECLipsE-Fast) or by look-ahead; ``D_k = I`` or
    ``diag(H_k)``.
``"best"``
    The smallest certified bound of all the others.
``"naive"``
    The product of spectral norms, with multipliers that certify it.

``experiments/family_table.py`` measures where each member beats ECLipsE-Fast.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import scipy.sparse.linalg as ssla

from .certify import certify_direction, failed, result_of
from .composition import constant_reason, is_linear, linear_bound, proved_naive
from .directions import (
    MethodOutput,
    _backward_method,
    _best_layer_gain,
    _eclipse_fast,
    _eclipse_unsupported,
    _lookahead_method,
)
from .network import Network, as_network
from .proof import prove
from .result import LipschitzResult, Status
from .scaling import normalise, result_to_user

__all__ = ["CLOSED_FORM_METHODS", "closed_form", "naive_bound", "naive_directions"]

logger = logging.getLogger(__name__)


def naive_bound(net: Network) -> float:
    """``prod ||W_k||_2 * prod max(|alpha_k|, |beta_k|)`` (docs/math.md §3)."""
    norms = [np.linalg.norm(W, 2) for W in net.weights]
    gains = [max(abs(a), abs(b)) for a, b in net.slopes]
    return float(np.prod(norms) * np.prod(gains))


def naive_directions(net: Network) -> list[np.ndarray]:
    """Per-layer scalar ``Lambda_k`` certifying at most the naive bound if ``alpha_k beta_k >= 0``.

    Tracks a lower bound ``mu_k`` on ``lambda_min(M_k)`` using only spectral norms; for ReLU this is
    ``t_k = prod_{j >= k} ||W_j||_2^2`` of docs/math.md §3 up to the common factor ``rho``.
    """
    lams, mu = [], 1.0
    for k in range(net.n_hidden):
        S2 = max(float(np.linalg.norm(net.weights[k], 2)) ** 2, np.finfo(float).tiny)
        p, m = float(net.p[k]), float(net.m[k])
        u = _best_layer_gain(p, m)
        lam = u * mu / S2
        lams.append(np.full(net.hidden_widths[k], lam))
        mu = mu / S2 * (u - m * m * u * u / (1.0 + p * u))
    return lams


# --- the combination and the driver ----------------------------------------------------------


#: Failures of a member's own linear algebra: the member certifies nothing (a status says why),
#: never an exception from inside NumPy or SciPy.
_NUMERICAL_FAILURES = (ValueError, ArithmeticError, np.linalg.LinAlgError,
                       ssla.ArpackNoConvergence, ssla.ArpackError)


def _member(choose: Callable[[Network], MethodOutput], name: str):
    """A member of the family: its directions (or stage policy), proved by docs/math.md §4."""

    def run(net: Network) -> LipschitzResult:
        if net.n_hidden == 0:
            res, _ = certify_direction(net, [], method=name)
            return replace(res, status=Status.CLOSED_FORM if res.certified else res.status)
        try:
            lams, published, info = choose(net)
            res, _ = certify_direction(net, lams, method=name)
        except _NUMERICAL_FAILURES as exc:
            logger.info("closed form %s failed: %s", name, exc)
            return failed(name, f"{name} failed: {exc}")
        if not res.certified:
            return replace(res, published_value=np.nan if published is None else published)
        return replace(res, status=Status.CLOSED_FORM,
                       published_value=res.value if published is None else published,
                       info={**res.info, **info})

    run.__doc__ = choose.__doc__
    return run


def _naive_on(net: Network) -> LipschitzResult:
    """The naive bound, proved by composition; with multipliers where the naive LMI point
    (every ``alpha_k beta_k >= 0``) proves at most that value."""
    value = proved_naive(net)
    if not np.isfinite(value):
        return failed("naive", "a spectral norm could not be proved")
    info: dict = {"certified_by": "composition"}
    if all(a * b >= 0 for a, b in net.slopes) and net.n_hidden > 0:
        lams = naive_directions(net)
        # The point of docs/math.md §3: t_k = rho Lambda_k / 2 at rho = value^2 (for ReLU
        # t_k = prod_{j >= k} ||W_j||^2), proved at exactly that rho.
        rho = value * value
        ts = [0.5 * rho * lam for lam in lams]
        proof = prove(net, [2.0 * t / rho for t in ts], rho=rho)
        if proof.ok:
            res = result_of(proof, "naive", ts)
            return replace(res, value=value, published_value=value, status=Status.CLOSED_FORM,
                           info={**res.info, "certified_by": "multipliers"})
        info["multipliers"] = proof.reason
    return LipschitzResult(value=value, certified=True, multipliers=[], status=Status.CLOSED_FORM,
                           method="naive", published_value=value, info=info)


def _best_on(net: Network) -> LipschitzResult:
    """The smallest proved bound of all the other members (each already proved)."""
    values: dict[str, float | str] = {}
    winner: LipschitzResult | None = None
    for name, run in CLOSED_FORM_METHODS.items():
        if name == "best":
            continue
        if name == "eclipse-fast" and _eclipse_unsupported(net):
            values[name] = f"skipped: {_eclipse_unsupported(net)}"
            continue
        res = run(net)
        values[name] = res.value if res.certified else res.summary
        if res.certified and (winner is None or res.value < winner.value):
            winner = res
    if winner is None:
        return failed("best", f"no closed form certified a bound: {values}")
    return replace(winner, method="best",
                   info={**winner.info, "members": values, "chosen": winner.method})


#: name -> function of a *normalised* network (:mod:`lipsdp.scaling`) returning its proved
#: :class:`LipschitzResult`; :func:`closed_form` normalises and maps the result back.
CLOSED_FORM_METHODS: dict[str, Callable[[Network], LipschitzResult]] = {
    "naive": _naive_on,
    "eclipse-fast": _member(_eclipse_fast, "eclipse-fast"),
    "lookahead": _member(_lookahead_method("identity"), "lookahead"),
    "lookahead-jacobi": _member(_lookahead_method("jacobi"), "lookahead-jacobi"),
    "lookahead-mix": _member(_lookahead_method("mix"), "lookahead-mix"),
    "backward": _member(_backward_method(lookahead=False, jacobi=False), "backward"),
    "backward-lookahead": _member(_backward_method(lookahead=True, jacobi=False),
                                  "backward-lookahead"),
    "backward-lookahead-jacobi": _member(_backward_method(lookahead=True, jacobi=True),
                                         "backward-lookahead-jacobi"),
    "best": _best_on,
}


def composition_result(net: Network, method: str) -> LipschitzResult | None:
    """The exact answer for a constant or all-linear network (docs/math.md §5), else None."""
    reason = constant_reason(net)
    if reason:
        return LipschitzResult(value=0.0, certified=True, multipliers=[],
                               status=Status.CONSTANT_NETWORK, method=method, published_value=0.0,
                               info={"certified_by": f"constant network: {reason}"})
    if is_linear(net) and method != "naive":
        normed, scaling = normalise(net)
        value, info = linear_bound(normed)
        if not np.isfinite(value):
            return failed(method, "the linear network's product could not be bounded")
        res = LipschitzResult(value=value, certified=True, multipliers=[],
                              status=Status.LINEAR_NETWORK, method=method, published_value=value,
                              info={"certified_by": "linear network: |prod c_k| ||W_l ... W_0||",
                                    **info})
        return result_to_user(res, scaling)
    return None


def closed_form(
    net: Network | Sequence[np.ndarray],
    method: str = "eclipse-fast",
    *,
    slopes: object = None,
) -> LipschitzResult:
    """Proved Lipschitz bound from a closed-form feasible point of LipSDP (no SDP solver).

    Parameters
    ----------
    net : Network or list of ndarray
        The network; a plain list of weights uses ``slopes`` (default ReLU ``(0, 1)``).
    method : str
        A key of :data:`CLOSED_FORM_METHODS` (module docstring): ``"eclipse-fast"`` (default,
        ECLipsE-Fast as published), ``"lookahead"``, ``"lookahead-jacobi"``,
        ``"lookahead-mix"``, ``"backward"``, ``"backward-lookahead"``,
        ``"backward-lookahead-jacobi"``, ``"best"`` (the smallest of them all) or ``"naive"``
        (product of spectral norms and slope gains, proved by composition for every slope
        class, with multipliers when every ``alpha_k beta_k >= 0``).
    slopes : optional
        Slopes for a plain list of weights.

    Returns
    -------
    LipschitzResult
        ``value`` is proved (docs/math.md §4) from ``certificate``, or by composition
        (``info["certified_by"]``): ``"naive"``, and every method on a constant network
        (``L = 0``, status ``"constant_network"``) or an all-linear one (``alpha_k = beta_k``:
        the product's norm, status ``"linear_network"``). ``published_value`` is the method's
        own number: ECLipsE-Fast's published value, which for ``alpha_k > 0`` is larger than
        what the same multipliers prove; for the other members the proved value.
        ``info["members"]`` of ``"best"`` lists every member's value. A member whose own
        linear algebra fails certifies nothing (``value`` nan, ``status`` says why).

    Raises
    ------
    ValueError
        Unknown method, or slopes that the method does not support (ECLipsE-Fast needs
        ``alpha_k beta_k >= 0`` and ``alpha_k + beta_k > 0``).

    Notes
    -----
    Every member runs on the network normalised by exact powers of two
    (:mod:`lipsdp.scaling`), so weights of any magnitude in float64's range are handled; the
    result is mapped back exactly. Cost per hidden layer of width ``n``: ECLipsE-Fast one
    Cholesky, one triangular solve, one symmetric product and one top eigenvalue, shared with
    the proof when every ``alpha_k beta_k = 0``; the look-ahead members add one symmetric
    eigendecomposition (three for ``"lookahead-mix"``) and a short one-dimensional search; the
    backward members run their own recursion and are then proved by the forward one.

    References
    ----------
    Y. Xu and S. Sivaranjani, "ECLipsE: Efficient Compositional Lipschitz Constant Estimation for
    Deep Neural Networks", NeurIPS 2024.
    U. Syed and B. Hu, "Improved Scalable Lipschitz Bounds for Deep Neural Networks", 2025
    (the design space of the family; their exact parameterisation was not available here).
    M. Fazlyab et al., "Efficient and Accurate Estimation of Lipschitz Constants for Deep Neural
    Networks", NeurIPS 2019.

    Examples
    --------
    >>> import numpy as np, lipsdp
    >>> res = lipsdp.closed_form([np.eye(2), 2 * np.eye(2)], method="naive")
    >>> round(res.value, 6), res.certified
    (2.0, True)
    """
    start = time.perf_counter()
    if not isinstance(method, str):
        raise TypeError(f"method is {type(method).__name__}; expected a method name (str)")
    if method not in CLOSED_FORM_METHODS:
        raise ValueError(
            f"method is {method!r}; expected one of {sorted(CLOSED_FORM_METHODS)}"
        )
    net = as_network(net, slopes)
    res = composition_result(net, method)
    if res is None and method == "eclipse-fast" and _eclipse_unsupported(net):
        raise ValueError(_eclipse_unsupported(net))
    if res is None:
        normed, scaling = normalise(net)
        res = result_to_user(CLOSED_FORM_METHODS[method](normed), scaling)
    return replace(res, total_time=time.perf_counter() - start)
