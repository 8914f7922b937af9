"""Lower bounds, brackets (docs/math.md §6) and the warm-start fallback of ``lipsdp.solve``."""

import importlib

import numpy as np
import pytest

import lipsdp

bounds_module = importlib.import_module("lipsdp.bounds")
bracketing_module = importlib.import_module("lipsdp.bracketing")
api_module = importlib.import_module("lipsdp.api")

NAMED = ["relu", "leaky_relu", "tanh", "sigmoid", "elu", "softplus"]
SLOPES_OF = {"relu": (0.0, 1.0), "leaky_relu": (0.1, 1.0), "tanh": (0.0, 1.0),
             "sigmoid": (0.0, 0.25), "elu": (0.0, 1.0), "softplus": (0.0, 1.0)}


def _forward(W, phi, x):
    h = x
    for w in W[:-1]:
        h = phi(w @ h)
    return W[-1] @ h


class TestJacobian:
    @pytest.mark.parametrize("name", NAMED)
    def test_below_every_certified_upper_bound(self, rng, name, random_weights):
        net = lipsdp.Network(random_weights(rng, [5, 12, 10, 3]), SLOPES_OF[name])
        low = lipsdp.lower_bound(net, activation=name, n_samples=64, ascent_steps=10)
        assert low.kind == "lipschitz"
        assert low.method == "jacobian"
        assert 0 < low.value <= lipsdp.closed_form(net, "best").value
        # It is the norm of the Jacobian at low.x, in direction low.direction.
        act = lipsdp.ACTIVATIONS[name] if name != "leaky_relu" else None
        if act is not None:
            h = 1e-6
            x, v = low.x, low.direction
            y1 = _forward(net.weights, act.phi, x + h * v)
            y0 = _forward(net.weights, act.phi, x - h * v)
            assert np.linalg.norm(y1 - y0) / (2 * h) == pytest.approx(low.value, rel=1e-5)

    def test_ascent_never_loses(self, rng, random_weights):
        net = lipsdp.Network(random_weights(rng, [4, 10, 10, 2]))
        low = lipsdp.lower_bound(net, activation="tanh", n_samples=32, ascent_steps=20)
        assert low.value >= low.info["best_sample"]
        none = lipsdp.lower_bound(net, activation="tanh", n_samples=32, ascent_steps=0)
        assert none.value == pytest.approx(low.info["best_sample"])

    def test_linear_network_is_exact(self, rng, random_weights):
        W = random_weights(rng, [4, 6, 3])
        identity = (lambda z: z, lambda z: np.ones_like(z))
        low = lipsdp.lower_bound(W, activation=identity, n_samples=4, slopes=(1.0, 1.0))
        assert low.value == pytest.approx(np.linalg.norm(W[1] @ W[0], 2), rel=1e-12)

    def test_callable_pair_and_per_layer_list(self, rng, random_weights):
        W = random_weights(rng, [4, 6, 5, 2])
        pair = lipsdp.lower_bound(W, activation=(np.tanh, lambda z: 1 - np.tanh(z) ** 2))
        named = lipsdp.lower_bound(W, activation="tanh")
        assert pair.value == pytest.approx(named.value, rel=1e-6)
        mixed = lipsdp.lower_bound(W, activation=["tanh", "relu"])
        assert mixed.info["activation"] == ["tanh", "relu"]

    def test_leaky_relu_takes_alpha_from_the_network(self, rng, random_weights):
        net = lipsdp.Network(random_weights(rng, [3, 5, 2]), (0.2, 1.0))
        low = lipsdp.lower_bound(net)  # default: leaky ReLU(0.2)
        assert low.info["activation"] == ["leaky_relu(0.2)"]
        assert set(np.unique(np.concatenate(low.D))) <= {0.2, 1.0}

    def test_reproducible(self, rng, random_weights):
        W = random_weights(rng, [4, 8, 2])
        assert lipsdp.lower_bound(W, seed=3).value == lipsdp.lower_bound(W, seed=3).value

    @pytest.mark.parametrize(
        ("kwargs", "error", "match"),
        [
            ({"activation": "swish"}, ValueError, "activation is 'swish'; expected one of"),
            ({"activation": np.tanh}, TypeError, "single callable"),
            ({"activation": 3}, TypeError, "activation is int"),
            ({"activation": ["relu"]}, ValueError, "activation has 1 entries; expected 2"),
            ({"n_samples": 0}, ValueError, "n_samples is 0"),
            ({"n_samples": 2.5}, TypeError, "n_samples is float"),
            ({"input_scale": -1.0}, ValueError, "input_scale is -1.0"),
            ({"seed": "a"}, TypeError, "seed is str"),
        ],
    )
    def test_bad_input(self, rng, kwargs, error, match, random_weights):
        with pytest.raises(error, match=match):
            lipsdp.lower_bound(random_weights(rng, [3, 4, 4, 1]), **kwargs)

    def test_non_relu_slopes_need_the_activation(self, rng, random_weights):
        with pytest.raises(ValueError, match="pass activation="):
            lipsdp.lower_bound(random_weights(rng, [3, 4, 1]), slopes=(0.0, 0.25))


