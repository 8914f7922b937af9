"""Scalability of the LipSDP variants and closed forms (issue #3), under time and memory budgets.

For a grid of seeded random ReLU networks (``depth`` hidden layers of ``width`` neurons, input
``width``, output 5), the bundled example network and one 20 x 100 network, every variant of
``lipsdp.solve`` (``full``, ``chordal``, ``split``, ``sequential``) runs with every installed
backend (``solvers.available()`` less the ``cvxpy:*`` duplicates of native ones), and every
closed form (``lipsdp.CLOSED_FORM_METHODS``) runs once. Each run has its own forked process,
killed when it exceeds the wall-time budget (status ``timeout``) or when its process tree's
resident memory exceeds the memory budget (status ``memory``); such runs are recorded, not
dropped. With Clarabel, widths above 60 are skipped (its dense PSD scaling block makes them
minutes long; status ``skipped``). The 20 x 100 network runs only with the fastest backend.

Written to ``--out`` (default ``experiments/results/``): ``scalability.csv`` (one row per run),
``scalability.png`` (value relative to the tightest certified value on that network, wall time and
peak memory against the number of hidden neurons); with ``--png`` a copy of the figure (default
``docs/scalability.png``). A summary table and the issue's checks (chordal against full at depth
>= 8; split on the 20 x 100 network against full; how often sequential is looser than
ECLipsE-Fast) are printed.

Run ``python experiments/scalability.py --quick`` (small grid, under 3 minutes on 2 cores) or
without ``--quick`` (the whole grid; about an hour on 2 cores at the default budgets).
Uses only the public API of ``lipsdp`` and ``solvers``.
"""

from __future__ import annotations

import argparse
import csv
import math
import multiprocessing as mp
import os
import resource
import time
import traceback
from pathlib import Path

import lipsdp
import lipsdp_solvers as solvers

from common import deep_widths, gaussian_network, save_figure

#: Faster backends first: the one that runs the 20 x 100 network is the first installed.
FASTEST_FIRST = ("banded-ipm", "lowrank-ipm", "cvxpy:CVXOPT", "cvxpy:MOSEK", "scs", "clarabel")
CLARABEL_MAX_WIDTH = 60
#: With --quick, only these closed forms (where they exist); ``best`` is the family's minimum.
QUICK_CLOSED_FORMS = ("naive", "eclipse-fast", "best")
BIG = ("20x100", 20, 100)


#: Clarabel decomposes a sparse PSD cone into cliques itself (``chordal_decomposition_enable``,
#: on by default), so its "full" run is already chordal inside; this run switches that off to
#: show the dense full LMI.
NODECOMP = ("full-nodecomp", "full", {"options": {"chordal_decomposition_enable": False}})


def variant_runs(quick: bool) -> list[tuple[str, str, dict]]:
    """(label, variant, options) of the SDP runs (``full-nodecomp`` is Clarabel's only)."""
    runs = [
        ("full", "full", {}),
        NODECOMP,
        ("chordal", "chordal", {"clique_size": 2}),
        ("split-2", "split", {"split": 2}),
        ("sequential", "sequential", {}),
    ]
    if not quick:
        runs.insert(3, ("split-4", "split", {"split": 4}))
    return runs


def backends() -> list[str]:
    names = solvers.available()
    native = {n.lower() for n in names if not n.startswith("cvxpy:")}
    return [n for n in names if not (n.startswith("cvxpy:") and n[6:].lower() in native)]


def random_network(depth: int, width: int, seed: int) -> lipsdp.Network:
    """Input ``width``, ``depth`` hidden layers of ``width``, 5 outputs; seeded weights."""
    return gaussian_network(deep_widths(width, width, depth, 5), seed)


