"""Peak-memory estimates, checked before a problem is built (``solve(..., max_memory=)``).

Each backend's peak is a formula in a few sizes of the problem it is given, with coefficients
calibrated by measuring the peak resident memory of real solves
(``python experiments/bench_memory.py --fit``; the accuracy table is in the README):

- ``nnz``: entries of the LMI's coefficient matrices, ``sum_k n_{k+1} n_k^2`` (each multiplier of
  layer ``k+1`` carries the dense ``n_k x n_k`` block ``w^T w`` of its weight row; the input
  width compressed to ``min(n_0, n_1)``, docs/math.md §8), plus ``n_l^2`` for ``W_l^T W_l``;
- ``m2``: ``sum_b m_b^2`` over the PSD blocks of side ``m_b`` (dense iterates and factors);
- ``v2``: ``n_vars^2``, the dense Newton (Schur) matrix of an interior-point method;
- ``s2``: ``(sum_b m_b (m_b + 1) / 2 + n_free)^2``: a conic solver with vectorised PSD cones
  (Clarabel) puts a dense scaling block per cone in its KKT system, and the free overlap
  variables of the chordal decomposition couple the cones, so that the factor fills in across
  all of them (measured: 784-100-100-10 chordal with Clarabel was killed above 24 GB).

``variant="split"`` needs its largest part times the workers running at once;
``"sequential"`` its largest stage; ``"chordal"`` one PSD block per clique and the free overlap
variables.
"""

from __future__ import annotations

import itertools
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Real

from .network import Network

__all__ = [
    "DEFAULT_MEMORY_FRACTION",
    "MemoryEstimate",
    "MemoryLimitError",
    "available_memory",
    "check_max_memory",
    "estimate_memory",
]

#: ``max_memory=None`` allows this share of the memory available when the call starts.
DEFAULT_MEMORY_FRACTION = 0.8

#: Bytes per unit of each size, and a constant, per backend (``experiments/bench_memory.py
#: --fit``, measured on the 2-core machine, 2026-12-07). Backends not listed (``cvxpy:*``) use
#: ``"cvxpy"``.
COEFFICIENTS: dict[str, dict[str, float]] = {
    "lowrank-ipm": {"base": 8e6, "nnz": 9.0, "m2": 40.0, "v2": 24.0, "s2": 0.0},
    "banded-ipm": {"base": 8e6, "nnz": 6.0, "m2": 24.0, "v2": 24.0, "s2": 0.0},
    "clarabel": {"base": 10e6, "nnz": 24.0, "m2": 0.0, "v2": 0.0, "s2": 9.5},
    "scs": {"base": 8e6, "nnz": 40.0, "m2": 16.0, "v2": 0.0, "s2": 0.0},
    "cvxpy": {"base": 60e6, "nnz": 120.0, "m2": 0.0, "v2": 8.0, "s2": 1.0},
}


#: The interior-point backends on the chordal problem: its free overlap variables make the Newton
#: matrix dense in them, and the measured peak is ~9x the full problem's per entry (50-40x3-10:
#: 676 MB; 784-100-100-10: 5.7 GB, issue 14's run).
#: Clarabel on the chordal problem: the coupled fill grows faster than the small cases show
#: (50-40x3-10: 1.3 GB measured; 784-100-100-10 was killed above 24 GB), so the coefficient is
#: set to cover the large case: 1.5x the full problem's.
CHORDAL_COEFFICIENTS: dict[str, dict[str, float]] = {
    **{name: {**COEFFICIENTS[name], "v2": 216.0} for name in ("lowrank-ipm", "banded-ipm")},
    "clarabel": {**COEFFICIENTS["clarabel"], "s2": 14.25},
}


