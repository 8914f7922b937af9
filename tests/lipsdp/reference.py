"""Independent reference: the LipSDP LMI of docs/math.md §2 written densely in cvxpy.

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
    """Dense ``M(rho, T)`` of docs/math.md §2 in numpy (for independent feasibility checks)."""
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


def mp_certifies(weights, slopes, rho, ts, dps=60):
    """Whether ``-M(rho, T) >= 0`` holds, checked in ``dps``-digit arithmetic (mpmath).

    Independent of the package: the matrix of docs/math.md §2 is assembled entry by entry from the
    exact binary values of the floats (``rho`` and ``ts`` may be ``(mantissa, exponent)`` pairs
    and lists of them), rows that are identically zero are removed, and a Cholesky
    factorisation of what remains must succeed. The proof leaves a margin (a diagonal shift), so
    a valid certificate is positive definite, far beyond the rounding of 60 digits.
    """
    import mpmath as mp

    ctx = mp.mp.clone()
    ctx.dps = dps

    def exact(x):
        if isinstance(x, tuple):
            return ctx.ldexp(ctx.mpf(float(x[0])), int(x[1]))
        return ctx.mpf(float(x))

    l = len(weights) - 1
    n = [weights[0].shape[1]] + [W.shape[0] for W in weights[:-1]]
    off = np.concatenate([[0], np.cumsum(n)]).astype(int)
    S = ctx.zeros(int(off[-1]), int(off[-1]))  # S = -M
    rho = exact(rho)
    for i in range(n[0]):
        S[i, i] = rho
    for k in range(1, l + 1):
        a, b = (ctx.mpf(float(v)) for v in slopes[k - 1])
        W = [[ctx.mpf(float(w)) for w in row] for row in weights[k - 1]]
        t = [exact(x) for x in ts[k - 1]]
        for j in range(n[k]):
            jj = int(off[k] + j)
            S[jj, jj] += 2 * t[j]
            for i in range(n[k - 1]):
                ii = int(off[k - 1] + i)
                c = -(a + b) * t[j] * W[j][i]
                S[jj, ii] += c
                S[ii, jj] += c
                if a * b != 0:
                    for i2 in range(n[k - 1]):
                        S[ii, int(off[k - 1] + i2)] += 2 * a * b * t[j] * W[j][i] * W[j][i2]
    Wl = [[ctx.mpf(float(w)) for w in row] for row in weights[l]]
    for i in range(n[l]):
        for j in range(n[l]):
            S[int(off[l] + i), int(off[l] + j)] -= ctx.fsum(Wl[r][i] * Wl[r][j]
                                                            for r in range(len(Wl)))
    live = [i for i in range(S.rows) if any(S[i, j] != 0 for j in range(S.cols))]
    S = ctx.matrix([[S[i, j] for j in live] for i in live]) if live else ctx.zeros(0, 0)
    if S.rows == 0:
        return True
    try:
        # mpmath's default tolerance is an absolute eps, which rejects tiny positive pivots.
        ctx.cholesky(S, tol=ctx.ldexp(ctx.one, -10**6))
    except (ValueError, ZeroDivisionError):
        return False
    return True
