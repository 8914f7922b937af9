"""How hard is the Newton system of LipSDP for a matrix-free (CG) solve? (issue: structured solver)

``banded-ipm`` forms the dense Schur matrix ``M`` (one row per multiplier) and factors it: cost
quadratic in depth to assemble and cubic to factor, which is why 50 x 100 is out of reach of the
dense form (DOMAIN.md §9). A linear-cost alternative applies ``M`` matrix-free and solves by
preconditioned CG; this script measures, on the Schur matrices of an actual solve, what such a
preconditioner would face:

* the condition number of ``M`` after Jacobi (diagonal) scaling;
* its spectrum: how many eigenvalues stand far above the median (outliers a deflation or a
  low-rank correction would have to capture) and the condition number of the rest (the bulk);
* whether the banded part of ``M`` by layers (variables of layers at most ``b`` apart, the rho
  row kept) is positive definite at all, i.e. usable as a preconditioner;
* PCG iterations to a relative residual of 1e-8 with the Jacobi and the block-Jacobi (one block
  per layer) preconditioners (capped at 1000).

Run ``python experiments/schur_spectrum.py [--width 40 --depth 12]`` (about a minute).
"""

from __future__ import annotations

import argparse

import numpy as np
import scipy.linalg as sla

import lipsdp
from solvers.backends import banded_backend as bb


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

    captured: list[np.ndarray] = []
    original = bb.BandedStructure.schur

    def capture(self, *a, **kw):
        out = original(self, *a, **kw)
        captured.append(out[0].copy())
        return out

    bb.BandedStructure.schur = capture
    try:
        res = lipsdp.solve(weights, solver="banded-ipm")
    finally:
        bb.BandedStructure.schur = original
    print(f"network {args.width}x{args.depth}: value {res.value:.8f}, {res.iterations} iterations")
    layer = np.concatenate([[0], 1 + np.repeat(np.arange(args.depth), args.width)])
    print("| iteration | cond (Jacobi) | outliers > 100 median | bulk cond | band 0/1/2 PD "
          "| PCG Jacobi | PCG block-Jacobi |")
    print("|---|---|---|---|---|---|---|")
    for it, M in enumerate(captured):
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

        print(f"| {it + 1} | {ev[0] / ev[-1]:.1e} | {outliers} | {bulk[0] / bulk[-1]:.1e} | "
              f"{'/'.join(pd)} | {_pcg_iterations(Ms, lambda r: r)} | "
              f"{_pcg_iterations(Ms, block_jacobi)} |")


if __name__ == "__main__":
    main()
