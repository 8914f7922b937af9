"""Resource limits: the whole call's wall-clock ``time_limit`` and the ``max_memory`` guard."""

from __future__ import annotations

import math
import time

import pytest

import lipsdp
import lipsdp_solvers as solvers
from lipsdp import MemoryLimitError, Status
from lipsdp.formulation import build_chordal, build_full
from lipsdp.limits import backend_time_limit, deadline
from lipsdp.memory import check_max_memory, chordal_sizes, full_sizes
from lipsdp.solver_choice import backend_options

# --- time limit ------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -1.0, math.nan, math.inf])
def test_time_limit_must_be_a_positive_finite_number(small_net, bad):
    with pytest.raises(ValueError, match="time_limit"):
        lipsdp.solve(small_net, time_limit=bad)


@pytest.mark.parametrize("bad", ["1", True, [1.0]])
def test_time_limit_must_be_a_number(small_net, bad):
    with pytest.raises(TypeError, match="time_limit"):
        lipsdp.solve(small_net, time_limit=bad)


def test_an_ample_time_limit_changes_nothing(small_net):
    free = lipsdp.solve(small_net)
    timed = lipsdp.solve(small_net, time_limit=600.0)
    assert timed.status is Status.OPTIMAL
    assert timed.value == free.value
    assert timed.iterations == free.iterations


@pytest.mark.parametrize("solver", ["lowrank-ipm", "banded-ipm", "scs", "clarabel"])
def test_an_expired_time_limit_returns_a_proved_bound_with_the_limit_status(
    rng, random_weights, solver
):
    net = lipsdp.Network(random_weights(rng, [6, 12, 12, 12, 3]))
    optimum = lipsdp.solve(net, solver="clarabel").value
    floor = lipsdp.closed_form(net, "eclipse-fast").value
    res = lipsdp.solve(net, solver=solver, time_limit=1e-6)
    assert res.certified
    assert res.status is Status.TIME_LIMIT
    assert "time limit" in res.message
    assert optimum * (1 - 1e-7) <= res.value <= floor
    # The value is proved: its multipliers certify it again independently.
    if res.multipliers:
        assert lipsdp.certify(net, res.multipliers).value <= res.value * (1 + 1e-9)


@pytest.mark.parametrize(("variant", "options"), [("split", {"split": 2}), ("sequential", {}),
                                                  ("chordal", {})])
def test_every_variant_keeps_to_the_time_limit(rng, random_weights, variant, options):
    net = lipsdp.Network(random_weights(rng, [6, 10, 10, 10, 3]))
    res = lipsdp.solve(net, variant=variant, time_limit=1e-6, **options)
    assert res.certified
    assert res.value <= lipsdp.closed_form(net, "eclipse-fast").value
    assert res.variant == variant


def test_backends_get_what_is_left_of_the_deadline_less_a_reserve():
    assert "time_limit" not in backend_options("lowrank-ipm", {})
    with deadline(time.perf_counter() + 10.0):
        cut = backend_options("lowrank-ipm", {})["time_limit"]
        assert 6.0 < cut < 10.0
        # The caller's own backend limit applies where it is smaller ...
        assert backend_options("lowrank-ipm", {"time_limit": 2.0})["time_limit"] == 2.0
        # ... and a nested deadline never extends the outer one.
        with deadline(time.perf_counter() + 100.0):
            assert backend_time_limit(None) < 10.0
    with deadline(time.perf_counter() - 1.0):  # already past: the smallest positive limit
        assert 0 < backend_time_limit(None) <= 1e-3


def test_a_limit_stop_of_an_anytime_backend_is_the_limits_status(rng, random_weights):
    net = lipsdp.Network(random_weights(rng, [8, 20, 20, 20, 3]))
    res = lipsdp.solve(net, solver="banded-ipm", options={"max_iter": 4})
    assert res.status is Status.MAX_ITERATIONS
    assert "best certified iterate" in res.message


