"""A backend that misbehaves on purpose (registered by tests/lipsdp/test_proof.py as ``"faulty"``).

``options["mode"]`` picks the fault: ``"nan"`` (an all-nan point reported optimal),
``"garbage"`` (random numbers reported optimal), ``"huge"``, ``"negative"``, ``"zero"``,
``"shape"`` (a point of the wrong length), ``"raise"`` (RuntimeError), ``"linalg"``
(LinAlgError), ``"object"`` (not a SolverResult), ``"limit"`` (a time limit with a point that
proves nothing), ``"inf_dual"`` (a good-looking point with a non-finite dual).
"""

from __future__ import annotations

import numpy as np

from lipsdp_solvers import SolverResult, Status


def solve(problem, options, warm_start):
    mode = options.get("mode", "nan")
    n = problem.n_vars
    rng = np.random.default_rng(0)
    x = {
        "nan": np.full(n, np.nan),
        "garbage": rng.standard_normal(n) * 1e3,
        "huge": np.full(n, 1e300),
        "negative": -np.ones(n),
        "zero": np.zeros(n),
        "limit": rng.uniform(0.0, 1e-3, n),
        "inf_dual": np.ones(n),
    }.get(mode)
    if mode == "shape":
        return SolverResult(x=np.ones(n + 3), status=Status.OPTIMAL)
    if mode == "raise":
        raise RuntimeError("the faulty backend fell over")
    if mode == "linalg":
        raise np.linalg.LinAlgError("Matrix is singular")
    if mode == "object":
        return {"x": np.ones(n)}
    status = Status.TIME_LIMIT if mode == "limit" else Status.OPTIMAL
    dual = ()
    if mode == "inf_dual":
        m = problem.blocks[0].size
        dual = (np.full((m, m), np.inf),)
    return SolverResult(x=x, status=status, objective=float(x[0]), dual=dual, iterations=1)
