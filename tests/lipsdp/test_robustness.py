"""Output rows, class-pair margins and certified radii (lipsdp/robustness.py, issue 18 item 3).

The references are independent of the code under test: the last layer's row difference built
here, Jacobians of the margin computed here, the exact radius of a linear classifier
(``margin / ||w_y - w_j||``), perturbations and a projected gradient attack inside the radius,
and the forward pass in 50-digit arithmetic (mpmath).
"""

from __future__ import annotations

import importlib
import itertools

import numpy as np
import pytest

import lipsdp
from lipsdp.certify import failed

robustness = importlib.import_module("lipsdp.robustness")

IDENTITY = lipsdp.Activation("identity", lambda z: z, np.ones_like, slopes=(1.0, 1.0))


def _relu_forward(net, biases, X):
    H = X
    for k, W in enumerate(net.weights):
        Z = H @ W.T + biases[k]
        H = np.maximum(Z, 0.0) if k < net.n_hidden else Z
    return H


def _margin_gradients(net, biases, X, i, j):
    """Gradient of f_i - f_j (ReLU) at each row of X: (e_i - e_j)^T W_l D_l ... D_1 W_0."""
    grads = []
    for x in X:
        h, Ds = x, []
        for k in range(net.n_hidden):
            z = net.weights[k] @ h + biases[k]
            Ds.append((z > 0).astype(float))
            h = np.maximum(z, 0.0)
        g = net.weights[-1][i] - net.weights[-1][j]
        for k in range(net.n_hidden - 1, -1, -1):
            g = (g * Ds[k]) @ net.weights[k]
        grads.append(g)
    return np.array(grads)


@pytest.fixture
def classifier(rng, random_weights):
    """A 6-12-10-4 ReLU classifier with biases, and inputs most of which it classifies well."""
    net = lipsdp.Network(random_weights(rng, [6, 12, 10, 4]))
    biases = [0.1 * rng.standard_normal(n) for n in (12, 10, 4)]
    X = rng.standard_normal((40, 6))
    F = _relu_forward(net, biases, X)
    labels = np.argmax(F, axis=1)
    labels[:5] = (labels[:5] + 1) % 4  # five misclassified inputs
    return net, biases, X, labels


# --- select_outputs and margin_network ------------------------------------------------------


class TestOutputs:
    def test_select_outputs_keeps_rows_in_order(self, small_net):
        sub = lipsdp.select_outputs(small_net, [2, 0])
        np.testing.assert_array_equal(sub.weights[-1], small_net.weights[-1][[2, 0]])
        for a, b in zip(sub.weights[:-1], small_net.weights[:-1], strict=True):
            np.testing.assert_array_equal(a, b)
        assert sub.slopes == small_net.slopes
        assert lipsdp.select_outputs(small_net, 1).widths[-1] == 1

    def test_fewer_outputs_never_a_larger_bound(self, small_net):
        full = lipsdp.solve(small_net).value
        assert lipsdp.solve(lipsdp.select_outputs(small_net, [0, 1, 2])).value == pytest.approx(
            full, rel=1e-6)
        for row in range(3):
            one = lipsdp.solve(lipsdp.select_outputs(small_net, row))
            assert one.certified
            assert one.value <= full * (1 + 1e-6)

    @pytest.mark.parametrize(("rows", "match"), [
        ([3], r"rows\[0\] is 3; expected an output row in 0\.\.2"),
        ([0, -1], r"rows\[1\] is -1"),
        ([1, 0, 1], r"rows\[2\] repeats row 1 \(rows\[0\]\)"),
        ([], "rows is empty"),
    ])
    def test_bad_rows(self, small_net, rows, match):
        with pytest.raises(ValueError, match=match):
            lipsdp.select_outputs(small_net, rows)

    def test_non_integer_row(self, small_net):
        with pytest.raises(TypeError, match=r"rows\[0\] is 1\.0"):
            lipsdp.select_outputs(small_net, [1.0])
        with pytest.raises(TypeError, match="rows is 'a'"):
            lipsdp.select_outputs(small_net, "a")

    def test_margin_network_is_the_row_difference(self, small_net):
        m = lipsdp.margin_network(small_net, 2, 0)
        W = small_net.weights[-1]
        np.testing.assert_array_equal(m.weights[-1], (W[2] - W[0]).reshape(1, -1))
        assert m.widths == (*small_net.widths[:-1], 1)
        assert m.slopes == small_net.slopes

    @pytest.mark.parametrize(("i", "j", "match"), [
        (1, 1, "i and j are both 1"),
        (0, 3, r"j is 3; expected an output row in 0\.\.2"),
        (-1, 0, "i is -1"),
    ])
    def test_bad_pairs(self, small_net, i, j, match):
        with pytest.raises(ValueError, match=match):
            lipsdp.margin_network(small_net, i, j)

    def test_margin_bound_between_the_jacobian_and_sqrt2_global(self, classifier, rng):
        net, biases, _, _ = classifier
        full = lipsdp.solve(net)
        X = rng.standard_normal((400, net.widths[0]))
        for i, j in itertools.combinations(range(4), 2):
            res = lipsdp.solve(lipsdp.margin_network(net, i, j))
            assert res.certified
            sampled = np.linalg.norm(_margin_gradients(net, biases, X, i, j), axis=1).max()
            assert sampled <= res.value
            assert res.value <= np.sqrt(2.0) * full.value * (1 + 1e-6)
            # Symmetric: f_j - f_i has the same constant.
            back = lipsdp.solve(lipsdp.margin_network(net, j, i)).value
            assert back == pytest.approx(res.value, rel=1e-6)


