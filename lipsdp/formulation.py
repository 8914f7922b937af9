"""LipSDP formulations as block-LMI standard-form problems (DOMAIN.md §2, §8).

Each builder returns a :class:`Formulation`: the solver-neutral :class:`solvers.LMIProblem` and
the map from a solver's point back to ``(rho, [t_1, ..., t_l])`` in the §2 convention.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from solvers import LMIBlock, LMIProblem

from .closed_form import naive_bound, naive_directions
from .network import Network

__all__ = ["Formulation", "build_full", "compress_input"]


@dataclass(frozen=True)
class Formulation:
    """A standard-form problem plus the map back to LipSDP multipliers.

    The variables are ``x = (y_rho, y_1, ...)`` with ``rho = scale[0] * y_rho`` and
    ``t = scale[1:] * y`` (per neuron, or per layer for LipSDP-Layer), so that a typical solution
    is of order one (the multipliers span orders of magnitude across depth).
    """

    problem: LMIProblem
    scale: np.ndarray
    widths: tuple[int, ...]  # hidden widths
    multipliers: str  # "neuron" or "layer"

    def to_multipliers(self, x: np.ndarray) -> tuple[float, list[np.ndarray]]:
        v = self.scale * np.asarray(x, dtype=np.float64)
        rho, rest = float(v[0]), v[1:]
        ts: list[np.ndarray] = []
        offset = 0
        for n in self.widths:
            if self.multipliers == "layer":
                ts.append(np.full(n, rest[offset]))
                offset += 1
            else:
                ts.append(rest[offset : offset + n].copy())
                offset += n
        return rho, ts

    def from_multipliers(self, rho: float, ts: list[np.ndarray]) -> np.ndarray:
        """The scaled variable vector of a point ``(rho, t)`` (a warm start)."""
        if self.multipliers == "layer":
            flat = np.array([float(np.mean(t)) for t in ts])
        else:
            flat = np.concatenate(ts) if ts else np.zeros(0)
        return np.concatenate([[rho], flat]) / self.scale


def compress_input(W0: np.ndarray) -> np.ndarray:
    """Replace ``W_0`` (``n_1 x n_0``, ``n_0 > n_1``) by the ``n_1 x n_1`` matrix ``R^T``.

    ``W_0`` enters LipSDP only through ``W_0^T (.) W_0`` and ``T_1 W_0``; with the thin QR
    ``W_0^T = Q R`` the LMI is an orthogonal congruence of the compressed one plus ``-rho I`` on
    the complement of ``range(Q)``, so the optimum is unchanged (DOMAIN.md §8).
    """
    n1, n0 = W0.shape
    if n0 <= n1:
        return W0
    R = np.linalg.qr(W0.T, mode="r")
    return R.T


def _vec_index(rows: np.ndarray, cols: np.ndarray, m: int) -> np.ndarray:
    return rows + cols * m


def build_full(net: Network, multipliers: str = "neuron") -> Formulation:
    """The full LipSDP LMI ``-M(rho, t) >= 0`` of side ``n_0' + N`` as an :class:`LMIProblem`.

    ``n_0' = min(n_0, n_1)`` after the input compression of DOMAIN.md §8. Minimises ``rho``.
    """
    if net.n_hidden == 0:
        raise ValueError("a network without hidden layers has no LMI; its bound is ||W_0||_2")
    Ws = list(net.weights)
    Ws[0] = compress_input(Ws[0])
    hidden = net.hidden_widths
    sizes = [Ws[0].shape[1], *hidden]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    m = int(offsets[-1])
    N = int(sum(hidden))

    # Reference scales from the naive feasible point (always available, positive).
    lams = naive_directions(net)
    rho_ref = max(naive_bound(net), np.finfo(float).tiny) ** 2
    t_ref = [0.5 * rho_ref * lam for lam in lams]

    rows_all, cols_all, vals_all = [], [], []
    # rho: +I on the (compressed) input block.
    idx = np.arange(sizes[0])
    rows_all.append(_vec_index(idx, idx, m))
    cols_all.append(np.zeros(sizes[0], dtype=np.int64))
    vals_all.append(np.ones(sizes[0]))
    var = 1
    for k in range(1, net.n_hidden + 1):
        W = Ws[k - 1]  # (n_k, n_{k-1}')
        nk = W.shape[0]
        ok, op = offsets[k], offsets[k - 1]
        a, b = net.slopes[k - 1]
        cols = var + np.arange(nk)
        # 2 e_j e_j^T on block k.
        j = np.arange(nk)
        rows_all.append(_vec_index(ok + j, ok + j, m))
        cols_all.append(cols)
        vals_all.append(np.full(nk, 2.0))
        # -(alpha + beta) (e_j w_j^T + w_j e_j^T) between blocks k and k-1.
        jj, ii = np.nonzero(W)
        w = W[jj, ii]
        for r, c in ((ok + jj, op + ii), (op + ii, ok + jj)):
            rows_all.append(_vec_index(r, c, m))
            cols_all.append(cols[jj])
            vals_all.append(-(a + b) * w)
        # 2 alpha beta w_j w_j^T on block k-1.
        if a * b != 0.0:
            for jn in range(nk):
                nz = np.flatnonzero(W[jn])
                r, c = np.meshgrid(op + nz, op + nz, indexing="ij")
                rows_all.append(_vec_index(r.ravel(), c.ravel(), m))
                cols_all.append(np.full(nz.size * nz.size, cols[jn]))
                vals_all.append(2.0 * a * b * np.outer(W[jn, nz], W[jn, nz]).ravel())
        var += nk
    F = sp.csc_matrix(
        (np.concatenate(vals_all), (np.concatenate(rows_all), np.concatenate(cols_all))),
        shape=(m * m, 1 + N),
    )
    scale = np.concatenate([[rho_ref], *t_ref])
    if multipliers == "layer":
        # One variable per layer: t_k = lambda_k 1, i.e. sum the layer's neuron columns.
        agg_rows = np.arange(1 + N)
        agg_cols = np.concatenate(
            [[0], *[np.full(n, k + 1) for k, n in enumerate(hidden)]]
        )
        A = sp.csc_matrix((np.ones(1 + N), (agg_rows, agg_cols)), shape=(1 + N, 1 + len(hidden)))
        F = F @ A
        scale = np.concatenate([[rho_ref], [float(t[0]) for t in t_ref]])
    F = sp.csc_matrix(F @ sp.diags(scale))
    F0 = np.zeros((m, m))
    Wl = net.weights[-1]
    F0[offsets[-2] :, offsets[-2] :] = -(Wl.T @ Wl)
    c = np.zeros(F.shape[1])
    c[0] = 1.0
    problem = LMIProblem(c=c, blocks=(LMIBlock(F0=F0, F=F),), nonneg=np.ones(F.shape[1], bool))
    return Formulation(problem=problem, scale=scale, widths=hidden, multipliers=multipliers)
