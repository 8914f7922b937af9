"""Command line: ``lipsdp solve|compare|bracket|certify|solvers`` (also ``python -m lipsdp``).

- ``lipsdp solve [FILE]``: LipSDP and closed forms (``--method``), one table or ``--json``;
  ``--save-certificate PATH`` writes the tightest bound's exact certificate (``.npz``, see
  :mod:`lipsdp.certificate_io`).
- ``lipsdp compare [FILE]``: every method that fits the size, one table with the ratio to the
  tightest certified value, proved lower bound and gap, time and memory.
- ``lipsdp bracket [FILE]``: a proved lower and upper bound and their gap.
- ``lipsdp certify FILE CERT``: re-prove a saved certificate for the network in ``FILE``.
- ``lipsdp solvers``: the SDP backends, what each is for, and whether it is installed.

Exit status: 0 when every bound asked for is certified, 1 when one is not, 2 for a usage or
input error (one line ``lipsdp: error: ...`` on stderr). Progress goes to stderr: a status
line when stderr is a terminal (not with ``--quiet``), one line per solver iteration in the
bound's units with ``-v``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import itertools
import json
import logging
import math
import re
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import lipsdp_solvers as solvers
from lipsdp_solvers import registry

from . import progress
from .api import MULTIPLIERS, VARIANTS, solve
from .bracketing import bracket
from .certificate_io import read_certificate, weights_digest, write_certificate
from .certify import certify
from .closed_form import CLOSED_FORM_METHODS, closed_form
from .io import example_network, load
from .network import Network
from .result import LipschitzResult
from .solver_choice import (
    DENSE_AUTO_MAX_BLOCKS,
    DENSE_AUTO_MAX_SIDE,
    DENSE_AUTO_MAX_SIDE_FEW_BLOCKS,
    choose_solver,
)

SDP_METHOD = "lipsdp"
METHODS = (SDP_METHOD, *CLOSED_FORM_METHODS)

#: ``--activation NAME``: slope bounds ``(alpha, beta)`` of each activation's derivative
#: (docs/math.md §1; leaky ReLU with PyTorch's default negative slope 0.01, ELU with alpha 1).
ACTIVATION_SLOPES: dict[str, tuple[float, float]] = {
    "relu": (0.0, 1.0),
    "leaky_relu": (0.01, 1.0),
    "tanh": (0.0, 1.0),
    "sigmoid": (0.0, 0.25),
    "elu": (0.0, 1.0),
    "softplus": (0.0, 1.0),
}

#: ``lipsdp compare`` runs the SDP methods whose LMI side (``Network.solved_size``; a stage's or
#: a block's for the decomposed variants) is at most this (``--max-side``): the structured
#: interior-point backends ``auto`` picks take seconds up to about this side (measured 16 s for
#: the side-1200 MNIST network, lipsdp/solver_choice.py) ...
COMPARE_MAX_SIDE = 1200
#: ... and a dense-cone backend (Clarabel, ``auto``'s choice for ``variant="chordal"``) only
#: while the sum over its cones of side^4 stays below this: its time and memory grow about so
#: (measured on 2 loaded cores, 2026-12-07, chordal with Clarabel: cliques of side 32+32 (1e6 each)
#: 0.4 s and 19 MiB; 64+64 (64-32-32-10, 3.4e7) 8.7 s and 300 MiB; one of 96 (8.5e7) 15.8 s and
#: 390 MiB; nine of 64 (MNIST 784-32x9-10, 1.5e8) 62 s and 1.8 GiB): about 5 s.
COMPARE_DENSE_BUDGET = 2e7
#: Backends whose PSD cones are dense (their scaling matrices have (side (side + 1) / 2)^2
#: entries).
DENSE_BACKENDS = ("clarabel", "scs")

#: ``lipsdp certify``: a re-check proves the saved claim when its value is at most the saved
#: value this much above it, relatively (the proof's bisection may end an ulp or so apart on
#: another machine's BLAS).
CERTIFY_RTOL = 1e-9

#: ``lipsdp solvers``: what each registered backend is for (its capabilities are added from
#: the registry's spec).
BACKEND_PURPOSE = {
    "banded-ipm": "interior point on the LMI's block-tridiagonal (chordal) structure: large and "
                  f"deep networks (auto's choice beyond side {DENSE_AUTO_MAX_SIDE}, or "
                  f"{DENSE_AUTO_MAX_SIDE_FEW_BLOCKS} with at most {DENSE_AUTO_MAX_BLOCKS} "
                  "blocks)",
    "lowrank-ipm": "dense interior point using the rank-2 structure of the coefficients: small "
                   f"and medium LMIs (auto's choice up to side {DENSE_AUTO_MAX_SIDE}, or "
                   f"{DENSE_AUTO_MAX_SIDE_FEW_BLOCKS} with at most {DENSE_AUTO_MAX_BLOCKS} "
                   "blocks)",
    "clarabel": "general conic interior point (Rust), dense PSD cones: variant chordal's "
                "auto choice, small LMIs (memory grows as side^4)",
    "scs": "first-order splitting (ADMM), dense PSD cones: modest accuracy, warm starts",
}


class _UsageError(Exception):
    """A command-line usage error (argparse's), reported as one line with exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(f"{message} (see '{self.prog} --help')")


def _installed_version() -> str:
    """The installed distribution's version, else the package's ``__version__`` (a source tree
    on ``sys.path`` without an install), else ``"unknown"``."""
    try:
        return importlib.metadata.version("lipsdp")
    except importlib.metadata.PackageNotFoundError:
        import lipsdp

        return getattr(lipsdp, "__version__", "unknown")


# --- arguments --------------------------------------------------------------------------------


def _add_output_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="log to stderr, with one line per solver iteration in the bound's "
                        "units (sqrt(rho); backends banded-ipm and lowrank-ipm), per block of "
                        "variant split and per stage of sequential")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no progress display and no notes on stderr (errors only)")


