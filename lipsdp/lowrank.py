"""The rank-2 structure of LipSDP's coefficient matrices (docs/math.md §9), for structured solvers.

Each multiplier enters ``-M(rho, t)`` through
``F_j = s_j [e_j w_j] [[2, -(a+b)], [-(a+b), 2ab]] [e_j w_j]^T`` (``e_j`` the neuron's coordinate
in block ``k``, ``w_j`` row ``j`` of ``W_{k-1}`` in block ``k-1``) and ``rho`` through
``s_0 P_0`` (identity on the input block). A Schur-complement interior-point method builds its
Newton system from these factors instead of from the ``(n_0+N)^2``-long vectorised matrices.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import scipy.sparse as sp

from lipsdp_solvers import LowRank

from .formulation import Formulation
from .lmi import lmi_geometry, neuron_terms
from .network import Network

__all__ = ["lowrank_factors", "with_lowrank"]


def lowrank_factors(net: Network, scale: np.ndarray, multipliers: str) -> LowRank:
    """Factors of the full formulation's scaled coefficient matrices (same variable order): the
    ``2 x 2`` core of each neuron is :func:`lipsdp.lmi.neuron_terms`."""
    geometry = lmi_geometry(net)
    Ws, offsets = geometry.weights, geometry.offsets
    m, n0 = int(offsets[-1]), int(offsets[1])
    rows, cols, vals = [np.arange(n0)], [np.arange(n0)], [np.ones(n0)]
    diag, e_all, off_all = [np.full(n0, scale[0])], [], []
    owner = [np.zeros(n0, dtype=np.int64)]
    col, var = n0, 1
    for k in range(1, net.n_hidden + 1):
        W = Ws[k - 1]
        nk = W.shape[0]
        c_ee, c_ew, c_ww = neuron_terms(*net.slopes[k - 1])
        if multipliers == "layer":
            var_of = np.full(nk, var)
            var += 1
        else:
            var_of = var + np.arange(nk)
            var += nk
        s = scale[var_of]
        e_cols = col + 2 * np.arange(nk)  # column of e_j; w_j is the next one
        rows.append(offsets[k] + np.arange(nk))
        cols.append(e_cols)
        vals.append(np.ones(nk))
        jj, ii = np.nonzero(W)
        rows.append(offsets[k - 1] + ii)
        cols.append(e_cols[jj] + 1)
        vals.append(W[jj, ii])
        diag.append(np.stack([c_ee * s, c_ww * s], axis=1).ravel())
        e_all.append(e_cols)
        off_all.append(c_ew * s)
        owner.append(np.repeat(var_of, 2))
        col += 2 * nk
    U = sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(m, col)
    )
    e, off = np.concatenate(e_all), np.concatenate(off_all)
    d_rows = np.concatenate([np.arange(col), e, e + 1])
    d_cols = np.concatenate([np.arange(col), e + 1, e])
    D = sp.csc_matrix(
        (np.concatenate([np.concatenate(diag), off, off]), (d_rows, d_cols)), shape=(col, col)
    )
    return LowRank(U=U, D=D, owner=np.concatenate(owner))


def with_lowrank(formulation: Formulation, net: Network) -> Formulation:
    """The full formulation with its block's factors attached (generic backends ignore them)."""
    (block,) = formulation.problem.blocks
    factors = lowrank_factors(net, formulation.scale, formulation.multipliers)
    if formulation.row_scale is not None:
        factors = replace(factors, U=sp.diags(formulation.row_scale) @ factors.U)
    problem = replace(formulation.problem, blocks=(replace(block, lowrank=factors),))
    return replace(formulation, problem=problem)