class TestSlopeClass:
    def test_diagonal_network_is_exact(self, rng):
        a, b = rng.uniform(-2, 2, 5), rng.uniform(-2, 2, 5)
        low = lipsdp.lower_bound([np.diag(a), np.diag(b)], "slope-class", slopes=(0.0, 0.5))
        assert low.value == pytest.approx(0.5 * np.max(np.abs(a * b)), rel=1e-12)
        assert low.kind == "lipsdp"

    def test_value_is_the_norm_of_its_product(self, rng, random_weights):
        net = lipsdp.Network(random_weights(rng, [5, 9, 7, 3]), (0.1, 1.0))
        low = lipsdp.lower_bound(net, "slope-class")
        P = net.weights[2] @ np.diag(low.D[1]) @ net.weights[1] @ np.diag(low.D[0]) @ net.weights[0]
        assert low.value == pytest.approx(np.linalg.norm(P, 2), rel=1e-12)
        for d in low.D:  # a vertex of the slope box
            assert set(np.unique(d)) <= {0.1, 1.0}

    @pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid"])
    def test_at_least_the_jacobian_it_starts_from(self, rng, name, random_weights):
        net = lipsdp.Network(random_weights(rng, [4, 10, 8, 2]), SLOPES_OF[name])
        jac = lipsdp.lower_bound(net, activation=name, n_samples=32)
        slope = lipsdp.lower_bound(net, "slope-class", starts=[jac], n_restarts=0)
        assert slope.value >= jac.value * (1 - 1e-12)

    def test_activation_is_rejected(self, rng, random_weights):
        with pytest.raises(ValueError, match="activation applies to method='jacobian' only"):
            lipsdp.lower_bound(random_weights(rng, [3, 4, 1]), "slope-class", activation="relu")

    def test_unknown_method(self, rng, random_weights):
        with pytest.raises(ValueError, match="method is 'sampled'; expected one of"):
            lipsdp.lower_bound(random_weights(rng, [3, 4, 1]), "sampled")