def _add_network_args(p: argparse.ArgumentParser, *, file_required: bool = False) -> None:
    if file_required:
        p.add_argument("file", help=".npz or .mat weights")
    else:
        p.add_argument("file", nargs="?", help=".npz or .mat weights (default: the bundled "
                                               "example)")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--slopes", nargs=2, type=float, metavar=("ALPHA", "BETA"),
                       action="append",
                       help="slope bounds of the activation: once for every hidden layer, or "
                            "once per hidden layer in order (default 0 1, ReLU)")
    group.add_argument("--activation", metavar="NAME",
                       help="the activation of every hidden layer, by name: "
                            f"{', '.join(ACTIVATION_SLOPES)} (sets the slopes)")
    _add_output_args(p)


def _add_solver_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--solver", default="auto",
                   help="auto (lowrank-ipm for small LMIs, else banded-ipm), banded-ipm, "
                        "lowrank-ipm, clarabel, scs or cvxpy:<NAME> (see 'lipsdp solvers')")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lipsdp",
        description="Certified upper bounds on the l2 Lipschitz constant of feed-forward networks.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_installed_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = sub.add_parser("solve", help="bound the Lipschitz constant of a network")
    _add_network_args(s)
    s.add_argument("--variant", default="full", choices=sorted(VARIANTS))
    s.add_argument("--multipliers", default="neuron", choices=MULTIPLIERS)
    _add_solver_arg(s)
    s.add_argument("--split", type=int, metavar="K",
                   help="variant split: blocks of K consecutive weight matrices")
    s.add_argument("--cuts", type=int, nargs="+", metavar="J",
                   help="variant split: cut at these hidden layers (1..l, increasing)")
    s.add_argument("--clique-size", type=int, metavar="K",
                   help="variant chordal: consecutive layer blocks per clique (default 2)")
    s.add_argument("--n-jobs", type=int, metavar="N",
                   help="variant split: parallel joblib workers (-1: all cores)")
    s.add_argument("--method", action="append", choices=METHODS, dest="methods",
                   help="methods to run (repeatable; default: lipsdp, eclipse-fast, naive)")
    s.add_argument("--time-limit", type=float, metavar="SECONDS",
                   help="wall-clock limit for the whole solve; on expiry the best bound proved "
                        "by then (a closed form at least), status time_limit")
    s.add_argument("--max-memory", metavar="SIZE",
                   help="peak memory the solve may use (e.g. 8GB; default 80%% of the available "
                        "memory): a path estimated above it is refused, auto picks one that fits")
    s.add_argument("--save-certificate", metavar="PATH",
                   help="write the tightest certified bound's exact certificate (.npz) for "
                        "'lipsdp certify'")

    c = sub.add_parser("compare", help="every method that fits the size, in one table")
    _add_network_args(c)
    c.add_argument("--max-side", type=int, default=COMPARE_MAX_SIDE, metavar="N",
                   help="skip SDP methods whose LMI side exceeds N (default "
                        f"{COMPARE_MAX_SIDE}; dense-cone backends: sum of cone side^4 at most "
                        f"{COMPARE_DENSE_BUDGET:.2g})")

    b = sub.add_parser("bracket", help="a proved lower and upper bound and their gap")
    _add_network_args(b)
    _add_solver_arg(b)
    b.add_argument("--no-solve", action="store_true",
                   help="closed-form upper bound only (no SDP solve)")

    k = sub.add_parser("certify", help="re-check a certificate saved by solve --save-certificate")
    _add_network_args(k, file_required=True)
    k.add_argument("certificate", metavar="CERT", help="certificate file (.npz)")

    v = sub.add_parser("solvers", help="the SDP backends: what each is for, whether installed")
    v.add_argument("--json", action="store_true", help="print JSON instead of a table")
    v.add_argument("--names", action="store_true",
                   help="only the installed backends' names, one per line")
    return parser