# --- radii: exact cases ---------------------------------------------------------------------


class TestExactRadius:
    def test_linear_classifier_radius_is_exact_and_tight(self, rng):
        W = rng.standard_normal((5, 7))
        b = rng.standard_normal(5)
        net = lipsdp.Network([W])
        X = rng.standard_normal((30, 7))
        F = X @ W.T + b
        y = np.argmax(F, axis=1)
        res = lipsdp.certified_radius(net, X, y, biases=[b])
        assert res.certified
        assert res.correct.all()
        for s, x in enumerate(X):
            exact = min((F[s, y[s]] - F[s, j]) / np.linalg.norm(W[y[s]] - W[j])
                        for j in range(5) if j != y[s])
            assert res.radii[s] <= exact
            assert res.radii[s] == pytest.approx(exact, rel=1e-9)
            j = res.closest[s]
            d = -(W[y[s]] - W[j]) / np.linalg.norm(W[y[s]] - W[j])
            outside = (x + res.radii[s] * (1 + 1e-6) * d) @ W.T + b
            inside = (x + res.radii[s] * (1 - 1e-6) * d) @ W.T + b
            assert np.argmax(outside) != y[s]
            assert np.argmax(inside) == y[s]

    def test_two_linear_layers_with_an_identity_activation(self, rng):
        W0, W1 = rng.standard_normal((6, 4)), rng.standard_normal((3, 6))
        net = lipsdp.Network([W0, W1], slopes=(1.0, 1.0))
        X = rng.standard_normal((20, 4))
        A = W1 @ W0
        F = X @ A.T
        res = lipsdp.certified_radius(net, X, activation=IDENTITY)
        np.testing.assert_array_equal(res.predictions, np.argmax(F, axis=1))
        for s in range(20):
            y = res.predictions[s]
            exact = min((F[s, y] - F[s, j]) / np.linalg.norm(A[y] - A[j])
                        for j in range(3) if j != y)
            assert res.radii[s] == pytest.approx(exact, rel=1e-8)
            assert res.radii[s] <= exact

    def test_global_radius_uses_sqrt2(self):
        # f = x: L = 1, every margin's constant is ||e_0 - e_1|| = sqrt(2) = sqrt(2) L, so the
        # global radius margin / (sqrt(2) L) is exact: a step just past it flips the class.
        net = lipsdp.Network([np.eye(2)])
        x = np.array([[1.0, 0.2]])
        res = lipsdp.certified_radius(net, x, [0], pairwise=False)
        assert res.global_bound == pytest.approx(1.0)
        assert res.pair_bounds == {}
        r = res.radii[0]
        assert r == pytest.approx(0.8 / np.sqrt(2.0), rel=1e-12)
        d = np.array([-1.0, 1.0]) / np.sqrt(2.0)
        assert np.argmax(x[0] + r * (1 + 1e-9) * d) == 1
        assert np.argmax(x[0] + r * (1 - 1e-9) * d) == 0
        assert lipsdp.certified_radius(net, x, [0]).radii[0] == pytest.approx(r, rel=1e-12)

    def test_constant_margin_gives_an_infinite_radius(self):
        W = np.array([[1.0, 2.0], [1.0, 2.0]])
        res = lipsdp.certified_radius(lipsdp.Network([W]), np.zeros((1, 2)), [0],
                                      biases=[np.array([1.0, 0.0])])
        assert res.radii[0] == np.inf
        assert res.closest[0] == -1


