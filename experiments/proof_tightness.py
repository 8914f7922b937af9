"""What the proof costs in tightness: certified values on seeded networks against stored ones.

The stored values (``tests/data/pre_proof_values.json``) were computed by the package
*before* certification became a proof (commit 16e6362, float64 recursion with a relative margin
of 1e-10). This script recomputes every entry with the installed package and prints the
relative change ``new / old - 1``. A proved bound may only be looser where the old value was
not a bound (then it was below the exact constant) or by the cost of the proof itself;
``tests/test_tightness.py`` asserts the 1e-9 target on these entries.

Run:
    python experiments/proof_tightness.py                 # compare with the stored values
    python experiments/proof_tightness.py --write FILE    # store this package's values in FILE

The stored file was written with:
    git worktree add /tmp/lipsdp-16e6362 16e6362
    PYTHONPATH=/tmp/lipsdp-16e6362 python experiments/proof_tightness.py \\
        --write tests/data/pre_proof_values.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import lipsdp

STORED = Path(__file__).resolve().parents[1] / "tests" / "data" / "pre_proof_values.json"

#: Slope classes of the grid: ReLU, leaky ReLU, sigmoid.
SLOPES = {"relu": (0.0, 1.0), "leaky": (0.1, 1.0), "sigmoid": (0.0, 0.25)}

CLOSED_FORMS = ("naive", "eclipse-fast", "lookahead", "lookahead-jacobi", "lookahead-mix",
                "backward", "backward-lookahead", "backward-lookahead-jacobi", "best")


def networks() -> list[tuple[str, lipsdp.Network]]:
    """Seeded Gaussian networks, weights scaled by 1/sqrt(fan_in) (as in tests/conftest.py)."""
    out = []
    for widths, seed in (([5, 8, 6, 3], 1), ([4, 10, 10, 2], 2), ([6, 12, 12, 12, 3], 3),
                         ([20, 16, 16, 16, 16, 5], 4), ([3, 30, 2], 5), ([8, 16, 16, 16, 4], 6)):
        rng = np.random.default_rng(20261122 + seed)
        W = [rng.standard_normal((widths[k + 1], widths[k])) / np.sqrt(widths[k])
             for k in range(len(widths) - 1)]
        name = "-".join(map(str, widths)) + f" s{seed}"
        for slope_name, slopes in SLOPES.items():
            out.append((f"{name} {slope_name}", lipsdp.Network(W, slopes)))
    return out


def runs(net: lipsdp.Network) -> dict[str, callable]:
    """Every method whose value is compared, as name -> zero-argument call."""
    calls = {f"closed_form:{m}": (lambda m=m: lipsdp.closed_form(net, m)) for m in CLOSED_FORMS
             if not (m == "eclipse-fast" and any(a * b < 0 for a, b in net.slopes))}
    for solver in ("lowrank-ipm", "banded-ipm"):
        for mult in ("neuron", "layer"):
            calls[f"solve:{solver}:{mult}"] = (
                lambda s=solver, mu=mult: lipsdp.solve(net, multipliers=mu, solver=s))
    calls["solve:chordal:clarabel"] = lambda: lipsdp.solve(net, variant="chordal",
                                                           solver="clarabel")
    if net.n_hidden >= 2:
        calls["solve:split2:lowrank-ipm"] = lambda: lipsdp.solve(
            net, variant="split", split=2, solver="lowrank-ipm", n_jobs=1)
    calls["solve:sequential:clarabel"] = lambda: lipsdp.solve(net, variant="sequential",
                                                              solver="clarabel")
    return calls


def compute() -> dict[str, dict[str, float | None]]:
    values: dict[str, dict[str, float | None]] = {}
    for name, net in networks():
        row = {}
        for key, call in runs(net).items():
            try:
                res = call()
            except (ValueError, TypeError) as exc:  # recorded, not fatal
                row[key] = None
                print(f"  {name} {key}: {type(exc).__name__}: {exc}")
                continue
            row[key] = float(res.value) if res.certified else None
        values[name] = row
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="store this package's values in FILE")
    parser.add_argument("--stored", type=Path, default=STORED)
    args = parser.parse_args()
    start = time.perf_counter()
    values = compute()
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(json.dumps(values, indent=1, sort_keys=True) + "\n")
        print(f"wrote {sum(len(r) for r in values.values())} values to {args.write} "
              f"({time.perf_counter() - start:.1f} s)")
        return
    stored = json.loads(args.stored.read_text())
    worst, n, missing = 0.0, 0, []
    print(f"{'network':<28}{'method':<36}{'stored':>16}{'now':>16}{'now/stored-1':>14}")
    for name, row in values.items():
        for key, value in row.items():
            old = stored.get(name, {}).get(key)
            if old is None or value is None:
                missing.append((name, key, old, value))
                continue
            rel = value / old - 1.0
            n += 1
            worst = max(worst, abs(rel))
            print(f"{name:<28}{key:<36}{old:>16.10g}{value:>16.10g}{rel:>14.2e}")
    print(f"\n{n} values compared; largest |now/stored - 1| = {worst:.2e} "
          f"({time.perf_counter() - start:.1f} s)")
    for name, key, old, value in missing:
        print(f"not compared: {name} {key}: stored {old}, now {value}")


if __name__ == "__main__":
    main()