# --- loading ----------------------------------------------------------------------------------


def _slopes(args: argparse.Namespace, n_hidden: int) -> list[tuple[float, float]] | None:
    """The slopes the command line asks for (None: not given)."""
    if getattr(args, "activation", None) is not None:
        name = args.activation.lower().replace("-", "_")
        if name not in ACTIVATION_SLOPES:
            raise ValueError(f"--activation is {args.activation!r}; expected one of "
                             f"{', '.join(ACTIVATION_SLOPES)}")
        return [ACTIVATION_SLOPES[name]] * n_hidden
    given = getattr(args, "slopes", None)
    if not given:
        return None
    pairs = [(float(a), float(b)) for a, b in given]
    if len(pairs) == 1:
        return pairs * n_hidden
    if len(pairs) != n_hidden:
        raise ValueError(f"--slopes is given {len(pairs)} times; expected once (every hidden "
                         f"layer) or {n_hidden} times (one per hidden layer)")
    return pairs


def _load(args: argparse.Namespace,
          default_slopes: Sequence[tuple[float, float]] | None = None) -> tuple[Network, str]:
    """The network the command line names, and how to call it (the one place that loads).

    The file's own slopes (ReLU for weight files) unless ``--slopes``/``--activation`` are
    given, or else ``default_slopes``."""
    net = load(args.file) if args.file else example_network()
    source = args.file or "bundled example"
    slopes = _slopes(args, net.n_hidden)
    if slopes is None and default_slopes is not None:
        slopes = list(default_slopes)
    if slopes is not None:
        net = Network(net.weights, slopes)
    return net, source


def _activation_name(args: argparse.Namespace) -> str | None:
    """The activation for the Jacobian lower bound (``--activation``; else the default for
    ReLU and leaky-ReLU slopes)."""
    name = getattr(args, "activation", None)
    return None if name is None else name.lower().replace("-", "_")


# --- progress ---------------------------------------------------------------------------------


def _ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _g(x: float | None, digits: int = 10) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}g}"