# --- radii: the certificate holds -----------------------------------------------------------


class TestRadiusProperty:
    @pytest.mark.parametrize("pairwise", [True, False])
    def test_perturbations_inside_never_flip(self, classifier, rng, pairwise):
        net, biases, X, labels = classifier
        res = lipsdp.certified_radius(net, X, labels, biases=biases, pairwise=pairwise)
        assert res.certified, res.status
        certified = np.flatnonzero(res.radii > 0)
        assert certified.size >= 20
        n0 = net.widths[0]
        for s in certified:
            r = res.radii[s]
            d = rng.standard_normal((300, n0))
            d /= np.linalg.norm(d, axis=1, keepdims=True)
            scale = r * np.concatenate([np.full(150, 1 - 1e-9), rng.random(150) ** (1 / n0)])
            pred = np.argmax(_relu_forward(net, biases, X[s] + scale[:, None] * d), axis=1)
            assert np.all(pred == labels[s])

    def test_a_gradient_attack_inside_the_radius_fails(self, classifier):
        net, biases, X, labels = classifier
        res = lipsdp.certified_radius(net, X, labels, biases=biases)
        for s in np.flatnonzero(res.radii > 0):
            y, r = labels[s], res.radii[s]
            for j in range(4):
                if j == y:
                    continue
                x = X[s].copy()
                for _ in range(40):  # projected gradient descent on f_y - f_j, ||x - x_s|| <= r
                    g = _margin_gradients(net, biases, x[None], y, j)[0]
                    x = x - 0.1 * r * g / max(np.linalg.norm(g), 1e-300)
                    step = x - X[s]
                    norm = np.linalg.norm(step)
                    if norm > r * (1 - 1e-9):
                        x = X[s] + step * (r * (1 - 1e-9) / norm)
                F = _relu_forward(net, biases, x[None])[0]
                assert F[y] > F[j]

    def test_pairwise_radius_is_at_least_the_global_one(self, classifier):
        net, biases, X, labels = classifier
        pair = lipsdp.certified_radius(net, X, labels, biases=biases)
        glob = lipsdp.certified_radius(net, X, labels, biases=biases, pairwise=False)
        assert np.all(pair.radii >= glob.radii * (1 - 1e-6))
        assert np.all(pair.radii[pair.radii > 0] > glob.radii[pair.radii > 0] * 1.01)

    def test_misclassified_get_zero_and_accuracy_counts_radius_above_r(self, classifier):
        net, biases, X, labels = classifier
        res = lipsdp.certified_radius(net, X, labels, biases=biases, method="naive")
        assert not res.correct[:5].any()
        assert res.correct[5:].all()
        assert np.all(res.radii[:5] == 0)
        assert np.all(res.closest[:5] == -1)
        assert np.all(res.margins[:5] < 0)
        assert np.all(res.margins[5:] > 0)
        grid = np.array([0.0, 0.01, 0.05, 0.1, 1.0])
        expected = [np.sum(res.correct & (res.radii > r)) / 40 for r in grid]
        np.testing.assert_allclose(res.certified_accuracy(grid), expected)
        assert lipsdp.certified_accuracy(res, 0.0) == pytest.approx(35 / 40)
        assert isinstance(lipsdp.certified_accuracy(res, 0.05), float)

    def test_labels_default_to_predictions(self, classifier):
        net, biases, X, _ = classifier
        res = lipsdp.certified_radius(net, X, biases=biases, method="eclipse-fast")
        np.testing.assert_array_equal(res.labels, res.predictions)
        assert res.correct.all()
        np.testing.assert_array_equal(res.predictions,
                                      np.argmax(_relu_forward(net, biases, X), axis=1))

    def test_closed_form_radius_is_at_most_the_lipsdp_one(self, classifier):
        net, biases, X, labels = classifier
        sdp = lipsdp.certified_radius(net, X, labels, biases=biases)
        for method in ("naive", "eclipse-fast", "best"):
            cf = lipsdp.certified_radius(net, X, labels, biases=biases, method=method)
            assert cf.certified
            assert np.all(cf.radii <= sdp.radii * (1 + 1e-6))
            for pair, value in cf.pair_bounds.items():
                assert value >= sdp.pair_bounds[pair] * (1 - 1e-6)

    @pytest.mark.parametrize(("activation", "slopes", "phi"), [
        ("tanh", (0.0, 1.0), np.tanh),
        ("sigmoid", (0.0, 0.25), lambda z: 1 / (1 + np.exp(-z))),
        (None, (0.1, 1.0), lambda z: np.where(z > 0, z, 0.1 * z)),  # leaky ReLU by default
    ])
    def test_other_activations(self, rng, random_weights, activation, slopes, phi):
        net = lipsdp.Network(random_weights(rng, [5, 10, 3], scale=3.0), slopes)
        X = rng.standard_normal((30, 5))
        res = lipsdp.certified_radius(net, X, activation=activation)
        W0, W1 = net.weights
        np.testing.assert_array_equal(res.predictions, np.argmax(phi(X @ W0.T) @ W1.T, axis=1))
        inside = np.flatnonzero(res.radii > 0)
        assert inside.size >= 20
        for s in inside:
            d = rng.standard_normal((200, 5))
            d *= res.radii[s] * (1 - 1e-9) / np.linalg.norm(d, axis=1, keepdims=True)
            pred = np.argmax(phi((X[s] + d) @ W0.T) @ W1.T, axis=1)
            assert np.all(pred == res.labels[s])


