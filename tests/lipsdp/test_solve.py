"""lipsdp.solve: agreement with the independent dense formulation, orderings, bad input."""

import numpy as np
import pytest

import lipsdp
import lipsdp_solvers as solvers

from reference import reference_lipsdp, reference_matrix

#: Relative agreement with the CVXOPT reference that each backend must reach.
TOLERANCE = {"clarabel": 1e-6, "scs": 1e-3, "lowrank-ipm": 1e-6, "banded-ipm": 1e-6}
BACKENDS = [b for b in TOLERANCE if solvers.is_installed(b)]


@pytest.fixture(params=BACKENDS, ids=BACKENDS)
def backend(request):
    return request.param


NETWORKS = {
    "1x6": ([3, 6, 2], (0.0, 1.0)),
    "2x8-leaky": ([5, 8, 8, 3], (0.1, 1.0)),
    "3x10": ([4, 10, 10, 10, 2], (0.0, 1.0)),
    "2x8-sigmoid": ([5, 8, 8, 3], (0.0, 0.25)),
    "3-per-layer": ([6, 9, 7, 8, 3], [(0.0, 1.0), (0.2, 1.0), (0.0, 0.25)]),
    "wide-input": ([30, 6, 5, 4], (0.0, 1.0)),  # exercises the input compression
    "4x20": ([10, 20, 20, 20, 20, 5], (0.0, 1.0)),
}


@pytest.mark.parametrize("name", list(NETWORKS))
@pytest.mark.parametrize("multipliers", ["neuron", "layer"])
def test_matches_independent_dense_formulation(rng, backend, name, multipliers, random_weights):
    widths, slopes = NETWORKS[name]
    W = random_weights(rng, widths)
    net = lipsdp.Network(W, slopes)
    res = lipsdp.solve(net, multipliers=multipliers, solver=backend)
    ref = reference_lipsdp(W, net.slopes, multipliers)
    assert res.certified, res.status
    assert res.value == pytest.approx(ref, rel=TOLERANCE[backend])
    assert res.method == f"lipsdp-{multipliers}"
    assert res.variant == "full"
    assert res.solver == backend
    assert res.solve_time > 0
    assert res.iterations > 0
    if multipliers == "layer":
        assert all(np.ptp(t) == 0 for t in res.multipliers)


@pytest.mark.slow
@pytest.mark.parametrize("widths", [[20, 40, 40, 40, 5], [50, 50, 50, 10]])
def test_matches_reference_near_side_150(rng, widths, random_weights):
    W = random_weights(rng, widths)
    res = lipsdp.solve(W, solver="clarabel")
    assert res.value == pytest.approx(reference_lipsdp(W, [(0.0, 1.0)] * (len(W) - 1)), rel=1e-6)


def test_value_is_certified_by_its_own_multipliers(rng, backend, random_weights):
    W = random_weights(rng, [5, 8, 8, 8, 3])
    net = lipsdp.Network(W, (0.1, 1.0))
    res = lipsdp.solve(net, solver=backend)
    # Recomputed independently: dense M(value^2, T) is negative semidefinite ...
    M = reference_matrix(W, net.slopes, res.value**2, res.multipliers)
    assert np.linalg.eigvalsh(M)[-1] <= 1e-10 * res.value**2
    # ... and the package's own certify() of those multipliers gives no larger bound.
    again = lipsdp.certify(net, res.multipliers)
    assert again.certified
    assert again.value <= res.value * (1 + 1e-9)


def _sampled_jacobian_lower_bound(W, rng, n=2000):
    """max ||J_f(x)||_2 over random inputs of a ReLU network (a lower bound on the true L)."""
    best = 0.0
    for x in rng.standard_normal((n, W[0].shape[1])):
        J, h = np.eye(W[0].shape[1]), x
        for Wk in W[:-1]:
            z = Wk @ h
            J = (z > 0)[:, None] * (Wk @ J)
            h = np.maximum(z, 0)
        best = max(best, np.linalg.norm(W[-1] @ J, 2))
    return best


@pytest.mark.parametrize("widths", [[4, 10, 10, 2], [6, 12, 10, 8, 3], [3, 5, 1]])
def test_orderings_relu(rng, widths, random_weights):
    W = random_weights(rng, widths)
    lower = _sampled_jacobian_lower_bound(W, rng)
    neuron = lipsdp.solve(W, multipliers="neuron", solver="clarabel").value
    layer = lipsdp.solve(W, multipliers="layer", solver="clarabel").value
    fast = lipsdp.closed_form(W, "eclipse-fast").value
    naive = lipsdp.closed_form(W, "naive").value
    tol = 1e-7
    assert lower <= neuron * (1 + tol)
    assert neuron <= layer * (1 + tol)
    assert layer <= fast * (1 + tol)
    assert fast <= naive * (1 + tol)


