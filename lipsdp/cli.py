"""Command line: ``lipsdp solve [FILE] [--variant V] [--multipliers M] [--solver S] [--json]``.

Also ``python -m lipsdp ...`` (``lipsdp/__main__.py``), ``lipsdp solvers`` and ``lipsdp --version``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import math
import sys
from collections.abc import Sequence

import lipsdp_solvers as solvers

from .api import MULTIPLIERS, VARIANTS, solve
from .closed_form import CLOSED_FORM_METHODS, closed_form
from .io import example_network, load_network
from .network import Network
from .result import LipschitzResult

SDP_METHOD = "lipsdp"
METHODS = (SDP_METHOD, *CLOSED_FORM_METHODS)


def _installed_version() -> str:
    """The installed distribution's version, else the package's ``__version__`` (a source tree
    on ``sys.path`` without an install), else ``"unknown"``."""
    try:
        return importlib.metadata.version("lipsdp")
    except importlib.metadata.PackageNotFoundError:
        import lipsdp

        return getattr(lipsdp, "__version__", "unknown")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lipsdp",
        description="Certified upper bounds on the l2 Lipschitz constant of feed-forward networks.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_installed_version()}")
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("solve", help="bound the Lipschitz constant of a network")
    s.add_argument("file", nargs="?", help=".npz or .mat weights (default: the bundled example)")
    s.add_argument("--variant", default="full", choices=sorted(VARIANTS))
    s.add_argument("--multipliers", default="neuron", choices=MULTIPLIERS)
    s.add_argument("--solver", default="auto",
                   help="auto (lowrank-ipm for small LMIs, else banded-ipm), banded-ipm, "
                        "lowrank-ipm, clarabel, scs or cvxpy:<NAME>")
    s.add_argument("--split", type=int, metavar="K",
                   help="variant split: blocks of K consecutive weight matrices")
    s.add_argument("--cuts", type=int, nargs="+", metavar="J",
                   help="variant split: cut at these hidden layers (1..l, increasing)")
    s.add_argument("--clique-size", type=int, metavar="K",
                   help="variant chordal: consecutive layer blocks per clique (default 2)")
    s.add_argument("--n-jobs", type=int, metavar="N",
                   help="variant split: parallel joblib workers (-1: all cores)")
    s.add_argument("--slopes", nargs=2, type=float, metavar=("ALPHA", "BETA"),
                   help="activation slope bounds for every hidden layer (default 0 1, ReLU)")
    s.add_argument("--method", action="append", choices=METHODS, dest="methods",
                   help="methods to run (repeatable; default: lipsdp, eclipse-fast, naive)")
    s.add_argument("--json", action="store_true", help="print JSON instead of a table")
    s.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub.add_parser("solvers", help="list the installed SDP backends")
    return parser


def _run(net: Network, args: argparse.Namespace) -> list[LipschitzResult]:
    methods = args.methods or [SDP_METHOD, "eclipse-fast", "naive"]
    results = []
    for method in dict.fromkeys(methods):
        if method == SDP_METHOD:
            results.append(solve(net, variant=args.variant, multipliers=args.multipliers,
                                 solver=args.solver, **_variant_options(args)))
        elif method == "eclipse-fast" and any(a * b < 0 or a + b == 0 for a, b in net.slopes):
            if args.methods:  # asked for explicitly: let the error explain why
                results.append(closed_form(net, method))
        else:
            results.append(closed_form(net, method))
    return results


def _variant_options(args: argparse.Namespace) -> dict:
    """The variant options given on the command line (the variant rejects those it lacks)."""
    given = {"split": args.split, "cuts": args.cuts, "clique_size": args.clique_size,
             "n_jobs": args.n_jobs}
    return {key: value for key, value in given.items() if value is not None}


def _name(r: LipschitzResult) -> str:
    return r.method + (f" ({r.solver})" if r.solver else "")


def _table(net: Network, source: str, results: list[LipschitzResult]) -> str:
    solved = (f"LMI side {net.solved_size}" if net.solved_size == net.lmi_size else
              f"LMI side {net.solved_size} (input compressed; {net.lmi_size} uncompressed)")
    lines = [f"network {source}: {net!r}, {solved}"]
    width = max(len("method"), *(len(_name(r)) for r in results)) + 2
    header = f"{'method':<{width}}{'value':>16}  {'certified':<10}{'time [s]':>10}  status"
    lines += [header, "-" * len(header)]
    for r in results:
        value = "nan" if math.isnan(r.value) else f"{r.value:.10g}"
        lines.append(
            f"{_name(r):<{width}}{value:>16}  {r.certified!s:<10}{r.total_time:>10.3f}  {r.summary}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (0 when every requested bound is certified)."""
    args = _parser().parse_args(argv)
    if args.command == "solvers":
        print("\n".join(solvers.available()))
        return 0
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        slopes = tuple(args.slopes) if args.slopes else None
        net = load_network(args.file, slopes) if args.file else example_network(slopes)
        source = args.file or "bundled example"
        if args.solver != "auto":
            solvers.check_solver(args.solver)
        results = _run(net, args)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        print(f"lipsdp: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        certified = [r.value for r in results if r.certified]
        payload = {
            "network": {"file": source, "widths": list(net.widths),
                        "slopes": [list(s) for s in net.slopes]},
            "value": min(certified) if certified else None,
            "results": [r.to_dict() for r in results],
        }
        if len(results) == 1:
            payload = {**payload, **results[0].to_dict()}
        print(json.dumps(payload, indent=2))
    else:
        print(_table(net, source, results))
    return 0 if all(r.certified for r in results) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
