"""LipSDP through the chordal decomposition of its LMI (``variant="chordal"``, docs/math.md §7)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace

import numpy as np

import lipsdp_solvers as solvers

from ..formulation import build_chordal
from ..network import Network
from ..result import LipschitzResult, Status
from ..solver_choice import backend_options, choose_solver
from .common import certify_solution, solve_status
from .options import _check_clique_size, _check_options_mapping, _reject_unknown

__all__ = ["solve_chordal"]

logger = logging.getLogger(__name__)


def solve_chordal(
    net: Network,
    *,
    multipliers: str,
    solver: str,
    options: Mapping,
    warm_start: tuple[float, list[np.ndarray]] | None,
    clique_size: int = 2,
    **unknown: object,
) -> LipschitzResult:
    """LipSDP through the chordal decomposition of its LMI (``variant="chordal"``).

    The block-tridiagonal matrix of docs/math.md §2 has a chordal sparsity graph whose cliques are
    runs of ``clique_size`` consecutive blocks, consecutive cliques sharing one block. By Agler's
    theorem ``-M >= 0`` iff ``-M = sum_k E_k^T Z_k E_k`` with every ``Z_k >= 0``; the problem
    has one PSD cone per clique, the shared blocks split by free symmetric matrices (see
    :func:`lipsdp.formulation.build_chordal`). Same optimum as ``"full"``; certified from
    ``(rho, t)`` exactly as ``"full"`` is.

    Parameters
    ----------
    net : Network
    multipliers : {"neuron", "layer"}
    solver : str
        Backend; ``"auto"``: :func:`lipsdp.choose_solver` with ``variant="chordal"`` (Clarabel
        where installed, else by the largest clique's side).
    options : mapping
        Backend options. Never modified.
    warm_start : (rho, t) or None
        A certified point; the overlap matrices are filled in by the block-LDL^T recursion.
    clique_size : int, default 2
        Consecutive blocks per clique (>= 2); 2 gives the block pairs ``{k-1, k}``.

    Returns
    -------
    LipschitzResult
        ``variant="chordal"``; ``info`` has ``cliques`` (first and last block of each),
        ``clique_sides`` and ``n_overlap_vars``.

    Raises
    ------
    TypeError
        An option this variant does not take, or a non-integer ``clique_size``.
    ValueError
        ``clique_size < 2``.

    References
    ----------
    A. Xue, L. Lindemann, A. Robey, H. Hassani, G. J. Pappas, R. Alur, "Chordal Sparsity for
    Lipschitz Constant Estimation of Deep Neural Networks", CDC 2022.
    """
    _reject_unknown("chordal", unknown, ("clique_size",))
    clique_size = _check_clique_size(clique_size)
    _check_options_mapping("chordal", options)
    method = f"lipsdp-{multipliers}"
    formulation = build_chordal(net, multipliers, clique_size)
    problem = formulation.problem
    sides = [block.size for block in problem.blocks]
    if solver == "auto":
        solver = choose_solver(variant="chordal", side=max(sides))
    x0 = None
    if warm_start is not None:
        rho0, t0 = warm_start
        x0 = formulation.from_multipliers(rho0, t0)
    options = backend_options(solver, options)
    sres = solvers.solve(problem, solver, options=options, warm_start=x0)
    common = {
        "method": method,
        "variant": "chordal",
        "solver": sres.solver,
        "solve_time": sres.solve_time,
        "iterations": sres.iterations,
    }
    info = {
        "backend_status": str(sres.status),
        "native_status": sres.native_status,
        "cliques": [list(c) for c in formulation.cliques],
        "clique_sides": sides,
        "n_overlap_vars": int((~problem.nonneg).sum()),
    }
    if not sres.ok or not np.all(np.isfinite(sres.x)):
        return LipschitzResult(value=np.nan, certified=False, multipliers=[],
                               status=Status.SOLVER_FAILED, message=str(sres.status),
                               info=info, **common)
    rho_hat, ts = formulation.to_multipliers(sres.x)
    objective = float(np.sqrt(rho_hat)) if rho_hat > 0 else np.nan
    if not rho_hat > 0:
        return LipschitzResult(value=np.nan, certified=False, multipliers=[], objective=objective,
                               status=Status.NOT_CERTIFIED,
                               message=f"solver returned rho = {rho_hat:g}",
                               info=info, **common)
    res, cert_info = certify_solution(net, rho_hat, ts, method)
    info.update(cert_info)
    if res.certified:
        status = solve_status(sres.status)
    else:
        status = res.status
    return replace(res, status=status, objective=objective, published_value=res.value,
                   info={**res.info, **info}, **common)
