"""A lower bound on the LipSDP optimum from a solver's dual matrix (docs/math.md §6).

Weak duality: if ``Y >= 0`` and ``<G_v, Y> <= 0`` for every multiplier's coefficient matrix
``G_v = -dM/dt_v``, then any feasible ``(rho, t >= 0)`` has
``0 <= <-M(rho, t), Y> = rho tr(Y_00) - <W_l^T W_l, Y_ll> + sum_v t_v <G_v, Y>``, hence
``rho >= <W_l^T W_l, Y_ll> / tr(Y_00)``.

A solver's dual satisfies the constraints only approximately. The repair is a congruence
``Y' = D Y D`` with ``D`` diagonal (so ``Y'`` stays PSD): going forward from the input block
(kept at ``D = I``), each multiplier's constraint involves only its own neurons' scalings and the
previous block's, already fixed, so it is a scalar quadratic ``A d^2 - B d + C <= 0`` whose
largest root ``<= 1`` is taken. The bound is then evaluated in float64 and every constraint is
re-checked; if any check fails, no bound is claimed.
"""

from __future__ import annotations

import numpy as np

from lipsdp_solvers import BandedMatrix

from .lmi import lmi_geometry, neuron_terms
from .network import Network

__all__ = ["dual_lower_bound"]


class _PatternView:
    """``Y[rows, cols]`` indexing of a :class:`~solvers.BandedMatrix` (pattern entries only)."""

    def __init__(self, banded: BandedMatrix):
        self.banded = banded

    def __getitem__(self, key):
        rows, cols = key
        return self.banded.block(rows, cols)

_SHRINK = 1.0 - 1e-12


def _largest_root(A: float, B: float, C: float) -> float:
    """Largest ``d <= 1`` with ``A d^2 - B d + C <= 0`` (``nan`` if none is positive)."""
    if A - B + C <= 0:
        return 1.0
    if A * _SHRINK**2 - B * _SHRINK + C <= 0:
        # Violated at d = 1 by rounding only: shrink (returning 1 here failed the re-check
        # below on a 20-layer network whose residual was 1e-13 relative).
        return _SHRINK
    disc = B * B - 4.0 * A * C
    if A <= 0 or disc < 0:
        return np.nan
    root = (B + np.sqrt(disc)) / (2.0 * A)
    d = min(root, 1.0) * _SHRINK
    return d if d > 0 else np.nan


def dual_lower_bound(net: Network, Y: np.ndarray, multipliers: str = "neuron") -> float:
    """Lower bound on ``sqrt`` of the LipSDP optimum from an approximate dual matrix ``Y``.

    Parameters
    ----------
    net : Network
    Y : ndarray, shape (n_0' + N, n_0' + N), or solvers.BandedMatrix
        Dual matrix of the full formulation (input block compressed as in docs/math.md §8), dense
        or known on its block-tridiagonal pattern only (then it stands for any completion).
    multipliers : {"neuron", "layer"}
        Which LipSDP the bound is for: per-neuron constraints, or one per layer.

    Returns
    -------
    float
        ``L_low`` with ``L_low <= sqrt(rho*)``; ``nan`` if ``Y`` cannot be repaired.
    """
    geometry = lmi_geometry(net)
    Ws, off = geometry.weights, geometry.offsets
    if isinstance(Y, BandedMatrix):
        # Only the pattern is known: a positive definite completion exists iff every clique
        # block passes a Cholesky test, and every quantity below reads pattern entries only.
        banded = Y
        if banded.size != off[-1] or not all(
            np.all(np.isfinite(B)) for B in (*banded.diag, *banded.sub)
        ) or not banded.has_pd_completion():
            return np.nan
        Y = _PatternView(banded)
    else:
        banded = None
        Y = 0.5 * (Y + Y.T)
        if Y.shape != (off[-1], off[-1]) or not np.all(np.isfinite(Y)):
            return np.nan
        try:  # a successful Cholesky proves Y > 0 (an interior-point dual always passes)
            np.linalg.cholesky(Y)
        except np.linalg.LinAlgError:
            # Make it PSD first (this raises every <G_v, Y>, repaired below).
            lam_min = float(np.linalg.eigvalsh(Y)[0])
            Y = Y + (max(-lam_min, 0.0) * (1 + 1e-9) + 1e-300) * np.eye(Y.shape[0])
    d = np.ones(off[-1])
    for k in range(1, net.n_hidden + 1):
        # <G_v, D Y D> = A d_v^2 - B d_v + C with the terms of -dM/dt_v (lipsdp.lmi):
        # A = c_ee Y_vv, B = -2 c_ew w_v^T (D Y)_{prev,v}, C = c_ww w_v^T (D Y D)_{prev} w_v.
        c_ee, c_ew, c_ww = neuron_terms(*net.slopes[k - 1])
        prev, cur = slice(off[k - 1], off[k]), slice(off[k], off[k + 1])
        W = Ws[k - 1]
        Yp = d[prev, None] * Y[prev, prev] * d[None, prev]
        Ypc = d[prev, None] * Y[prev, cur]  # current block not yet scaled
        A = c_ee * np.diag(Y[cur, cur]).copy()
        B = (-2.0 * c_ew) * np.einsum("ji,ij->j", W, Ypc)
        C = c_ww * np.einsum("ji,ik,jk->j", W, Yp, W)
        if multipliers == "layer":
            d[cur] = _largest_root(A.sum(), B.sum(), C.sum())
        else:
            d[cur] = [_largest_root(*abc) for abc in zip(A, B, C, strict=True)]
        if not np.all(np.isfinite(d[cur])):
            return np.nan
    # D Y D keeps positive (semi)definiteness, and for a pattern, the completion property.
    if banded is not None:
        scaled = banded.scaled(d)
        if not scaled.has_pd_completion():
            return np.nan
        Yr = _PatternView(scaled)
    else:
        Yr = d[:, None] * Y * d[None, :]
    # Re-check every constraint of the repaired matrix in float64.
    for k in range(1, net.n_hidden + 1):
        c_ee, c_ew, c_ww = neuron_terms(*net.slopes[k - 1])
        prev, cur = slice(off[k - 1], off[k]), slice(off[k], off[k + 1])
        W = Ws[k - 1]
        g = (
            c_ee * np.diag(Yr[cur, cur])
            + c_ww * np.einsum("ji,ik,jk->j", W, Yr[prev, prev], W)
            + (2.0 * c_ew) * np.einsum("ji,ij->j", W, Yr[prev, cur])
        )
        if (g.sum() if multipliers == "layer" else g.max()) > 0:
            return np.nan
    trace0 = float(np.trace(Yr[: off[1], : off[1]]))
    Wl = net.weights[-1]
    last = slice(off[-2], off[-1])
    value = float(np.sum((Wl.T @ Wl) * Yr[last, last]))
    if not trace0 > 0 or value < 0:
        return np.nan
    return float(np.sqrt(value / trace0)) * (1.0 - 1e-10)
