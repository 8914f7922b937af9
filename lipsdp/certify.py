"""Certified results: the public :func:`certify` and the result of a proof (docs/math.md §4).

The proof itself (the shifted forward recursion) is :func:`lipsdp.proof.prove`; this module
turns a proof into a :class:`~lipsdp.LipschitzResult` (the value rounded up from the proved
``rho``, the exact multipliers and their certificate), proves a ray (:func:`certify_direction`)
or exact multipliers (:func:`certify`, bisecting on ``rho``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from .network import Network, as_network
from .proof import Proof, StagePolicy, prove
from .result import Certificate, LipschitzResult, Status

__all__ = ["Proof", "StagePolicy", "certify", "certify_direction", "prove"]

logger = logging.getLogger(__name__)


# --- results ---------------------------------------------------------------------------------


def value_from_rho(rho: float) -> float:
    """An upper bound ``v`` on ``sqrt(rho)`` with ``fl(v * v) >= rho`` (three floats up)."""
    v = float(np.sqrt(rho))
    for _ in range(3):
        v = float(np.nextafter(v, np.inf))
    return v


def multipliers_of(proof: Proof) -> list[np.ndarray]:
    """The float multipliers ``t_k = fl(rho * Lambda_k / 2)`` that a search-mode proof covers."""
    half = 0.5 * proof.rho
    return [half * lam for lam in proof.lams]


def _subnormal(ts: Sequence[np.ndarray]) -> bool:
    tiny = np.finfo(float).tiny
    return any(np.any((t != 0) & (np.abs(t) < tiny)) for t in ts)


def failed(method: str, reason: str, *, info: dict | None = None,
           **fields: object) -> LipschitzResult:
    """The uncertified result: ``nan``, no multipliers, a status that says why."""
    return LipschitzResult(value=np.nan, certified=False, multipliers=[],
                           status=Status.NOT_CERTIFIED, message=reason, method=method,
                           info={"reason": reason, **(info or {})}, **fields)


def result_of(proof: Proof, method: str, ts: list[np.ndarray] | None = None) -> LipschitzResult:
    """The certified result of a successful proof (``ts``: the exact multipliers of a
    fixed-mode proof; default those of the search mode)."""
    ts = multipliers_of(proof) if ts is None else ts
    if _subnormal(ts):
        return failed(method, "a multiplier is below float64's normal range")
    value = value_from_rho(proof.rho)
    info = {"rho_estimate": proof.estimate, "proof_margin": proof.rho / proof.estimate - 1.0,
            "backward_error": "a posteriori" if proof.a_posteriori else "a priori"}
    if proof.dropped:
        info["dropped_neurons"] = proof.dropped
    return LipschitzResult(
        value=value,
        certified=True,
        multipliers=ts,
        status=Status.CERTIFIED,
        method=method,
        published_value=value,
        certificate=Certificate(rho=proof.rho, multipliers=tuple(ts)),
        info=info,
    )


def certify_direction(
    net: Network,
    lams: Sequence[np.ndarray] | StagePolicy,
    *,
    method: str = "certify",
) -> tuple[LipschitzResult, Proof]:
    """Prove the ray ``T = rho * Lambda / 2`` (docs/math.md §4) at its smallest proved ``rho``.

    ``lams`` is a list of directions or a :data:`StagePolicy` (see :func:`prove`); the returned
    multipliers are those of the directions actually proved. ``net`` is used as given (pass the
    normalised network, :func:`lipsdp.scaling.normalise`).
    """
    proof = prove(net, lams)
    if not proof.ok:
        return failed(method, proof.reason), proof
    return result_of(proof, method), proof


def _as_multipliers(
    net: Network, multipliers: object, name: str = "multipliers"
) -> list[np.ndarray]:
    if isinstance(multipliers, np.ndarray) and multipliers.ndim == 1 and net.n_hidden == 1:
        multipliers = [multipliers]
    if isinstance(multipliers, (str, bytes)) or not isinstance(multipliers, (Sequence, np.ndarray)):
        raise TypeError(f"{name} is {type(multipliers).__name__}; expected a list of 1-D arrays")
    if len(multipliers) != net.n_hidden:
        raise ValueError(
            f"{name} has {len(multipliers)} entries; expected {net.n_hidden}, one per hidden layer"
        )
    out = []
    for k, (t, n) in enumerate(zip(multipliers, net.hidden_widths, strict=True)):
        try:
            a = np.array(t, dtype=np.float64, copy=True)
        except (TypeError, ValueError):
            raise TypeError(f"{name}[{k}] is {type(t).__name__}; expected numbers") from None
        if a.ndim == 0:
            a = np.full(n, float(a))
        if a.ndim != 1 or a.size != n:
            raise ValueError(
                f"{name}[{k}] has shape {np.shape(t)}; expected ({n},) for hidden layer {k + 1}"
            )
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name}[{k}] has non-finite entries; expected finite numbers")
        if np.any(a < 0):
            raise ValueError(f"{name}[{k}] has negative entries; expected t >= 0")
        out.append(a)
    return out


def certify(
    net: Network | Sequence[np.ndarray],
    multipliers: Sequence[np.ndarray] | Certificate,
    rho: float | None = None,
    *,
    slopes: object = None,
) -> LipschitzResult:
    """Prove a Lipschitz bound from LipSDP-Neuron multipliers (docs/math.md §4).

    Parameters
    ----------
    net : Network or list of ndarray
        The network (a list of weights uses ``slopes``, default ReLU).
    multipliers : list of array_like or Certificate
        ``t_k >= 0`` for each hidden layer in the §2 convention of docs/math.md (a scalar per
        layer is broadcast, as for LipSDP-Layer), or a result's ``certificate`` (multipliers and
        ``rho`` with exact powers of two, for networks whose multipliers leave float64's range).
    rho : float, optional
        The solver's ``rho`` that came with these multipliers. When given, the direction
        ``Lambda_k = 2 t_k / rho`` is proved at its smallest proved ``rho`` and rescaled. When
        omitted, the smallest ``rho`` with ``M(rho, T) <= 0`` for exactly these ``t`` is found
        by bisection, each step a proof. A certificate carries its ``rho`` (its ray is proved).
    slopes : optional
        Slopes when ``net`` is a list of weights.

    Returns
    -------
    LipschitzResult
        ``value`` rounds ``sqrt(rho)`` up for the proved ``rho``, with the multipliers and the
        ``certificate`` that prove it; ``certified=False`` and ``value=nan`` when the
        multipliers prove nothing (``status`` says why).

    Raises
    ------
    ValueError, TypeError
        If the multipliers do not match the network's hidden widths, are negative or not finite.

    References
    ----------
    M. Fazlyab et al., "Efficient and Accurate Estimation of Lipschitz Constants for Deep Neural
    Networks", NeurIPS 2019.
    S. M. Rump, "Verification of positive definiteness", BIT 46, 2006.

    Examples
    --------
    >>> import numpy as np, lipsdp
    >>> net = lipsdp.Network([np.array([[1.0, 0.0]]), np.array([[2.0]])])
    >>> round(lipsdp.certify(net, [np.array([4.0])]).value, 6)
    2.0
    """
    from .scaling import normalise, result_to_user

    start = time.perf_counter()
    net = as_network(net, slopes)
    if isinstance(multipliers, Certificate):
        ts, exps, rho_cert = multipliers.checked(net.hidden_widths)
    else:
        ts, exps, rho_cert = _as_multipliers(net, multipliers), [0] * net.n_hidden, None
    if rho is not None:
        if isinstance(rho, bool) or not isinstance(rho, (int, float, np.floating)):
            raise TypeError(f"rho is {type(rho).__name__}; expected a positive number")
        if not np.isfinite(rho) or rho <= 0:
            raise ValueError(f"rho is {rho}; expected a positive finite number")
        rho_cert = (float(rho), 0)
    normed, scaling = normalise(net)
    E = scaling.multiplier_exponents()
    two_d = 2 * scaling.value_exponent
    ts_n = [np.ldexp(t, e - En) for t, e, En in zip(ts, exps, E, strict=True)]
    if net.n_hidden == 0:
        proof = prove(normed, [])
        res = result_of(proof, "certify", []) if proof.ok else failed("certify", proof.reason)
    elif rho_cert is not None:
        rho_n = float(np.ldexp(rho_cert[0], rho_cert[1] - two_d))
        if not (np.isfinite(rho_n) and rho_n > 0):
            res = failed("certify", "rho is outside float64's range in the network's units")
        else:
            res, _ = certify_direction(normed, [2.0 * t / rho_n for t in ts_n])
    else:
        res = _certify_fixed(normed, ts_n)
    res = result_to_user(res, scaling)
    return replace(res, total_time=time.perf_counter() - start)


def _certify_fixed(net: Network, ts: list[np.ndarray]) -> LipschitzResult:
    """Smallest ``rho`` that these exact ``t`` prove, by bisection on ``log rho``."""
    if net.n_hidden == 0:
        return certify_direction(net, [])[0]

    def attempt(r: float) -> Proof:
        return prove(net, [2.0 * t / r for t in ts], rho=r)

    scale = float(np.prod([np.linalg.norm(W, 2) ** 2 for W in net.weights])) or 1.0
    if not (np.isfinite(scale) and scale > 0):
        scale = 1.0
    hi, proof = scale, None
    for _ in range(200):
        proof = attempt(hi)
        if proof.ok:
            break
        hi *= 4.0
        if not np.isfinite(hi):
            break
    if proof is None or not proof.ok:
        reason = (proof.reason if proof is not None else "") or "no rho tried proves these t"
        return failed("certify", f"M(rho, T) is not negative semidefinite for any rho tried "
                      f"({reason})")
    best, lo = proof, hi
    for _ in range(200):
        lo /= 4.0
        trial = attempt(lo)
        if not trial.ok:
            break
        best, hi = trial, lo
    while hi / lo - 1.0 > 1e-13:
        mid = float(np.sqrt(lo * hi))
        if mid <= lo or mid >= hi:
            break
        trial = attempt(mid)
        if trial.ok:
            best, hi = trial, mid
        else:
            lo = mid
    return result_of(best, "certify", [t.copy() for t in ts])