class _Progress:
    """Progress on stderr: ``"log"`` one line per event (``-v``), ``"line"`` a status line
    rewritten in place (a terminal), ``"off"`` nothing."""

    def __init__(self, mode: str, stream=None):
        self.mode, self.stream = mode, stream if stream is not None else sys.stderr
        self.label = ""
        self.shown = False

    @classmethod
    def for_args(cls, args: argparse.Namespace) -> _Progress:
        if getattr(args, "verbose", False):
            return cls("log")
        stream = sys.stderr
        tty = getattr(stream, "isatty", None)
        if getattr(args, "quiet", False) or not (tty is not None and tty()):
            return cls("off")
        return cls("line")

    def run(self, label: str, fn: Callable[[], object]) -> object:
        """``fn()`` with its progress events shown under ``label``."""
        self.label = label
        if self.mode == "off":
            return fn()
        self._show(f"{label} ...")
        try:
            with progress.reporting(self):
                return fn()
        finally:
            self._clear()

    def __call__(self, event: dict) -> None:
        kind = event["event"]
        if kind == "iteration":
            text = (f"it {event['iteration']:3d}  sqrt(rho) {_g(event['primal'])}  "
                    f"dual {_g(event['dual'])}  gap {event['gap']:.2e}  "
                    f"pinf {event['pinf']:.2e}  dinf {event['dinf']:.2e}  "
                    f"certified <= {_g(event['certified'])}")
        elif kind == "block":
            text = (f"block {event['index'] + 1}/{event['total']} done: "
                    f"{_g(event['value'])} (certified {event['certified']})")
        elif kind == "stage":
            text = f"stage {event['index']}/{event['total']} done ({event['how']})"
        else:
            text = kind
        self._show(f"{self.label}: {text}")

    def _show(self, text: str) -> None:
        if self.mode == "log":
            print(f"lipsdp: {text}", file=self.stream, flush=True)
        elif self.mode == "line":
            print(f"\r\x1b[K{text}", end="", file=self.stream, flush=True)
            self.shown = True

    def _clear(self) -> None:
        if self.mode == "line" and self.shown:
            print("\r\x1b[K", end="", file=self.stream, flush=True)
            self.shown = False


def _note(args: argparse.Namespace, text: str) -> None:
    if not getattr(args, "quiet", False):
        print(f"lipsdp: {text}", file=sys.stderr)


# --- memory -----------------------------------------------------------------------------------


def _proc_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            match = re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) if match else None


def _can_reset_peak_rss() -> bool:
    """Whether Linux lets this process reset its peak RSS (``/proc/self/clear_refs``, 5)."""
    if _proc_kib("VmHWM") is None:
        return False
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def _release_free_memory() -> None:
    """Return the allocator's free memory to the system (glibc ``malloc_trim``), so that what a
    method allocates raises the RSS instead of reusing pages an earlier method freed (measured:
    Clarabel's chordal solve of the bundled example, 34 MiB each time with it, 37, 17 and 2 MiB
    on three runs without)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class _Meter:
    """Peak memory of one call. Where Linux allows it, the increase of the process's peak
    resident set size over its size before the call (free memory is returned to the system and
    the peak reset first, so each method is measured on its own; it counts everything: NumPy,
    BLAS/LAPACK workspaces, compiled solvers such as Clarabel, whose Rust heap tracemalloc does
    not see: 34 MiB against tracemalloc's 0.2 MiB for the bundled example's chordal solve);
    elsewhere the peak of Python-allocated memory (tracemalloc, which tracks NumPy's
    arrays but not memory allocated inside compiled solvers or BLAS)."""

    def __init__(self) -> None:
        self.rss = _can_reset_peak_rss()
        self.label = "peak RSS +MiB" if self.rss else "py-heap MiB"
        self.description = (
            "increase of the process's peak resident set size during the method (Linux "
            "/proc/self/clear_refs), MiB" if self.rss else
            "peak of Python-allocated memory during the method (tracemalloc; NumPy arrays "
            "included, memory inside compiled solvers and BLAS not), MiB")

    def measure(self, fn: Callable[[], object]) -> tuple[object, float]:
        if self.rss:
            _release_free_memory()
            before = _proc_kib("VmRSS") or 0
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            out = fn()
            peak = _proc_kib("VmHWM") or before
            return out, max(peak - before, 0) / 1024.0
        started = not tracemalloc.is_tracing()
        if started:
            tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            out = fn()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            if started:
                tracemalloc.stop()
        return out, max(peak - base, 0) / 2**20


# --- output helpers ---------------------------------------------------------------------------


def _name(r: LipschitzResult) -> str:
    return r.method + (f" ({r.solver})" if r.solver else "")


def _value(x: float | None) -> str:
    return "nan" if x is None or math.isnan(x) else f"{x:.10g}"


def _header(net: Network, source: str) -> str:
    solved = (f"LMI side {net.solved_size}" if net.solved_size == net.lmi_size else
              f"LMI side {net.solved_size} (input compressed; {net.lmi_size} uncompressed)")
    return f"network {source}: {net!r}, {solved}"


def _network_json(net: Network, source: str) -> dict:
    return {"file": source, "widths": list(net.widths), "slopes": [list(s) for s in net.slopes]}


def _finite(x: float) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _columns(header: list[str], rows: list[list[str]], left: tuple[int, ...]) -> list[str]:
    """``header``, a dashed rule and ``rows``, in columns as wide as their widest cell, two
    spaces apart; the columns in ``left`` left-aligned, the others right-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    head = line(header)
    return [head, "-" * len(head), *(line(r) for r in rows)]


