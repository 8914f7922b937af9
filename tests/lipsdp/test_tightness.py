"""What the proof costs in tightness (docs/math.md §4.3), against values stored before it.

``tests/data/pre_proof_values.json`` holds 285 certified values on 18 seeded networks from
commit 16e6362, when certification was a float64 check with a relative margin of 1e-10
(``experiments/proof_tightness.py`` wrote them and prints the comparison). A proved value may be
higher only by the proof's own cost (below 1e-9 relative) or where the old value was not a
bound (checked in 60 digits); it is never much lower (the methods are the same). The
sequential variant's chained stage solves move with the installed solver's release (by < 1e-6,
either way; each such value is a bound in 60 digits).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np

import lipsdp

from reference import mp_certifies

DATA = json.loads((Path(__file__).parents[1] / "data" / "pre_proof_values.json").read_text())


def grid_network(name):
    spec = DATA["networks"][name]
    rng = np.random.default_rng(spec["seed"])
    widths = spec["widths"]
    W = [rng.standard_normal((b, a)) / np.sqrt(a) for a, b in itertools.pairwise(widths)]
    return lipsdp.Network(W, tuple(spec["slopes"]))


#: What each stored key calls (the same keys experiments/proof_tightness.py reads).
CALLS = {
    "chordal": lambda net, solver: lipsdp.solve(net, variant="chordal", solver=solver),
    "sequential": lambda net, solver: lipsdp.solve(net, variant="sequential", solver=solver),
    "split2": lambda net, solver: lipsdp.solve(net, variant="split", split=2, solver=solver,
                                               n_jobs=1),
}


def call(net, key):
    parts = key.split(":")
    if parts[0] == "closed_form":
        return lipsdp.closed_form(net, parts[1])
    if parts[1] in CALLS:
        return CALLS[parts[1]](net, parts[2])
    return lipsdp.solve(net, solver=parts[1], multipliers=parts[2])


def old_value_fails_on_the_ray(net, res, old):
    """Whether, in 60 digits, ``old**2`` fails the LMI on the proved result's ray while the proved
    value holds (the ray of the old run differs from it by rounding only)."""
    ts_old = [t * (old / res.value) ** 2 for t in res.multipliers]  # the same ray at old**2
    return (not mp_certifies(net.weights, net.slopes, old**2, ts_old)
            and mp_certifies(net.weights, net.slopes, res.value**2, res.multipliers))


#: Entries whose value also moves with a solver's stopping point: a rounding-level change of the
#: formulation (its closed-form reference point) moves the point within the solver's
#: tolerance, about 1e-9 relative, whatever the proof does.
SOLVER_NOISE = ("solve:chordal:", "solve:split2:")
#: Entries computed by a chain of solver calls (the sequential variant's stages).
STAGED = ("solve:sequential:",)


def test_every_stored_value_is_matched_within_the_proofs_cost():
    compared, higher, staged = 0, [], []
    for name, row in DATA["values"].items():
        net = grid_network(name)
        for key, old in row.items():
            res = call(net, key)
            assert res.certified, (name, key, res.status)
            compared += 1
            if key.startswith(STAGED):
                # A chain of stage solves: the installed Clarabel's stopping points move the
                # value either way (up to 1.4e-7 between releases); a bound in 60 digits.
                staged.append((name, key, res.value / old - 1))
                assert abs(res.value / old - 1) <= 1e-6, staged[-1]
                assert mp_certifies(net.weights, net.slopes, res.value**2, res.multipliers)
                continue
            assert res.value >= old * (1 - 1e-8), (name, key, res.value / old - 1)
            if res.value <= old * (1 + 1e-9):
                continue
            higher.append((name, key, res.value / old - 1))
            assert key.startswith(SOLVER_NOISE), (name, key, res.value / old - 1)
            assert res.value <= old * (1 + 1e-8), (name, key, res.value / old - 1)
            # Higher than the old value on the same ray: the old value was not a bound there.
            assert old_value_fails_on_the_ray(net, res, old), (name, key)
    assert compared == 285
    assert len(higher) <= 4, higher
    assert len(staged) == 18


def test_the_proofs_own_cost_on_the_grid():
    # Against the exact minimum of each result's own ray (in 60 digits): the proved value holds
    # and 1e-11 below it (in rho) fails, for every kind of method, on the smaller networks.
    for name in ("5-8-6-3 s1 relu", "5-8-6-3 s1 leaky", "4-10-10-2 s2 sigmoid"):
        net = grid_network(name)
        for key in ("closed_form:lookahead", "solve:lowrank-ipm:neuron", "solve:chordal:clarabel"):
            res = call(net, key)
            hi = res.value**2
            assert mp_certifies(net.weights, net.slopes, hi, res.multipliers), (name, key)
            lo = hi * (1 - 1e-11)
            assert not mp_certifies(net.weights, net.slopes, lo,
                                    [t * lo / hi for t in res.multipliers]), (name, key)
