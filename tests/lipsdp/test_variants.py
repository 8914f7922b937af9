"""Scalable variants: chordal == full, split >= full (the product rule), ECLipsE, bad input."""

import importlib.util
import itertools
import json

import joblib
import numpy as np
import pytest

import lipsdp
import lipsdp_solvers as solvers
from lipsdp.cli import main
from lipsdp.formulation import build_chordal, build_full, chordal_cliques

from reference import reference_matrix

SLOPES = {
    "relu": (0.0, 1.0),
    "leaky": (0.1, 1.0),
    "per-layer": [(0.0, 1.0), (0.2, 1.0), (0.0, 0.25)],
}


def assert_certified_by_own_multipliers(net, res):
    """Dense M(value^2, T) of the result's own multipliers is negative semidefinite."""
    assert res.certified, res.status
    assert len(res.multipliers) == net.n_hidden
    M = reference_matrix(list(net.weights), net.slopes, res.value**2, res.multipliers)
    assert np.linalg.eigvalsh(M)[-1] <= 1e-9 * res.value**2


@pytest.fixture
def net3(rng, random_weights):
    """Three hidden layers: clique sizes 2 and 3 give different decompositions."""
    return lipsdp.Network(random_weights(rng, [5, 8, 7, 8, 3]))


# --- chordal ---------------------------------------------------------------------------------
@pytest.mark.parametrize("clique_size", [2, 3])
@pytest.mark.parametrize("slopes", list(SLOPES))
@pytest.mark.parametrize("multipliers", ["neuron", "layer"])
def test_chordal_equals_full(rng, multipliers, slopes, clique_size, random_weights):
    net = lipsdp.Network(random_weights(rng, [5, 8, 7, 8, 3]), SLOPES[slopes])
    full = lipsdp.solve(net, multipliers=multipliers, solver="clarabel")
    res = lipsdp.solve(
        net, variant="chordal", multipliers=multipliers, solver="clarabel",
        clique_size=clique_size,
    )
    assert res.value == pytest.approx(full.value, rel=1e-6)
    assert res.variant == "chordal"
    assert res.method == f"lipsdp-{multipliers}"
    assert res.status == "optimal"
    assert_certified_by_own_multipliers(net, res)


def test_chordal_wide_input_and_deeper(rng, random_weights):
    net = lipsdp.Network(random_weights(rng, [30, 6, 5, 6, 5, 6, 4]), (0.1, 1.0))
    full = lipsdp.solve(net, solver="clarabel")
    for clique_size in (2, 3, 4, 10):
        res = lipsdp.solve(net, variant="chordal", solver="clarabel", clique_size=clique_size)
        assert res.value == pytest.approx(full.value, rel=1e-6)