def _table(net: Network, source: str, results: list[LipschitzResult]) -> str:
    lines = [_header(net, source)]
    width = max(len("method"), *(len(_name(r)) for r in results)) + 2
    header = f"{'method':<{width}}{'value':>16}  {'certified':<10}{'time [s]':>10}  status"
    lines += [header, "-" * len(header)]
    for r in results:
        lines.append(
            f"{_name(r):<{width}}{_value(r.value):>16}  {r.certified!s:<10}{r.total_time:>10.3f}"
            f"  {r.summary}"
        )
    return "\n".join(lines)


# --- commands ---------------------------------------------------------------------------------


def _variant_options(args: argparse.Namespace) -> dict:
    """The variant options given on the command line (the variant rejects those it lacks)."""
    given = {"split": args.split, "cuts": args.cuts, "clique_size": args.clique_size,
             "n_jobs": args.n_jobs}
    return {key: value for key, value in given.items() if value is not None}


def _check_solver(name: str) -> None:
    if name != "auto":
        solvers.check_solver(name)


def _gap(upper: float, lower: float) -> float:
    """``upper / lower - 1``, as :class:`~lipsdp.BracketResult` defines it (0 for a proved 0,
    ``inf`` above a zero lower bound)."""
    if lower > 0:
        return upper / lower - 1.0
    return 0.0 if upper <= 0 else math.inf


def _tightest(results: list[LipschitzResult]) -> LipschitzResult | None:
    certified = [r for r in results if r.certified]
    return min(certified, key=lambda r: r.value) if certified else None


def _cmd_solve(args: argparse.Namespace, show: _Progress) -> int:
    net, source = _load(args)
    _check_solver(args.solver)
    methods = args.methods or [SDP_METHOD, "eclipse-fast", "naive"]
    results = []
    for method in dict.fromkeys(methods):
        if method == SDP_METHOD:
            results.append(show.run(
                f"lipsdp-{args.multipliers} ({args.variant})",
                lambda: solve(net, variant=args.variant, multipliers=args.multipliers,
                              solver=args.solver, time_limit=args.time_limit,
                              max_memory=args.max_memory, **_variant_options(args))))
        elif method == "eclipse-fast" and any(a * b < 0 or a + b == 0 for a, b in net.slopes):
            if args.methods:  # asked for explicitly: let the error explain why
                results.append(closed_form(net, method))
        else:
            results.append(closed_form(net, method))
    written = None
    if args.save_certificate:
        with_cert = [r for r in results if r.certified and r.certificate is not None]
        best = _tightest(with_cert) or next(iter(results))
        written = write_certificate(args.save_certificate, net, best, _installed_version())
        _note(args, f"certificate of {_name(best)} ({_value(best.value)}) written to {written}")
    if args.json:
        tightest = _tightest(results)
        payload = {
            "network": _network_json(net, source),
            "value": tightest.value if tightest else None,
            "results": [r.to_dict() for r in results],
        }
        if written is not None:
            payload["certificate_file"] = str(written)
        if len(results) == 1:
            payload = {**payload, **results[0].to_dict()}
        print(json.dumps(payload, indent=2))
    else:
        print(_table(net, source, results))
    return 0 if all(r.certified for r in results) else 1


@dataclass
class _Row:
    label: str
    result: LipschitzResult
    memory: float