@pytest.mark.parametrize("slopes", [(0.1, 1.0), (0.0, 0.25), (-0.5, 1.0)])
def test_orderings_general_slopes(rng, slopes, random_weights):
    W = random_weights(rng, [5, 9, 9, 2])
    neuron = lipsdp.solve(W, slopes=slopes, solver="clarabel").value
    layer = lipsdp.solve(W, slopes=slopes, multipliers="layer", solver="clarabel").value
    assert neuron <= layer * (1 + 1e-7)
    methods = ["naive"] if slopes[0] * slopes[1] < 0 else ["naive", "eclipse-fast"]
    for method in methods:
        res = lipsdp.closed_form(W, method, slopes=slopes)
        assert res.certified
        assert layer <= res.value * (1 + 1e-7)


def test_single_matrix_is_spectral_norm(rng):
    W = rng.standard_normal((4, 6))
    res = lipsdp.solve([W])
    assert res.certified
    assert res.value == pytest.approx(np.linalg.norm(W, 2), rel=1e-9)
    assert res.multipliers == []


def test_one_hidden_neuron_is_exact(rng):
    # f(x) = w1 relu(w0 . x): L = ||w1|| ||w0|| exactly, and LipSDP attains it.
    W = [rng.standard_normal((1, 5)), rng.standard_normal((3, 1))]
    exact = np.linalg.norm(W[0]) * np.linalg.norm(W[1])
    for multipliers in ("neuron", "layer"):
        assert lipsdp.solve(W, multipliers=multipliers, solver="clarabel").value == pytest.approx(
            exact, rel=1e-6
        )


@pytest.mark.parametrize("c", [3.0, -0.5])
@pytest.mark.parametrize("layer", [0, 1, 2])
def test_homogeneity_in_each_weight(rng, c, layer, random_weights):
    W = random_weights(rng, [4, 7, 6, 2])
    base = lipsdp.solve(W, solver="clarabel", slopes=(0.1, 1.0)).value
    scaled = [w.copy() for w in W]
    scaled[layer] = c * scaled[layer]
    value = lipsdp.solve(scaled, solver="clarabel", slopes=(0.1, 1.0)).value
    assert value == pytest.approx(abs(c) * base, rel=1e-6)


def test_caller_arrays_and_options_untouched(rng, random_weights):
    W = random_weights(rng, [4, 7, 2])
    before = [w.copy() for w in W]
    options = {"tol": 1e-9}
    lipsdp.solve(W, solver="clarabel", options=options)
    assert options == {"tol": 1e-9}
    for a, b in zip(W, before, strict=True):
        np.testing.assert_array_equal(a, b)


def test_solver_stopped_early_is_proved_or_nan(rng, random_weights):
    # A stopped solve's point is still proved where it can be (docs/math.md §4 trusts no
    # solver); the status says that the solver stopped.
    W = random_weights(rng, [4, 10, 10, 2])
    full = lipsdp.solve(W, solver="clarabel")
    res = lipsdp.solve(W, solver="clarabel", options={"max_iter": 2})
    assert "max_iterations" in res.summary
    if res.certified:
        assert res.status is lipsdp.Status.MAX_ITERATIONS
        assert res.status == "max_iterations"
        assert res.message == "stopped: max_iterations; its point certified"
        assert res.value >= full.value * (1 - 1e-7)
    else:
        assert res.status in (lipsdp.Status.SOLVER_FAILED, lipsdp.Status.NOT_CERTIFIED)
        assert np.isnan(res.value)
        assert res.multipliers == []


def test_auto_picks_an_installed_backend(rng, random_weights):
    res = lipsdp.solve(random_weights(rng, [3, 5, 2]))
    assert res.solver in solvers.available()
    assert res.certified


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"variant": "chordall"}, ValueError, "variant is 'chordall'; expected one of"),
        ({"multipliers": "network"}, ValueError, "multipliers is 'network'; expected one of"),
        ({"solver": "gurobi-sdp"}, ValueError, "gurobi-sdp"),
        ({"solver": "cvxpy:NOSUCHSOLVER"}, ValueError, "NOSUCHSOLVER"),
        ({"solver": 3}, TypeError, "solver is int"),
        ({"options": [("tol", 1)]}, TypeError, "options is list"),
        ({"warm_start": "magic"}, ValueError, "warm_start is 'magic'"),
    ],
)
def test_bad_arguments(small_net, kwargs, error, match):
    with pytest.raises(error, match=match):
        lipsdp.solve(small_net, **kwargs)


