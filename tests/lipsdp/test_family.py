"""The closed-form family (docs/math.md §3): certification, orderings, ECLipsE-Fast as published."""

import importlib
import importlib.util

import numpy as np
import pytest

import lipsdp

from reference import reference_matrix

# The module, not the function ``lipsdp.certify`` that shadows it as an attribute.
certify_module = importlib.import_module("lipsdp.certify")
proof_module = importlib.import_module("lipsdp.proof")

MEMBERS = [m for m in lipsdp.CLOSED_FORM_METHODS if m != "naive"]
HAS_ECLIPSE_NN = importlib.util.find_spec("eclipse_nn") is not None


def _max_eig(net, res):
    M = reference_matrix(list(net.weights), net.slopes, res.value**2, res.multipliers)
    return np.linalg.eigvalsh(M)[-1]


@pytest.mark.parametrize("method", MEMBERS)
@pytest.mark.parametrize("slopes", [(0.0, 1.0), (0.1, 1.0), (0.0, 0.25), "per-layer"])
def test_member_is_certified_in_dense_lmi(rng, method, slopes, random_weights):
    W = random_weights(rng, [6, 9, 7, 8, 3])
    if slopes == "per-layer":
        slopes = [(0.0, 1.0), (0.2, 1.0), (0.0, 0.25)]
    net = lipsdp.Network(W, slopes)
    res = lipsdp.closed_form(net, method)
    assert res.certified, res.status
    assert res.status == "closed_form"
    assert res.method == method
    assert [t.shape for t in res.multipliers] == [(9,), (7,), (8,)]
    assert all(np.all(t >= 0) for t in res.multipliers)
    # Independently of the recursion: M(value^2, T) is negative semidefinite.
    assert _max_eig(net, res) <= 1e-12 * res.value**2


@pytest.mark.parametrize(
    "method", [m for m in MEMBERS if m not in ("eclipse-fast", "best")]
)
def test_members_accept_mixed_sign_slopes(rng, method, random_weights):
    # Only ECLipsE-Fast needs alpha * beta >= 0; the family keeps the alpha*beta term exactly.
    net = lipsdp.Network(random_weights(rng, [4, 7, 6, 2]), (-0.3, 1.0))
    res = lipsdp.closed_form(net, method)
    assert res.certified, res.status
    assert _max_eig(net, res) <= 1e-12 * res.value**2


@pytest.mark.parametrize("slopes", [(0.0, 1.0), (0.1, 1.0)])
@pytest.mark.parametrize("widths", [[4, 8, 6, 2], [5, 6, 6, 6, 3], [3, 10, 1]])
def test_every_member_is_at_least_lipsdp_neuron(rng, widths, slopes, random_weights):
    net = lipsdp.Network(random_weights(rng, widths), slopes)
    sdp = lipsdp.solve(net, solver="clarabel")
    assert sdp.certified
    values = {m: lipsdp.closed_form(net, m).value for m in lipsdp.CLOSED_FORM_METHODS}
    for method, value in values.items():
        assert value >= sdp.value * (1 - 1e-7), method
    best = values.pop("best")
    assert best == pytest.approx(min(values.values()), rel=1e-9)
    assert best <= values["eclipse-fast"]


def test_best_reports_its_members(rng, random_weights):
    res = lipsdp.closed_form(random_weights(rng, [5, 8, 8, 2]), "best")
    members = res.info["members"]
    assert set(members) == set(lipsdp.CLOSED_FORM_METHODS) - {"best"}
    assert res.info["chosen"] in members
    assert res.value == pytest.approx(members[res.info["chosen"]], rel=1e-9)


def test_best_skips_members_that_do_not_apply(rng, random_weights):
    res = lipsdp.closed_form(random_weights(rng, [4, 6, 5, 2]), "best", slopes=(-0.2, 1.0))
    assert res.certified
    assert str(res.info["members"]["eclipse-fast"]).startswith("skipped")


def test_lookahead_is_exact_on_diagonal_networks(rng):
    # W_0 = diag(a), W_1 = diag(b): L = max |a_i b_i| for ReLU, and Jacobi scaling finds it.
    a, b = rng.uniform(0.2, 3.0, 6), rng.uniform(0.2, 3.0, 6)
    net = lipsdp.Network([np.diag(a), np.diag(b)])
    exact = np.max(a * b)
    assert lipsdp.closed_form(net, "lookahead-jacobi").value == pytest.approx(exact, rel=1e-7)
    assert lipsdp.closed_form(net, "eclipse-fast").value > 1.05 * exact


def test_lookahead_last_layer_minimises_the_bound(rng, random_weights):
    # With one hidden layer the look-ahead of lambda_1 is the final bound itself.
    net = lipsdp.Network(random_weights(rng, [4, 9, 3]))
    la = lipsdp.closed_form(net, "lookahead")
    for lam in np.geomspace(0.05, 20.0, 41) * la.multipliers[0][0] / la.value**2 * 2:
        res, _ = certify_module.certify_direction(net, [np.full(9, lam)])
        if res.certified:
            assert res.value >= la.value * (1 - 1e-8)


@pytest.mark.parametrize("method", MEMBERS)
def test_homogeneity(rng, method, random_weights):
    W = random_weights(rng, [5, 7, 6, 2])
    base = lipsdp.closed_form(W, method).value
    scaled = lipsdp.closed_form([3.0 * W[0], *W[1:]], method).value
    assert scaled == pytest.approx(3.0 * base, rel=1e-6)