def _compare_plan(net: Network, max_side: int) -> tuple[list[tuple[str, Callable]], list]:
    """The methods ``compare`` runs on ``net`` (label, call) and those it skips (label, why)."""
    runs: list[tuple[str, Callable]] = []
    skipped: list[tuple[str, str]] = []
    side, l = net.solved_size, net.n_hidden
    blocks = [min(net.widths[0], net.widths[1]), *net.hidden_widths] if l else [side]
    for mult in MULTIPLIERS:
        label = f"lipsdp-{mult} full"
        if side > max_side:
            skipped.append((label, f"LMI side {side} > --max-side {max_side}"))
        else:
            runs.append((label, lambda m=mult: solve(net, multipliers=m)))
    if l >= 2:
        cliques = [a + b for a, b in itertools.pairwise(blocks)]
        backend = choose_solver(net, "chordal", side=max(cliques), blocks=2)
        cost = float(sum(float(c) ** 4 for c in cliques))
        if backend in DENSE_BACKENDS and cost > COMPARE_DENSE_BUDGET:
            skipped.append(("lipsdp-neuron chordal",
                            f"{backend}'s dense cones: sum of clique side^4 = {cost:.2g} > "
                            f"{COMPARE_DENSE_BUDGET:.2g} (about 5 s; see lipsdp.cli)"))
        elif max(cliques) > max_side:
            skipped.append(("lipsdp-neuron chordal",
                            f"clique side {max(cliques)} > --max-side {max_side}"))
        else:
            runs.append(("lipsdp-neuron chordal", lambda: solve(net, variant="chordal")))
        part = max(min(net.widths[a], net.widths[a + 1]) + net.widths[a + 1]
                   for a in range(0, len(net.weights) - 1, 2))
        if part > max_side:
            skipped.append(("lipsdp-neuron split", f"block LMI side {part} > --max-side "
                                                    f"{max_side}"))
        else:
            runs.append(("lipsdp-neuron split", lambda: solve(net, variant="split", split=2)))
    else:
        skipped.append(("lipsdp chordal, split", f"{l} hidden layer(s): the same LMI as full"))
    if l:
        stage = max(a + b for a, b in itertools.pairwise(blocks))
        for mult in MULTIPLIERS:
            label = f"lipsdp-{mult} sequential"
            if stage > max_side:
                skipped.append((label, f"stage LMI side {stage} > --max-side {max_side}"))
            else:
                runs.append((label, lambda m=mult: solve(net, variant="sequential",
                                                          multipliers=m)))
    for method in CLOSED_FORM_METHODS:
        runs.append((method, lambda m=method: closed_form(net, m)))
    return runs, skipped


def _import_backends() -> None:
    """Import the installed registered backends and the solvers they wrap."""
    for name in ("banded-ipm", "lowrank-ipm", "clarabel", "scs"):
        if registry.is_installed(name):
            spec = registry.get_spec(name)
            for module in (spec.module, *spec.requires):
                importlib.import_module(module)


