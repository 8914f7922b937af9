"""Solver backends, one module each.

Every backend module exposes::

    solve(problem: LMIProblem, options: dict, warm_start: ndarray | None) -> SolverResult

and imports its solver lazily, inside ``solve``, so that importing :mod:`solvers` stays cheap.
A backend never raises from inside the solver: an exception or a status without a solution gives
a :class:`~solvers.result.SolverResult` whose ``x`` is all ``nan``
(:func:`solvers.result.failed_result`).  Bad options (an unknown setting, a value of the wrong
kind) do raise, before any work (:func:`solvers.options.backend_options`).  The conic form that
Clarabel and SCS share is built in :mod:`solvers.conic`.
"""
