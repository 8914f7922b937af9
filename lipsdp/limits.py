"""The whole call's wall-clock limit: ``solve(..., time_limit=)``.

One deadline is set for the call; every backend a variant starts inside it (the full LMI, each
part of ``"split"`` solved in this process, each stage of ``"sequential"``, each chordal solve)
gets as its own ``time_limit`` what is left of it, less a reserve for proving the point it
returns (:func:`backend_time_limit`, called by :func:`lipsdp.solver_choice.backend_options`, the
one place every variant takes its backend options from). A part solved in another process
(``"split"`` with joblib workers) gets the time left when it was sent, through its options.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from numbers import Real

__all__ = ["backend_time_limit", "check_time_limit", "deadline", "remaining", "with_time_left"]

_DEADLINE: ContextVar[float | None] = ContextVar("lipsdp_deadline", default=None)

#: Share of the time left that a backend is not given: the proof of its last point (a few
#: recursions of docs/math.md §4, ``O(sum n_k^3)`` each) and the mapping back to the user's
#: units run after it stops. Measured on 784-200-200-10 (``experiments/bench_time_limit.py``):
#: the proof after a stop takes 0.02-0.05 s; the IPM checks its limit once per iteration
#: (0.05-0.15 s there), so it overruns by up to one iteration.
RESERVE_FRACTION = 0.2
#: ... and at least this many seconds.
RESERVE_MIN = 0.02
#: A backend is never given less than this (a limit must be positive); it then stops after its
#: first iteration and the call falls back on its floor bound.
MIN_BACKEND_LIMIT = 1e-3


def check_time_limit(time_limit: object) -> float | None:
    """``time_limit`` as seconds (``None``: no limit); anything but a positive finite number is a
    ``ValueError``/``TypeError`` naming it."""
    if time_limit is None:
        return None
    if isinstance(time_limit, bool) or not isinstance(time_limit, Real):
        raise TypeError(f"time_limit is {time_limit!r}; expected a number of seconds")
    value = float(time_limit)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"time_limit is {time_limit!r}; expected a positive number of seconds")
    return value


@contextmanager
def deadline(at: float | None) -> Iterator[None]:
    """Within this block, backends are limited to the time left before ``at`` (a
    ``time.perf_counter()`` value; ``None``: no deadline, the enclosing one stays)."""
    if at is None:
        yield
        return
    outer = _DEADLINE.get()
    token = _DEADLINE.set(at if outer is None else min(at, outer))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def remaining() -> float | None:
    """Seconds left before the deadline (negative once past it); ``None`` without one."""
    at = _DEADLINE.get()
    return None if at is None else at - time.perf_counter()


def backend_time_limit(user_limit: float | None) -> float | None:
    """The ``time_limit`` a backend started now gets: the caller's own backend limit, cut to what
    is left of the deadline less the proof's reserve."""
    left = remaining()
    if left is None:
        return user_limit
    budget = max(left - max(RESERVE_MIN, RESERVE_FRACTION * left), MIN_BACKEND_LIMIT)
    return budget if user_limit is None else min(float(user_limit), budget)


def with_time_left(options: Mapping) -> dict:
    """A copy of backend ``options`` with ``time_limit`` cut by :func:`backend_time_limit`
    (unchanged without a deadline, or when the caller's value is not a number: the backend
    rejects that with its own message)."""
    out = dict(options)
    user = out.get("time_limit")
    if user is not None and (isinstance(user, bool) or not isinstance(user, Real)):
        return out
    limit = backend_time_limit(user)
    if limit is not None:
        out["time_limit"] = limit
    return out
