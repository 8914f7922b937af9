"""Independent reference: the LipSDP LMI of DOMAIN.md §2 written densely in cvxpy.

Shares no code with the package (no compression, no scaling, no standard form): it is the
formulation a user would write by hand, solved by a different interior-point solver (CVXOPT).
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np

#: Tighter than CVXOPT's defaults (1e-7), which left the reference ~1e-7 below the optimum, under
#: the proved lower bounds of the backends under test (where CVXOPT stalls, its defaults).
REFERENCE_SETTINGS = {"CVXOPT": {"abstol": 1e-9, "reltol": 1e-9, "feastol": 1e-9}}


def reference_lipsdp(weights, slopes, multipliers="neuron", solver="CVXOPT"):
    """Return ``sqrt(rho*)`` of LipSDP-Neuron/-Layer for ``weights`` with per-layer ``slopes``."""
    l = len(weights) - 1
    n = [weights[0].shape[1]] + [W.shape[0] for W in weights[:-1]]
    rho = cp.Variable(nonneg=True)
    if multipliers == "neuron":
        t = [cp.Variable(n[k], nonneg=True) for k in range(1, l + 1)]
    else:
        t = [cp.Variable(nonneg=True) * np.ones(n[k]) for k in range(1, l + 1)]
    T = [cp.diag(tk) for tk in t]
    blocks = [[None] * (l + 1) for _ in range(l + 1)]
    for i in range(l + 1):
        for j in range(l + 1):
            blocks[i][j] = np.zeros((n[i], n[j]))
    for k in range(l + 1):
        if k == 0:
            diag = -rho * np.eye(n[0])
        else:
            diag = -2 * T[k - 1]
        if k < l:
            a, b = slopes[k]
            W = weights[k]
            diag = diag - 2 * a * b * (W.T @ T[k] @ W)
        else:
            diag = diag + weights[l].T @ weights[l]
        blocks[k][k] = diag
    for k in range(1, l + 1):
        a, b = slopes[k - 1]
        C = (a + b) * (T[k - 1] @ weights[k - 1])
        blocks[k][k - 1] = C
        blocks[k - 1][k] = C.T
    M = cp.bmat(blocks)
    prob = cp.Problem(cp.Minimize(rho), [0.5 * (M + M.T) << 0])
    try:
        prob.solve(solver=solver, **REFERENCE_SETTINGS.get(solver, {}))
    except cp.error.SolverError:  # the tight settings can stall; the defaults then
        prob.solve(solver=solver)
    return float(np.sqrt(rho.value))


def reference_matrix(weights, slopes, rho, ts):
    """Dense ``M(rho, T)`` of DOMAIN.md §2 in numpy (for independent feasibility checks)."""
    l = len(weights) - 1
    n = [weights[0].shape[1]] + [W.shape[0] for W in weights[:-1]]
    off = np.concatenate([[0], np.cumsum(n)])
    M = np.zeros((off[-1], off[-1]))

    def blk(i, j):
        return (slice(off[i], off[i + 1]), slice(off[j], off[j + 1]))

    M[blk(0, 0)] = -rho * np.eye(n[0])
    for k in range(1, l + 1):
        a, b = slopes[k - 1]
        W, T = weights[k - 1], np.diag(ts[k - 1])
        M[blk(k - 1, k - 1)] += -2 * a * b * W.T @ T @ W
        M[blk(k, k)] += -2 * T
        M[blk(k, k - 1)] = (a + b) * T @ W
        M[blk(k - 1, k)] = ((a + b) * T @ W).T
    M[blk(l, l)] += weights[l].T @ weights[l]
    return M
