"""How hard is the Newton system of LipSDP for a matrix-free (CG) solve? (issue: structured solver)

``banded-ipm`` forms the dense Schur matrix ``M`` (one row per multiplier) and factors it: cost
quadratic in depth to assemble and cubic to factor, which is why 50 x 100 is out of reach of the
dense form (docs/math.md §9). A linear-cost alternative applies ``M`` matrix-free and solves by
preconditioned CG; this script measures, on the Schur matrices of an actual solve, what such a
preconditioner would face:

* the condition number of ``M`` after Jacobi (diagonal) scaling;
* its spectrum: how many eigenvalues stand far above the median (outliers a deflation or a
  low-rank correction would have to capture) and the condition number of the rest (the bulk);
* whether the banded part of ``M`` by layers (variables of layers at most ``b`` apart, the rho
  row kept) is positive definite at all, i.e. usable as a preconditioner;
* PCG iterations to a relative residual of 1e-8 with the Jacobi and the block-Jacobi (one block
  per layer) preconditioners (capped at 1000);
* the same with the deflated preconditioner the spectrum suggests, "band + low rank": near the
  optimum ``S = -M`` has ``r`` tiny eigenvalues and the dual ``Y^`` ``r`` large ones (``r`` the
  rank of the optimal dual), and their product term
  ``LR_ij = sum_ab (lam_a / sigma_b) (y_a^T F_i s_b)(s_b^T F_j y_a)`` (rank ``r^2``, computable
  from ``r`` eigenpairs of each) carries the outliers; the preconditioner is
  ``band(M - LR) + LR`` (band: layers at most 1 apart, shifted to be positive definite when the
  truncation is not). It is an oracle here (dense eigenpairs), i.e. the best such a
  preconditioner could do.

Run ``python experiments/schur_spectrum.py [--width 40 --depth 12]`` (about a minute).
"""

from __future__ import annotations

import argparse

import numpy as np
import scipy.linalg as sla

import lipsdp
from lipsdp.formulation import build_full
from lipsdp.lowrank import with_lowrank


def _pcg_iterations(M: np.ndarray, apply_prec, tol: float = 1e-8, cap: int = 1000) -> int:
    b = np.random.default_rng(1).standard_normal(M.shape[0])
    x = np.zeros_like(b)
    r = b.copy()
    z = apply_prec(r)
    p = z.copy()
    rz = r @ z
    for k in range(1, cap + 1):
        Ap = M @ p
        a = rz / (p @ Ap)
        x += a * p
        r -= a * Ap
        if np.linalg.norm(r) < tol * np.linalg.norm(b):
            return k
        z = apply_prec(r)
        rz, rz_old = r @ z, rz
        p = z + (rz / rz_old) * p
    return cap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=40)
    parser.add_argument("--depth", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    widths = [args.width] * (args.depth + 1) + [10]
    weights = [rng.standard_normal((widths[k + 1], widths[k])) / np.sqrt(widths[k])
               for k in range(len(widths) - 1)]

    captured: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def capture(iteration, H, info):  # banded-ipm's schur_callback option
        captured.append((H.copy(), info["slack"][0].copy(), info["dual"][0].copy()))

    res = lipsdp.solve(weights, solver="banded-ipm", options={"schur_callback": capture})
    print(f"network {args.width}x{args.depth}: value {res.value:.8f}, {res.iterations} iterations")
    net = lipsdp.Network(weights)
    F = with_lowrank(build_full(net), net).problem.blocks[0].F.tocsc()
    layer = np.concatenate([[0], 1 + np.repeat(np.arange(args.depth), args.width)])
    print("| iteration | cond (Jacobi) | outliers > 100 median | bulk cond | band 0/1/2 PD "
          "| PCG Jacobi | PCG block-Jacobi | r | PCG band + low rank |")
    print("|---|---|---|---|---|---|---|---|---|")
    for it, (M, S, Y) in enumerate(captured):
        if it % 3 and it != len(captured) - 1:
            continue
        d = 1.0 / np.sqrt(np.diag(M))
        Ms = M * d[:, None] * d[None, :]
        ev = np.linalg.eigvalsh(Ms)[::-1]
        med = float(np.median(ev))
        outliers = int(np.sum(ev > 100 * med))
        bulk = ev[outliers:]
        pd = []
        for band in (0, 1, 2):
            keep = np.abs(layer[:, None] - layer[None, :]) <= band
            keep[0, :] = keep[:, 0] = True
            try:
                sla.cholesky(np.where(keep, Ms, 0.0), lower=True)
                pd.append("yes")
            except np.linalg.LinAlgError:
                pd.append("no")
        blocks = [np.flatnonzero(layer == k) for k in range(args.depth + 1)]
        facs = [sla.cho_factor(Ms[np.ix_(b, b)]) for b in blocks]

        def block_jacobi(r, blocks=blocks, facs=facs):
            out = np.empty_like(r)
            for b, f in zip(blocks, facs, strict=True):
                out[b] = sla.cho_solve(f, r[b])
            return out

        r, deflated = _band_lowrank(Ms, d, S, Y, F, layer)
        print(f"| {it + 1} | {ev[0] / ev[-1]:.1e} | {outliers} | {bulk[0] / bulk[-1]:.1e} | "
              f"{'/'.join(pd)} | {_pcg_iterations(Ms, lambda r: r)} | "
              f"{_pcg_iterations(Ms, block_jacobi)} | {r} | {deflated} |")


def _band_lowrank(Ms, d, S, Y, F, layer, rel: float = 1e-3, r_max: int = 16):
    """PCG iterations on the scaled Schur matrix ``Ms`` with ``band(Ms - LR) + LR`` (see the
    module docstring); ``r`` is the number of eigenvalues of ``Y^`` above ``rel`` times its
    largest."""
    sig, VS = np.linalg.eigh(S)  # ascending: the near-null space of S first
    lam, VY = np.linalg.eigh(Y)
    lam, VY = lam[::-1], VY[:, ::-1]
    r = int(min(r_max, max(1, np.sum(lam > rel * lam[0]))))
    cols, weights = [], []
    for a in range(r):
        for b in range(r):
            cols.append(F.T @ np.outer(VS[:, b], VY[:, a]).ravel(order="F"))  # y_a^T F_i s_b
            weights.append(lam[a] / sig[b])
    C = np.array(cols).T * d[:, None]
    LR = (C * np.array(weights)) @ C.T
    LR = 0.5 * (LR + LR.T)
    keep = np.abs(layer[:, None] - layer[None, :]) <= 1
    keep[0, :] = keep[:, 0] = True
    B = np.where(keep, Ms - LR, 0.0)
    shift = max(0.0, -2.0 * float(np.linalg.eigvalsh(B)[0]))
    try:
        fac = sla.cho_factor(B + LR + shift * np.eye(B.shape[0]))
    except np.linalg.LinAlgError:
        return r, "not PD"
    return r, _pcg_iterations(Ms, lambda x: sla.cho_solve(fac, x))


if __name__ == "__main__":
    main()
