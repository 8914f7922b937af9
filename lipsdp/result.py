"""The result types: :class:`LipschitzResult` (every upper bound), :class:`LowerBoundResult`
and :class:`BracketResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

__all__ = [
    "BracketResult",
    "Certificate",
    "LipschitzResult",
    "LowerBoundResult",
    "Result",
    "Status",
]


class Status(str, Enum):
    """What a :class:`LipschitzResult`'s ``value`` is: the fixed set every ``status`` is drawn
    from. A ``str`` enum: ``Status.OPTIMAL == "optimal"``, and it prints as its value. The
    free-text detail (which pivot failed, which block, why the solver stopped) is the result's
    ``message``.

    Certified (``value`` proved):

    - ``OPTIMAL``: the backend reached its optimum and its point is proved (for ``"split"``:
      every part's was; for ``"sequential"``: no stage fell back on the closed form).
    - ``OPTIMAL_INACCURATE``: the backend's optimum, reached at reduced accuracy; its point is
      proved.
    - ``GAP_REACHED``: ``options["gap_tol"]`` met: a certified iterate within that relative gap
      of a proved lower bound (``lower_bound``, ``proved_gap``).
    - ``BEST_ITERATE``: the backend stopped early for numerical trouble (``message`` says
      which) and the best certified iterate is returned.
    - ``MAX_ITERATIONS``, ``TIME_LIMIT``: a limit was reached (every backend's own limit status
      maps to these; ``TIME_LIMIT`` also when ``solve(..., time_limit=)`` ran out), and the
      value is the best proved bound at that point: the last or best certified iterate, or the
      closed-form floor of a timed call (``message`` says which).
    - ``STOPPED``: the backend stopped for another reason (``message``) and its point is proved.
    - ``CERTIFIED``: proved by docs/math.md §4 where no solver optimum is claimed
      (:func:`lipsdp.certify`, a sequential run with a fallback stage, a split whose parts are
      not all optimal).
    - ``CERTIFIED_BY_PARTS``: ``"split"``: the product rule over proved parts (§5).
    - ``CLOSED_FORM``: a closed-form bound (§3, §5).
    - ``CONSTANT_NETWORK``, ``LINEAR_NETWORK``: ``L`` known by composition (§5).
    - ``FALLBACK``: the solve failed, stopped or was not proved, and the value is the warm
      start's, proved for this network (``message`` says why).

    Not certified (``value`` is ``nan``):

    - ``NOT_CERTIFIED``: the proof failed (``message`` names the failing pivot or check).
    - ``SOLVER_FAILED``: the backend returned no point to prove.
    - ``PART_FAILED``: ``"split"``: a part was not certified (``message`` names it).
    """

    OPTIMAL = "optimal"
    OPTIMAL_INACCURATE = "optimal_inaccurate"
    #: Values kept as the sentences tests/lipsdp/test_ipm.py and tests/lipsdp/test_banded.py
    #: look for
    #: (``startswith("gap_tol reached")``, ``"best certified iterate" in status``).
    GAP_REACHED = "gap_tol reached; best certified iterate"
    BEST_ITERATE = "stopped; best certified iterate"
    MAX_ITERATIONS = "max_iterations"
    TIME_LIMIT = "time_limit"
    STOPPED = "stopped"
    CERTIFIED = "certified"
    CERTIFIED_BY_PARTS = "certified_by_parts"
    CLOSED_FORM = "closed_form"
    CONSTANT_NETWORK = "constant_network"
    LINEAR_NETWORK = "linear_network"
    FALLBACK = "fallback"
    NOT_CERTIFIED = "not_certified"
    SOLVER_FAILED = "solver_failed"
    PART_FAILED = "part_failed"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, kw_only=True)
class Result:
    """What every result of the package carries: ``total_time`` (seconds for the whole call)
    and ``info`` (anything else, e.g. diagnostics; never needed to trust the result)."""

    total_time: float = 0.0
    info: dict = field(default_factory=dict)


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
class LipschitzResult(Result):
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
    status : Status
        What ``value`` is, from the fixed set :class:`Status` (a ``str`` enum: compares equal
        to its value, e.g. ``"optimal"``, ``"closed_form"``, ``"not_certified"``).
    message : str
        The free-text detail of ``status`` (e.g. ``"pivot X_2 (block 2) is not positive
        definite"``, why the solver stopped); ``""`` where there is none.
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
    lower_bound : float
        A proved lower bound on the LipSDP optimum (docs/math.md §6, from the backend's dual),
        ``nan`` where none was computed (also ``info["lower_bound"]``).
    proved_gap : float
        ``value / lower_bound - 1`` (``nan`` without a lower bound; also
        ``info["certified_gap"]``).
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
    iterations: int = 0
    objective: float = float("nan")
    published_value: float = float("nan")
    parts: list[LipschitzResult] = field(default_factory=list)
    certificate: Certificate | None = None
    message: str = ""
    lower_bound: float = float("nan")
    proved_gap: float = float("nan")

    def __post_init__(self) -> None:
        # The package's promise, enforced by the type: a certified value is a number, an
        # uncertified one is nan.
        if self.certified and not (np.isfinite(self.value) and self.value >= 0):
            raise ValueError(f"a certified result needs a finite value >= 0; got {self.value}")
        if not self.certified and not np.isnan(self.value):
            raise ValueError(f"an uncertified result has value nan; got {self.value}")
        if not isinstance(self.status, Status):
            try:
                object.__setattr__(self, "status", Status(self.status))
            except ValueError:
                raise ValueError(
                    f"status is {self.status!r}; expected one of {[s.value for s in Status]}"
                ) from None

    @property
    def summary(self) -> str:
        """``status`` and ``message`` in one line (``"not_certified: pivot ..."``)."""
        return f"{self.status}: {self.message}" if self.message else str(self.status)

    @property
    def rho(self) -> float:
        """``value**2``: the certified LipSDP objective."""
        return self.value**2

    def __repr__(self) -> str:
        where = f", variant={self.variant!r}, solver={self.solver!r}" if self.variant else ""
        message = f", message={self.message!r}" if self.message else ""
        return (
            f"LipschitzResult(value={self.value:.10g}, certified={self.certified}, "
            f"status={str(self.status)!r}{message}, method={self.method!r}{where}, "
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
            "status": str(self.status),
            "message": self.message,
            "published_value": (
                None if not np.isfinite(self.published_value) else self.published_value
            ),
            "objective": None if not np.isfinite(self.objective) else self.objective,
            "solve_time": self.solve_time,
            "total_time": self.total_time,
            "iterations": self.iterations,
            "lower_bound": None if not np.isfinite(self.lower_bound) else self.lower_bound,
            "proved_gap": None if not np.isfinite(self.proved_gap) else self.proved_gap,
            "parts": [p.to_dict() for p in self.parts],
        }


@dataclass(frozen=True)
class LowerBoundResult(Result):
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
    total_time : float
        Seconds (also readable as ``time``).
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
    evaluations: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("lipschitz", "lipsdp"):
            raise ValueError(f"kind is {self.kind!r}; expected 'lipschitz' or 'lipsdp'")

    def __repr__(self) -> str:
        return (f"LowerBoundResult(value={self.value:.10g}, kind={self.kind!r}, "
                f"method={self.method!r}, time={self.total_time:.3g}s)")

    @property
    def time(self) -> float:
        """``total_time`` (the name this result used before it joined :class:`Result`)."""
        return self.total_time


@dataclass(frozen=True)
class BracketResult(Result):
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

    def __repr__(self) -> str:
        return (f"BracketResult(lower={self.lower:.6g} [{self.lower_method}], "
                f"upper={self.upper:.6g} [{self.upper_method}], gap={self.gap:.3g}, "
                f"lower_true={self.lower_true:.6g})")