def test_unknown_and_not_installed_solver_differ(small_net):
    with pytest.raises(solvers.UnknownSolverError):
        lipsdp.solve(small_net, solver="nosuch")
    missing = next(
        (s for s in ("cvxpy:MOSEK", "cvxpy:GUROBI", "cvxpy:COPT") if not solvers.is_installed(s)),
        None,
    )
    if missing is None:
        pytest.skip("every commercial cvxpy solver is installed here")
    with pytest.raises(solvers.SolverNotInstalledError, match="pip install"):
        lipsdp.solve(small_net, solver=missing)


@pytest.mark.parametrize("zero", [0, 1, 2])
def test_a_zero_weight_matrix_gives_a_proved_zero(rng, zero, random_weights):
    W = random_weights(rng, [6, 4, 5, 2])
    W[zero] = np.zeros_like(W[zero])
    res = lipsdp.solve(W)
    assert res.certified
    assert res.value == 0.0
    assert res.status == "constant_network"
    assert f"weights[{zero}] is zero" in res.info["certified_by"]


def test_status_is_a_member_of_the_fixed_set(rng, random_weights):
    # Every status is a lipsdp.Status (a str enum: equal to its value), the free-text detail
    # is the message, and a status outside the set is refused.
    W = random_weights(rng, [4, 6, 6, 2])
    results = [lipsdp.solve(W), lipsdp.closed_form(W, "best"), lipsdp.certify(W, [np.zeros(6),
               np.zeros(6)]), lipsdp.solve([np.zeros((3, 4)), np.ones((2, 3))])]
    for res in results:
        assert isinstance(res.status, lipsdp.Status)
        assert res.status == res.status.value
        assert str(res.status) == res.status.value
        assert f"{res.status}" == res.status.value
        assert isinstance(res.message, str)
    assert [r.status for r in results] == ["optimal", "closed_form", "not_certified",
                                           "constant_network"]
    assert results[2].message
    assert results[2].summary == f"not_certified: {results[2].message}"
    with pytest.raises(ValueError, match="status is 'done'; expected one of"):
        lipsdp.LipschitzResult(value=1.0, certified=True, multipliers=[], status="done",
                               method="x")


def test_lower_bound_and_gap_are_fields(rng, random_weights):
    W = random_weights(rng, [4, 6, 6, 2])
    res = lipsdp.solve(W, solver="lowrank-ipm")
    assert res.lower_bound == res.info["lower_bound"]
    assert res.proved_gap == res.info["certified_gap"]
    assert 0 < res.lower_bound <= res.value
    assert res.proved_gap == pytest.approx(res.value / res.lower_bound - 1.0)
    cf = lipsdp.closed_form(W, "naive")
    assert np.isnan(cf.lower_bound)
    assert np.isnan(cf.proved_gap)
    # In the user's units too (a network far from the normalised scale).
    big = lipsdp.solve([1e30 * w for w in W], solver="lowrank-ipm")
    assert big.lower_bound == big.info["lower_bound"]
    assert big.lower_bound / big.value == pytest.approx(res.lower_bound / res.value, rel=1e-5)


def test_results_share_a_base(rng, random_weights):
    W = random_weights(rng, [4, 6, 2])
    for res in (lipsdp.solve(W), lipsdp.lower_bound(W), lipsdp.bracket(W)):
        assert isinstance(res, lipsdp.result.Result)
        assert res.total_time > 0
        assert isinstance(res.info, dict)
    low = lipsdp.lower_bound(W)
    assert low.time == low.total_time


def test_the_input_compression_is_computed_once_per_solve(rng, random_weights, monkeypatch):
    # The formulation, the low-rank factors and the dual repair share one QR of W_0^T (it ran
    # three times per solve, and under BLAS oversubscription one took 1.4 s on 784-200-200-10).
    import lipsdp.lmi

    calls = []
    original = lipsdp.lmi.compress_input
    monkeypatch.setattr(lipsdp.lmi, "compress_input",
                        lambda W0: calls.append(W0.shape) or original(W0))
    res = lipsdp.solve(random_weights(rng, [30, 8, 8, 2]), solver="lowrank-ipm")
    assert res.certified
    assert np.isfinite(res.lower_bound)  # the dual repair ran, on the same geometry
    assert calls == [(8, 30)]
