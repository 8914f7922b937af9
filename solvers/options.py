"""The options every backend understands, and how a backend splits them from its own.

Common keys (``tol``, ``max_iter``, ``time_limit``, ``verbose``) are validated once here
(:class:`CommonOptions`); every other key goes to the backend verbatim, which checks it against
its own settings (:func:`backend_options`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

__all__ = [
    "CALLABLE_OPTIONS",
    "COMMON_OPTIONS",
    "CommonOptions",
    "backend_options",
    "split_options",
]

#: Option keys every backend understands and translates into its own settings.
COMMON_OPTIONS = ("tol", "max_iter", "time_limit", "verbose")

#: Backend options that must be functions where a backend takes them: ``callback(x, info) ->
#: bool`` after every iteration, ``schur_callback(iteration, H, info)`` on every Newton matrix.
CALLABLE_OPTIONS = ("callback", "schur_callback")


@dataclass(frozen=True)
class CommonOptions:
    """The backend-neutral options, validated.

    Attributes
    ----------
    tol : float or None
        Feasibility and duality-gap tolerance; ``None`` keeps the solver's default.
    max_iter : int or None
        Iteration limit; ``None`` keeps the solver's default.
    time_limit : float or None
        Wall-clock limit in seconds; ``None`` means none.
    verbose : bool
        Let the solver print its log (default ``False``).
    """

    tol: float | None = None
    max_iter: int | None = None
    time_limit: float | None = None
    verbose: bool = False

    def __post_init__(self) -> None:
        if self.tol is not None and (
            isinstance(self.tol, bool)
            or not isinstance(self.tol, Real)
            or not (0 < self.tol < math.inf)
        ):
            raise ValueError(f"options['tol'] is {self.tol!r}; expected a positive finite number")
        if self.max_iter is not None and (
            isinstance(self.max_iter, bool)
            or not isinstance(self.max_iter, Integral)
            or self.max_iter < 1
        ):
            raise ValueError(
                f"options['max_iter'] is {self.max_iter!r}; expected a positive integer"
            )
        if self.time_limit is not None and (
            isinstance(self.time_limit, bool)
            or not isinstance(self.time_limit, Real)
            or not self.time_limit > 0
        ):
            raise ValueError(
                f"options['time_limit'] is {self.time_limit!r}; "
                "expected a positive number of seconds"
            )
        if not isinstance(self.verbose, (bool, np.bool_)):
            raise ValueError(f"options['verbose'] is {self.verbose!r}; expected True or False")
        for name, cast in (("tol", float), ("max_iter", int), ("time_limit", float)):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, cast(value))
        object.__setattr__(self, "verbose", bool(self.verbose))


def split_options(options: Mapping[str, object] | None) -> tuple[CommonOptions, dict]:
    """Separate the common options from the backend-specific ones.

    Parameters
    ----------
    options : mapping or None
        Caller's options; never modified.

    Returns
    -------
    common : CommonOptions
    rest : dict
        A fresh dict with every other key, to be passed to the backend verbatim.

    Raises
    ------
    TypeError
        If ``options`` is not a mapping or has a non-string key.
    ValueError
        If a common option has a bad value.
    """
    if options is None:
        return CommonOptions(), {}
    if not isinstance(options, Mapping):
        raise TypeError(f"options is a {type(options).__name__}; expected a dict or None")
    for key in options:
        if not isinstance(key, str):
            raise TypeError(f"options has key {key!r}; expected string keys")
    common = CommonOptions(**{k: options[k] for k in COMMON_OPTIONS if k in options})
    rest = {k: v for k, v in options.items() if k not in COMMON_OPTIONS}
    return common, rest


def backend_options(
    options: Mapping[str, object] | None, name: str, allowed: tuple[str, ...]
) -> tuple[CommonOptions, dict]:
    """:func:`split_options` for a backend whose own settings are ``allowed``: an unknown key is
    a ``ValueError`` naming the backend, and each of :data:`CALLABLE_OPTIONS`, if given, must be
    callable (else ``TypeError``)."""
    common, rest = split_options(options)
    unknown = sorted(set(rest) - set(allowed))
    if unknown:
        raise ValueError(
            f"options {unknown} are not {name} settings; expected the common options "
            f"(tol, max_iter, time_limit, verbose) or {list(allowed)}"
        )
    for key in CALLABLE_OPTIONS:
        fn = rest.get(key)
        if fn is not None and not callable(fn):
            raise TypeError(f"options[{key!r}] is {type(fn).__name__}; expected a callable")
    return common, rest
