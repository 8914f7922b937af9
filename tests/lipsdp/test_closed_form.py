"""Closed-form bounds (docs/math.md §3) and certification (§3), against independent checks."""

import numpy as np
import pytest

import lipsdp

from reference import reference_matrix


def _max_eig(net, res):
    M = reference_matrix(list(net.weights), net.slopes, res.value**2, res.multipliers)
    return np.linalg.eigvalsh(M)[-1]


@pytest.mark.parametrize("method", ["naive", "eclipse-fast"])
@pytest.mark.parametrize("slopes", [(0.0, 1.0), (0.1, 1.0), (0.0, 0.25), "per-layer"])
def test_multipliers_certify_value_in_dense_lmi(rng, method, slopes, random_weights):
    W = random_weights(rng, [6, 9, 7, 8, 3])
    if slopes == "per-layer":
        slopes = [(0.0, 1.0), (0.2, 1.0), (0.0, 0.25)]
    net = lipsdp.Network(W, slopes)
    res = lipsdp.closed_form(net, method)
    assert res.certified
    assert res.status == "closed_form"
    assert [t.shape for t in res.multipliers] == [(9,), (7,), (8,)]
    assert all(np.all(t >= 0) for t in res.multipliers)
    # Independently: M(value^2, T) is negative semidefinite (up to the certification margin).
    assert _max_eig(net, res) <= 1e-12 * res.value**2


def test_naive_value_is_product_of_norms(rng, random_weights):
    W = random_weights(rng, [4, 6, 5, 2])
    res = lipsdp.closed_form(W, "naive")
    assert res.value == pytest.approx(np.prod([np.linalg.norm(w, 2) for w in W]), rel=1e-9)
    res = lipsdp.closed_form(W, "naive", slopes=(0.0, 0.25))
    assert res.value == pytest.approx(
        np.prod([np.linalg.norm(w, 2) for w in W]) * 0.25**2, rel=1e-9
    )


def test_relu_naive_multipliers_match_domain_formula(rng, random_weights):
    # docs/math.md §3: for [0, 1], t_k = prod_{j >= k} ||W_j||^2 certifies the naive bound.
    W = random_weights(rng, [4, 6, 5, 2])
    res = lipsdp.closed_form(W, "naive")
    norms2 = [np.linalg.norm(w, 2) ** 2 for w in W]
    for k, t in enumerate(res.multipliers, start=1):
        np.testing.assert_allclose(t, np.prod(norms2[k:]), rtol=1e-9)


def test_eclipse_fast_published_vs_certified(rng, random_weights):
    W = random_weights(rng, [5, 8, 8, 2])
    relu = lipsdp.closed_form(W, "eclipse-fast")
    assert relu.value == pytest.approx(relu.published_value, rel=1e-9)
    leaky = lipsdp.closed_form(W, "eclipse-fast", slopes=(0.1, 1.0))
    # For alpha > 0 the published value drops a PSD term: the certified value is smaller.
    assert leaky.value < leaky.published_value


def test_eclipse_fast_rejects_mixed_sign_slopes(rng, random_weights):
    with pytest.raises(ValueError, match=r"slopes\[0\] is \(-0.5, 1.0\); ECLipsE-Fast needs"):
        lipsdp.closed_form(random_weights(rng, [3, 4, 1]), "eclipse-fast", slopes=(-0.5, 1.0))


def test_unknown_method(small_net):
    with pytest.raises(ValueError, match="method is 'fast'; expected one of"):
        lipsdp.closed_form(small_net, "fast")


def test_single_matrix_equals_spectral_norm(rng):
    W = rng.standard_normal((4, 7))
    for method in ("naive", "eclipse-fast"):
        res = lipsdp.closed_form([W], method)
        assert res.certified
        assert res.value == pytest.approx(np.linalg.norm(W, 2), rel=1e-9)


def test_caller_arrays_untouched(rng, random_weights):
    W = random_weights(rng, [4, 6, 2])
    before = [w.copy() for w in W]
    lipsdp.closed_form(W, "eclipse-fast")
    for a, b in zip(W, before, strict=True):
        np.testing.assert_array_equal(a, b)


class TestCertify:
    def test_fixed_multipliers_give_smallest_rho(self, rng, random_weights):
        W = random_weights(rng, [4, 7, 6, 2])
        net = lipsdp.Network(W)
        ts = [rng.uniform(0.5, 2.0, 7), rng.uniform(0.5, 2.0, 6)]
        res = lipsdp.certify(net, ts)
        assert res.certified
        # The dense LMI with the *given* t is feasible at value^2 and infeasible just below.
        M = reference_matrix(W, net.slopes, res.value**2, ts)
        assert np.linalg.eigvalsh(M)[-1] <= 1e-9
        M = reference_matrix(W, net.slopes, res.value**2 * (1 - 1e-6), ts)
        assert np.linalg.eigvalsh(M)[-1] > 0

    def test_with_rho_rescales_direction(self, rng, random_weights):
        W = random_weights(rng, [4, 7, 2])
        ef = lipsdp.closed_form(W, "eclipse-fast")
        again = lipsdp.certify(W, ef.multipliers, rho=ef.value**2)
        assert again.value == pytest.approx(ef.value, rel=1e-9)

    def test_infeasible_multipliers_certify_nothing(self, rng, random_weights):
        W = random_weights(rng, [4, 7, 6, 2])
        for ts in ([np.zeros(7), np.zeros(6)], [np.ones(7), 1e-9 * np.ones(6)]):
            res = lipsdp.certify(W, ts)
            assert not res.certified
            assert np.isnan(res.value)
            assert res.status is lipsdp.Status.NOT_CERTIFIED
            assert res.message  # names the failing pivot or check
        with pytest.raises(ValueError, match=r"multipliers\[0\] has negative entries"):
            lipsdp.certify(W, [-np.ones(7), np.ones(6)])

    def test_dead_neuron_with_zero_multiplier_is_handled(self, rng, random_weights):
        W = random_weights(rng, [4, 7, 6, 2])
        W[1][:, 3] = 0.0  # neuron 3 of hidden layer 1 feeds nothing
        ef = lipsdp.closed_form(W, "eclipse-fast")
        ts = [t.copy() for t in ef.multipliers]
        ts[0][3] = 0.0
        res = lipsdp.certify(W, ts, rho=ef.value**2)
        assert res.certified
        assert res.info["dropped_neurons"] >= 1
        M = reference_matrix(W, lipsdp.Network(W).slopes, res.value**2, res.multipliers)
        assert np.linalg.eigvalsh(M)[-1] <= 1e-9

    @pytest.mark.parametrize(
        ("ts", "error", "match"),
        [
            ([np.ones(7)], ValueError, "multipliers has 1 entries; expected 2"),
            ([np.ones(6), np.ones(6)], ValueError,
             r"multipliers\[0\] has shape \(6,\); expected \(7,\)"),
            ([np.ones(7), np.full(6, np.nan)], ValueError, "non-finite"),
            ("abc", TypeError, "multipliers is str"),
        ],
    )
    def test_bad_multipliers(self, rng, ts, error, match, random_weights):
        with pytest.raises(error, match=match):
            lipsdp.certify(random_weights(rng, [4, 7, 6, 2]), ts)