def _cmd_compare(args: argparse.Namespace, show: _Progress) -> int:
    net, source = _load(args)
    if args.max_side < 1:
        raise ValueError(f"--max-side is {args.max_side}; expected a positive integer")
    runs, skipped = _compare_plan(net, args.max_side)
    _import_backends()  # so that no method's time and memory include a first import
    meter = _Meter()
    br = bracket(net, activation=_activation_name(args))
    rows: list[_Row] = []
    for label, call in runs:
        try:
            res, mem = meter.measure(lambda c=call, lab=label: show.run(lab, c))
        except ValueError as exc:  # a closed form undefined for these slopes
            skipped.append((label, str(exc)))
            continue
        rows.append(_Row(label, res, mem))
    tightest = _tightest([r.result for r in rows])
    best = tightest.value if tightest else math.nan
    # The network's lower bound on the LipSDP-Neuron optimum, below every certified value here
    # (each is a feasible point of that LMI, or a product above one): the bracket's, or the
    # full LipSDP-Neuron solve's dual bound (docs/math.md §6) where larger.
    net_lower, net_lower_method = br.lower, br.lower_method
    for row in rows:
        r = row.result
        if (r.method == "lipsdp-neuron" and r.variant == "full" and r.certified
                and math.isfinite(r.lower_bound) and r.lower_bound > net_lower):
            net_lower, net_lower_method = r.lower_bound, f"dual of {row.label} ({r.solver})"
    out = []
    for row in rows:
        r = row.result
        own = math.isfinite(r.lower_bound)
        lower = r.lower_bound if own else net_lower
        gap = _gap(r.value, lower) if r.certified else math.nan
        ratio = r.value / best if r.certified and best > 0 else math.nan
        out.append({**r.to_dict(), "label": row.label, "ratio": _finite(ratio),
                    "lower": _finite(lower), "lower_is_own": own, "gap": _finite(gap),
                    "peak_memory_mib": row.memory})
    if args.json:
        print(json.dumps({
            "network": _network_json(net, source),
            "value": _finite(best),
            "lower_bound": net_lower, "lower_bound_method": net_lower_method,
            "lower_bound_true": _finite(br.lower_true),
            "memory": meter.description,
            "results": out,
            "skipped": [{"method": m, "reason": why} for m, why in skipped],
        }, indent=2))
    else:
        lines = [_header(net, source),
                 f"proved lower bound on the LipSDP optimum: {_value(net_lower)} "
                 f"({net_lower_method}); on the true L: {_value(br.lower_true)} "
                 "(sampled Jacobian)"]
        cells = [[o["label"], o["solver"] or "-", _value(o["value"]), _ratio(o["ratio"]),
                  _value(o["lower"]) + ("*" if o["lower_is_own"] else " "), _g(o["gap"], 3),
                  str(o["certified"]), f"{o['total_time']:.3f}",
                  f"{o['peak_memory_mib']:.1f}", o["status"]] for o in out]
        lines += _columns(["method", "solver", "value", "ratio", "lower ", "gap", "cert",
                           "time [s]", meter.label, "status"], cells, left=(0, 1, 6, 9))
        lines.append("lower: the method's own proved (dual) lower bound on its formulation's "
                     "optimum where marked *, else the network's; gap = value / lower - 1")
        lines.append(f"memory: {meter.description}")
        lines += [f"skipped {m}: {why}" for m, why in skipped]
        print("\n".join(lines))
    return 0 if all(row.result.certified for row in rows) else 1


def _cmd_bracket(args: argparse.Namespace, show: _Progress) -> int:
    net, source = _load(args)
    _check_solver(args.solver)
    do_solve = not args.no_solve and net.solved_size <= COMPARE_MAX_SIDE
    if not args.no_solve and not do_solve:
        _note(args, f"LMI side {net.solved_size} > {COMPARE_MAX_SIDE}: closed-form upper bound "
                    "only")
    br = show.run("bracket", lambda: bracket(net, solve=do_solve, solver=args.solver,
                                             activation=_activation_name(args)))
    upper = br.upper_result
    # The solve's own dual lower bound (docs/math.md §6) bounds the same LipSDP-Neuron optimum
    # and is usually far tighter than the slope-class one.
    lower, lower_method = br.lower, br.lower_method
    if (upper.method == "lipsdp-neuron" and math.isfinite(upper.lower_bound)
            and upper.lower_bound > lower):
        lower, lower_method = upper.lower_bound, f"dual of {br.upper_method}"
    gap = _gap(br.upper, lower)
    if args.json:
        print(json.dumps({
            "network": _network_json(net, source),
            "lower": lower, "lower_method": lower_method,
            "lower_true": _finite(br.lower_true),
            "upper": br.upper, "upper_method": br.upper_method,
            "gap": _finite(gap), "certified": upper.certified,
            "lower_bound": lower, "value": _finite(br.upper),
            "upper_result": upper.to_dict(), "total_time": br.total_time,
        }, indent=2))
    else:
        print("\n".join([
            _header(net, source),
            f"lower  {_value(lower):>16}  proved lower bound on the LipSDP optimum "
            f"({lower_method})",
            f"upper  {_value(br.upper):>16}  certified upper bound on L ({br.upper_method})",
            f"gap    {_g(gap, 4):>16}  upper / lower - 1",
            f"true L >= {_value(br.lower_true)} (sampled Jacobian); time {br.total_time:.3f} s",
        ]))
    return 0 if upper.certified else 1


