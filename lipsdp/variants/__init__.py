"""The variants of :func:`lipsdp.solve` (docs/math.md §7), one module each.

:data:`VARIANTS` maps each name to its solve function, called by :func:`lipsdp.solve` on the
normalised network as
``fn(net, multipliers=..., solver=..., options=..., warm_start=..., **variant_options)``; each
validates its own options before any work, and every value it returns is certified by
docs/math.md §4 (the forward block-LDL^T recursion), never copied from a solver's objective.

- ``"full"`` (:mod:`.full`): the single LMI of §2.
- ``"chordal"`` (:mod:`.chordal`): the LMI split over the cliques of its block-tridiagonal
  sparsity (Agler); same optimum as ``"full"``, PSD cones of clique size.
- ``"split"`` (:mod:`.split`): the network cut at hidden layers into sub-networks solved
  independently (in parallel through joblib, so also on a Dask cluster), each by the full
  solve, and combined by the product rule; the product is certified by whole-network
  multipliers assembled from the parts.
- ``"sequential"`` (:mod:`.sequential`): ECLipsE, one small SDP per layer over that layer's
  multipliers.

``solver="auto"`` is resolved by :func:`lipsdp.choose_solver` (the full LMI in
:func:`lipsdp.solve`, the others per sub-problem).
"""

from __future__ import annotations

from collections.abc import Callable

from ..result import LipschitzResult
from .chordal import solve_chordal
from .full import solve_full
from .options import check_variant_options, split_cuts
from .sequential import solve_sequential
from .split import solve_split

__all__ = [
    "VARIANTS",
    "check_variant_options",
    "solve_chordal",
    "solve_full",
    "solve_sequential",
    "solve_split",
    "split_cuts",
]

#: variant name -> solve function (see the module docstring for the calling convention).
VARIANTS: dict[str, Callable[..., LipschitzResult]] = {
    "full": solve_full,
    "chordal": solve_chordal,
    "split": solve_split,
    "sequential": solve_sequential,
}