def test_chordal_cliques_cover_every_block_pair_once():
    assert chordal_cliques(4, 2) == [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert chordal_cliques(4, 3) == [(0, 2), (2, 4)]
    assert chordal_cliques(4, 4) == [(0, 3), (3, 4)]
    assert chordal_cliques(1, 5) == [(0, 1)]


def test_chordal_blocks_sum_to_full_lmi(net3, rng):
    """At any x, the clique matrices embedded back sum to the full LMI (the overlaps cancel)."""
    full, chordal = build_full(net3), build_chordal(net3, clique_size=2)
    x = rng.standard_normal(chordal.problem.n_vars)
    n_base = full.problem.n_vars
    total = np.zeros((full.problem.blocks[0].size,) * 2)
    offsets = np.concatenate([[0], np.cumsum(chordal.block_sizes)])
    for (first, last), block in zip(chordal.cliques, chordal.problem.blocks, strict=True):
        lo, hi = offsets[first], offsets[last + 1]
        total[lo:hi, lo:hi] += block.matrix(x)
    d = full.row_scale  # the full LMI is stored balanced, as D (-M) D
    unscaled = full.problem.blocks[0].matrix(x[:n_base]) / np.outer(d, d)
    np.testing.assert_allclose(total, unscaled, atol=1e-9 * np.abs(unscaled).max())


def test_chordal_warm_start_point_is_feasible(net3):
    res = lipsdp.closed_form(net3, "eclipse-fast")
    formulation = build_chordal(net3, clique_size=2)
    x0 = formulation.from_multipliers(res.value**2 * 1.01, res.multipliers)
    assert formulation.problem.min_eigenvalue(x0) >= -1e-9
    rho, ts = formulation.to_multipliers(x0)
    assert rho == pytest.approx(res.value**2 * 1.01)
    for t, t0 in zip(ts, res.multipliers, strict=True):
        np.testing.assert_allclose(t, t0)


def test_chordal_with_warm_start_and_scs(net3):
    res = lipsdp.solve(net3, variant="chordal", solver="scs", warm_start="eclipse-fast")
    full = lipsdp.solve(net3, solver="clarabel")
    assert res.certified
    assert res.value == pytest.approx(full.value, rel=1e-3)
    assert res.value >= full.value * (1 - 1e-7)


# --- split -----------------------------------------------------------------------------------
def _product_of_blocks(net, cuts, multipliers="neuron"):
    bounds = [0, *cuts, len(net.weights)]
    value = 1.0
    for a, b in itertools.pairwise(bounds):
        sub = lipsdp.Network(net.weights[a:b], net.slopes[a : b - 1])
        value *= lipsdp.solve(sub, multipliers=multipliers, solver="clarabel").value
    for c in cuts:
        alpha, beta = net.slopes[c - 1]
        value *= max(abs(alpha), abs(beta))
    return value


@pytest.mark.parametrize(
    ("slopes", "kwargs", "cuts"),
    [
        ((0.0, 1.0), {"split": 2}, [2, 4]),
        ((0.0, 1.0), {"cuts": [1, 3]}, [1, 3]),
        ((0.1, 1.0), {"split": 3}, [3]),
        ([(0.0, 1.0), (0.0, 0.25), (-0.5, 1.0), (0.2, 1.0)], {"split": 2}, [2, 4]),
        ([(0.0, 1.0), (-0.5, 1.0), (0.0, 0.25), (0.2, 1.0)], {"cuts": [1, 2, 3]}, [1, 2, 3]),
        ((0.0, 1.0), {"split": 1}, [1, 2, 3, 4]),
    ],
)
def test_split_is_the_certified_product_rule(rng, slopes, kwargs, cuts, random_weights):
    net = lipsdp.Network(random_weights(rng, [5, 7, 6, 7, 6, 3]), slopes)
    full = lipsdp.solve(net, solver="clarabel")
    res = lipsdp.solve(net, variant="split", solver="clarabel", **kwargs)
    product = _product_of_blocks(net, cuts)
    assert res.info["cuts"] == cuts
    assert len(res.parts) == len(cuts) + 1
    assert res.published_value == pytest.approx(product, rel=1e-9)
    # Whole-network multipliers certify the product; re-certified along their ray (docs/math.md
    # §4) they may certify less than the product, never more.
    assert res.info["certified_by"] == "network"
    assert res.value <= product * (1 + 1e-9)
    assert res.value >= full.value * (1 - 1e-7)
    assert_certified_by_own_multipliers(net, res)
    for part in res.parts:
        assert part.certified
        assert part.total_time > 0


def test_split_layer_multipliers(rng, random_weights):
    net = lipsdp.Network(random_weights(rng, [5, 7, 6, 7, 6, 3]), (0.1, 1.0))
    res = lipsdp.solve(net, variant="split", multipliers="layer", split=2, solver="clarabel")
    product = _product_of_blocks(net, [2, 4], "layer")
    assert res.published_value == pytest.approx(product, rel=1e-9)
    assert res.value <= product * (1 + 1e-9)
    assert all(np.ptp(t) == 0 for t in res.multipliers)
    assert_certified_by_own_multipliers(net, res)


def test_split_into_one_block_is_full(net3):
    full = lipsdp.solve(net3, solver="clarabel")
    res = lipsdp.solve(net3, variant="split", split=len(net3.weights), solver="clarabel")
    assert res.value == pytest.approx(full.value, rel=1e-9)
    assert len(res.parts) == 1


def test_split_cut_at_linear_activation_is_certified_by_parts(rng, random_weights):
    net = lipsdp.Network(random_weights(rng, [5, 7, 6, 3]), [(0.0, 1.0), (0.5, 0.5)])
    res = lipsdp.solve(net, variant="split", cuts=[2], solver="clarabel")
    assert res.certified
    assert res.info["certified_by"] == "parts"
    assert res.multipliers == []
    assert res.value == pytest.approx(_product_of_blocks(net, [2]), rel=1e-9)
    assert res.status == "certified_by_parts"


def test_split_failed_block_fails_the_whole(rng, random_weights):
    solvers.register("faulty", "faulty_backend", "it is the test suite's own")
    net = lipsdp.Network(random_weights(rng, [5, 10, 10, 10, 10, 3]))
    res = lipsdp.solve(net, variant="split", cuts=[2], solver="faulty", options={"mode": "nan"})
    assert not res.certified
    assert np.isnan(res.value)
    assert res.status is lipsdp.Status.PART_FAILED
    assert res.message.startswith("block 0 (weights[0:2]): solver_failed")
    assert len(res.parts) == 2


def test_split_same_value_with_one_and_two_jobs(rng, random_weights):
    net = lipsdp.Network(random_weights(rng, [5, 8, 8, 8, 8, 8, 3]))
    one = lipsdp.solve(net, variant="split", split=2, solver="clarabel", n_jobs=1)
    two = lipsdp.solve(net, variant="split", split=2, solver="clarabel", n_jobs=2)
    assert one.certified
    assert two.certified
    assert two.value == pytest.approx(one.value, rel=1e-12)
    assert [p.value for p in two.parts] == pytest.approx([p.value for p in one.parts], rel=1e-12)


@pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None,
    reason="dask.distributed is not installed (pip install 'lipsdp[dask]')",
)
def test_split_on_a_local_dask_cluster(rng, random_weights):
    from distributed import Client, LocalCluster

    net = lipsdp.Network(random_weights(rng, [5, 8, 8, 8, 8, 3]))
    local = lipsdp.solve(net, variant="split", split=2, solver="clarabel", n_jobs=1)
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                     dashboard_address=None) as cluster,
        Client(cluster),
        joblib.parallel_config(backend="dask"),
    ):
        res = lipsdp.solve(net, variant="split", split=2, solver="clarabel")
    assert res.certified
    assert res.value == pytest.approx(local.value, rel=1e-12)