# --- forward pass and its rounding ----------------------------------------------------------


class TestForward:
    @pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid"])
    def test_error_bound_holds_against_50_digit_arithmetic(self, rng, random_weights, name):
        mpmath = pytest.importorskip("mpmath")
        widths = [6, 40, 30, 4]
        slopes = (0.0, 0.25) if name == "sigmoid" else (0.0, 1.0)
        net = lipsdp.Network(random_weights(rng, widths, scale=3.0), slopes)
        bs = [rng.standard_normal(n) for n in widths[1:]]
        X = rng.standard_normal((4, 6)) * 10
        act = lipsdp.ACTIVATIONS[name]
        F, E = robustness._forward(net, X, bs, [act, act])
        np.testing.assert_allclose(F, lipsdp.forward(net, X, biases=bs, activation=name))
        phi = {"relu": lambda z: max(z, 0), "tanh": mpmath.tanh,
               "sigmoid": lambda z: 1 / (1 + mpmath.exp(-z))}[name]
        with mpmath.workdps(50):
            for s in range(4):
                h = [mpmath.mpf(float(v)) for v in X[s]]
                for k, W in enumerate(net.weights):
                    z = [mpmath.fsum(mpmath.mpf(float(W[i, c])) * h[c] for c in range(len(h)))
                         + mpmath.mpf(float(bs[k][i])) for i in range(W.shape[0])]
                    h = [phi(v) for v in z] if k < net.n_hidden else z
                for i in range(4):
                    err = abs(mpmath.mpf(float(F[s, i])) - h[i])
                    assert err <= E[s, i]
        assert np.all(E < 1e-10 * (1 + np.abs(F)))

    def test_inputs_are_not_modified(self, classifier):
        net, biases, X, labels = classifier
        copies = [X.copy(), labels.copy(), [b.copy() for b in biases]]
        lipsdp.certified_radius(net, X, labels, biases=biases, method="naive")
        np.testing.assert_array_equal(X, copies[0])
        np.testing.assert_array_equal(labels, copies[1])
        for b, c in zip(biases, copies[2], strict=True):
            np.testing.assert_array_equal(b, c)