def test_family_strictly_improves_on_eclipse_fast_somewhere(rng, random_weights):
    W = random_weights(rng, [8, 16, 16, 16, 16, 4])
    ef = lipsdp.closed_form(W, "eclipse-fast").value
    for method in ("lookahead", "lookahead-jacobi", "lookahead-mix", "backward-lookahead"):
        assert lipsdp.closed_form(W, method).value < 0.95 * ef, method


class TestEclipseFast:
    def test_fused_certification_matches_a_separate_one(self, rng, random_weights):
        W = random_weights(rng, [6, 12, 10, 9, 2])
        ef = lipsdp.closed_form(W, "eclipse-fast")
        again = lipsdp.certify(W, ef.multipliers, rho=ef.value**2)
        assert again.value == pytest.approx(ef.value, rel=1e-12)
        assert ef.published_value == pytest.approx(ef.value, rel=1e-9)

    def test_one_cholesky_per_stage(self, rng, monkeypatch, random_weights):
        calls = []
        original = proof_module._cholesky

        def counting(X):
            calls.append(X.shape)
            return original(X)

        monkeypatch.setattr(proof_module, "_cholesky", counting)
        lipsdp.closed_form(random_weights(rng, [6, 12, 10, 9, 2]), "eclipse-fast")
        # M_1, M_2 (pivots of stages 2, 3), M_3 (the output block, for the estimate of rho) and
        # M_3 - W_3^T W_3 / rho (the output pivot at the proved rho): one per hidden layer, and
        # one more for the proof's output pivot.
        assert calls == [(12, 12), (10, 10), (9, 9), (9, 9)]

    def test_matches_the_published_recursion_in_numpy(self, rng, random_weights):
        # docs/math.md §3 written out with explicit solves.
        W = random_weights(rng, [5, 7, 6, 3])
        X = np.eye(5)
        for w in W[:-1]:
            mat = w @ np.linalg.solve(X, w.T)
            lam = 1 / (2 * 0.25 * np.max(np.linalg.eigvalsh(mat)))
            X = lam * np.eye(w.shape[0]) - lam**2 * 0.25 * mat
        expected = np.sqrt(np.max(np.linalg.eigvalsh(W[-1] @ np.linalg.solve(X, W[-1].T))))
        res = lipsdp.closed_form(W, "eclipse-fast")
        assert res.published_value == pytest.approx(expected, rel=1e-12)

    def test_bad_policy_output_certifies_nothing(self, rng, random_weights):
        net = lipsdp.Network(random_weights(rng, [4, 6, 2]))
        res, _ = certify_module.certify_direction(net, lambda k, K: np.ones(3))
        assert not res.certified
        assert res.status is lipsdp.Status.NOT_CERTIFIED
        assert "policy returned bad" in res.message

    @pytest.mark.skipif(
        not HAS_ECLIPSE_NN,
        reason="eclipse-nn is a benchmark extra (pip install eclipse-nn; it pulls in torch)",
    )
    @pytest.mark.parametrize("seed", [0, 1, 2])
    @pytest.mark.parametrize("slopes", [(0.0, 1.0), (0.0, 0.25), (0.1, 1.0)])
    def test_matches_eclipse_nn(self, seed, slopes, random_weights):
        import torch
        from eclipse_nn import ECLipsE_Fast

        rng = np.random.default_rng(seed)
        W = random_weights(rng, [8, 20, 16, 12, 3])
        l = len(W) - 1
        theirs = float(
            ECLipsE_Fast([torch.tensor(w) for w in W], [slopes[0]] * l, [slopes[1]] * l)
        )
        ours = lipsdp.closed_form(W, "eclipse-fast", slopes=slopes)
        assert ours.published_value == pytest.approx(theirs, rel=1e-8)
        if slopes[0] > 0:
            # The published value drops the alpha*beta term; the same multipliers certify less.
            assert ours.value < ours.published_value
        else:
            assert ours.value == pytest.approx(theirs, rel=1e-8)


@pytest.mark.parametrize("method", ["lookahead", "backward-lookahead", "best"])
def test_single_matrix_equals_spectral_norm(rng, method):
    W = rng.standard_normal((4, 7))
    res = lipsdp.closed_form([W], method)
    assert res.value == pytest.approx(np.linalg.norm(W, 2), rel=1e-9)


def test_zero_weights_give_a_proved_zero(rng, random_weights):
    W = random_weights(rng, [3, 4, 4, 1])
    W[1] = np.zeros_like(W[1])
    for method in lipsdp.CLOSED_FORM_METHODS:
        res = lipsdp.closed_form(W, method)
        assert res.certified, method
        assert res.value == 0.0, method
        assert "weights[1] is zero" in res.info["certified_by"]


def test_method_must_be_a_string(small_net):
    with pytest.raises(TypeError, match="method is int"):
        lipsdp.closed_form(small_net, 3)


def test_wide_layers_use_lanczos_and_still_certify(rng, random_weights):
    # Widths above the Lanczos threshold take the iterative top-eigenvalue path.
    W = random_weights(rng, [20, 520, 10])
    ef = lipsdp.closed_form(W, "eclipse-fast")
    X = W[0] @ W[0].T
    lam = 1 / (2 * 0.25 * np.linalg.eigvalsh(X)[-1])
    assert ef.multipliers[0][0] / (ef.value**2 / 2) == pytest.approx(lam, rel=1e-10)
    la = lipsdp.closed_form(W, "lookahead")
    assert la.certified
    assert la.value <= ef.value