class MemoryLimitError(ValueError):
    """The chosen path's estimated peak memory exceeds ``max_memory``; raised before any work,
    with the estimate, the limit and the variants or backends that fit."""


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated peak memory of one solve (bytes, above what the process already holds)."""

    bytes: int
    variant: str
    solver: str
    sizes: Mapping[str, float]

    def __str__(self) -> str:
        return f"{format_bytes(self.bytes)} ({self.variant}, {self.solver})"


def format_bytes(n: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} B"


_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9,
          "t": 1e12, "tb": 1e12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def check_max_memory(max_memory: object) -> float | None:
    """``max_memory`` in bytes: a number, or a string like ``"8GB"``, ``"500 MiB"``
    (``None``: the default share of the available memory, ``math.inf``: no limit)."""
    if max_memory is None:
        return None
    if isinstance(max_memory, str):
        match = re.fullmatch(r"\s*([0-9.]+(?:e[+-]?\d+)?)\s*([a-zA-Z]*)\s*", max_memory)
        unit = match.group(2).lower() if match else None
        if match is None or unit not in _UNITS:
            raise ValueError(f"max_memory is {max_memory!r}; expected bytes or a size like "
                             "'8GB' or '500MiB'")
        value = float(match.group(1)) * _UNITS[unit]
    elif isinstance(max_memory, bool) or not isinstance(max_memory, Real):
        raise TypeError(f"max_memory is {max_memory!r}; expected a number of bytes or a size "
                        "like '8GB'")
    else:
        value = float(max_memory)
    if not value > 0:
        raise ValueError(f"max_memory is {max_memory!r}; expected a positive size")
    return value


def available_memory() -> float:
    """Bytes of memory available to a new allocation now (``MemAvailable`` of /proc/meminfo,
    else the free physical pages; ``inf`` where neither is known)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return math.inf


def memory_limit(max_memory: float | None) -> float:
    """The limit in force: ``max_memory``, or :data:`DEFAULT_MEMORY_FRACTION` of
    :func:`available_memory`."""
    return DEFAULT_MEMORY_FRACTION * available_memory() if max_memory is None else max_memory


def _blocks(net: Network) -> list[int]:
    """Sides of the LMI's partition blocks as solved: the compressed input, then each hidden
    layer."""
    return [min(net.widths[0], net.widths[1]), *net.hidden_widths]


def _sizes(blocks: list[int], psd_sides: list[int], n_vars: int, n_free: int = 0) -> dict:
    nnz = sum(blocks[k + 1] * blocks[k] ** 2 for k in range(len(blocks) - 1)) + blocks[-1] ** 2
    nnz += sum(blocks)  # diagonals (rho's identity, the multipliers' own terms)
    return {
        "nnz": float(nnz),
        "m2": float(sum(m * m for m in psd_sides)),
        "v2": float(n_vars) ** 2,
        "s2": float(sum(m * (m + 1) / 2 for m in psd_sides) + n_free) ** 2,
    }


def _n_vars(blocks: list[int], multipliers: str) -> int:
    hidden = blocks[1:]
    return 1 + (sum(hidden) if multipliers == "neuron" else len(hidden))


def backend_bytes(solver: str, sizes: Mapping[str, float], chordal: bool = False) -> float:
    """The calibrated formula of ``solver`` (module docstring) at ``sizes``."""
    c = (CHORDAL_COEFFICIENTS.get(solver) if chordal else None) or COEFFICIENTS.get(solver) \
        or COEFFICIENTS["cvxpy"]
    return c["base"] + sum(c[key] * sizes[key] for key in ("nnz", "m2", "v2", "s2"))


def full_sizes(net: Network, multipliers: str) -> dict:
    """The sizes of the full LMI of ``net`` (one PSD block of side ``net.solved_size``)."""
    blocks = _blocks(net)
    return _sizes(blocks, [sum(blocks)], _n_vars(blocks, multipliers))