# --- each pair once, in parallel ------------------------------------------------------------


class TestPairs:
    def test_each_needed_pair_is_solved_once(self, classifier, monkeypatch):
        net, biases, X, labels = classifier
        calls = []
        real = robustness.solve

        def counting(m, **kw):
            calls.append(m.weights[-1].copy())
            return real(m, **kw)

        monkeypatch.setattr(robustness, "solve", counting)
        res = lipsdp.certified_radius(net, X, labels, biases=biases, n_jobs=1)
        needed = {(min(int(c), j), max(int(c), j)) for c in np.unique(labels[res.radii > 0])
                  for j in range(4) if j != c}
        assert set(res.pair_bounds) == needed
        assert len(calls) == len(needed)
        rows = {tuple(np.round(c[0], 12)) for c in calls}
        assert len(rows) == len(calls)  # no pair twice, in either order

    def test_only_pairs_of_correct_labels_are_solved(self, classifier, monkeypatch):
        net, biases, X, _ = classifier
        F = _relu_forward(net, biases, X)
        labels = np.argmax(F, axis=1)
        keep = labels == labels[0]
        labels = np.where(keep, labels, (labels + 1) % 4)
        labels[~keep] = np.where(labels[~keep] == np.argmax(F[~keep], axis=1),
                                 (labels[~keep] + 1) % 4, labels[~keep])
        count = []
        real = robustness.closed_form
        monkeypatch.setattr(robustness, "closed_form",
                            lambda m, method: count.append(1) or real(m, method))
        res = lipsdp.certified_radius(net, X, labels, biases=biases, method="naive")
        assert res.correct.sum() == keep.sum()
        assert len(count) == 3  # (y, j) for the one correct class y and the three others
        assert all(labels[0] in pair for pair in res.pair_bounds)

    def test_global_bound_is_one_solve(self, classifier, monkeypatch):
        net, biases, X, labels = classifier
        count = []
        real = robustness.solve
        monkeypatch.setattr(robustness, "solve", lambda m, **kw: count.append(1) or real(m, **kw))
        res = lipsdp.certified_radius(net, X, labels, biases=biases, pairwise=False)
        assert len(count) == 1
        assert res.global_bound == pytest.approx(lipsdp.solve(net).value, rel=1e-9)

    def test_parallel_equals_serial(self, classifier):
        net, biases, X, labels = classifier
        serial = lipsdp.certified_radius(net, X, labels, biases=biases, n_jobs=1)
        parallel = lipsdp.certified_radius(net, X, labels, biases=biases, n_jobs=2)
        np.testing.assert_array_equal(serial.radii, parallel.radii)
        np.testing.assert_array_equal(serial.closest, parallel.closest)
        assert serial.pair_bounds == parallel.pair_bounds

    def test_an_uncertified_pair_gives_nan_where_needed(self, classifier, monkeypatch):
        net, biases, X, labels = classifier
        real = robustness._bound
        bad_row = net.weights[-1][0] - net.weights[-1][1]

        def flaky(m, method, settings):
            if np.allclose(m.weights[-1][0], bad_row):
                return failed("naive", "made to fail")
            return real(m, method, settings)

        monkeypatch.setattr(robustness, "_bound", flaky)
        res = lipsdp.certified_radius(net, X, labels, biases=biases, method="naive")
        assert not res.certified
        assert res.status.startswith("not_certified: pair (0, 1)")
        assert np.isnan(res.pair_bounds[(0, 1)])
        needs = res.correct & np.isin(res.labels, [0, 1]) & (res.margins > 0)
        assert needs.any()
        assert (~needs & res.correct).any()
        assert np.all(np.isnan(res.radii[needs]))
        assert np.all(np.isfinite(res.radii[~needs]))
        assert res.certified_accuracy(0.0) == pytest.approx(np.mean(~needs & res.correct))


