"""Peak memory of each backend and variant: the estimate of ``lipsdp.estimate_memory`` against the
peak resident memory measured in a fresh process (the README's accuracy table).

    python experiments/bench_memory.py            # the table (estimate, measured, ratio)
    python experiments/bench_memory.py --fit      # least-squares coefficients per backend
    python experiments/bench_memory.py --quick    # the cases below ~20 s each

Each case runs in its own Python process: the network is built and the backend imported, the
peak resident set size (``ru_maxrss``) is read, ``lipsdp.solve`` runs with ``max_memory=inf``
(the guard is what is being calibrated), and the increase of the peak is the measured value.
Cases that the estimate puts above the memory this machine has are not run: the table shows the
estimate and "refused" (the two runs of issue 14 that aborted the process are such cases).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

import lipsdp
from lipsdp.memory import (
    COEFFICIENTS,
    available_memory,
    estimate_memory,
    format_bytes,
)

#: (widths spec, variant, solver, multipliers, variant options); solver as solve resolves it.
CASES = [
    ("50-20x3-10", "full", "lowrank-ipm", "neuron", {}),
    ("50-100x3-10", "full", "lowrank-ipm", "neuron", {}),
    ("50-100x3-10", "full", "banded-ipm", "neuron", {}),
    ("50-100x3-10", "full", "banded-ipm", "layer", {}),
    ("784-200-200-10", "full", "lowrank-ipm", "neuron", {}),
    ("784-200-200-10", "full", "banded-ipm", "neuron", {}),
    ("100-200x3-10", "full", "lowrank-ipm", "neuron", {}),
    ("100-200x3-10", "full", "banded-ipm", "neuron", {}),
    ("784-400-400-10", "full", "lowrank-ipm", "neuron", {}),
    ("784-400-400-10", "full", "banded-ipm", "neuron", {}),
    ("100-100x20-10", "full", "banded-ipm", "neuron", {}),
    ("100-100x20-10", "full", "lowrank-ipm", "neuron", {}),
    ("100-100x20-10", "split", "auto", "neuron", {"split": 2}),
    ("100-100x20-10", "sequential", "auto", "neuron", {}),
    ("50-20x3-10", "full", "clarabel", "neuron", {}),
    ("50-30x3-10", "full", "clarabel", "neuron", {}),
    ("50-40x3-10", "full", "clarabel", "neuron", {}),
    ("50-30x3-10", "full", "scs", "neuron", {}),
    ("50-60x3-10", "full", "scs", "neuron", {}),
    ("784-100-100-10", "full", "scs", "neuron", {}),
    ("50-20x3-10", "chordal", "clarabel", "neuron", {}),
    ("50-40x3-10", "chordal", "clarabel", "neuron", {}),
    ("50-60x3-10", "chordal", "clarabel", "neuron", {}),
    ("50-40x3-10", "chordal", "banded-ipm", "neuron", {}),
    ("50-60x3-10", "chordal", "banded-ipm", "neuron", {}),
    ("50-60x3-10", "chordal", "scs", "neuron", {}),
    ("50-30x3-10", "full", "cvxpy:CVXOPT", "neuron", {}),
    ("50-60x3-10", "full", "cvxpy:CVXOPT", "neuron", {}),
    # The two runs of issue 14 that aborted the process:
    ("50-100x3-10", "full", "clarabel", "neuron", {}),
    ("784-100-100-10", "chordal", "clarabel", "neuron", {}),
]
#: Cases skipped by --quick (measured above ~20 s on the 2-core machine).
SLOW = {("784-400-400-10", "banded-ipm"), ("784-400-400-10", "lowrank-ipm"),
        ("100-100x20-10", "lowrank-ipm"), ("50-40x3-10", "clarabel"),
        ("784-100-100-10", "scs"), ("50-60x3-10", "cvxpy:CVXOPT")}


def _network(spec: str) -> lipsdp.Network:
    from common import gaussian_network, parse_widths

    return gaussian_network(parse_widths(spec), 0)


#: Address-space cap of a measured process: a wrong estimate makes it fail alone, instead of
#: the kernel's out-of-memory killer stopping whatever else runs on the machine.
CHILD_ADDRESS_SPACE = 16 * 2**30


def _child(case: list) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (CHILD_ADDRESS_SPACE, CHILD_ADDRESS_SPACE))
    spec, variant, solver, multipliers, vopts = case
    net = _network(spec)
    import lipsdp_solvers

    if solver != "auto":
        lipsdp_solvers.check_solver(solver)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()
    res = lipsdp.solve(net, variant=variant, solver=solver, multipliers=multipliers,
                       max_memory=float("inf"), **vopts)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"peak": after - before, "time": wall, "value": res.value,
                      "status": str(res.status)}))


def measure(case: tuple, timeout: float) -> dict | None:
    """The case's measured peak increase in a fresh process (None if it failed or timed out)."""
    cmd = [sys.executable, __file__, "--child", json.dumps(list(case))]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return None
    lines = out.stdout.strip().splitlines()
    return json.loads(lines[-1]) if out.returncode == 0 and lines else None