def chordal_sizes(net: Network, multipliers: str, clique_size: int = 2) -> dict:
    """The sizes of the chordal decomposition: one PSD block per clique of ``clique_size``
    consecutive blocks, and the free overlap variables of each shared block."""
    from .formulation import chordal_cliques

    blocks = _blocks(net)
    cliques = chordal_cliques(net.n_hidden, clique_size)
    sides = [sum(blocks[first:last + 1]) for first, last in cliques]
    overlap = sum(blocks[last] * (blocks[last] + 1) // 2 for _, last in cliques[:-1])
    return _sizes(blocks, sides, _n_vars(blocks, multipliers) + overlap, overlap)


def estimate_memory(net: Network, variant: str, multipliers: str, solver: str,
                    variant_options: Mapping | None = None) -> MemoryEstimate:
    """Estimated peak memory of ``solve(net, variant, multipliers, solver, **variant_options)``
    with a resolved ``solver`` (not ``"auto"``, except for the per-part choice of ``"split"``
    and ``"sequential"``, estimated with the backend ``auto`` picks for the largest part)."""
    from .solver_choice import choose_solver, choose_solver_for_side
    from .variants.options import split_cuts

    opts = dict(variant_options or {})
    if net.n_hidden == 0:
        return MemoryEstimate(0, variant, solver, {})
    if variant == "chordal":
        sizes = chordal_sizes(net, multipliers, int(opts.get("clique_size", 2)))
        return MemoryEstimate(int(backend_bytes(solver, sizes, chordal=True)), variant, solver,
                              sizes)
    if variant == "sequential":
        blocks = _blocks(net)
        worst, worst_sizes, worst_solver = 0.0, {}, solver
        for k in range(1, len(blocks)):
            side = blocks[k - 1] + blocks[k]
            stage = solver if solver != "auto" else choose_solver(variant="sequential", side=side)
            sizes = _sizes(blocks[k - 1:k + 1], [side], 1 + blocks[k])
            b = backend_bytes(stage, sizes)
            if b > worst:
                worst, worst_sizes, worst_solver = b, sizes, stage
        return MemoryEstimate(int(worst), variant, worst_solver, worst_sizes)
    if variant == "split":
        cuts = split_cuts(len(net.weights), opts.get("split"), opts.get("cuts"))
        bounds = [0, *cuts, len(net.weights)]
        worst, worst_sizes, worst_solver = 0.0, {}, solver
        parts = 0
        for a, b in itertools.pairwise(bounds):
            if b - a < 2:
                continue
            parts += 1
            part = Network(net.weights[a:b], net.slopes[a:b - 1])
            sizes = full_sizes(part, multipliers)
            backend = solver if solver != "auto" else choose_solver_for_side(
                part.solved_size, part.n_hidden + 1)
            bytes_ = backend_bytes(backend, sizes)
            if bytes_ > worst:
                worst, worst_sizes, worst_solver = bytes_, sizes, backend
        n_jobs = opts.get("n_jobs")
        workers = 1 if n_jobs in (None, 1) else min(parts, os.cpu_count() or 1) if n_jobs == -1 \
            else min(parts, abs(int(n_jobs)))
        return MemoryEstimate(int(worst * max(workers, 1)), variant, worst_solver, worst_sizes)
    sizes = full_sizes(net, multipliers)
    return MemoryEstimate(int(backend_bytes(solver, sizes)), variant, solver, sizes)


#: The backends ``auto`` may fall back on, fastest first, when its first choice does not fit.
_AUTO_ORDER = {
    "full": ("lowrank-ipm", "banded-ipm", "scs"),
    "chordal": ("clarabel", "banded-ipm", "lowrank-ipm", "scs"),
}


def fitting_solver(net: Network, variant: str, multipliers: str, solver: str, auto: bool,
                   variant_options: Mapping, limit: float) -> str:
    """The backend to run: ``solver`` if its estimate fits ``limit``; for ``auto``, its first
    choice or else the fastest that fits (``"split"`` and ``"sequential"`` keep ``"auto"``, their
    parts choose). Raises :class:`MemoryLimitError` when nothing asked for fits."""
    import lipsdp_solvers as solvers

    from .solver_choice import choose_solver

    if auto and variant in _AUTO_ORDER:
        first = solver if variant == "full" else choose_solver(variant="chordal", side=1)
        order = [first, *(s for s in _AUTO_ORDER[variant] if s != first)]
        candidates = [s for s in order if solvers.is_installed(s)]
    else:
        candidates = [solver]
    estimates = [estimate_memory(net, variant, multipliers, s, variant_options)
                 for s in candidates]
    for est in estimates:
        if est.bytes <= limit:
            return est.solver if variant in ("full", "chordal") else solver
    raise MemoryLimitError(_refusal(net, multipliers, estimates, limit))


def _refusal(net: Network, multipliers: str, estimates: list[MemoryEstimate],
             limit: float) -> str:
    import lipsdp_solvers as solvers

    tried = ", ".join(str(e) for e in estimates)
    fits = []
    for variant, opts in (("full", {}), ("chordal", {}), ("split", {"split": 2}),
                          ("sequential", {})):
        names = ["auto"] if variant in ("split", "sequential") else [
            s for s in ("lowrank-ipm", "banded-ipm", "clarabel", "scs") if solvers.is_installed(s)]
        for name in names:
            try:
                est = estimate_memory(net, variant, multipliers, name, opts)
            except ValueError:
                continue
            if est.bytes <= limit:
                extra = ", split=2" if opts else ""
                fits.append(f"variant={variant!r}, solver={name!r}{extra} "
                            f"({format_bytes(est.bytes)})")
    advice = ("; these fit: " + "; ".join(fits)) if fits else "; no variant or backend fits"
    return (f"estimated peak memory {tried} exceeds the limit of {format_bytes(limit)} "
            f"(max_memory=; default {DEFAULT_MEMORY_FRACTION:.0%} of the available memory)"
            f"{advice}")
