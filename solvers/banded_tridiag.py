"""Block-tridiagonal linear algebra: the block Cholesky factor, its semiseparable inverse, and
the band of products of inverses (selected inversion), all in ``O(sum n_p^3)``.

A symmetric block-tridiagonal matrix is a :data:`Tri`: its diagonal blocks and its
sub-diagonal blocks ``(p, p-1)``.

References
----------
L. Vandenberghe, M. S. Andersen, "Chordal graphs and semidefinite optimization", Found. Trends
Optim. 1 (2015).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import lapack

from lipsdp_solvers.ipm_linalg import chol, trsm

__all__ = [
    "BlockFactor",
    "ProductBand",
    "Semiseparable",
    "Tri",
    "block_cholesky",
    "inverse_band",
    "sym_pattern",
    "tri_apply",
    "tri_dense",
    "tri_inner",
    "tri_lin",
]

#: A symmetric block-tridiagonal matrix: its diagonal blocks and its sub-diagonal blocks
#: ``(p, p-1)`` (``sub[0]`` is None).
Tri = tuple[list[np.ndarray], list[np.ndarray | None]]


@dataclass
class BlockFactor:
    """Block-bidiagonal Cholesky factor ``S = L L^T`` of a block-tridiagonal ``S``."""

    diag: list[np.ndarray]  # L_pp, lower triangular
    sub: list[np.ndarray | None]  # L_{p,p-1} (None for p = 0)
    logdet: float
    _inv: list[np.ndarray] | None = None

    @property
    def inv(self) -> list[np.ndarray]:
        """``L_pp^{-1}`` (lower triangular), computed once: the solves then run as matrix
        products, twice as fast as triangular solves for these block sizes and on one BLAS
        (NumPy's), so that its threads never contend with another library's."""
        if self._inv is None:
            self._inv = [lapack.dtrtri(G, lower=1)[0] for G in self.diag]
        return self._inv

    def solve(self, rhs: list[np.ndarray | None], first: int = 0,
              stop: int = 0) -> list[np.ndarray | None]:
        """``S^{-1} B`` for ``B`` given per block (``None``: zero; all zero before ``first``),
        returning only the row blocks ``>= stop`` (the others are None)."""
        P = len(self.diag)
        y: list[np.ndarray | None] = [None] * P
        prev = None
        for p in range(first, P):
            r = rhs[p] if p < len(rhs) else None
            if prev is not None:
                t = self.sub[p] @ prev
                r = -t if r is None else r - t
            if r is None:
                continue
            prev = self.inv[p] @ r
            y[p] = prev
        out: list[np.ndarray | None] = [None] * P
        nxt = None
        for p in range(P - 1, stop - 1, -1):
            r = y[p]
            if nxt is not None:
                t = self.sub[p + 1].T @ nxt
                r = -t if r is None else r - t
            if r is None:
                r = np.zeros((self.diag[p].shape[0], rhs[first].shape[1]))
            nxt = self.inv[p].T @ r
            out[p] = nxt
        return out

    def forward(self, v: list[np.ndarray]) -> list[np.ndarray]:
        """``L^{-1} v`` (row blocks)."""
        out, prev = [], None
        for p in range(len(self.diag)):
            r = v[p] if prev is None else v[p] - self.sub[p] @ prev
            prev = self.inv[p] @ r
            out.append(prev)
        return out

    def backward(self, v: list[np.ndarray]) -> list[np.ndarray]:
        """``L^{-T} v`` (row blocks)."""
        P = len(self.diag)
        out: list[np.ndarray] = [None] * P  # type: ignore[list-item]
        nxt = None
        for p in range(P - 1, -1, -1):
            r = v[p] if nxt is None else v[p] - self.sub[p + 1].T @ nxt
            nxt = self.inv[p].T @ r
            out[p] = nxt
        return out

    def inverse_rows(self) -> list[np.ndarray]:
        """Row blocks of the dense ``S^{-1}``, one block column at a time (each solve starts at
        its own block)."""
        sizes = [G.shape[0] for G in self.diag]
        o = np.concatenate([[0], np.cumsum(sizes)])
        rows = [np.empty((n, o[-1])) for n in sizes]
        for q, n in enumerate(sizes):
            rhs: list[np.ndarray | None] = [None] * len(sizes)
            rhs[q] = np.eye(n)
            X = self.solve(rhs, q)
            for p in range(len(sizes)):
                rows[p][:, o[q] : o[q + 1]] = X[p]
        return rows

def block_cholesky(diag: list[np.ndarray], sub: list[np.ndarray | None]) -> BlockFactor | None:
    """Block Cholesky of the block-tridiagonal matrix with these blocks, or None if not PD."""
    Ld: list[np.ndarray] = []
    Ls: list[np.ndarray | None] = [None]
    logdet = 0.0
    G = chol(diag[0])
    if G is None:
        return None
    Ld.append(G)
    logdet += 2.0 * float(np.sum(np.log(np.diag(G))))
    for p in range(1, len(diag)):
        B = sub[p]  # block (p, p-1)
        C = trsm(Ld[-1], B.T).T  # B L_{p-1}^{-T}
        G = chol(diag[p] - C @ C.T)
        if G is None:
            return None
        Ls.append(C)
        Ld.append(G)
        logdet += 2.0 * float(np.sum(np.log(np.diag(G))))
    return BlockFactor(Ld, Ls, logdet)

class Semiseparable:
    """Column blocks of ``A^{-1} B`` above a block-tridiagonal ``A`` (given by its block Cholesky
    factor) for ``B`` supported on two consecutive row blocks ``p, p + 1``.

    ``A^{-1}`` is block semiseparable: for row blocks ``a < b``, ``(A^{-1})_{ab} = Q_a
    (A^{-1})_{a+1, b}`` with ``Q_a = -L_aa^{-T} L_{a+1,a}^T``. So from the band of ``A^{-1}``
    (selected inversion) the row blocks ``<= p + 1`` of ``A^{-1} B`` cost one ``n x n`` product
    per block, where a solve costs four (a forward and a backward sweep)."""

    def __init__(self, fac: BlockFactor):
        self.diag, self.sub = inverse_band(fac)
        self.Q = [-(fac.inv[a].T @ fac.sub[a + 1].T) for a in range(len(fac.diag) - 1)]

    def columns(self, rhs: list[np.ndarray | None], first: int) -> list[np.ndarray | None]:
        """Row blocks ``0 .. first + 1`` of ``A^{-1} B`` for ``B`` given by its row blocks
        ``first`` and ``first + 1`` (``rhs``; None: zero); the others are None."""
        out: list[np.ndarray | None] = [None] * len(self.diag)
        for a, block in self.columns_down(rhs, first):
            out[a] = block
        return out

    def columns_down(self, rhs: list[np.ndarray | None], first: int):
        """The row blocks of :meth:`columns` as ``(a, block)`` from ``first + 1`` (where it
        exists) down to 0, each formed from the one above: a caller can use and drop them in
        turn. ``rhs[first]`` must be set (the chunk's columns start in block ``first``)."""
        P = len(self.diag)
        B0 = rhs[first]
        B1 = rhs[first + 1] if first + 1 < P else None
        top = self.diag[first] @ B0
        if B1 is not None:
            top += self.sub[first + 1].T @ B1
        if first + 1 < P:
            low = self.sub[first + 1] @ B0
            if B1 is not None:
                low += self.diag[first + 1] @ B1
            yield first + 1, low
        yield first, top
        for a in range(first - 1, -1, -1):
            top = self.Q[a] @ top
            yield a, top

def inverse_band(fac: BlockFactor) -> Tri:
    """The block-tridiagonal part of ``S^{-1}`` from the block Cholesky factor of ``S``, by
    selected inversion (``O(sum n_p^3)``)."""
    sig = [G.T @ G for G in fac.inv]
    Pm = [None] + [fac.sub[p] @ fac.inv[p - 1] for p in range(1, len(fac.diag))]
    diag = ProductBand._inverse_diag(sig, Pm)
    return diag, [None] + [-diag[p] @ Pm[p] for p in range(1, len(diag))]

class ProductBand:
    """The band (block-tridiagonal part) of ``A^{-1} C B^{-1}`` for block-tridiagonal ``A``,
    ``B`` (given by their block Cholesky factors) and any block-tridiagonal symmetric ``C``, in
    ``O(sum n_p^3)``: no dense inverse is formed.

    It is the upper-right block of the inverse of ``T = [[A, -C], [0, B]]``, whose blocks
    interleaved by partition block form a block-tridiagonal matrix with block upper-triangular
    2 x 2 blocks. The selected inversion of ``T`` (left Schur complements, then the band of the
    inverse from the last block back) keeps that triangular form; its diagonal parts are the
    selected inversions of ``A`` and ``B`` alone (computed once here) and its off-diagonal part
    is linear in ``C`` (computed per call).
    """

    def __init__(self, facA: BlockFactor, facB: BlockFactor, A_sub: list, B_sub: list):
        """``A_sub``, ``B_sub``: the sub-diagonal blocks ``(p, p-1)`` of ``A`` and ``B``."""
        P = len(facA.diag)
        self.P = P
        self.sub = {"A": A_sub, "B": B_sub}  # for :meth:`chain`
        self.sA = [G.T @ G for G in facA.inv]  # left Schur complements' inverses
        self.sB = [G.T @ G for G in facB.inv]
        # P[p] = M_{p, p-1} sigma_{p-1}^{-1}, from the factors' L_{p,p-1} = M_{p,p-1} L^{-T}.
        self.PA = [None] + [facA.sub[p] @ facA.inv[p - 1] for p in range(1, P)]
        self.PB = [None] + [facB.sub[p] @ facB.inv[p - 1] for p in range(1, P)]
        self.XA = self._inverse_diag(self.sA, self.PA)  # diagonal blocks of A^{-1}
        self.ZB = self._inverse_diag(self.sB, self.PB)

    @staticmethod
    def _inverse_diag(sig: list[np.ndarray], Pm: list) -> list[np.ndarray]:
        out = [None] * len(sig)
        out[-1] = sig[-1]
        for p in range(len(sig) - 2, -1, -1):
            out[p] = sig[p] + Pm[p + 1].T @ out[p + 1] @ Pm[p + 1]
        return out

    def band(self, C: Tri) -> tuple[list, list, list]:
        """Blocks ``(p, p)``, ``(p, p-1)`` and ``(p-1, p)`` of ``A^{-1} C B^{-1}`` (the last two
        lists start with None)."""
        Cd, Cs = C
        P, sA, sB, PA, PB = self.P, self.sA, self.sB, self.PA, self.PB
        xs = [-Cd[0]]
        for p in range(1, P):
            xs.append(-Cd[p] + PA[p] @ (Cs[p].T + xs[p - 1] @ PB[p].T) + Cs[p] @ PB[p].T)
        diag: list = [None] * P
        lower: list = [None] * P
        upper: list = [None] * P
        g = -sA[-1] @ xs[-1] @ sB[-1]
        diag[-1] = g
        for p in range(P - 2, -1, -1):
            q = p + 1
            Vx = -(PA[q] @ xs[p] + Cs[q]) @ sB[p]
            low = -(self.XA[q] @ Vx + g @ PB[q])
            Ux = -sA[p] @ (Cs[q].T + xs[p] @ PB[q].T)
            upper[q] = -(PA[q].T @ g + Ux @ self.ZB[q])
            lower[q] = low
            g = -sA[p] @ xs[p] @ sB[p] - PA[q].T @ low + Ux @ (self.ZB[q] @ PB[q])
            diag[p] = g
        return diag, lower, upper

    def chain(self, labels: str, C: Tri) -> tuple[list, list, list]:
        """Like :meth:`band` for ``M_0^{-1} C M_1^{-1} C ... M_{k-1}^{-1}`` with ``M_i`` the
        matrix named ``labels[i]`` (``"A"`` or ``"B"``): the corner block of the inverse of the
        block upper-bidiagonal ``[[M_0, -C], [M_1, -C], ..., [M_{k-1}]]``, again by selected
        inversion; the diagonal entries of every ``k x k`` triangular block are the single
        matrices' and known, so only the ``k (k - 1) / 2`` others are computed."""
        k, P = len(labels), self.P
        Cd, Cs = C
        sig = [self.sA if c == "A" else self.sB for c in labels]
        Pm = [self.PA if c == "A" else self.PB for c in labels]
        Xd = [self.XA if c == "A" else self.ZB for c in labels]
        raw = [self.sub[c] for c in labels]

        def mul(X, Y, dX, dY):
            """Strictly upper entries of X Y, given both's diagonal entries dX, dY."""
            out = {}
            for i in range(k):
                for j in range(i + 1, k):
                    acc = dX[i] @ Y[(i, j)] if (i, j) in Y else None
                    for l in range(i + 1, j):
                        if (i, l) in X and (l, j) in Y:
                            t = X[(i, l)] @ Y[(l, j)]
                            acc = t if acc is None else acc + t
                    if (i, j) in X:
                        t = X[(i, j)] @ dY[j]
                        acc = t if acc is None else acc + t
                    if acc is not None:
                        out[(i, j)] = acc
            return out

        def inv(X, dinv):
            """Strictly upper entries of X^{-1}, given the inverses dinv of its diagonal."""
            out = {}
            for j in range(k):
                for i in range(j - 1, -1, -1):
                    acc = None
                    for l in range(i + 1, j + 1):
                        b = dinv[j] if l == j else out.get((l, j))
                        if (i, l) in X and b is not None:
                            t = X[(i, l)] @ b
                            acc = t if acc is None else acc + t
                    if acc is not None:
                        out[(i, j)] = -dinv[i] @ acc
            return out

        def coupling(block):  # strictly upper entries of D_p, E_p or F_p: -C on (i, i+1)
            return {(i, i + 1): -block for i in range(k - 1)}

        # Forward: strictly upper parts of the left Schur complements Sigma_p.
        sig_up = [coupling(Cd[0])]
        for p in range(1, P):
            E = coupling(Cs[p])
            F = coupling(Cs[p].T)
            Einv = mul(E, inv(sig_up[p - 1], [sg[p - 1] for sg in sig]),
                       [r[p] for r in raw], [sg[p - 1] for sg in sig])
            EinvF = mul(Einv, F, [pm[p] for pm in Pm], [r[p].T for r in raw])
            up = coupling(Cd[p])
            for key, val in EinvF.items():
                up[key] = up[key] - val if key in up else -val
            sig_up.append(up)
        # Backward: the band of T^{-1}, corner entries only returned.
        corner = (0, k - 1)
        diag: list = [None] * P
        lower: list = [None] * P
        upper: list = [None] * P
        G = inv(sig_up[-1], [sg[-1] for sg in sig])
        diag[-1] = G.get(corner)
        for p in range(P - 2, -1, -1):
            q = p + 1
            dsi = [sg[p] for sg in sig]
            Si = inv(sig_up[p], dsi)
            E = coupling(Cs[q])
            F = coupling(Cs[q].T)
            V = mul(E, Si, [r[q] for r in raw], dsi)  # E_q Sigma_p^{-1}; diag P_q
            U = mul(Si, F, dsi, [r[q].T for r in raw])  # Sigma_p^{-1} F_q; diag P_q^T
            dV = [pm[q] for pm in Pm]
            dU = [pm[q].T for pm in Pm]
            dG = [x[q] for x in Xd]
            GV = mul(G, V, dG, dV)  # diag entries: X_qq P_q
            dGV = [x[q] @ pm[q] for x, pm in zip(Xd, Pm, strict=True)]
            UG = mul(U, G, dU, dG)
            low = {key: -val for key, val in GV.items()}
            UGV = mul(U, GV, dU, dGV)
            Gp = dict(Si)
            for key, val in UGV.items():
                Gp[key] = Gp[key] + val if key in Gp else val
            lower[q] = low.get(corner)
            upper[q] = -UG[corner] if corner in UG else None
            diag[p] = Gp.get(corner)
            G = Gp
        return diag, lower, upper

    def sym(self, C: Tri, parts: tuple | None = None) -> Tri:
        """The band of ``sym(A^{-1} C B^{-1})``, as a symmetric block-tridiagonal matrix
        (``parts``: :meth:`band` of ``C``, where already computed)."""
        diag, lower, upper = self.band(C) if parts is None else parts
        return ([0.5 * (d + d.T) for d in diag],
                [None] + [0.5 * (lower[p] + upper[p].T) for p in range(1, self.P)])

def tri_apply(A: Tri, X: list[np.ndarray | None], stop: int = 0) -> list:
    """``A X`` for a block-tridiagonal ``A`` and ``X`` given as a list of row blocks; only the
    row blocks ``>= stop`` are formed (``X`` is read from ``stop - 1`` on... as available)."""
    diag, sub = A
    P = len(diag)
    out: list[np.ndarray | None] = [None] * P
    for p in range(stop, P):
        r = diag[p] @ X[p]
        if p and X[p - 1] is not None:
            r = r + sub[p] @ X[p - 1]
        if p + 1 < P:
            r = r + sub[p + 1].T @ X[p + 1]
        out[p] = r
    return out

def tri_lin(a: float, A: Tri, b: float, B: Tri) -> Tri:
    """``a A + b B``."""
    return ([a * x + b * y for x, y in zip(A[0], B[0], strict=True)],
            [None] + [a * x + b * y for x, y in zip(A[1][1:], B[1][1:], strict=True)])

def tri_inner(A: Tri, B: Tri) -> float:
    """``<A, B>`` (Frobenius) of two symmetric block-tridiagonal matrices."""
    out = sum(float(np.vdot(x, y)) for x, y in zip(A[0], B[0], strict=True))
    return out + 2.0 * sum(float(np.vdot(x, y)) for x, y in zip(A[1][1:], B[1][1:], strict=True))

def tri_dense(offsets: np.ndarray, A: Tri) -> np.ndarray:
    """A symmetric block-tridiagonal matrix (blocks at ``offsets``) as a dense one."""
    o = offsets
    out = np.zeros((o[-1], o[-1]))
    diag, sub = A
    for p, d in enumerate(diag):
        out[o[p] : o[p + 1], o[p] : o[p + 1]] = d
        if p:
            out[o[p] : o[p + 1], o[p - 1] : o[p]] = sub[p]
            out[o[p - 1] : o[p], o[p] : o[p + 1]] = sub[p].T
    return out

def sym_pattern(offsets: np.ndarray, K: list[np.ndarray]) -> Tri:
    """Pattern part of ``sym(K)`` for a dense ``K`` given as row blocks (at ``offsets``)."""
    o = offsets
    diag, sub = [], [None]
    for p in range(len(o) - 1):
        Kpp = K[p][:, o[p] : o[p + 1]]
        diag.append(0.5 * (Kpp + Kpp.T))
        if p:
            sub.append(0.5 * (K[p][:, o[p - 1] : o[p]] + K[p - 1][:, o[p] : o[p + 1]].T))
    return diag, sub
