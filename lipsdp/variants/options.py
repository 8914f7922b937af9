"""The decomposed variants' options, checked before any work."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["check_variant_options", "split_cuts"]


def _reject_unknown(variant: str, unknown: Mapping, accepted: Sequence[str]) -> None:
    if unknown:
        expected = f"only {', '.join(accepted)}" if accepted else "no options"
        raise TypeError(
            f"variant {variant!r} got unexpected option(s) {sorted(unknown)}; it takes {expected}"
        )


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_n_jobs(n_jobs: object) -> int | None:
    if n_jobs is None:
        return None
    if not _is_int(n_jobs):
        raise TypeError(
            f"n_jobs is {n_jobs!r}; expected None or a nonzero integer (joblib's convention)"
        )
    if n_jobs == 0:
        raise ValueError("n_jobs is 0; expected None, a positive number of workers or -1 for all")
    return int(n_jobs)


def _check_clique_size(clique_size: object) -> int:
    if not _is_int(clique_size):
        raise TypeError(f"clique_size is {clique_size!r}; expected an integer >= 2")
    if clique_size < 2:
        raise ValueError(
            f"clique_size is {clique_size}; expected an integer >= 2 "
            "(consecutive blocks per clique)"
        )
    return int(clique_size)


def _check_options_mapping(variant: str, options: Mapping) -> None:
    if "gap_tol" in options:
        raise ValueError(
            f"options['gap_tol'] is supported by variant 'full' only; variant is {variant!r}"
        )


def check_variant_options(variant: str, n_weights: int, options: Mapping) -> None:
    """Validate a decomposed variant's options without solving (for networks that
    :func:`lipsdp.solve` answers without a solver: constant or linear ones)."""
    accepted = {"chordal": ("clique_size",), "split": ("split", "cuts", "n_jobs"),
                "sequential": ()}[variant]
    _reject_unknown(variant, {k: v for k, v in options.items() if k not in accepted}, accepted)
    if variant == "chordal" and "clique_size" in options:
        _check_clique_size(options["clique_size"])
    if variant == "split":
        split_cuts(n_weights, options.get("split"), options.get("cuts"))
        _check_n_jobs(options.get("n_jobs"))


def split_cuts(n_weights: int, split: object = None, cuts: object = None) -> list[int]:
    """Cut points (hidden-layer indices) for ``split=K`` or explicit ``cuts``.

    Parameters
    ----------
    n_weights : int
        Number of weight matrices ``l + 1``.
    split : int, optional
        Consecutive blocks of ``split`` weight matrices each (the last may be shorter), the
        meaning of the LipSDP reference code's ``--split-size``: cuts at ``K, 2K, ...``.
    cuts : sequence of int, optional
        Hidden layers ``1..l`` at which the network is cut, strictly increasing.

    Returns
    -------
    list of int

    Raises
    ------
    TypeError, ValueError
        Neither or both given, a non-integer, ``split`` outside ``1..l+1``, cuts out of range,
        unsorted or duplicated.
    """
    l = n_weights - 1
    if (split is None) == (cuts is None):
        raise ValueError(
            "variant 'split' needs exactly one of split=K (weight matrices per block) or "
            f"cuts=[...] (hidden layers 1..{l}); got "
            + ("neither" if split is None else f"split={split!r} and cuts={cuts!r}")
        )
    if split is not None:
        if not _is_int(split):
            raise TypeError(f"split is {split!r}; expected a positive integer")
        if not 1 <= split <= n_weights:
            raise ValueError(
                f"split is {split}; expected an integer in 1..{n_weights} "
                f"(the network has {n_weights} weight matrices)"
            )
        return list(range(int(split), n_weights, int(split)))
    if isinstance(cuts, (str, bytes)) or not isinstance(cuts, (Sequence, np.ndarray)):
        raise TypeError(f"cuts is {cuts!r}; expected a list of hidden-layer indices in 1..{l}")
    out = []
    for k, c in enumerate(cuts):
        if not _is_int(c):
            raise TypeError(f"cuts[{k}] is {c!r}; expected an integer hidden-layer index in 1..{l}")
        if not 1 <= c <= l:
            raise ValueError(
                f"cuts[{k}] is {c}; expected a hidden-layer index in 1..{l} "
                f"(the network has {l} hidden layers)"
            )
        if out and c <= out[-1]:
            what = "duplicated" if c == out[-1] else "unsorted"
            raise ValueError(
                f"cuts is {list(cuts)!r} ({what} at cuts[{k}] = {c}); expected strictly "
                "increasing hidden-layer indices"
            )
        out.append(int(c))
    return out
