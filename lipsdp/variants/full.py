"""The full LMI of docs/math.md §2 (``variant="full"``), with anytime certified iterates."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace

import numpy as np

import lipsdp_solvers as solvers

from .. import progress
from ..certify import certify_direction, failed
from ..dual import dual_lower_bound
from ..formulation import build_full
from ..lowrank import with_lowrank
from ..network import Network
from ..result import LipschitzResult, Status
from ..solver_choice import ANYTIME_BACKENDS, backend_options
from ..warm_start import fallback_to_warm_start
from .common import certify_solution, solve_status

__all__ = ["solve_full"]

logger = logging.getLogger(__name__)

#: Feasible points handed to the structured interior-point backends as their start are scaled
#: by this factor (see _solve_full): far enough inside the cone for long first steps, close
#: enough to keep the reference point's scale.
START_SCALE = 1.1


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
        stop = self._step(x, info)
        if progress.active():
            scale = float(self.formulation.scale[0])
            best = self.best.value if self.best is not None else np.nan
            progress.emit(
                "iteration", iteration=info["iteration"], gap=info["gap"], pinf=info["pinf"],
                dinf=info["dinf"],
                primal=progress.in_bound_units(float(np.sqrt(max(info["pobj"], 0.0) * scale))),
                dual=progress.in_bound_units(float(np.sqrt(max(info["dobj"], 0.0) * scale))),
                certified=progress.in_bound_units(best),
            )
        return stop

    def _step(self, x: np.ndarray, info: dict) -> bool:
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


def solve_full(
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
        # this scaling that the first step is blocked (tests/lipsdp/test_ipm.py, ECLipsE-Fast's
        # point on a 10-layer network); it stays the fallback bound.
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
    options = backend_options(solver, options)
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
        bounds = {}
        if np.isfinite(anytime.lower):
            info["lower_bound"] = anytime.lower
            info["certified_gap"] = best.value / anytime.lower - 1.0
            bounds = {"lower_bound": anytime.lower, "proved_gap": info["certified_gap"]}
        # A limit is that limit's status (the one every backend's limit maps to); another
        # stop (numerical trouble) is BEST_ITERATE. The message says the value is an iterate's.
        if sres.ok:
            status, message = Status.GAP_REACHED, ""
        else:
            status = solve_status(sres.status)
            if status is Status.STOPPED:
                status = Status.BEST_ITERATE
            message = f"stopped: {sres.status}; best certified iterate"
        return replace(best, status=status, message=message,
                       objective=float(np.sqrt(max(sres.objective * formulation.scale[0], 0))),
                       info={**best.info, **info}, **bounds, **common)
    if not np.all(np.isfinite(sres.x)):
        # No point to prove; with a warm start proved for this network, its bound instead.
        res = replace(failed(method, f"solver_failed: {sres.status} ({sres.native_status})",
                             info=info), status=Status.SOLVER_FAILED,
                      message=f"{sres.status} ({sres.native_status})", **common)
        return fallback_to_warm_start(res, warm_start, str(sres.status))
    rho_hat, ts = formulation.to_multipliers(sres.x)
    objective = float(np.sqrt(rho_hat)) if rho_hat > 0 else np.nan
    if not rho_hat > 0:
        res = replace(failed(method, f"solver returned rho = {rho_hat:g}", info=info,
                             objective=objective), **common)
        return fallback_to_warm_start(res, warm_start, "returned rho <= 0")
    # Any finite point may be proved, whatever the backend's status: the proof does not trust it.
    res, cert_info = certify_solution(net, rho_hat, ts, method)
    info.update(cert_info)
    if anytime is not None and anytime.best is not None and (
        not res.certified or anytime.best.value < res.value
    ):
        # An earlier iterate proves a smaller bound than the last point (near the optimum the
        # last point can be too close to the boundary for the proof): keep the best.
        info["final_point"] = res.value if res.certified else res.summary
        res = replace(anytime.best, info={**anytime.best.info, "best_iterate": True})
    bounds = {}
    if res.certified and (sres.dual or "dual_banded" in sres.info):
        dual = formulation.unscale_dual(_dual_of({"dual": sres.dual, **sres.info}))
        lower = dual_lower_bound(net, dual, multipliers)
        if np.isfinite(lower):
            info["lower_bound"] = lower  # lower bound on sqrt(rho*) (docs/math.md §6)
            info["certified_gap"] = res.value / lower - 1.0 if lower > 0 else np.inf
            bounds = {"lower_bound": lower, "proved_gap": info["certified_gap"]}
    status, message = res.status, res.message
    if res.certified:
        status = solve_status(sres.status)
        stopped = status not in (Status.OPTIMAL, Status.OPTIMAL_INACCURATE)
        message = f"stopped: {sres.status}; its point certified" if stopped else ""
    if sres.dual and "dual_nonneg" in sres.info:
        # For a later warm start (e.g. after a training step): the dual in -M's own scale.
        info["warm_dual"] = (formulation.unscale_dual(sres.dual[0]),
                             sres.info["dual_nonneg"] / formulation.scale)
    res = replace(res, status=status, message=message, objective=objective,
                  published_value=res.value if res.certified else np.nan,
                  info={**res.info, **info}, **bounds, **common)
    if status != Status.OPTIMAL:
        why = str(sres.status) if res.certified else f"{sres.status}, {res.summary}"
        return fallback_to_warm_start(res, warm_start, why)
    return res
