"""Progress events of a running solve, for a display (the CLI's) or a log.

A caller that wants to watch a solve installs a reporter for the duration of a call::

    with lipsdp.progress.reporting(print):
        lipsdp.solve(net)

and receives one ``dict`` per event. Without a reporter nothing is computed or sent (the hooks
cost one context-variable read). Events (the key ``"event"`` names which):

- ``"iteration"``: one interior-point iteration of a backend that reports its iterates
  (``banded-ipm``, ``lowrank-ipm``; :data:`lipsdp.solver_choice.ANYTIME_BACKENDS`), from the
  full LMI (``variant="full"`` and each in-process part of ``"split"``). Keys: ``iteration``,
  ``gap`` (the backend's relative duality gap in ``rho``), ``pinf``, ``dinf`` (relative primal
  and dual residuals), and in the bound's units (``sqrt(rho)``, in the user's scale, not the
  normalised network's): ``primal`` (the iterate's ``sqrt(rho)``, not proved), ``dual`` (the
  square root of the backend's dual objective, not proved) and ``certified`` (the smallest
  bound proved from an iterate so far, or ``None``). The three are ``None`` where the units
  are unknown.
- ``"block"``: a block of ``variant="split"`` finished in this process (``index``, 0-based,
  ``total``, ``value``: its proved bound in the user's units or ``None``, ``certified``).
  Blocks solved by joblib in other processes or threads report nothing.
- ``"stage"``: a stage of ``variant="sequential"`` finished (``index``, 1-based hidden layer,
  ``total``, ``how``: ``"sdp"``, ``"sdp+closed-form"`` or ``"closed-form"``).

A reporter runs inside the solve: it must be quick and must not raise (an exception it raises
propagates out of the solve).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

__all__ = ["active", "emit", "reporting"]

_REPORTER: ContextVar[Callable[[dict], object] | None] = ContextVar(
    "lipsdp_progress_reporter", default=None
)
#: ``L_user = 2^e L_solved`` for the values of the solve in progress (None: unknown).
_EXPONENT: ContextVar[int | None] = ContextVar("lipsdp_progress_exponent", default=None)
#: The whole network's :class:`~lipsdp.scaling.Scaling` while a variant runs (for the parts of
#: ``"split"``, whose units are those of a sub-network).
_SCALING: ContextVar[object | None] = ContextVar("lipsdp_progress_scaling", default=None)


@contextmanager
def reporting(reporter: Callable[[dict], object] | None) -> Iterator[None]:
    """Send the progress events of the calls inside the ``with`` block to ``reporter``
    (``None``: none). Context-local: other threads and processes are not affected."""
    if reporter is not None and not callable(reporter):
        raise TypeError(f"reporter is {type(reporter).__name__}; expected a callable or None")
    token = _REPORTER.set(reporter)
    try:
        yield
    finally:
        _REPORTER.reset(token)


def active() -> bool:
    """Whether a reporter is installed (hooks skip their work otherwise)."""
    return _REPORTER.get() is not None


def emit(event: str, **fields: object) -> None:
    """Send ``{"event": event, **fields}`` to the reporter, if any."""
    reporter = _REPORTER.get()
    if reporter is not None:
        reporter({"event": event, **fields})


def in_bound_units(value: float) -> float | None:
    """``value`` (a ``sqrt(rho)`` of the network being solved) in the user's units, or None
    where they are unknown or ``value`` is not finite."""
    e = _EXPONENT.get()
    if e is None or not np.isfinite(value):
        return None
    return float(np.ldexp(value, e))


@contextmanager
def units(scaling: object) -> Iterator[None]:
    """The solve inside works on the network normalised by ``scaling``
    (:class:`~lipsdp.scaling.Scaling`) of the user's network."""
    tokens = (_EXPONENT.set(int(scaling.value_exponent)), _SCALING.set(scaling))
    try:
        yield
    finally:
        _SCALING.reset(tokens[1])
        _EXPONENT.reset(tokens[0])


@contextmanager
def part_units(first: int, last: int, exponent: int) -> Iterator[None]:
    """The solve inside is of the sub-network ``x_first -> z_last`` of the network the
    enclosing :func:`units` describes, normalised once more with value exponent ``exponent``."""
    outer = _SCALING.get()
    e = None if outer is None else int(outer.sub_exponent(first, last)) + int(exponent)
    tokens = (_EXPONENT.set(e), _SCALING.set(None))
    try:
        yield
    finally:
        _SCALING.reset(tokens[1])
        _EXPONENT.reset(tokens[0])