def _fit(rows: list[tuple[str, dict, float]]) -> None:
    from scipy.optimize import nnls

    keys = ("nnz", "m2", "v2", "s2")
    for backend in sorted({b for b, _, _ in rows}):
        data = [(s, p) for b, s, p in rows if b == backend]
        A = np.array([[1.0, *(s[k] for k in keys)] for s, _ in data])
        y = np.array([p for _, p in data])
        # Relative least squares: each row divided by its measurement.
        coef, _ = nnls(A / y[:, None], np.ones_like(y))
        fitted = dict(zip(("base", *keys), coef, strict=True))
        print(f"{backend}: " + ", ".join(f"{k}={v:.3g}" for k, v in fitted.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--fit", action="store_true",
                        help="print nonnegative least-squares coefficients per backend")
    parser.add_argument("--quick", action="store_true", help="skip the slow cases")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--match", metavar="TEXT",
                        help="only the cases whose 'network variant solver' contains TEXT")
    args = parser.parse_args()
    if args.child:
        _child(json.loads(args.child))
        return
    limit = 0.8 * available_memory()
    print(f"memory available: {format_bytes(available_memory())}; cases estimated above "
          f"{format_bytes(limit)} are refused, not run\n")
    header = ("| network | variant | solver | multipliers | estimate | measured peak | "
              "estimate / measured | time [s] |")
    print(header)
    print("|" + "---|" * 8)
    rows, ratios = [], []
    for case in CASES:
        spec, variant, solver, multipliers, vopts = case
        if args.quick and (spec, solver) in SLOW:
            continue
        if args.match and args.match not in f"{spec} {variant} {solver}":
            continue
        net = _network(spec)
        est = estimate_memory(net, variant, multipliers, solver, vopts)
        name = variant + ("" if not vopts else " " + ",".join(f"{k}={v}" for k, v in
                                                                vopts.items()))
        if est.bytes > limit:
            print(f"| {spec} | {name} | {solver} | {multipliers} | {format_bytes(est.bytes)} "
                  f"| refused | | |", flush=True)
            continue
        got = measure(case, args.timeout)
        if got is None:
            print(f"| {spec} | {name} | {solver} | {multipliers} | {format_bytes(est.bytes)} "
                  f"| failed or timed out | | |", flush=True)
            continue
        ratio = est.bytes / max(got["peak"], 1)
        ratios.append(ratio)
        backend = est.solver.split(":")[0] if est.solver.startswith("cvxpy") else est.solver
        if variant in ("full", "chordal"):
            rows.append((backend if backend in COEFFICIENTS else "cvxpy", est.sizes,
                         float(got["peak"])))
        print(f"| {spec} | {name} | {est.solver} | {multipliers} | {format_bytes(est.bytes)} "
              f"| {format_bytes(got['peak'])} | {ratio:.2f} | {got['time']:.1f} |", flush=True)
    if ratios:
        print(f"\nestimate / measured: min {min(ratios):.2f}, max {max(ratios):.2f} "
              f"over {len(ratios)} cases")
    if args.fit:
        _fit(rows)


if __name__ == "__main__":
    main()