def _cmd_certify(args: argparse.Namespace, show: _Progress) -> int:
    saved = read_certificate(args.certificate)
    net, source = _load(args, default_slopes=saved.slopes)
    if tuple(net.widths) != saved.widths:
        raise ValueError(
            f"{args.certificate} is for a network of widths "
            f"{'-'.join(map(str, saved.widths))}; {source} has "
            f"{'-'.join(map(str, net.widths))}")
    if weights_digest(net) != saved.weights_sha256:
        _note(args, f"{args.certificate} was computed for other weights of the same widths; "
                    f"re-checking it for {source}")
    if tuple(net.slopes) != saved.slopes:
        _note(args, f"{args.certificate} was computed for slopes {list(saved.slopes)}; "
                    f"re-checking it for {list(net.slopes)}")
    res = show.run("certify", lambda: certify(net, saved.certificate))
    # The certificate must prove what it claims: any nonnegative multipliers prove *some*
    # bound (a weaker one when scaled down), so the proved value is held against the saved one.
    holds = res.certified and res.value <= saved.value * (1.0 + CERTIFY_RTOL)
    if args.json:
        print(json.dumps({
            "network": _network_json(net, source), "certificate_file": args.certificate,
            "saved": {"value": saved.value, "method": saved.method, "variant": saved.variant,
                      "solver": saved.solver, "lipsdp_version": saved.lipsdp_version},
            **res.to_dict(), "proves_saved_value": holds,
        }, indent=2))
    else:
        what = ", ".join(x for x in (saved.method, saved.variant, saved.solver) if x)
        lines = [_header(net, source),
                 f"certificate {args.certificate} ({what}; saved value "
                 f"{_value(saved.value)}, lipsdp {saved.lipsdp_version})"]
        if holds:
            lines.append(f"proved: L <= {_value(res.value)}")
        elif res.certified:
            lines.append(f"not proved: the certificate proves only L <= {_value(res.value)}, "
                         f"above its saved value {_value(saved.value)}")
        else:
            lines.append(f"not proved: {res.summary}")
        print("\n".join(lines))
    return 0 if holds else 1


def _cmd_solvers(args: argparse.Namespace) -> int:
    if args.names:
        print("\n".join(solvers.available()))
        return 0
    rows = []
    for name in registry.known():
        caps = registry.capabilities(name)
        installed = registry.is_installed(name)
        try:
            spec, hint = registry.get_spec(name), None
        except solvers.SolverNotInstalledError as exc:  # says what to install
            spec, hint = None, str(exc).split("fix: ", 1)[-1]
        cvxpy_name = name.split(":", 1)[1] if name.startswith("cvxpy:") else None
        extras = [what for flag, what in ((caps.callback, "anytime certified iterates, gap_tol"),
                                          (caps.warm_start, "warm start")) if flag]
        purpose = BACKEND_PURPOSE.get(name) or (
            f"{cvxpy_name} through cvxpy (any SDP solver cvxpy drives; slower setup)"
            if cvxpy_name else f"registered backend ({spec.module if spec else name})")
        rows.append({"name": name, "installed": installed, "install": hint,
                     "purpose": purpose + (f"; {', '.join(extras)}" if extras else "")})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["name"]) for r in rows) + 2
    lines = []
    for r in rows:
        mark = "installed" if r["installed"] else "missing"
        lines.append(f"{r['name']:<{width}}{mark:<11}{r['purpose']}")
        if not r["installed"]:
            lines.append(f"{'':<{width + 11}}install: {r['install']}")
    print("\n".join(lines))
    return 0


_COMMANDS = {"solve": _cmd_solve, "compare": _cmd_compare, "bracket": _cmd_bracket,
             "certify": _cmd_certify}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (0: every bound asked for is certified; 1:
    one is not; 2: a usage or input error, reported in one line on stderr)."""
    try:
        args = _parser().parse_args(argv)
    except _UsageError as exc:
        print(f"lipsdp: error: {exc}", file=sys.stderr)
        return 2
    if args.command == "solvers":
        return _cmd_solvers(args)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    start = time.perf_counter()
    try:
        code = _COMMANDS[args.command](args, _Progress.for_args(args))
    except (ValueError, TypeError, OSError) as exc:  # OSError: a file that cannot be written
        print(f"lipsdp: error: {exc}", file=sys.stderr)
        return 2
    logging.getLogger(__name__).info("%s took %.3f s", args.command,
                                     time.perf_counter() - start)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
