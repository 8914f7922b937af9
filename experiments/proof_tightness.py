"""What the proof costs in tightness: certified values on seeded networks against stored ones.

The stored values (``tests/data/pre_proof_values.json``) were computed by the package
*before* certification became a proof (commit 16e6362, float64 recursion with a relative margin
of 1e-10). This script recomputes every entry with the installed package and prints the
relative change ``new / old - 1``. A proved bound may only be looser where the old value was
not a bound (then it was below the exact constant) or by the cost of the proof itself;
``tests/lipsdp/test_tightness.py`` asserts the 1e-9 target on these entries.

Run:
    python experiments/proof_tightness.py                 # compare with the stored values
    python experiments/proof_tightness.py --write FILE    # store this package's values in FILE

The grid (widths, seeds, slopes) and the keys (which call) are read from the stored file; the
stored values were written with:
    git worktree add /tmp/lipsdp-16e6362 16e6362
    PYTHONPATH=/tmp/lipsdp-16e6362 python experiments/proof_tightness.py \\
        --write tests/data/pre_proof_values.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import lipsdp

from common import gaussian_network

STORED = Path(__file__).resolve().parents[1] / "tests" / "data" / "pre_proof_values.json"


def network(spec: dict) -> lipsdp.Network:
    """A grid network: Gaussian weights scaled by 1/sqrt(fan_in), as in tests/conftest.py."""
    return gaussian_network(spec["widths"], spec["seed"], tuple(spec["slopes"]))


def run(net: lipsdp.Network, key: str) -> lipsdp.LipschitzResult:
    """The call a stored key names: ``closed_form:<method>`` or ``solve:<how>:<what>``."""
    kind, *rest = key.split(":")
    if kind == "closed_form":
        return lipsdp.closed_form(net, rest[0])
    how, what = rest
    if how == "chordal":
        return lipsdp.solve(net, variant="chordal", solver=what)
    if how == "sequential":
        return lipsdp.solve(net, variant="sequential", solver=what)
    if how == "split2":
        return lipsdp.solve(net, variant="split", split=2, solver=what, n_jobs=1)
    return lipsdp.solve(net, multipliers=what, solver=how)


def compute(stored: dict) -> dict[str, dict[str, float | None]]:
    values: dict[str, dict[str, float | None]] = {}
    for name, spec in stored["networks"].items():
        net = network(spec)
        row = {}
        for key in stored["values"][name]:
            try:
                res = run(net, key)
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
    stored = json.loads(args.stored.read_text())
    values = compute(stored)
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(json.dumps({**stored, "values": values}, indent=1,
                                         sort_keys=True) + "\n")
        print(f"wrote {sum(len(r) for r in values.values())} values to {args.write} "
              f"({time.perf_counter() - start:.1f} s)")
        return
    stored = stored["values"]
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