# --- memory guard ------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [("8GB", 8e9), ("500 MiB", 500 * 2**20),
                                                ("1.5e3", 1500.0), (2e9, 2e9)])
def test_max_memory_sizes(text, expected):
    assert check_max_memory(text) == expected


@pytest.mark.parametrize("bad", ["8 parsecs", "", -1, 0])
def test_max_memory_rejects_what_is_not_a_size(bad):
    with pytest.raises(ValueError, match="max_memory"):
        check_max_memory(bad)


def test_max_memory_rejects_a_non_number():
    with pytest.raises(TypeError, match="max_memory"):
        check_max_memory([1])


def test_a_path_that_does_not_fit_is_refused_before_any_work(small_net, monkeypatch):
    def no_solve(*args, **kwargs):
        raise AssertionError("a refused path must not reach a backend")

    monkeypatch.setattr(solvers, "solve", no_solve)
    est = lipsdp.estimate_memory(small_net, "full", "neuron", "clarabel")
    with pytest.raises(MemoryLimitError) as info:
        lipsdp.solve(small_net, solver="clarabel", max_memory=est.bytes / 2)
    message = str(info.value)
    assert "estimated peak memory" in message
    assert "clarabel" in message
    assert "exceeds the limit" in message
    assert isinstance(info.value, ValueError)


def test_the_refusal_names_the_paths_that_fit(rng, random_weights):
    net = lipsdp.Network(random_weights(rng, [10, 40, 40, 40, 3]))
    clarabel = lipsdp.estimate_memory(net, "full", "neuron", "clarabel").bytes
    lowrank = lipsdp.estimate_memory(net, "full", "neuron", "lowrank-ipm").bytes
    assert lowrank < clarabel
    limit = (lowrank + clarabel) / 2
    with pytest.raises(MemoryLimitError, match=r"these fit: .*'lowrank-ipm'"):
        lipsdp.solve(net, solver="clarabel", max_memory=limit)
    # auto never picks a path that does not fit: it solves within the same limit.
    res = lipsdp.solve(net, max_memory=limit)
    assert res.certified
    assert res.solver in ("lowrank-ipm", "banded-ipm")


def test_chordal_auto_falls_back_on_a_backend_that_fits(rng, random_weights):
    net = lipsdp.Network(random_weights(rng, [10, 30, 30, 30, 3]))
    clarabel = lipsdp.estimate_memory(net, "chordal", "neuron", "clarabel").bytes
    banded = lipsdp.estimate_memory(net, "chordal", "neuron", "banded-ipm").bytes
    assert banded < clarabel
    res = lipsdp.solve(net, variant="chordal", max_memory=(banded + clarabel) / 2)
    assert res.certified
    assert res.solver == "banded-ipm"
    assert res.value == pytest.approx(lipsdp.solve(net).value, rel=1e-6)


def test_an_infinite_limit_turns_the_guard_off(small_net):
    assert lipsdp.solve(small_net, solver="clarabel", max_memory=math.inf).certified


@pytest.mark.parametrize("widths", [[30, 5, 6, 7, 2], [4, 9, 6, 7, 2], [30, 5, 6, 2]])
@pytest.mark.parametrize("multipliers", ["neuron", "layer"])
def test_the_estimates_sizes_are_those_of_the_built_problems(rng, random_weights, widths,
                                                             multipliers):
    net = lipsdp.Network(random_weights(rng, widths))
    full = build_full(net, multipliers).problem
    sizes = full_sizes(net, multipliers)
    assert sizes["m2"] == full.blocks[0].size ** 2
    assert sizes["v2"] == full.n_vars**2
    chordal = build_chordal(net, multipliers, 2).problem
    sizes = chordal_sizes(net, multipliers, 2)
    assert sizes["m2"] == sum(b.size**2 for b in chordal.blocks)
    assert sizes["v2"] == chordal.n_vars**2
