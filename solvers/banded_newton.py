"""One Newton step of the banded method: HKM directions with the completion ``Y^`` for ``Y``,
Mehrotra's second-order term on the pattern, and the step lengths to the boundary."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.linalg import lapack

from lipsdp_solvers.banded_completion import clique_blocks, clique_factors
from lipsdp_solvers.banded_tridiag import (
    BlockFactor,
    ProductBand,
    Tri,
    block_cholesky,
    sym_pattern,
    tri_apply,
    tri_inner,
    tri_lin,
)
from lipsdp_solvers.ipm_core import Direction, NewtonSystem
from lipsdp_solvers.ipm_linalg import boundary_step, lanczos_min, trsm

__all__ = ["BAND_MIN_BLOCKS", "BandedNewton"]

#: From this many partition blocks on, the dual step never forms a dense S^{-1}: the pattern
#: parts of Y^ dS S^{-1} and of the second-order term come from :class:`ProductBand` in
#: O(sum n_p^3), against O(m^2 n) for the dense rows.
#: (Measured, 2 cores: 7 blocks 2.39 s dense against 2.67 s banded; 12 blocks 6.90 s against
#: 6.42 s; 22 blocks 29.3 s against 23.0 s; same iterates.)
BAND_MIN_BLOCKS = 10


class BandedNewton(NewtonSystem):
    """One iteration's factorisations and the HKM directions built from them."""

    def __init__(self, st, facS, facW, cliques, S, Y, z, s, Rp, rp_lp, rd, aY, aZ, aWRZ, Gm,
                 dsc, nn, Winv, workers: int = 1):
        self.workers = workers  # threads for the two chains of the second-order term
        self.st, self.facS, self.facW, self.cliques = st, facS, facW, cliques
        self.S, self.Y, self.z, self.s = S, Y, z, s
        self.Rp, self.rp_lp, self.rd, self.aY, self.aZ, self.aWRZ = Rp, rp_lp, rd, aY, aZ, aWRZ
        self.Gm, self.dsc, self.nn = Gm, dsc, nn
        # Inverses of the cliques' Cholesky factors, stacked, where the cliques have one size
        # (the dual step's Lanczos operator is then batched; see dual_step).
        self.clique_inv = None
        if len({G.shape[0] for G in cliques}) == 1:
            self.clique_inv = np.stack([lapack.dtrtri(G, lower=1)[0] for G in cliques])
        # Band of Y^ C Z = (W^-1)^-1 C S^-1 and of longer such chains, from the factors alone.
        self.band = ProductBand(facW, facS, Winv[1], S[1])
        # Few blocks: dense S^{-1} rows are cheaper than the chains (see BAND_MIN_BLOCKS).
        self.dense = st.sizes.size < BAND_MIN_BLOCKS
        if self.dense:
            self.Z = facS.inverse_rows()  # dense S^{-1} as row blocks
            self.PZ = sym_pattern(st.offsets, self.Z)
        else:
            ZB, PB = self.band.ZB, self.band.PB
            self.PZ = (ZB, [None] + [-ZB[p] @ PB[p] for p in range(1, st.sizes.size)])

    def direction(self, sigma_mu: float, g_lp: np.ndarray, second: Tri | None) -> Direction:
        """HKM direction for ``G = sigma_mu Z - Y^ - second``. The predictor's (``second`` None)
        also returns, for the second-order term, ``K = Y^ dS Z`` and ``dS Z`` (dense row blocks)
        with few blocks, else the band of ``K`` (:meth:`ProductBand.band`) and None; the
        corrector's takes the pattern of ``Y^ dS Z`` from :class:`ProductBand`."""
        st, nn, z, s = self.st, self.nn, self.z, self.s
        rhs = -self.rd + sigma_mu * self.aZ - self.aY - self.aWRZ
        PG = tri_lin(sigma_mu, self.PZ, -1.0, self.Y)
        if second is not None:
            rhs -= st.adjoint(second)
            PG = tri_lin(1.0, PG, -1.0, second)
        rhs[nn] += g_lp - (z / s) * self.rp_lp
        dx = self.dsc * self.Gm.solve(self.dsc * rhs)
        dS = st.matrix_blocks(dx, with_F0=False)
        if self.Rp is not None:
            dS = tri_lin(1.0, self.Rp, 1.0, dS)
        ds = self.rp_lp + dx[nn]
        dz = g_lp - z * ds / s
        if second is not None or not self.dense:  # only the pattern of Y^ dS Z is needed
            parts = self.band.band(dS)
            dY = tri_lin(1.0, PG, -1.0, self.band.sym(dS, parts))
            return Direction(dx, dS, dY, ds, dz, ((parts if second is None else None), None))
        VZ = tri_apply(dS, self.Z)
        K = self.facW.solve(VZ)  # row blocks of Y^ dS Z
        dY = tri_lin(1.0, PG, -1.0, sym_pattern(st.offsets, K))
        return Direction(dx, dS, dY, ds, dz, (K, VZ))

    def second_order(self, d: Direction) -> Tri:
        """Pattern part of ``sym(dY dS Z)`` for the affine ``dY = -Y^ - sym(K)``, ``K = Y^ dS Z``:
        ``dY dS Z = -K - (K + K^T) dS Z / 2``, from the dense ``K`` and ``dS Z`` or, with many
        blocks, from the bands of the chains ``Y^ dS Z``, ``Y^ dS Z dS Z`` and
        ``Z dS Y^ dS Z``."""
        dS, (K, VZ) = d.dS, d.extra
        if not self.dense:
            P = self.st.sizes.size
            k1 = K if K is not None else self.band.band(dS)  # the predictor's, when it has it
            if self.workers > 1:
                with ThreadPoolExecutor(max_workers=2) as pool:
                    k2, k3 = pool.map(lambda labels: self.band.chain(labels, dS), ("ABB", "BAB"))
            else:
                k2 = self.band.chain("ABB", dS)
                k3 = self.band.chain("BAB", dS)
            D = [[-a - 0.5 * (b + c) if a is not None else None
                  for a, b, c in zip(*parts, strict=True)]
                 for parts in zip(k1, k2, k3, strict=True)]
            return ([0.5 * (d + d.T) for d in D[0]],
                    [None] + [0.5 * (D[1][p] + D[2][p].T) for p in range(1, P)])
        st = self.st
        o = st.offsets
        P = st.sizes.size
        Kf = np.vstack(K)

        def row(p):  # rows of sym(K) in block p
            return 0.5 * (K[p] + Kf[:, o[p] : o[p + 1]].T)

        symK = [row(p) for p in range(P)]
        # dY dS Z = -(Y^ dS Z) - sym(K) dS Z = -K - sym(K) VZ;  pattern blocks only.
        VZf = np.vstack(VZ)
        diag, sub = [], [None]
        for p in range(P):
            Dp = -K[p][:, o[p] : o[p + 1]] - symK[p] @ VZf[:, o[p] : o[p + 1]]
            diag.append(0.5 * (Dp + Dp.T))
            if p:
                lo = -K[p][:, o[p - 1] : o[p]] - symK[p] @ VZf[:, o[p - 1] : o[p]]
                up = -K[p - 1][:, o[p] : o[p + 1]] - symK[p - 1] @ VZf[:, o[p] : o[p + 1]]
                sub.append(0.5 * (lo + up.T))
        return diag, sub

    def primal_step(self, d: Direction, cap: float, frac: float,
                    verify: bool) -> tuple[float, BlockFactor | None]:
        """See :meth:`NewtonSystem.primal_step`: Lanczos on ``L^{-1} dS L^{-T}``, verified by
        a block Cholesky factorisation (the one returned)."""
        st, facS, dS = self.st, self.facS, d.dS
        o = st.offsets

        def mv_S(v):
            blocks = [v[o[p] : o[p + 1], None] for p in range(st.sizes.size)]
            out = facS.forward(tri_apply(dS, facS.backward(blocks)))
            return np.concatenate([b.ravel() for b in out])

        return boundary_step(lanczos_min(mv_S, int(o[-1])),
                             lambda a: block_cholesky(*tri_lin(1.0, self.S, a, dS)),
                             cap, frac, verify)

    def dual_step(self, d: Direction, cap: float, frac: float,
                  verify: bool) -> tuple[float, list[np.ndarray] | None]:
        """See :meth:`NewtonSystem.dual_step`: Lanczos per clique of ``Y_E``, verified by the
        clique Cholesky factorisations (those returned): ``Y_E + a dY_E`` stays completable."""
        dY = d.dY
        dC = clique_blocks(dY)
        sizes = [G.shape[0] for G in self.cliques]
        co = np.concatenate([[0], np.cumsum(sizes)])

        if self.clique_inv is not None:
            # Cliques of one size: the operator is three batched products (one call each
            # instead of three per clique).
            Gi = self.clique_inv
            GiT = Gi.transpose(0, 2, 1)
            dCs = np.stack(dC)
            shape = (len(sizes), sizes[0], 1)

            def mv_Y(v):
                return (Gi @ (dCs @ (GiT @ v.reshape(shape)))).ravel()
        else:
            def mv_Y(v):
                out = np.empty_like(v)
                for q, G in enumerate(self.cliques):
                    u = trsm(G, v[co[q] : co[q + 1], None], trans=1)
                    out[co[q] : co[q + 1]] = trsm(G, dC[q] @ u).ravel()
                return out

        return boundary_step(lanczos_min(mv_Y, int(co[-1])),
                             lambda a: clique_factors(tri_lin(1.0, self.Y, a, dY)),
                             cap, frac, verify)

    def complementarity(self, a_p: float, a_d: float, d: Direction) -> float:
        return tri_inner(tri_lin(1.0, self.Y, a_d, d.dY), tri_lin(1.0, self.S, a_p, d.dS))