# --- bad input ------------------------------------------------------------------------------


class TestBadInput:
    @pytest.mark.parametrize(("kwargs", "error", "match"), [
        ({"x": np.zeros(6)}, ValueError, r"x has shape \(6,\); expected \(batch, 6\).*x\[None"),
        ({"x": np.zeros((3, 5))}, ValueError, r"x has shape \(3, 5\); expected \(batch, 6\)"),
        ({"x": np.zeros((0, 6)), "labels": np.zeros(0, int)}, ValueError, "x has no rows"),
        ({"x": np.array([[0, 0, 0, np.nan, 0, 0]] * 2)}, ValueError,
         r"non-finite entries .* in 2 row\(s\), first row 0"),
        ({"x": np.array([["a"] * 6])}, TypeError, "x has dtype"),
        ({"labels": [0, 1, 4]}, ValueError, r"labels\[2\] is 4; expected a class in 0\.\.3"),
        ({"labels": [0, -1, 2]}, ValueError, r"labels\[1\] is -1"),
        ({"labels": [0, 1]}, ValueError, r"labels has shape \(2,\); expected \(3,\)"),
        ({"labels": [0.0, 1.0, 2.0]}, TypeError, "labels has dtype float64; expected integer"),
        ({"biases": [np.zeros(12), np.zeros(10)]}, ValueError, "biases has 2 entries; expected 3"),
        ({"biases": [np.zeros(12), np.zeros((10, 1)), np.zeros(4)]}, ValueError,
         r"biases\[1\] has shape \(10, 1\); expected \(10,\)"),
        ({"biases": [np.zeros(12), np.full(10, np.inf), np.zeros(4)]}, ValueError,
         r"biases\[1\] has non-finite"),
        ({"method": "bogus"}, ValueError, "method is 'bogus'; expected 'lipsdp' or one of"),
        ({"variant": "bogus"}, ValueError, "variant is 'bogus'"),
        ({"multipliers": "bogus"}, ValueError, "multipliers is 'bogus'"),
        ({"solver": "bogus"}, ValueError, "bogus"),
        ({"n_jobs": 0}, ValueError, "n_jobs is 0"),
        ({"pairwise": 1}, TypeError, "pairwise is int"),
        ({"options": [1]}, TypeError, "options is list"),
        ({"activation": "bogus"}, ValueError, "activation is 'bogus'"),
        ({"activation": ["relu"]}, ValueError, "activation has 1 entries; expected 2"),
        ({"activation": (np.tanh, np.cos)}, ValueError, r"activation\[0\] .* has no slope range"),
    ])
    def test_named_errors(self, classifier, kwargs, error, match):
        net = classifier[0]
        args = {"x": np.zeros((3, 6)), "labels": [0, 1, 2], **kwargs}
        with pytest.raises(error, match=match):
            lipsdp.certified_radius(net, args.pop("x"), args.pop("labels"), **args)

    def test_activation_outside_the_slopes(self, rng, random_weights):
        net = lipsdp.Network(random_weights(rng, [3, 4, 2]), slopes=(0.0, 0.25))
        with pytest.raises(ValueError, match=r"activation\[0\] 'tanh' has slopes \(0\.0, 1\.0\), "
                                             r"outside the network's slopes\[0\]"):
            lipsdp.certified_radius(net, np.zeros((1, 3)), activation="tanh")
        with pytest.raises(ValueError, match="pass activation="):
            lipsdp.certified_radius(net, np.zeros((1, 3)))  # no default for sigmoid's slopes
        assert lipsdp.certified_radius(net, np.ones((1, 3)), activation="sigmoid",
                                       method="naive").certified

    def test_one_output_is_not_a_classifier(self, rng):
        with pytest.raises(ValueError, match="needs at least 2"):
            lipsdp.certified_radius(lipsdp.Network([np.ones((1, 3))]), np.zeros((1, 3)))

    def test_net_of_the_wrong_kind(self):
        with pytest.raises(TypeError, match="net is dict"):
            lipsdp.certified_radius({}, np.zeros((1, 3)))

    def test_certified_accuracy_arguments(self, classifier):
        net, biases, X, labels = classifier
        res = lipsdp.certified_radius(net, X, labels, biases=biases, method="naive")
        with pytest.raises(ValueError, match="expected finite nonnegative"):
            res.certified_accuracy([0.1, -0.1])
        with pytest.raises(ValueError, match="expected finite nonnegative"):
            res.certified_accuracy(np.nan)
        with pytest.raises(ValueError, match=r"radii has shape \(1, 2\)"):
            res.certified_accuracy([[0.1, 0.2]])
        with pytest.raises(TypeError, match="radii has dtype"):
            res.certified_accuracy("0.1")
        with pytest.raises(TypeError, match="result is dict; expected a RadiusResult"):
            lipsdp.certified_accuracy({}, 0.1)


