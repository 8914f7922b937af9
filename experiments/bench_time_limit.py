"""The whole call's wall-clock limit: ``lipsdp.solve(net, time_limit=T)`` on 784-200-200-10.

    python experiments/bench_time_limit.py [--limits 0.3 1 3] [--solvers auto banded-ipm scs]

Prints, per backend and limit, the wall time of the call, its ratio to the limit, the proved
value, its status and message, beside the unlimited solve's optimum (issue 14: a limit of 1 s
returns within 1.5 s with a proved bound).
"""

from __future__ import annotations

import argparse
import time

import lipsdp

from common import gaussian_network, parse_widths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=parse_widths, default=parse_widths("784-200-200-10"))
    parser.add_argument("--limits", type=float, nargs="+", default=[0.3, 1.0, 3.0])
    parser.add_argument("--solvers", nargs="+", default=["auto", "banded-ipm", "scs"])
    args = parser.parse_args()
    net = gaussian_network(args.widths, 0)
    optimum = lipsdp.solve(net)
    print(f"{net!r}: optimum {optimum.value:.8g} ({optimum.solver}, "
          f"{optimum.total_time:.2f} s unlimited)\n")
    print("| solver | limit [s] | wall [s] | wall / limit | value | value / optimum | status |")
    print("|---|---|---|---|---|---|---|")
    for solver in args.solvers:
        for limit in args.limits:
            start = time.perf_counter()
            res = lipsdp.solve(net, solver=solver, time_limit=limit)
            wall = time.perf_counter() - start
            print(f"| {res.solver or solver} | {limit:g} | {wall:.2f} | {wall / limit:.2f} | "
                  f"{res.value:.8g} | {res.value / optimum.value:.6f} | {res.summary[:90]} |",
                  flush=True)


if __name__ == "__main__":
    main()
