"""Does a warm start save SCS iterations?  Cold vs warm, on seeded ReLU networks, through
``lipsdp.solve``, from three starting points:

* ``eclipse-fast`` and ``best``: a closed form's multipliers (SCS gets the primal point ``x``,
  its slack ``s = b - A x`` and dual ``y = 0``; see solvers/backends/scs_backend.py);
* ``previous``: the result of the same solve on the network before a small weight update
  (relative size ``--step``, as one training step), whose dual ``Y`` the result keeps
  (``res.info["warm_dual"]``), so SCS gets a full primal-dual start.

Run:  python experiments/warm_start.py [--tol 1e-8] [--seeds 3] [--step 1e-3]
"""

from __future__ import annotations

import argparse

import numpy as np

import lipsdp

from common import gaussian_network

WIDTHS = ([4, 8, 6, 2], [8, 16, 16, 16, 4], [6, 30, 30, 3], [10, 20, 20, 20, 20, 5])


def network(widths: list[int], seed: int) -> lipsdp.Network:
    return gaussian_network(widths, seed)


def perturbed(net: lipsdp.Network, step: float, seed: int) -> lipsdp.Network:
    """The network after a random update of relative size ``step`` in every weight matrix."""
    rng = np.random.default_rng(1000 + seed)
    return lipsdp.Network([
        W + step * np.linalg.norm(W) / np.sqrt(W.size) * rng.standard_normal(W.shape)
        for W in net.weights
    ], net.slopes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tol", type=float, default=1e-8, help="SCS eps_abs = eps_rel")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--step", type=float, default=1e-3,
                        help="relative size of the weight update before the 'previous' start")
    args = parser.parse_args()
    options = {"tol": args.tol, "max_iter": 100_000}
    starts = ("eclipse-fast", "best", "previous")
    print(f"SCS, tol={args.tol:g}; iterations (time in s); ratio = warm / cold\n")
    print("| network | seed | cold | " + " | ".join(f"warm {s}" for s in starts)
          + " | " + " | ".join(f"ratio {s}" for s in starts) + " |")
    print("|---|---|---|" + "---|" * (2 * len(starts)))
    ratios: dict[str, list[float]] = {s: [] for s in starts}
    time_ratios: dict[str, list[float]] = {s: [] for s in starts}
    for widths in WIDTHS:
        for seed in range(args.seeds):
            before = network(widths, seed)
            previous = lipsdp.solve(before, solver="scs", options=options)
            net = perturbed(before, args.step, seed)
            cold = lipsdp.solve(net, solver="scs", options=options)
            cells, rcells = [], []
            for s in starts:
                start = previous if s == "previous" else s
                warm = lipsdp.solve(net, solver="scs", options=options, warm_start=start)
                r = warm.iterations / max(cold.iterations, 1)
                ratios[s].append(r)
                time_ratios[s].append(warm.solve_time / max(cold.solve_time, 1e-9))
                cells.append(f"{warm.iterations} ({warm.solve_time:.2f})")
                rcells.append(f"{r:.2f}")
                if abs(warm.value - cold.value) > 1e-4 * cold.value:
                    rcells[-1] += f" (values differ: {warm.value:.6g} vs {cold.value:.6g})"
            name = "-".join(map(str, widths))
            print(f"| {name} | {seed} | {cold.iterations} ({cold.solve_time:.2f}) | "
                  + " | ".join(cells) + " | " + " | ".join(rcells) + " |", flush=True)
    print()
    for s in starts:
        it = np.exp(np.mean(np.log(ratios[s])))
        tm = np.exp(np.mean(np.log(time_ratios[s])))
        fewer = sum(r < 1 for r in ratios[s])
        print(f"warm from {s}: geometric-mean iteration ratio {it:.2f}, time ratio {tm:.2f}; "
              f"fewer iterations than cold on {fewer}/{len(ratios[s])} runs")


if __name__ == "__main__":
    main()