def test_split_auto_chooses_a_backend_per_block(rng, random_weights):
    net = lipsdp.Network(random_weights(rng, [5, 8, 8, 8, 3]))
    res = lipsdp.solve(net, variant="split", split=2)
    assert res.certified
    assert all(p.solver in solvers.available() for p in res.parts if p.solver)


# --- sequential (ECLipsE) --------------------------------------------------------------------
@pytest.mark.parametrize("slopes", list(SLOPES))
@pytest.mark.parametrize("multipliers", ["neuron", "layer"])
def test_sequential_certified_and_above_full(rng, multipliers, slopes, random_weights):
    net = lipsdp.Network(random_weights(rng, [5, 8, 7, 8, 3]), SLOPES[slopes])
    full = lipsdp.solve(net, multipliers=multipliers, solver="clarabel")
    res = lipsdp.solve(net, variant="sequential", multipliers=multipliers, solver="clarabel")
    assert res.variant == "sequential"
    assert res.method == ("eclipse" if multipliers == "neuron" else "eclipse-layer")
    assert res.value >= full.value * (1 - 1e-7)
    assert_certified_by_own_multipliers(net, res)
    assert len(res.info["stage_methods"]) == net.n_hidden


@pytest.mark.parametrize("multipliers", ["neuron", "layer"])
def test_sequential_is_lipsdp_for_one_hidden_layer(rng, multipliers, random_weights):
    net = lipsdp.Network(random_weights(rng, [6, 10, 3]), (0.1, 1.0))
    full = lipsdp.solve(net, multipliers=multipliers, solver="clarabel")
    res = lipsdp.solve(net, variant="sequential", multipliers=multipliers, solver="clarabel")
    assert res.value == pytest.approx(full.value, rel=1e-6)