# --- one run in its own process ---------------------------------------------------------------
def _child(net: lipsdp.Network, label: str, variant: str | None, backend: str | None,
           options: dict, conn) -> None:
    out: dict = {}
    try:
        start = time.perf_counter()
        if variant is None:
            res = lipsdp.closed_form(net, label)
        else:
            if variant == "split":  # two workers pay off once the blocks are large
                options = {**options, "n_jobs": 2 if net.n_neurons >= 500 else 1}
            res = lipsdp.solve(net, variant=variant, solver=backend, **options)
        out.update(
            wall_s=time.perf_counter() - start,
            solve_s=res.solve_time,
            value=res.value,
            certified=res.certified,
            status="ok" if res.certified else "failed",
            note=res.status if res.certified else res.status[:120],
        )
        if variant == "sequential":
            out["note"] += f"; fallback stages {res.info.get('fallback_stages')}"
        if variant == "split":
            out["note"] += f"; certified by {res.info.get('certified_by')}"
    except MemoryError:
        out.update(status="memory", note="MemoryError")
    except Exception as exc:  # noqa: BLE001 - a benchmark records every failure as data
        out.update(status="error", note=f"{type(exc).__name__}: {str(exc)[:100]}")
        traceback.print_exc()
    out["peak_mb_self"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    conn.send(out)
    conn.close()
    # multiprocessing's exit handler joins child processes, and joblib's reusable loky workers
    # (split's n_jobs) stay alive for reuse: shut them down (they are this run's) first.
    try:
        from joblib.externals.loky import get_reusable_executor

        get_reusable_executor().shutdown(wait=True)
    except Exception:  # noqa: BLE001 - best effort; anything left is killed below
        pass
    for pid in _children(os.getpid()):
        _kill(pid)


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (psutil if installed, else /proc)."""
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        try:
            proc = psutil.Process(pid)
            procs = [proc, *proc.children(recursive=True)]
            total = 0
            for p in procs:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            return total / 2**20
        except psutil.Error:
            return 0.0
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_one(net, label, variant, backend, options, seconds: float, megabytes: float) -> dict:
    # A fresh process from a fork server that has imported lipsdp: cheap to start, and free of
    # this process's state.
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["lipsdp", "lipsdp_solvers"])
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(net, label, variant, backend, options, send))
    start = time.perf_counter()
    proc.start()
    send.close()
    peak, status, out = 0.0, None, None
    while True:
        if recv.poll(0.05):
            try:
                out = recv.recv()
            except EOFError:
                out = None
            break
        if not proc.is_alive():
            break
        peak = max(peak, _tree_rss_mb(proc.pid))
        if peak > megabytes:
            status = "memory"
            break
        if time.perf_counter() - start > seconds:
            status = "timeout"
            break
    wall = time.perf_counter() - start
    if status is not None:
        for child in _children(proc.pid):
            _kill(child)
        proc.kill()
    proc.join(10)
    if proc.is_alive():
        proc.kill()
        proc.join()
    if out is None:
        out = {"status": status or "error",
               "note": f"killed: > {seconds:g} s" if status == "timeout"
               else f"killed: > {megabytes:g} MB" if status == "memory"
               else f"exit code {proc.exitcode}",
               "wall_s": wall}
    out["peak_mb"] = max(peak, out.pop("peak_mb_self", 0.0))
    return out


def _children(pid: int) -> list[int]:
    try:
        import psutil

        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except Exception:  # noqa: BLE001 - best effort: no psutil or the process is gone
        return []


def _kill(pid: int) -> None:
    try:
        os.kill(pid, 9)
    except OSError:
        pass


# --- the grid ---------------------------------------------------------------------------------
def networks(quick: bool) -> list[tuple[str, int, int, lipsdp.Network]]:
    depths, widths = ((2, 8), (10, 20)) if quick else ((2, 4, 8, 16), (10, 20, 40, 60))
    nets = [("example", 3, 16, lipsdp.example_network())]
    for depth in depths:
        for width in widths:
            nets.append((f"{depth}x{width}", depth, width,
                         random_network(depth, width, seed=1000 * depth + width)))
    name, depth, width = BIG
    nets.append((name, depth, width, random_network(depth, width, seed=1000 * depth + width)))
    return nets


FIELDS = ["network", "depth", "width", "n_neurons", "lmi_side", "method", "variant", "backend",
          "status", "certified", "value", "rel_to_best", "wall_s", "solve_s", "peak_mb", "note"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small grid (< 3 min on 2 cores)")
    parser.add_argument("--budget-seconds", type=float, default=None,
                        help="wall-time budget per run (default 60; 15 with --quick)")
    parser.add_argument("--budget-mb", type=float, default=8000.0,
                        help="memory budget per run, resident MB of its process tree")
    parser.add_argument("--out", default="experiments/results", help="output folder")
    parser.add_argument("--png", default="docs/scalability.png",
                        help="copy of the figure for the README ('' for none)")
    parser.add_argument("--backends", nargs="*", help="restrict to these backends")
    args = parser.parse_args()
    seconds = args.budget_seconds or (15.0 if args.quick else 60.0)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = args.backends or backends()
    fastest = next((b for b in FASTEST_FIRST if b in names), names[0])
    print(f"backends {names} (20x100 with {fastest}); budget {seconds:g} s, "
          f"{args.budget_mb:g} MB per run")

    rows: list[dict] = []
    start_all = time.perf_counter()
    for name, depth, width, net in networks(args.quick):
        base = {"network": name, "depth": depth, "width": width, "n_neurons": net.n_neurons,
                "lmi_side": min(net.widths[0], net.widths[1]) + net.n_neurons}
        closed = [m for m in lipsdp.CLOSED_FORM_METHODS
                  if not args.quick or m in QUICK_CLOSED_FORMS]
        jobs = [(m, None, "-", {}) for m in closed]
        big = name == BIG[0]
        for backend in ([fastest] if big else names):
            for label, variant, options in variant_runs(args.quick):
                if big and args.quick and variant in ("chordal", "sequential"):
                    continue
                if label == NODECOMP[0] and backend != "clarabel":
                    continue
                jobs.append((label, variant, backend, options))
        for label, variant, backend, options in jobs:
            row = {**base, "method": label, "variant": variant or "closed-form",
                   "backend": backend}
            if backend == "clarabel" and width > CLARABEL_MAX_WIDTH:
                row.update(status="skipped", note=f"clarabel: width > {CLARABEL_MAX_WIDTH}")
            else:
                row.update(run_one(net, label, variant, None if backend == "-" else backend,
                                   options, seconds, args.budget_mb))
            rows.append(row)
            print(f"{name:>8} {label:>12} {backend:>13}: {row['status']:>8} "
                  f"value={row.get('value', math.nan):<14.8g} "
                  f"wall={row.get('wall_s', math.nan):7.2f}s "
                  f"peak={row.get('peak_mb', math.nan):7.0f}MB  {row.get('note', '')[:60]}",
                  flush=True)
    for name in {r["network"] for r in rows}:
        vals = [r["value"] for r in rows if r["network"] == name and r.get("certified")]
        best = min(vals) if vals else math.nan
        for r in rows:
            if r["network"] == name and r.get("certified"):
                r["rel_to_best"] = r["value"] / best - 1.0
    path = out_dir / "scalability.csv"
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: _fmt(r.get(k, "")) for k in FIELDS})
    print(f"\n{len(rows)} runs in {time.perf_counter() - start_all:.0f} s; wrote {path}")
    summarise(rows, fastest)
    write_markdown(rows, out_dir / "scalability.md")
    plot(rows, out_dir / "scalability.png", args.png)


def write_markdown(rows: list[dict], path: Path) -> None:
    """Pivot: one line per method and backend, one column per network; each cell is the value
    relative to the tightest certified value on that network and the wall time."""
    nets = list(dict.fromkeys(r["network"] for r in rows))
    keys = list(dict.fromkeys((r["method"], r["backend"]) for r in rows))
    lines = ["| method | backend | " + " | ".join(nets) + " |",
             "|---|---|" + "---|" * len(nets)]
    for method, backend in keys:
        cells = []
        for net in nets:
            r = next((x for x in rows if x["network"] == net and x["method"] == method
                      and x["backend"] == backend), None)
            if r is None:
                cells.append("")
            elif r.get("certified"):
                cells.append(f"{r['rel_to_best']:+.1e} / {r['wall_s']:.2g}s")
            else:
                cells.append(r["status"])
        lines.append(f"| {method} | {backend} | " + " | ".join(cells) + " |")
    path.write_text("Value / tightest certified - 1, and wall time, per network "
                    "(depth x width).\n\n" + "\n".join(lines) + "\n")
    print(f"wrote {path}")


def _fmt(v: object) -> object:
    if isinstance(v, float):
        return f"{v:.10g}"
    return v


def summarise(rows: list[dict], fastest: str) -> None:
    print("\nChordal against full with the same backend, depth >= 8 (wall time, peak memory):")
    for r in rows:
        if r["method"] != "chordal" or r["depth"] < 8 or r["network"] == BIG[0]:
            continue
        for full in ("full", NODECOMP[0]):
            f = next((x for x in rows if x["network"] == r["network"] and x["method"] == full
                      and x["backend"] == r["backend"]), None)
            if f is None or r["status"] == "skipped":
                continue
            agree = (abs(r["value"] / f["value"] - 1) if r.get("certified") and f.get("certified")
                     else math.nan)
            print(f"  {r['network']:>6} {r['backend']:>13}: chordal {r['status']} "
                  f"{r.get('wall_s', math.nan):6.2f}s {r.get('peak_mb', math.nan):6.0f}MB | "
                  f"{f['method']} {f['status']} {f.get('wall_s', math.nan):6.2f}s "
                  f"{f.get('peak_mb', math.nan):6.0f}MB | rel. difference {agree:.1e}")
    print(f"\nThe {BIG[0]} network with {fastest}:")
    for r in rows:
        if r["network"] == BIG[0]:
            print(f"  {r['method']:>12} {r['backend']:>13}: {r['status']:>8} "
                  f"value={r.get('value', math.nan):.6g} wall={r.get('wall_s', math.nan):.1f}s "
                  f"peak={r.get('peak_mb', math.nan):.0f}MB")
    seq = [(r, next((x for x in rows if x["network"] == r["network"]
                     and x["method"] == "eclipse-fast"), None))
           for r in rows if r["method"] == "sequential" and r.get("certified")]
    looser = [r for r, fast in seq if fast and fast.get("certified") and r["value"] > fast["value"]]
    print(f"\nSequential (ECLipsE) looser than ECLipsE-Fast in {len(looser)} of {len(seq)} "
          "certified runs" + (f": {sorted({r['network'] for r in looser})}" if looser else ""))


def plot(rows: list[dict], path: Path, copy: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no figure (pip install '.[plot]')")
        return
    # The SDP variants, ECLipsE-Fast and the best closed form (the CSV has every closed form).
    shown = [m for m in ("full", "full-nodecomp", "chordal", "split-2", "split-4", "sequential",
                         "eclipse-fast", "best", "naive")
             if any(r["method"] == m for r in rows)]
    rows = [r for r in rows if r["method"] in shown and r["status"] != "skipped"]
    ok = [r for r in rows if r.get("certified")]
    methods = shown
    backs = sorted({r["backend"] for r in rows})
    markers = dict(zip(backs, "os^vDP*Xh", strict=False))
    colours = {m: plt.cm.tab10(i) for i, m in enumerate(methods)}
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.0))
    panels = [("rel_to_best", "value / tightest certified - 1", ok),
              ("wall_s", "wall time [s]", [r for r in rows if "wall_s" in r]),
              ("peak_mb", "peak memory [MB]", [r for r in rows if "peak_mb" in r])]
    for ax, (key, title, data) in zip(axes, panels, strict=True):
        for r in data:
            y = r[key] + (1e-9 if key == "rel_to_best" else 0.0)
            face = colours[r["method"]] if r["status"] == "ok" else "none"
            ax.scatter(r["n_neurons"] * (1 + 0.04 * (backs.index(r["backend"]) - 2)), y,
                       marker=markers[r["backend"]], edgecolors=colours[r["method"]],
                       facecolors=face, s=28, linewidths=1.0)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("hidden neurons N")
        ax.set_title(title, fontsize=10)
        if key == "wall_s":
            budget = max((r["wall_s"] for r in rows if r["status"] == "timeout"), default=None)
            if budget:
                ax.axhline(budget, color="grey", ls=":", lw=1)
                ax.text(ax.get_xlim()[0], budget, " budget (hollow: timeout/memory/failed)",
                        fontsize=7, va="bottom", color="grey")
    handles = [plt.Line2D([], [], color=colours[m], marker="o", ls="", label=m) for m in methods]
    handles += [plt.Line2D([], [], color="k", marker=markers[b], ls="", mfc="none", label=b)
                for b in backs]
    fig.legend(handles=handles, loc="center right", fontsize=8, frameon=False)
    fig.suptitle("LipSDP variants: tightness, time and memory against network size "
                 "(random ReLU nets, 2 cores)", fontsize=11)
    fig.tight_layout(rect=(0, 0, 0.84, 0.95))
    save_figure(fig, path, copy, dpi=90)


if __name__ == "__main__":
    main()
