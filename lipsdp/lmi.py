"""The LMI of docs/math.md §2, written once: its block geometry and each multiplier's terms.

Every place that builds or reads ``-M(rho, t)`` goes through these: the full and chordal
formulations (:mod:`lipsdp.formulation`), the low-rank factors (:mod:`lipsdp.lowrank`), the dual
repair (:mod:`lipsdp.dual`), the sequential stages and the closed forms; the forward recursion of
§3 is :func:`schur_step`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla

from .network import Network, computed_once

__all__ = [
    "LMIGeometry",
    "compress_input",
    "lmi_geometry",
    "neuron_terms",
    "schur_complement",
    "schur_step",
]


def compress_input(W0: np.ndarray) -> np.ndarray:
    """Replace ``W_0`` (``n_1 x n_0``, ``n_0 > n_1``) by the ``n_1 x n_1`` matrix ``R^T``.

    ``W_0`` enters LipSDP only through ``W_0^T (.) W_0`` and ``T_1 W_0``; with the thin QR
    ``W_0^T = Q R`` the LMI is an orthogonal congruence of the compressed one plus ``-rho I`` on
    the complement of ``range(Q)``, so the optimum is unchanged (docs/math.md §8).
    """
    n1, n0 = W0.shape
    if n0 <= n1:
        return W0
    R = np.linalg.qr(W0.T, mode="r")
    return R.T


@dataclass(frozen=True)
class LMIGeometry:
    """The blocks ``0..l`` of ``-M`` after the input compression of docs/math.md §8.

    ``weights[0]`` is ``W_0`` compressed (:func:`compress_input`), the others the network's;
    ``sizes`` the block widths ``n_0' = min(n_0, n_1), n_1, ..., n_l``; ``offsets`` their first
    rows (``offsets[-1]`` is the side ``n_0' + N``).
    """

    weights: tuple[np.ndarray, ...]
    sizes: tuple[int, ...]
    offsets: np.ndarray

    @property
    def side(self) -> int:
        return int(self.offsets[-1])


def lmi_geometry(net: Network) -> LMIGeometry:
    """The :class:`LMIGeometry` of ``net`` (docs/math.md §2, §8), computed once per network (its
    weights are read-only): the formulation, the low-rank factors and the dual repair of one
    solve share one QR of ``W_0ᵀ``."""
    return computed_once(net, "_lmi_geometry", _lmi_geometry)


def _lmi_geometry(net: Network) -> LMIGeometry:
    Ws = list(net.weights)
    Ws[0] = compress_input(Ws[0])
    Ws[0].setflags(write=False)  # shared by every caller of this network's geometry
    sizes = (int(Ws[0].shape[1]), *(int(n) for n in net.hidden_widths))
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    return LMIGeometry(weights=tuple(Ws), sizes=sizes, offsets=offsets)


def neuron_terms(alpha: float, beta: float) -> tuple[float, float, float]:
    """How neuron ``j`` of a layer with slopes ``[alpha, beta]`` enters ``-M(rho, t)``.

    ``-dM/dt_j = c_ee e_j e_j^T + c_ew (e_j w_j^T + w_j e_j^T) + c_ww w_j w_j^T`` with
    ``(c_ee, c_ew, c_ww) = (2, -(alpha + beta), 2 alpha beta)`` (docs/math.md §2, §9): ``e_j``
    the neuron's coordinate in block ``k``, ``w_j`` row ``j`` of ``W_{k-1}`` in block ``k-1``;
    i.e. ``[e_j w_j] [[c_ee, c_ew], [c_ew, c_ww]] [e_j w_j]^T``, rank at most 2.
    """
    return 2.0, -(alpha + beta), 2.0 * alpha * beta


def schur_complement(
    X: np.ndarray | None, B: np.ndarray, C: np.ndarray, weight: float = 1.0,
    *, factor: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None] | None:
    """``(C - weight B^T X^{-1} B, G)``, symmetrised, with ``G`` the lower Cholesky factor of
    the symmetrised ``X`` (``factor``: ``G`` already computed; ``X = None``: the identity, ``G``
    None), or None when ``X`` is not positive definite. One block elimination of the
    block-LDL^T factorisation (docs/math.md §3)."""
    with np.errstate(over="ignore", invalid="ignore"):  # a non-finite result is the caller's
        if X is None:
            G, V = None, B
        else:
            G = factor
            if G is None:
                try:
                    G = sla.cholesky(0.5 * (X + X.T), lower=True, check_finite=False)
                except (np.linalg.LinAlgError, ValueError):
                    return None
            V = sla.solve_triangular(G, B, lower=True, check_finite=False)
        S = C - weight * (V.T @ V)
        return 0.5 * (S + S.T), G


def schur_step(
    M: np.ndarray | None, W: np.ndarray, lam: np.ndarray, p: float, m: float,
    *, factor: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None] | None:
    """The forward recursion's step (docs/math.md §3):
    ``M_k = Lambda - m^2 Lambda W X^{-1} W^T Lambda`` with the pivot ``X = M + p W^T Lambda W``
    (``Lambda = diag(lam)``, ``W = W_{k-1}``, ``M = M_{k-1}``, None for ``M_0 = I``), as
    ``(M_k, G)`` with ``G`` the Cholesky factor of ``X`` (``factor``: that of ``M`` when
    ``p = 0``), or None when ``X`` is not positive definite.

    The proof (:mod:`lipsdp.proof`) runs the same step with its own rounding-controlled
    arithmetic; this one is for choosing directions (sequential stages, closed forms)."""
    with np.errstate(over="ignore", invalid="ignore"):  # a non-finite M_k is rejected later
        LW = lam[:, None] * W
        if p != 0.0:
            X = (np.eye(W.shape[1]) if M is None else M) + p * (W.T @ LW)
            factor = None
        else:
            X = M
        return schur_complement(X, LW.T, np.diag(lam), m * m, factor=factor)