class TestBracket:
    @pytest.mark.parametrize(
        ("widths", "slopes", "activation"),
        [
            ([4, 8, 6, 2], (0.0, 1.0), None),
            ([5, 10, 3], (0.0, 1.0), None),
            ([4, 6, 6, 6, 2], (0.1, 1.0), None),
            ([4, 8, 6, 2], (0.0, 0.25), "sigmoid"),
            ([6, 8, 8, 3], (0.0, 1.0), "tanh"),
        ],
    )
    def test_lower_below_lipsdp_below_upper(self, rng, widths, slopes, activation, random_weights):
        net = lipsdp.Network(random_weights(rng, widths), slopes)
        b = lipsdp.bracket(net, activation=activation, n_samples=64, ascent_steps=10)
        sdp = lipsdp.solve(net, solver="clarabel")
        assert b.lower_true <= b.lower * (1 + 1e-12)
        assert b.lower <= sdp.value * (1 + 1e-6) <= b.upper * (1 + 1e-6)
        assert b.upper_result.certified
        assert b.upper == pytest.approx(lipsdp.closed_form(net, "best").value, rel=1e-12)
        assert b.gap == pytest.approx(b.upper / b.lower - 1)
        assert set(b.lower_results) == {"jacobian", "slope-class"}
        assert b.lower_results["jacobian"].kind == "lipschitz"
        assert b.lower_results["slope-class"].kind == "lipsdp"

    def test_solve_tightens_the_upper_end(self, rng, random_weights):
        net = lipsdp.Network(random_weights(rng, [4, 8, 6, 2]))
        b = lipsdp.bracket(net, solve=True, solver="clarabel")
        assert b.upper_method == "solve:clarabel"
        assert b.upper < b.info["closed_form"].value
        assert b.lower <= b.upper

    def test_without_activation_for_other_slopes_no_true_lower_bound(self, rng, random_weights):
        b = lipsdp.bracket(random_weights(rng, [3, 6, 2]), slopes=(0.0, 0.25))
        assert np.isnan(b.lower_true)
        assert b.lower_method == "slope-class"

    def test_activation_outside_the_slope_class_is_an_error(self, rng, random_weights):
        with pytest.raises(ValueError, match=r"activation 'tanh' has slopes \(0.0, 1.0\)"):
            lipsdp.bracket(random_weights(rng, [3, 6, 2]), slopes=(0.0, 0.25), activation="tanh")

    def test_gap_tol_skips_the_solve_when_already_met(self, rng, monkeypatch, random_weights):
        def no_solve(*args, **kwargs):
            raise AssertionError("solve should have been skipped")

        monkeypatch.setattr(api_module, "solve", no_solve)
        b = lipsdp.bracket(random_weights(rng, [3, 6, 2]), solve=True, gap_tol=1e6)
        assert b.info["solve"].startswith("skipped")

    @pytest.mark.parametrize("supported", [True, False])
    def test_gap_tol_is_passed_only_to_backends_that_take_it(self, rng, monkeypatch, supported,
                                                             random_weights):
        seen = {}

        def fake_solve(net, solver, options, warm_start):
            seen.update(solver=solver, options=dict(options))
            return warm_start

        monkeypatch.setattr(api_module, "solve", fake_solve)
        monkeypatch.setattr(bracketing_module, "supports_gap_tol", lambda name: supported)
        options = {"max_iter": 10}
        lipsdp.bracket(random_weights(rng, [3, 6, 2]), solve=True, solver="scs",
                       gap_tol=1e-9, options=options)
        assert seen["solver"] == "scs"
        assert ("gap_tol" in seen["options"]) is supported
        assert options == {"max_iter": 10}  # never modified

    def test_supports_gap_tol(self):
        assert not bounds_module.supports_gap_tol("clarabel")

    def test_no_hidden_layer(self, rng):
        W = rng.standard_normal((3, 4))
        b = lipsdp.bracket([W])
        assert b.lower <= b.upper <= b.lower * (1 + 1e-12)
        assert b.lower_true == pytest.approx(np.linalg.norm(W, 2))

    @pytest.mark.parametrize(
        ("kwargs", "error", "match"),
        [
            ({"upper": "fast"}, ValueError, "upper is 'fast'; expected one of"),
            ({"gap_tol": 0.0}, ValueError, "gap_tol is 0.0"),
            ({"solve": "yes"}, TypeError, "solve is str"),
            ({"options": [1]}, TypeError, "options is list"),
        ],
    )
    def test_bad_input(self, rng, kwargs, error, match, random_weights):
        with pytest.raises(error, match=match):
            lipsdp.bracket(random_weights(rng, [3, 4, 1]), **kwargs)


