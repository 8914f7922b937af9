"""What the solver-based variants share: proving a solver's point (docs/math.md §4)."""

from __future__ import annotations

import logging

import numpy as np

import lipsdp_solvers as solvers

from ..certify import certify_direction
from ..closed_form import naive_bound, naive_directions
from ..network import Network
from ..result import LipschitzResult, Status

__all__ = ["certify_solution", "solve_status"]

logger = logging.getLogger(__name__)

#: Convex-combination weights tried when the solver's own direction fails certification.
_REPAIR_THETAS = (1e-9, 1e-7, 1e-5, 1e-3, 1e-2, 1e-1)


def certify_solution(
    net: Network, rho_hat: float, ts: list[np.ndarray], method: str
) -> tuple[LipschitzResult, dict]:
    """Certify the solver's point along its ray; if that fails, mix in a little of the naive
    feasible point (the feasible set is convex) until a pivot sequence passes."""
    info: dict = {}
    ts = [np.maximum(t, 0.0) for t in ts]  # solvers return tiny negative values within tolerance
    res, _ = certify_direction(net, [2.0 * t / rho_hat for t in ts], method=method)
    if res.certified:
        return res, info
    info["raw_certification"] = res.summary
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


#: How a backend's status reads on a result whose point is proved.
_SOLVE_STATUS = {
    solvers.Status.OPTIMAL: Status.OPTIMAL,
    solvers.Status.OPTIMAL_INACCURATE: Status.OPTIMAL_INACCURATE,
    solvers.Status.MAX_ITERATIONS: Status.MAX_ITERATIONS,
    solvers.Status.TIME_LIMIT: Status.TIME_LIMIT,
}


def solve_status(status: solvers.Status) -> Status:
    """The :class:`~lipsdp.result.Status` of a proved point the backend returned with
    ``status`` (``STOPPED`` for any status without its own member)."""
    return _SOLVE_STATUS.get(status, Status.STOPPED)