def test_sequential_failed_stages_fall_back_and_say_so(rng, random_weights):
    net = lipsdp.Network(random_weights(rng, [5, 8, 7, 8, 3]))
    res = lipsdp.solve(net, variant="sequential", solver="clarabel", options={"max_iter": 1})
    assert res.certified
    assert res.info["fallback_stages"] == [1, 2, 3]
    assert set(res.info["fallback_reasons"]) == {1, 2, 3}
    assert res.info["stage_methods"] == ["closed-form"] * 3
    assert res.status == "certified"
    # For ReLU the fallback is exactly ECLipsE-Fast's choice at every stage.
    fast = lipsdp.closed_form(net, "eclipse-fast")
    assert res.value == pytest.approx(fast.value, rel=1e-9)


def test_sequential_negative_slope_product(rng, random_weights):
    net = lipsdp.Network(random_weights(rng, [5, 8, 7, 3]), (-0.5, 1.0))
    full = lipsdp.solve(net, solver="clarabel")
    res = lipsdp.solve(net, variant="sequential", solver="clarabel")
    assert res.value >= full.value * (1 - 1e-7)
    assert_certified_by_own_multipliers(net, res)


# --- bad input, before any work --------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"variant": "split"}, ValueError, "exactly one of split=K .* got neither"),
        ({"variant": "split", "split": 2, "cuts": [1]}, ValueError, "split=2 and cuts=\\[1\\]"),
        ({"variant": "split", "split": 0}, ValueError, "split is 0; expected an integer in 1..4"),
        ({"variant": "split", "split": 5}, ValueError, "split is 5; expected .* 4 weight"),
        ({"variant": "split", "split": -1}, ValueError, "split is -1"),
        ({"variant": "split", "split": 1.5}, TypeError, "split is 1.5; expected a positive int"),
        ({"variant": "split", "split": True}, TypeError, "split is True"),
        ({"variant": "split", "cuts": [0]}, ValueError, "cuts\\[0\\] is 0; expected .* 1..3"),
        ({"variant": "split", "cuts": [4]}, ValueError, "cuts\\[0\\] is 4; expected .* 1..3"),
        ({"variant": "split", "cuts": [2, 1]}, ValueError, "unsorted at cuts\\[1\\]"),
        ({"variant": "split", "cuts": [1, 1]}, ValueError, "duplicated at cuts\\[1\\]"),
        ({"variant": "split", "cuts": "12"}, TypeError, "cuts is '12'; expected a list"),
        ({"variant": "split", "cuts": [1.0]}, TypeError, "cuts\\[0\\] is 1.0"),
        ({"variant": "split", "split": 2, "n_jobs": 0}, ValueError, "n_jobs is 0"),
        ({"variant": "split", "split": 2, "n_jobs": 1.5}, TypeError, "n_jobs is 1.5"),
        ({"variant": "split", "split": 2, "clique_size": 2}, TypeError,
         "variant 'split' got unexpected option\\(s\\) \\['clique_size'\\]; it takes only split"),
        ({"variant": "chordal", "clique_size": 1}, ValueError, "clique_size is 1; expected"),
        ({"variant": "chordal", "clique_size": 2.0}, TypeError, "clique_size is 2.0"),
        ({"variant": "chordal", "clique_size": True}, TypeError, "clique_size is True"),
        ({"variant": "chordal", "split": 2}, TypeError,
         "variant 'chordal' got unexpected option\\(s\\) \\['split'\\]"),
        ({"variant": "chordal", "options": {"gap_tol": 1e-3}}, ValueError, "gap_tol"),
        ({"variant": "sequential", "n_jobs": 2}, TypeError,
         "variant 'sequential' got unexpected option\\(s\\) \\['n_jobs'\\]; it takes no options"),
        ({"variant": "full", "split": 2}, TypeError, "variant 'full' takes no options"),
    ],
)
def test_bad_variant_options(net3, kwargs, error, match, monkeypatch):
    def no_solve(*args, **kwargs):  # bad input must be rejected before any solve
        raise AssertionError("a solver was called")

    monkeypatch.setattr(solvers, "solve", no_solve)
    with pytest.raises(error, match=match):
        lipsdp.solve(net3, solver="clarabel", **kwargs)