class TestWarmStartFallback:
    @pytest.fixture
    def net(self, rng, random_weights):
        return lipsdp.Network(random_weights(rng, [4, 8, 6, 2]))

    @pytest.mark.parametrize("start", ["eclipse-fast", "lookahead", "result", "multipliers"])
    def test_stopped_solve_returns_the_warm_start_bound(self, net, start):
        ref = lipsdp.closed_form(net, "lookahead")
        warm = {"result": ref, "multipliers": ref.multipliers}.get(start, start)
        expected = lipsdp.closed_form(net, start).value if isinstance(start, str) and start in (
            "eclipse-fast", "lookahead") else ref.value
        res = lipsdp.solve(net, solver="scs", options={"max_iter": 5}, warm_start=warm)
        assert res.certified
        assert res.status is lipsdp.Status.FALLBACK
        assert res.message.startswith("solver ")
        assert res.value == pytest.approx(expected, rel=1e-9)
        source = {"result": "lookahead", "multipliers": "multipliers"}.get(start, start)
        assert res.message.endswith(f"value from warm start {source}")
        assert res.summary == f"fallback: {res.message}"
        assert res.solver == "scs"
        # The multipliers certify the value (independent re-check).
        again = lipsdp.certify(net, res.multipliers, rho=res.value**2)
        assert again.value <= res.value * (1 + 1e-9)

    def test_without_warm_start_a_stopped_solve_is_nan(self, net):
        res = lipsdp.solve(net, solver="scs", options={"max_iter": 5})
        assert not res.certified
        assert np.isnan(res.value)

    def test_converged_warm_started_solve_is_not_a_fallback(self, net):
        res = lipsdp.solve(net, solver="scs", warm_start="eclipse-fast")
        assert res.status == "optimal"
        assert res.value < lipsdp.closed_form(net, "eclipse-fast").value


class TestPrimalDualWarmStart:
    """A previous result carries its dual, so SCS gets a primal-dual start after a weight update."""

    def test_result_keeps_its_dual_in_the_unscaled_convention(self, rng, random_weights):
        W = random_weights(rng, [5, 8, 8, 2])
        res = lipsdp.solve(W, solver="clarabel")
        Y, mu = res.info["warm_dual"]
        side = 5 + 16
        assert Y.shape == (side, side)
        assert mu.shape == (1 + 16,)
        assert np.linalg.eigvalsh(Y)[0] >= -1e-8 * np.abs(Y).max()

    def test_warm_start_from_a_previous_result_saves_scs_iterations(self, rng, random_weights):
        W = random_weights(rng, [8, 16, 16, 16, 4])
        options = {"tol": 1e-8, "max_iter": 100_000}
        before = lipsdp.solve(W, solver="scs", options=options)
        W2 = [w + 1e-3 * np.linalg.norm(w) / np.sqrt(w.size) * rng.standard_normal(w.shape)
              for w in W]
        cold = lipsdp.solve(W2, solver="scs", options=options)
        warm = lipsdp.solve(W2, solver="scs", options=options, warm_start=before)
        assert warm.certified
        assert warm.status == "optimal"
        assert warm.value == pytest.approx(cold.value, rel=1e-4)
        assert warm.iterations < cold.iterations

    def test_a_dual_of_another_shape_is_ignored(self, rng, random_weights):
        before = lipsdp.solve(random_weights(rng, [5, 8, 2]), solver="clarabel")
        other = lipsdp.Network(random_weights(rng, [5, 8, 8, 2]))
        res = lipsdp.solve(other, solver="scs", warm_start=lipsdp.closed_form(other, "naive"))
        assert res.certified
        with pytest.raises(ValueError, match="warm_start"):
            lipsdp.solve(other, solver="scs", warm_start=before)
