"""The one result type returned by every method of the package."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["LipschitzResult"]


@dataclass(frozen=True)
class LipschitzResult:
    """A Lipschitz bound and everything needed to trust and reuse it.

    Attributes
    ----------
    value : float
        Certified upper bound on the l2 Lipschitz constant, or ``nan`` when nothing is certified.
        Never a solver's objective: it is recomputed in float64 from ``multipliers``
        (DOMAIN.md §3).
    certified : bool
        Whether ``value`` was verified from ``multipliers`` by the forward block-LDL recursion.
    multipliers : list of ndarray
        ``t_k`` (length ``n_k``), one per hidden layer, in the DOMAIN.md §2 convention, rescaled
        so that together with ``rho = value**2`` they satisfy ``M(rho, T) <= 0``.
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
