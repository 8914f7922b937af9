"""The result types: :class:`LipschitzResult` (every upper bound), :class:`LowerBoundResult`
and :class:`BracketResult`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["BracketResult", "Certificate", "LipschitzResult", "LowerBoundResult"]


@dataclass(frozen=True, eq=False)
class Certificate:
    """The exact point ``(rho, t)`` that a certified result proves (docs/math.md §4).

    ``rho = rho_mantissa * 2**rho_exponent`` and ``t_k = multipliers[k] * 2**exponents[k]``
    exactly, so that a network whose multipliers leave float64's range (layers scaled by
    ``1e300`` and ``1e-300`` in one network) still has an exact certificate. For ordinary
    networks every exponent is 0 and ``multipliers`` are the result's ``multipliers``.
    :func:`lipsdp.certify` accepts a certificate in place of multipliers.

    Attributes
    ----------
    rho : float
        Mantissa of ``rho``.
    multipliers : tuple of ndarray
        Mantissas of ``t_k``, one per hidden layer.
    rho_exponent : int
    exponents : tuple of int
        One per hidden layer (default all 0).
    """

    rho: float
    multipliers: tuple[np.ndarray, ...]
    rho_exponent: int = 0
    exponents: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "multipliers", tuple(self.multipliers))
        if not self.exponents:
            object.__setattr__(self, "exponents", (0,) * len(self.multipliers))
        object.__setattr__(self, "exponents", tuple(int(e) for e in self.exponents))
        if len(self.exponents) != len(self.multipliers):
            raise ValueError(
                f"Certificate has {len(self.multipliers)} multiplier arrays but "
                f"{len(self.exponents)} exponents; expected one per hidden layer"
            )

    @property
    def rho_value(self) -> float:
        """``rho`` as a float (``inf`` or 0 where out of range)."""
        return float(np.ldexp(self.rho, self.rho_exponent))

    def checked(self, widths: tuple[int, ...]) -> tuple[list[np.ndarray], list[int], tuple]:
        """``(mantissas, exponents, (rho, rho_exponent))`` after checking them against the
        hidden ``widths``; raises ``ValueError`` naming what does not fit."""
        if len(self.multipliers) != len(widths):
            raise ValueError(
                f"certificate has {len(self.multipliers)} multiplier arrays; expected "
                f"{len(widths)}, one per hidden layer"
            )
        ts = []
        for k, (t, n) in enumerate(zip(self.multipliers, widths, strict=True)):
            a = np.array(t, dtype=np.float64, copy=True)
            if a.shape != (n,):
                raise ValueError(f"certificate.multipliers[{k}] has shape {a.shape}; "
                                 f"expected ({n},)")
            if not np.all(np.isfinite(a)) or np.any(a < 0):
                raise ValueError(f"certificate.multipliers[{k}] has negative or non-finite "
                                 "entries")
            ts.append(a)
        if not (np.isfinite(self.rho) and self.rho > 0):
            raise ValueError(f"certificate.rho is {self.rho}; expected a positive finite number")
        return ts, list(self.exponents), (float(self.rho), self.rho_exponent)


@dataclass(frozen=True)
class LipschitzResult:
    """A Lipschitz bound and everything needed to trust and reuse it.

    Attributes
    ----------
    value : float
        Proved upper bound on the l2 Lipschitz constant, or ``nan`` when nothing is proved.
        Never a solver's objective: it is proved from ``certificate`` (docs/math.md §4), or for
        constant and linear networks and products of parts by the argument ``info`` names.
    certified : bool
        Whether ``value`` is proved (docs/math.md §4: in exact arithmetic, for the weights as
        given).
    multipliers : list of ndarray
        ``t_k`` (length ``n_k``), one per hidden layer, in the convention of docs/math.md §2,
        such that with ``rho = value**2`` they satisfy ``M(rho, T) <= 0`` exactly (empty where
        no LMI point proves the value). Exact floats unless ``info["multipliers_exact"]`` is
        False (a multiplier outside float64's range; ``certificate`` is then the exact one).
    status : str
        ``"optimal"``, ``"closed_form"``, ``"certified"`` on success; otherwise a word that says
        what went wrong (e.g. ``"not_certified: pivot 2 not positive definite"``,
        ``"solver_failed: max_iterations"``).
    method : str
        ``"lipsdp-neuron"``, ``"lipsdp-layer"``, ``"naive"``, ``"eclipse-fast"``, ``"certify"`` ...
    variant : str or None
        ``"full"`` for the full LMI; ``None`` for closed forms.
    solver : str or None
        Registry name of the backend used (``None`` for closed forms).
    solve_time : float
        Seconds inside the backend (0 for closed forms).
    total_time : float
        Seconds for the whole call: formulation, solve and certification.
    iterations : int
    objective : float
        ``sqrt`` of the backend's own objective (uncertified; for diagnostics only).
    published_value : float
        The value the method's paper reports for these multipliers, where that differs from the
        certified one (ECLipsE-Fast with ``alpha > 0``); otherwise equal to ``value``.
    parts : list of LipschitzResult
        Sub-results of decomposed runs.
    certificate : Certificate or None
        The exact ``(rho, t)`` the value is proved from (docs/math.md §4); ``None`` where the
        proof is not a point of the LMI (a constant or linear network, a product of proved
        parts).
    info : dict
        Anything else (backend status, certification margin, pivots, warnings).
    """

    value: float
    certified: bool
    multipliers: list[np.ndarray]
    status: str
    method: str
    variant: str | None = None
    solver: str | None = None
    solve_time: float = 0.0
    total_time: float = 0.0
    iterations: int = 0
    objective: float = float("nan")
    published_value: float = float("nan")
    parts: list[LipschitzResult] = field(default_factory=list)
    info: dict = field(default_factory=dict)
    certificate: Certificate | None = None

    def __post_init__(self) -> None:
        # The package's promise, enforced by the type: a certified value is a number, an
        # uncertified one is nan.
        if self.certified and not (np.isfinite(self.value) and self.value >= 0):
            raise ValueError(f"a certified result needs a finite value >= 0; got {self.value}")
        if not self.certified and not np.isnan(self.value):
            raise ValueError(f"an uncertified result has value nan; got {self.value}")

    @property
    def rho(self) -> float:
        """``value**2``: the certified LipSDP objective."""
        return self.value**2

    def __repr__(self) -> str:
        where = f", variant={self.variant!r}, solver={self.solver!r}" if self.variant else ""
        return (
            f"LipschitzResult(value={self.value:.10g}, certified={self.certified}, "
            f"status={self.status!r}, method={self.method!r}{where}, "
            f"total_time={self.total_time:.3g}s)"
        )

    def to_dict(self) -> dict:
        """JSON-friendly summary (multipliers as lists)."""
        return {
            "method": self.method,
            "variant": self.variant,
            "solver": self.solver,
            "value": None if not np.isfinite(self.value) else self.value,
            "certified": self.certified,
            "status": self.status,
            "published_value": (
                None if not np.isfinite(self.published_value) else self.published_value
            ),
            "objective": None if not np.isfinite(self.objective) else self.objective,
            "solve_time": self.solve_time,
            "total_time": self.total_time,
            "iterations": self.iterations,
            "parts": [p.to_dict() for p in self.parts],
        }


@dataclass(frozen=True)
class LowerBoundResult:
    """A lower bound and the point that attains it.

    Attributes
    ----------
    value : float
    kind : {"lipschitz", "lipsdp"}
        ``"lipschitz"``: a lower bound on the true Lipschitz constant of the network with the given
        activation (so on every valid upper bound). ``"lipsdp"``: a lower bound on the LipSDP
        optimum for the network's slope class only.
    method : {"jacobian", "slope-class"}
    x : ndarray or None
        The input where the Jacobian norm is ``value`` (``"jacobian"``).
    D : list of ndarray
        The diagonal slopes: ``phi'(z_k(x))`` for ``"jacobian"``, the maximising vertex of
        ``[alpha_k, beta_k]`` for ``"slope-class"``.
    direction : ndarray
        Unit input vector ``v`` with ``||J v||_2 = value`` (top right singular vector).
    time : float
        Seconds.
    evaluations : int
        Jacobians (or products) evaluated.
    info : dict
    """

    value: float
    kind: str
    method: str
    x: np.ndarray | None
    D: list[np.ndarray]
    direction: np.ndarray
    time: float = 0.0
    evaluations: int = 0
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ("lipschitz", "lipsdp"):
            raise ValueError(f"kind is {self.kind!r}; expected 'lipschitz' or 'lipsdp'")

    def __repr__(self) -> str:
        return (f"LowerBoundResult(value={self.value:.10g}, kind={self.kind!r}, "
                f"method={self.method!r}, time={self.time:.3g}s)")


@dataclass(frozen=True)
class BracketResult:
    """Where the LipSDP optimum lies: ``lower <= LipSDP optimum <= upper``.

    Attributes
    ----------
    lower : float
        Lower bound on the LipSDP optimum: the larger of the slope-class bound and the Jacobian
        bound (the latter counts because the activation satisfies the slope restriction).
    upper : float
        Certified upper bound on the true ``L`` (and at least the LipSDP optimum, being a feasible
        point of it).
    gap : float
        ``upper / lower - 1`` (``inf`` when ``lower = 0``), the definition of
        ``lipsdp.solve``'s ``certified_gap`` and ``gap_tol``.
    lower_true : float
        Lower bound on the true ``L`` of the network with its actual activation (``nan`` when no
        Jacobian bound was computed). ``lower_true <= L <= upper``.
    lower_method, upper_method : str
        Which method produced ``lower`` and ``upper`` (``"slope-class"``/``"jacobian"``; a
        closed-form method name, or ``"solve:<backend>"``).
    upper_result : LipschitzResult
        The certified result behind ``upper`` (its multipliers certify it).
    lower_results : dict of str to LowerBoundResult
        ``"slope-class"`` and, when computed, ``"jacobian"``.
    total_time : float
    info : dict
        ``"closed_form"``: the closed-form result; ``"solve"``: the solve result or why it was
        skipped.
    """

    lower: float
    upper: float
    gap: float
    lower_true: float
    lower_method: str
    upper_method: str
    upper_result: LipschitzResult
    lower_results: dict
    total_time: float = 0.0
    info: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"BracketResult(lower={self.lower:.6g} [{self.lower_method}], "
                f"upper={self.upper:.6g} [{self.upper_method}], gap={self.gap:.3g}, "
                f"lower_true={self.lower_true:.6g})")