# --- the bundled digits network -------------------------------------------------------------


class TestDigits:
    def test_the_file_is_a_plain_weights_file(self):
        from importlib import resources

        with resources.as_file(resources.files("lipsdp") / "data" / "digits.npz") as p:
            weights = lipsdp.load_weights(p)
            with np.load(p) as data:
                biases = [data[f"b{k}"] for k in range(3)]
        assert [W.shape for W in weights] == [(32, 64), (32, 32), (10, 32)]
        m = lipsdp.digits_model()
        for a, b in zip(weights, lipsdp.digits_network().weights, strict=True):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(biases, m.biases, strict=True):
            np.testing.assert_array_equal(a, b)

    def test_model_classifies_its_test_images(self):
        m = lipsdp.digits_model()
        assert m.activation == "relu"
        assert m.x_test.shape == (540, 64)
        assert m.x_test.min() >= 0.0
        assert m.x_test.max() <= 1.0
        assert set(m.y_test.tolist()) == set(range(10))
        for a in (m.x_test, m.y_test, *m.biases):
            assert not a.flags.writeable
        F = _relu_forward(m.network, m.biases, m.x_test)
        assert np.mean(np.argmax(F, axis=1) == m.y_test) > 0.95

    def test_global_naive_radius_is_margin_over_sqrt2_product(self):
        m = lipsdp.digits_model()
        res = lipsdp.certified_radius(m.network, m.x_test, m.y_test, biases=m.biases,
                                      method="naive", pairwise=False)
        F = _relu_forward(m.network, m.biases, m.x_test)
        top2 = np.sort(F, axis=1)[:, -2:]
        L = np.prod([np.linalg.norm(W, 2) for W in m.network.weights])
        expected = np.where(res.correct, (top2[:, 1] - top2[:, 0]) / (np.sqrt(2) * L), 0.0)
        np.testing.assert_allclose(res.radii, expected, rtol=1e-9)
        assert np.all(res.radii <= expected)
        pair = lipsdp.certified_radius(m.network, m.x_test, m.y_test, biases=m.biases,
                                       method="eclipse-fast")
        assert len(pair.pair_bounds) == 45
        assert pair.certified_accuracy(0.2) > res.certified_accuracy(0.2)

    @pytest.mark.slow
    def test_lipsdp_pairwise_radii(self):
        m = lipsdp.digits_model()
        res = lipsdp.certified_radius(m.network, m.x_test, m.y_test, biases=m.biases)
        assert res.certified
        glob = lipsdp.certified_radius(m.network, m.x_test, m.y_test, biases=m.biases,
                                       pairwise=False)
        assert np.all(res.radii >= glob.radii * (1 - 1e-6))
        assert res.certified_accuracy(0.3) > glob.certified_accuracy(0.3)
