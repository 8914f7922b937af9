"""What the proof costs in time: certification now against the float64 check it replaced.

Each package is timed in its own subprocess, alternating, on the same seeded networks: this
checkout, and (``--baseline-commit``) the same script run against an older commit checked out
into a temporary git worktree. Timed per network (median of ``--repeat`` runs, best of
``--rounds`` alternating rounds):

* ``certify(net, t, rho)``: one certification of a point along its ray (ECLipsE-Fast's
  multipliers, computed once by the package under test); ``certify-cold`` passes the weight
  list instead of the Network, so that building and normalising the network is timed too;
* ``closed_form(net, "eclipse-fast")``: the closed form with its certification fused in;
* ``closed_form(net, "lookahead")``;
* with ``--solve``, ``lipsdp.solve(net)`` (``solver="auto"``), whose anytime backends prove
  every iterate.

Run:
    python experiments/bench_certify.py                       # against commit 16e6362
    python experiments/bench_certify.py --networks 100-200x10-10 --repeat 7
    python experiments/bench_certify.py --solve --networks 50-100x3-10 100-100x10-10 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from common import gaussian_weights, parse_widths

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_NETWORKS = ("100-200x10-10", "100-100x50-10", "784-400-400-10")


def weights(name: str) -> list[np.ndarray]:
    """The seeded weights of the network ``name`` (widths like ``100-200x10-10``; the seed is
    the sum of its widths)."""
    widths = parse_widths(name)
    return gaussian_weights(widths, seed=sum(widths))


def timed_calls(lipsdp, net, solve: bool) -> dict:
    """The calls timed on ``net`` (the multipliers certified are ECLipsE-Fast's)."""
    ef = lipsdp.closed_form(net, "eclipse-fast")
    ts, rho, Ws = ef.multipliers, ef.value**2, list(net.weights)
    extra = {"solve": lambda: lipsdp.solve(net)} if solve else {}
    return {**extra,
        "certify": lambda: lipsdp.certify(net, ts, rho=rho),
        "certify-cold": lambda: lipsdp.certify(Ws, ts, rho=rho),
        "eclipse-fast": lambda: lipsdp.closed_form(net, "eclipse-fast"),
        "lookahead": lambda: lipsdp.closed_form(net, "lookahead"),
    }


def child(names: list[str], repeat: int, solve: bool) -> None:
    """Time the importable ``lipsdp`` and print one JSON line per network."""
    import lipsdp

    for name in names:
        net = lipsdp.Network(weights(name))
        row = {"network": name, "lipsdp": str(Path(lipsdp.__file__).parent)}
        for key, fn in timed_calls(lipsdp, net, solve).items():
            times, value = [], None
            for _ in range(repeat):
                start = time.perf_counter()
                res = fn()
                times.append(time.perf_counter() - start)
                value = res.value
            row[key] = statistics.median(times)
            row[key + "_value"] = value
        print(json.dumps(row), flush=True)


def run_child(pythonpath: str | None, names: list[str], repeat: int, solve: bool) -> list[dict]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    flags = ["--solve"] if solve else []
    out = subprocess.run(
        [sys.executable, __file__, "--child", "--repeat", str(repeat), *flags,
         "--networks", *names],
        capture_output=True, text=True, env=env, check=True, cwd=tempfile.gettempdir(),
    )
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", nargs="+", default=list(DEFAULT_NETWORKS),
                        help="seeded networks by their widths, e.g. 100-200x10-10")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per package")
    parser.add_argument("--baseline-commit", default="16e6362")
    parser.add_argument("--solve", action="store_true",
                        help="also time lipsdp.solve(net) (solver='auto', to its default accuracy)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.networks, args.repeat, args.solve)
        return
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "baseline"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(base),
                        args.baseline_commit], check=True)
        try:
            rows: dict[str, list[dict]] = {"now": [], "baseline": []}
            for _ in range(args.rounds):
                rows["now"] += run_child(None, args.networks, args.repeat, args.solve)
                rows["baseline"] += run_child(str(base), args.networks, args.repeat, args.solve)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                           check=False)
    print(f"baseline: commit {args.baseline_commit} (float64 check, margin 1e-10); "
          f"now: this checkout (proof). Median of {args.repeat} runs, best of {args.rounds} "
          "alternating rounds, seconds.\n")
    print(f"{'network':<18}{'call':<14}{'baseline':>10}{'now':>10}{'now/base':>10}"
          f"{'value now/base - 1':>20}")
    for name in args.networks:
        keys = ("solve",) * args.solve + ("certify", "certify-cold", "eclipse-fast", "lookahead")
        for key in keys:
            b = min(r[key] for r in rows["baseline"] if r["network"] == name)
            n = min(r[key] for r in rows["now"] if r["network"] == name)
            vb = next(r[key + "_value"] for r in rows["baseline"] if r["network"] == name)
            vn = next(r[key + "_value"] for r in rows["now"] if r["network"] == name)
            print(f"{name:<18}{key:<14}{b:>10.3f}{n:>10.3f}{n / b:>10.2f}{vn / vb - 1:>20.2e}")


if __name__ == "__main__":
    main()
