"""ECLipsE-Fast at scale: lipsdp (certified) vs plain NumPy vs the eclipse-nn package.

Cases (ReLU, Gaussian weights scaled by 1/sqrt(fan_in), seed 0, 10 outputs):
  10x1000  input 256, 10 hidden layers of 1000
  100x256  input 256, 100 hidden layers of 256

* lipsdp: ``lipsdp.closed_form(net, "eclipse-fast")``, certification included (the published
  recursion runs inside the certifying one: one Cholesky, one triangular solve, one symmetric
  product and one Lanczos top eigenvalue per layer).
* numpy: the published recursion transcribed with ``np.linalg.solve`` and a full
  ``np.linalg.eigvalsh`` per layer (no certification).
* eclipse-nn: ``eclipse_nn.ECLipsE_Fast`` (torch; explicit inverses and a general ``eig``).

Run:  python experiments/bench_closed_form.py [--skip-eclipse-large] [--family] [--repeat N]
``--skip-eclipse-large`` skips eclipse-nn on 10x1000 (about 7 minutes on 2 cores).
``--family`` also times the other closed-form members.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import lipsdp

from common import deep_widths, gaussian_network

CASES = {"10x1000": (256, 1000, 10), "100x256": (256, 256, 100)}


def make_net(n0: int, width: int, depth: int, seed: int = 0) -> lipsdp.Network:
    """Input ``n0``, ``depth`` hidden layers of ``width``, 10 outputs; seeded Gaussian weights."""
    return gaussian_network(deep_widths(n0, width, depth, 10), seed)


def numpy_eclipse_fast(weights: list[np.ndarray], m: float = 0.5) -> float:
    """The published recursion with solve + eigvalsh (what one writes without thinking)."""
    X = np.eye(weights[0].shape[1])
    for W in weights[:-1]:
        mat = W @ np.linalg.solve(X, W.T)
        lam = 1.0 / (2.0 * m * m * np.max(np.linalg.eigvalsh(mat)))
        X = lam * np.eye(W.shape[0]) - lam * lam * m * m * mat
    Wl = weights[-1]
    return float(np.sqrt(np.max(np.linalg.eigvalsh(Wl @ np.linalg.solve(X, Wl.T)))))


def eclipse_nn_fast(weights: list[np.ndarray]) -> float | None:
    try:
        import torch
        from eclipse_nn import ECLipsE_Fast
    except ImportError:
        return None
    ws = [torch.tensor(W, dtype=torch.float64) for W in weights]
    l = len(ws) - 1
    return float(ECLipsE_Fast(ws, [0.0] * l, [1.0] * l))


def timed(fn, *args, repeat: int = 1):
    """Best wall time of ``repeat`` runs, and the process CPU time of that run (all threads).

    On a shared machine the wall time of multi-threaded BLAS degrades badly under load; the CPU
    time (with OPENBLAS_NUM_THREADS=1) is close to what an idle core needs.
    """
    best, cpu, value = np.inf, np.inf, None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        value = fn(*args)
        wall, used = time.perf_counter() - t0, time.process_time() - c0
        if wall < best:
            best, cpu = wall, used
    TIMES["cpu"] = cpu
    return value, best


TIMES: dict[str, float] = {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-eclipse-large", action="store_true",
                        help="skip eclipse-nn on 10x1000 (about 7 minutes)")
    parser.add_argument("--skip-eclipse", action="store_true", help="skip eclipse-nn entirely")
    parser.add_argument("--family", action="store_true", help="also time the family members")
    parser.add_argument("--repeat", type=int, default=3, help="best of N for lipsdp and numpy")
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    args = parser.parse_args()

    print(f"load average before: {os.getloadavg()[0]:.2f}; "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}\n")
    print("| case | method | value | certified | wall (s) | cpu (s) | wall / lipsdp |")
    print("|---|---|---|---|---|---|---|")
    for case in args.cases:
        net = make_net(*CASES[case])
        weights = list(net.weights)
        ours, t_ours = timed(lipsdp.closed_form, net, "eclipse-fast", repeat=args.repeat)
        print(f"| {case} | lipsdp eclipse-fast | {ours.value:.10g} | {ours.certified} | "
              f"{t_ours:.3f} | {TIMES['cpu']:.3f} | 1.0 |", flush=True)
        val, t = timed(numpy_eclipse_fast, weights, repeat=args.repeat)
        rel = abs(val - ours.published_value) / ours.published_value
        print(f"| {case} | numpy solve+eigvalsh | {val:.10g} (rel. diff {rel:.1e}) | no | "
              f"{t:.3f} | {TIMES['cpu']:.3f} | {t / t_ours:.1f} |", flush=True)
        skip = args.skip_eclipse or (args.skip_eclipse_large and case == "10x1000")
        if skip:
            print(f"| {case} | eclipse-nn ECLipsE_Fast | skipped | | | | |", flush=True)
        else:
            val, t = timed(eclipse_nn_fast, weights)
            if val is None:
                print(f"| {case} | eclipse-nn ECLipsE_Fast | not installed "
                      "(`pip install eclipse-nn`) | | | | |", flush=True)
            else:
                rel = abs(val - ours.published_value) / ours.published_value
                print(f"| {case} | eclipse-nn ECLipsE_Fast | {val:.10g} (rel. diff {rel:.1e}) | "
                      f"no | {t:.3f} | {TIMES['cpu']:.3f} | {t / t_ours:.1f} |", flush=True)
        if args.family:
            for method in lipsdp.CLOSED_FORM_METHODS:
                if method in ("eclipse-fast", "naive", "best"):
                    continue
                res, t = timed(lipsdp.closed_form, net, method)
                print(f"| {case} | lipsdp {method} | {res.value:.10g} | {res.certified} | "
                      f"{t:.3f} | {TIMES['cpu']:.3f} | {t / t_ours:.1f} |", flush=True)


if __name__ == "__main__":
    main()