# --- CLI -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "variant"),
    [
        (["--variant", "split", "--split", "2", "--n-jobs", "1"], "split"),
        (["--variant", "split", "--cuts", "1", "3"], "split"),
        (["--variant", "chordal", "--clique-size", "3"], "chordal"),
        (["--variant", "sequential"], "sequential"),
    ],
)
def test_cli_variants(capsys, args, variant):
    assert main(["solve", "--method", "lipsdp", "--solver", "clarabel", "--json", *args]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["certified"] is True
    assert payload["variant"] == variant


def test_cli_rejects_option_of_another_variant(capsys):
    assert main(["solve", "--variant", "chordal", "--split", "2"]) == 2
    err = capsys.readouterr().err
    assert "unexpected option(s) ['split']" in err
    assert len(err.strip().splitlines()) == 1


def test_neuron_terms_are_the_derivative_of_M(rng, random_weights):
    # -dM/dt_j = [e_j w_j] [[c_ee, c_ew], [c_ew, c_ww]] [e_j w_j]^T (docs/math.md §2), checked
    # against the dense reference matrix (uncompressed input: n_0 <= n_1 here).
    from lipsdp.lmi import lmi_geometry, neuron_terms

    weights = random_weights(rng, [3, 4, 2])
    slopes = [(0.1, 0.9)]
    geometry = lmi_geometry(lipsdp.Network(weights, slopes))
    assert geometry.sizes == (3, 4)
    np.testing.assert_array_equal(geometry.offsets, [0, 3, 7])
    t0 = [np.zeros(4)]
    base = reference_matrix(weights, slopes, 1.0, t0)
    c_ee, c_ew, c_ww = neuron_terms(*slopes[0])
    for j in range(4):
        t = [np.eye(4)[j]]
        dM = reference_matrix(weights, slopes, 1.0, t) - base
        e = np.zeros(7)
        e[3 + j] = 1.0
        w = np.zeros(7)
        w[:3] = weights[0][j]
        F = c_ee * np.outer(e, e) + c_ew * (np.outer(e, w) + np.outer(w, e)) + c_ww * np.outer(w, w)
        np.testing.assert_allclose(-dM, F, atol=1e-14)


def test_schur_step_is_the_recursion_of_math_md_3(rng):
    from lipsdp.lmi import schur_step

    W = rng.standard_normal((5, 4))
    A = rng.standard_normal((4, 4))
    M = A @ A.T + np.eye(4)
    lam = rng.uniform(0.5, 2.0, 5)
    p, m = 0.01 * 1.0, 0.505
    X = M + p * W.T @ np.diag(lam) @ W
    L = np.diag(lam)
    expected = L - m * m * L @ W @ np.linalg.solve(X, W.T) @ L
    Mk, G = schur_step(M, W, lam, p, m)
    np.testing.assert_allclose(Mk, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(G @ G.T, X, rtol=1e-12)
    np.testing.assert_array_equal(Mk, Mk.T)
    M0, G0 = schur_step(None, W, lam, 0.0, m)  # M_0 = I
    np.testing.assert_allclose(M0, L - m * m * L @ W @ W.T @ L, rtol=1e-12, atol=1e-12)
    assert G0 is None
    again, _ = schur_step(M, W, lam, 0.0, m, factor=np.linalg.cholesky(M))
    np.testing.assert_allclose(again, L - m * m * L @ W @ np.linalg.solve(M, W.T) @ L,
                               rtol=1e-12, atol=1e-12)
    assert schur_step(-np.eye(4), W, lam, 0.0, m) is None  # the pivot is not positive definite
