"""Certified means proved (docs/math.md §4-§5): no bound below the true constant.

Every case of issue 13 is a regression test here, checked against exact oracles: a nonnegative
ReLU network has ``L = ||W_l ... W_0||_2``, a linear one ``|prod c| ||W_l ... W_0||_2``, a single
matrix ``||W||_2``, a constant one 0; every valid bound is also above the slope-class lower bound.
Small certificates are re-checked in 60-digit arithmetic by ``reference.mp_certifies``, which
shares no code with the package. The property tests draw networks with hypothesis; the long
profile is ``LIPSDP_HYPOTHESIS=long python -m pytest tests/lipsdp/test_proof.py
-m "slow or not slow" -k property`` (1,500 networks per property,
``LIPSDP_HYPOTHESIS_EXAMPLES`` to change it).
"""

from __future__ import annotations

import os

import mpmath as mp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lipsdp
import lipsdp_solvers as solvers

from reference import mp_certifies

LONG = os.environ.get("LIPSDP_HYPOTHESIS") == "long"

settings.register_profile(
    "lipsdp-default", max_examples=25, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "lipsdp-long", max_examples=int(os.environ.get("LIPSDP_HYPOTHESIS_EXAMPLES", "1500")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = "lipsdp-long" if LONG else "lipsdp-default"


# --- oracles ---------------------------------------------------------------------------------


def product_norm_log2(weights, dps=40):
    """``log2 ||W_l ... W_0||_2`` in ``dps``-digit arithmetic (0 for a zero product: -inf)."""
    ctx = mp.mp.clone()
    ctx.dps = dps
    P = ctx.matrix(weights[0].tolist())
    for W in weights[1:]:
        P = ctx.matrix(W.tolist()) * P
    G = P.T * P if P.cols <= P.rows else P * P.T
    top = max(ctx.eigsy(G, eigvals_only=True))
    return float(ctx.log(top, 2) / 2) if top > 0 else -np.inf


def log2_value(res):
    return float(np.log2(res.value)) if res.value > 0 else -np.inf


def assert_sound(res, log2_exact=None, tol=1e-9):
    """Proved and above the exact constant (in log2, tolerance relative), or nan with a status."""
    if not res.certified:
        assert np.isnan(res.value), res
        assert res.status, res
        return
    assert np.isfinite(res.value), res
    assert res.value >= 0, res
    if log2_exact is not None and np.isfinite(log2_exact):
        assert log2_value(res) >= log2_exact - tol, (res, log2_exact)


def mp_check(net, res):
    """The certificate's exact point satisfies the LMI in 60 digits (small networks only)."""
    cert = res.certificate
    if cert is None or net.lmi_size > 40 or net.n_hidden == 0:
        return
    ts = [[(m, e) for m in mants] for mants, e in zip(cert.multipliers, cert.exponents,
                                                       strict=True)]
    assert mp_certifies(net.weights, net.slopes, (cert.rho, cert.rho_exponent), ts), res


def nonneg(rng, widths, scales=None):
    Ws = [np.abs(rng.standard_normal((widths[k + 1], widths[k]))) for k in range(len(widths) - 1)]
    if scales is not None:
        Ws = [np.ldexp(W, int(s)) for W, s in zip(Ws, scales, strict=True)]
    return Ws


# --- the four ways the old certificate was wrong ----------------------------------------------


class TestUnderflow:
    """Issue 13, case 1: directions below 1e-155 made the certifier's squares underflow."""

    @pytest.fixture
    def scaled(self, rng):
        Ws = nonneg(rng, [20] * 14, scales=[20] * 13)  # 12 hidden x 20, every layer x 2^20
        return lipsdp.Network(Ws), product_norm_log2(Ws)

    @pytest.mark.parametrize("call", [
        lambda net: lipsdp.solve(net),
        lambda net: lipsdp.solve(net, multipliers="layer"),
        lambda net: lipsdp.closed_form(net, "eclipse-fast"),
        lambda net: lipsdp.closed_form(net, "backward"),
        lambda net: lipsdp.closed_form(net, "best"),
    ], ids=["solve", "layer", "eclipse-fast", "backward", "best"])
    def test_scaled_network_is_bounded_from_above(self, scaled, call):
        net, exact = scaled
        res = call(net)
        assert res.certified
        assert_sound(res, exact)

    def test_solve_is_as_tight_as_on_the_unscaled_network(self, scaled, rng):
        net, _exact = scaled
        base = lipsdp.solve(lipsdp.Network([np.ldexp(W, -20) for W in net.weights]))
        res = lipsdp.solve(net)
        # Homogeneity: L(2^20 W_k for every k) = 2^260 L(W), exactly in powers of two.
        assert res.value == pytest.approx(np.ldexp(base.value, 260), rel=1e-8)

    def test_certify_of_an_exactly_rescaled_certificate(self, rng):
        Ws = nonneg(rng, [20] * 14)
        base = lipsdp.solve(Ws)
        scaled = [np.ldexp(W, 20) for W in Ws]
        # t_k scales by 2^(2 * 20 * (l + 1 - k)), rho by 2^(2 * 20 * (l + 1)): exact powers of two.
        ts = [np.ldexp(t, 40 * (13 - k)) for k, t in enumerate(base.multipliers, start=1)]
        res = lipsdp.certify(scaled, ts, rho=np.ldexp(base.value**2, 40 * 13))
        assert_sound(res, product_norm_log2(scaled))
        assert res.value == pytest.approx(np.ldexp(base.value, 260), rel=1e-8)

    @pytest.mark.parametrize("method", ["eclipse-fast", "backward", "lookahead"])
    def test_deep_unscaled_network(self, method):
        # 100 layers of width 6, entries 1.5 |N(0, 1)|: the directions span 1e-300 and more.
        rng = np.random.default_rng(5)
        Ws = [1.5 * np.abs(rng.standard_normal((6, 6))) for _ in range(101)]
        exact = product_norm_log2(Ws, dps=30)
        res = lipsdp.closed_form(Ws, method)
        assert res.certified
        assert_sound(res, exact)

    def test_deep_unscaled_network_sequential(self):
        rng = np.random.default_rng(5)
        Ws = [1.5 * np.abs(rng.standard_normal((6, 6))) for _ in range(101)]
        res = lipsdp.solve(Ws, variant="sequential", solver="clarabel")
        assert_sound(res, product_norm_log2(Ws, dps=30))


class TestLinearAndNearLinear:
    """Issue 13, case 2: alpha = beta cancelled in float64 and certified below L."""

    @pytest.mark.parametrize("c", [1.0, -0.5, 3.0])
    def test_linear_network_gets_its_product_norm(self, rng, c, random_weights):
        Ws = random_weights(rng, [6, 8, 8, 3])
        exact = product_norm_log2(Ws) + 2 * np.log2(abs(c))
        for res in (lipsdp.solve(Ws, slopes=(c, c)), lipsdp.closed_form(Ws, "best",
                                                                         slopes=(c, c))):
            assert res.certified
            assert res.status == "linear_network"
            assert_sound(res, exact)
            assert log2_value(res) <= exact + 1e-9  # tight: the exact value is available

    def test_naive_on_a_linear_network_keeps_its_definition(self, rng, random_weights):
        Ws = random_weights(rng, [6, 8, 8, 3])
        res = lipsdp.closed_form(Ws, "naive", slopes=(1.0, 1.0))
        assert res.value == pytest.approx(np.prod([np.linalg.norm(W, 2) for W in Ws]), rel=1e-12)
        assert res.value >= np.prod([np.linalg.norm(W, 2) for W in Ws])

    @pytest.mark.parametrize("slopes", [(1 - 1e-6, 1.0), (0.999, 1.0), (1.0, 1.0 + 1e-9)])
    def test_nearly_linear_slopes(self, rng, slopes, random_weights):
        net = lipsdp.Network(random_weights(rng, [5, 6, 6, 2]), slopes)
        lower = lipsdp.lower_bound(net, method="slope-class").value
        res = lipsdp.solve(net)
        assert res.certified
        assert res.value >= lower
        mp_check(net, res)

    def test_mixed_linear_and_relu_layers(self, rng, random_weights):
        net = lipsdp.Network(random_weights(rng, [5, 6, 6, 6, 2]), [(0, 1), (1, 1), (0, 1)])
        lower = lipsdp.lower_bound(net, method="slope-class").value
        for res in (lipsdp.solve(net), lipsdp.closed_form(net, "best")):
            assert res.certified
            assert res.value >= lower
            mp_check(net, res)


class TestWarmStartFromAnotherNetwork:
    """Issue 13, case 3: a warm start's value was trusted without proving it for this network."""

    def test_stopped_solve_never_returns_another_networks_value(self, rng):
        A = nonneg(rng, [6, 10, 10, 3])
        B = [4.0 * W for W in A]  # same shapes, L(B) = 64 L(A)
        res = lipsdp.solve(B, warm_start=lipsdp.solve(A), options={"time_limit": 1e-4})
        assert_sound(res, product_norm_log2(B))

    @pytest.mark.parametrize("solver", ["scs", "lowrank-ipm"])
    def test_fallback_value_is_proved_for_the_solved_network(self, rng, solver, random_weights):
        A = random_weights(rng, [5, 8, 8, 2])
        B = [W + 0.3 * rng.standard_normal(W.shape) for W in A]
        warm = lipsdp.solve(A)
        res = lipsdp.solve(B, solver=solver, warm_start=warm, options={"max_iter": 1})
        lower = lipsdp.lower_bound(B, method="slope-class").value
        assert_sound(res, np.log2(lower))
        if res.status is lipsdp.Status.FALLBACK:
            again = lipsdp.certify(B, res.multipliers, rho=res.value**2)
            assert again.certified
            assert again.value <= res.value * (1 + 1e-9)

    def test_warm_start_of_wrong_length_or_values(self, rng, random_weights):
        net = lipsdp.Network(random_weights(rng, [4, 6, 5, 2]))
        with pytest.raises(ValueError, match="warm_start has 1 entries; expected 2"):
            lipsdp.solve(net, warm_start=[np.ones(6)])
        with pytest.raises(ValueError, match=r"warm_start\[0\] has negative entries"):
            lipsdp.solve(net, warm_start=[-np.ones(6), np.ones(5)])
        with pytest.raises(ValueError, match=r"warm_start\[1\] has non-finite entries"):
            lipsdp.solve(net, warm_start=[np.ones(6), np.full(5, np.nan)])
        with pytest.raises(ValueError, match="warm_start does not fit this network"):
            lipsdp.solve(net, warm_start=lipsdp.solve(random_weights(rng, [4, 6, 2])))


class TestTinyAndHugeWeights:
    """Issue 13, case 4 and the overflow: weights from 1e-300 to 1e300."""

    @pytest.mark.parametrize("scale", [1e-300, 1e-170, 1e-20, 1e20, 1e200, 1e300])
    def test_single_matrix(self, rng, scale):
        W = scale * rng.standard_normal((4, 5))
        res = lipsdp.solve([W])
        assert res.certified
        assert res.value >= np.linalg.norm(W / scale, 2) * scale * (1 - 1e-15)
        assert res.value == pytest.approx(np.linalg.norm(W / scale, 2) * scale, rel=1e-12)

    @pytest.mark.parametrize("scales", [[-997, 0, 997], [997, -997, 0], [-300, -300, -300],
                                        [600, 300, 100]])
    def test_mixed_scales_within_one_network(self, rng, scales):
        Ws = nonneg(rng, [4, 6, 6, 2], scales=scales)
        exact = product_norm_log2(Ws)
        for res in (lipsdp.solve(Ws), lipsdp.closed_form(Ws, "best"),
                    lipsdp.closed_form(Ws, "naive"), lipsdp.solve(Ws, variant="split", split=1)):
            assert_sound(res, exact)
            if np.isfinite(exact) and abs(exact) < 1000:
                assert res.certified, res

    def test_multipliers_outside_float64_keep_an_exact_certificate(self, rng):
        Ws = nonneg(rng, [4, 6, 6, 2], scales=[900, -900, 0])
        res = lipsdp.solve(Ws)
        assert res.certified
        assert res.info.get("multipliers_exact") is False  # t_2 ~ 2^-1800
        cert = res.certificate
        again = lipsdp.certify(Ws, cert)
        assert again.certified
        assert again.value == pytest.approx(res.value, rel=1e-9)
        ts = [[(m, e) for m in mants] for mants, e in zip(cert.multipliers, cert.exponents,
                                                           strict=True)]
        assert mp_certifies(Ws, [(0, 1), (0, 1)], (cert.rho, cert.rho_exponent), ts)

    def test_bound_beyond_float64_is_not_certified(self, rng):
        Ws = nonneg(rng, [4, 6, 6, 2], scales=[800, 800, 0])
        res = lipsdp.solve(Ws)
        assert not res.certified
        assert np.isnan(res.value)
        assert res.status is lipsdp.Status.NOT_CERTIFIED
        assert "exceeds float64's range" in res.message


# --- the other cases of the issue --------------------------------------------------------------


class TestDegenerate:
    def test_zero_slopes_are_a_constant_network(self, rng, random_weights):
        net = lipsdp.Network(random_weights(rng, [5] + [6] * 12 + [2]), (0.0, 0.0))
        for res in (lipsdp.solve(net), lipsdp.closed_form(net, "eclipse-fast"),
                    lipsdp.solve(net, variant="sequential"), lipsdp.closed_form(net, "naive")):
            assert res.certified, res
            assert res.value == 0.0, res

    def test_one_constant_layer_makes_the_network_constant(self, rng, random_weights):
        net = lipsdp.Network(random_weights(rng, [5, 6, 6, 2]), [(0, 1), (0, 0)])
        res = lipsdp.solve(net)
        assert res.certified
        assert res.value == 0.0
        assert res.status == "constant_network"

    @pytest.mark.parametrize("slopes", [(-1.0, 1.0), (-0.5, 0.5), (-1.0, 0.5)])
    def test_symmetric_and_mixed_sign_slopes(self, rng, slopes, random_weights):
        net = lipsdp.Network(random_weights(rng, [5, 6, 6, 6, 2]), slopes)
        lower = lipsdp.lower_bound(net, method="slope-class").value
        for res in (lipsdp.solve(net), lipsdp.solve(net, variant="sequential"),
                    lipsdp.closed_form(net, "naive"), lipsdp.closed_form(net, "lookahead")):
            assert res.certified, res
            assert res.value >= lower
            mp_check(net, res)

    def test_huge_slopes(self, rng, random_weights):
        net = lipsdp.Network(random_weights(rng, [5, 6, 6, 2]), (0.0, 1e160))
        res = lipsdp.solve(net)  # L ~ 1e320: beyond float64
        assert not res.certified
        assert res.status is lipsdp.Status.NOT_CERTIFIED
        assert "exceeds float64's range" in res.message
        net = lipsdp.Network(random_weights(rng, [5, 6, 2]), (0.0, 1e160))
        res = lipsdp.solve(net)
        assert res.certified
        assert res.value >= lipsdp.lower_bound(net, method="slope-class").value

    def test_huge_weights_every_method(self, rng, random_weights):
        Ws = [1e200 * W for W in random_weights(rng, [4, 6, 6, 2])]
        Ws[-1] = Ws[-1] * 1e-200
        Ws[1] = Ws[1] * 1e-200
        lower = lipsdp.lower_bound(Ws, method="slope-class").value
        for method in lipsdp.CLOSED_FORM_METHODS:
            res = lipsdp.closed_form(Ws, method)
            assert res.certified, (method, res.status)
            assert res.value >= lower, method
        for variant in ("full", "chordal", "sequential"):
            res = lipsdp.solve(Ws, variant=variant)
            assert res.certified, (variant, res.status)
            assert res.value >= lower, variant

    def test_every_weight_times_1e200(self, rng, random_weights):
        Ws = [1e200 * W for W in random_weights(rng, [4, 6, 6, 2])]  # L ~ 1e600
        for res in (lipsdp.solve(Ws), lipsdp.closed_form(Ws, "best"),
                    lipsdp.closed_form(Ws, "naive")):
            assert not res.certified
            assert res.status is lipsdp.Status.NOT_CERTIFIED
            assert "exceeds float64's range" in res.message
        res = lipsdp.solve([1e200 * random_weights(rng, [4, 6])[0], *random_weights(rng, [6, 2])])
        assert res.certified

    @pytest.mark.parametrize("method", ["lookahead", "lookahead-jacobi", "lookahead-mix",
                                        "backward-lookahead", "backward-lookahead-jacobi"])
    def test_search_members_on_scaled_networks(self, rng, method):
        Ws = nonneg(rng, [5, 7, 7, 7, 2], scales=[600, -300, -500, 150])
        res = lipsdp.closed_form(Ws, method)
        assert res.certified, res.status
        assert_sound(res, product_norm_log2(Ws))

    def test_rank_deficient_and_duplicated_layers(self, rng):
        W0 = rng.standard_normal((6, 5))
        W0[3] = W0[1]  # duplicated neuron
        W1 = np.outer(rng.standard_normal(6), rng.standard_normal(6))  # rank one
        W1[:, 4] = 0.0  # neuron 4 of layer 1 feeds nothing
        W2 = rng.standard_normal((2, 6))
        net = lipsdp.Network([W0, W1, W2])
        lower = lipsdp.lower_bound(net, method="slope-class").value
        for res in (lipsdp.solve(net), lipsdp.closed_form(net, "best"),
                    lipsdp.solve(net, variant="chordal")):
            assert res.certified
            assert res.value >= lower
            mp_check(net, res)

    def test_split_by_parts_keeps_each_parts_certificate(self, rng, random_weights):
        net = lipsdp.Network(random_weights(rng, [4, 6, 6, 6, 2]), (1.0, 1.0))
        res = lipsdp.solve(net, variant="split", split=2)
        assert res.certified
        assert res.status == "linear_network"
        net = lipsdp.Network(random_weights(rng, [4, 6, 6, 6, 2]), [(0, 1), (1, 1), (0, 1)])
        res = lipsdp.solve(net, variant="split", cuts=[2])
        assert res.certified
        assert res.value >= lipsdp.lower_bound(net, method="slope-class").value
        if res.info["certified_by"] == "parts":
            assert all(p.certified and (p.multipliers or p.certificate is None)
                       for p in res.parts)
            assert res.value >= np.prod([p.value for p in res.parts])

    def test_zero_multipliers_print_nothing(self, rng, capfd, random_weights):
        W = random_weights(rng, [4, 7, 6, 2])
        res = lipsdp.certify(W, [np.zeros(7), np.zeros(6)])
        assert not res.certified
        out, err = capfd.readouterr()
        assert out == ""
        assert "DSYRK" not in err

    def test_certified_is_never_nan(self):
        with pytest.raises(ValueError, match="certified result needs a finite value"):
            lipsdp.LipschitzResult(value=np.nan, certified=True, multipliers=[], status="x",
                                   method="x")
        with pytest.raises(ValueError, match="uncertified result has value nan"):
            lipsdp.LipschitzResult(value=1.0, certified=False, multipliers=[], status="x",
                                   method="x")


# --- the certificate itself ----------------------------------------------------------------------


class TestTheProof:
    @pytest.mark.parametrize("slopes", [(0, 1), (0.1, 1), (0, 0.25), (-1, 1)])
    def test_small_certificates_hold_in_60_digits(self, rng, slopes, random_weights):
        net = lipsdp.Network(random_weights(rng, [5, 8, 7, 3]), slopes)
        results = [lipsdp.solve(net), lipsdp.solve(net, multipliers="layer"),
                   lipsdp.solve(net, variant="chordal"), lipsdp.closed_form(net, "lookahead")]
        for res in results:
            assert res.certified
            mp_check(net, res)

    def test_value_squared_with_its_multipliers_is_proved_again(self, rng, random_weights):
        net = lipsdp.Network(random_weights(rng, [5, 8, 7, 3]))
        res = lipsdp.solve(net)
        assert mp_certifies(net.weights, net.slopes, res.value**2, res.multipliers)
        again = lipsdp.certify(net, res.multipliers, rho=res.value**2)
        assert again.value == pytest.approx(res.value, rel=1e-12)

    def test_slightly_infeasible_point_is_rejected_where_60_digits_reject_it(self, rng,
                                                                             random_weights):
        net = lipsdp.Network(random_weights(rng, [5, 8, 7, 3]))
        res = lipsdp.solve(net)
        rho = res.certificate.rho * (1 - 1e-6)  # below the proved rho on the same multipliers
        assert not mp_certifies(net.weights, net.slopes, rho, res.multipliers)
        lams = [2 * t / rho for t in res.multipliers]
        from lipsdp.certify import prove

        assert not prove(net, lams, rho=rho).ok

    def test_the_proved_rho_is_close_to_the_exact_ray_minimum(self, rng, random_weights):
        # The proof costs about 1e-13 here, not the 1e-10 margin of a float check.
        net = lipsdp.Network(random_weights(rng, [4, 6, 5, 2]))
        res = lipsdp.closed_form(net, "eclipse-fast")
        ts, rho = res.multipliers, res.certificate.rho
        assert mp_certifies(net.weights, net.slopes, rho, ts)
        assert not mp_certifies(net.weights, net.slopes, rho * (1 - 1e-11), ts)


# --- fault injection through the backend interface --------------------------------------------


@pytest.fixture(scope="module")
def faulty():
    solvers.register("faulty", "faulty_backend", "it is the test suite's own")
    return "faulty"


@pytest.mark.parametrize("mode", ["nan", "garbage", "huge", "negative", "zero", "shape", "raise",
                                  "linalg", "object", "limit", "inf_dual"])
def test_a_misbehaving_backend_gives_a_status_or_a_proved_bound(rng, faulty, mode, random_weights):
    net = lipsdp.Network(random_weights(rng, [4, 6, 5, 2]))
    lower = lipsdp.lower_bound(net, method="slope-class").value
    for variant in ("full", "chordal", "sequential"):
        res = lipsdp.solve(net, variant=variant, solver=faulty, options={"mode": mode})
        assert_sound(res, np.log2(lower))
        if variant == "full" and res.certified:
            mp_check(net, res)
    res = lipsdp.solve(net, solver=faulty, options={"mode": mode}, warm_start="lookahead")
    assert res.certified  # the proved warm start, at least
    assert res.value >= lower


# --- property tests ------------------------------------------------------------------------------

SLOPE_CHOICES = [(0.0, 1.0), (0.01, 1.0), (0.3, 1.0), (0.0, 0.25), (1.0, 1.0), (-0.5, -0.5),
                 (-1.0, 1.0), (-0.2, 1.0), (0.0, 0.0)]


@st.composite
def networks(draw, max_depth, max_width, max_exp):
    l = draw(st.integers(0, max_depth))
    widths = draw(st.lists(st.integers(1, max_width), min_size=l + 2, max_size=l + 2))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    positive = draw(st.booleans())
    exps = draw(st.lists(st.integers(-max_exp, max_exp), min_size=l + 1, max_size=l + 1))
    Ws = []
    for k in range(l + 1):
        W = rng.standard_normal((widths[k + 1], widths[k])) / np.sqrt(widths[k])
        if positive:
            W = np.abs(W)
        shape = draw(st.sampled_from(["plain", "plain", "plain", "rank1", "dup", "zero_col",
                                      "zero"]))
        if shape == "rank1":
            W = np.outer(W[:, 0], W[0])
        elif shape == "dup" and W.shape[0] > 1:
            W[-1] = W[0]
        elif shape == "zero_col":
            W[:, 0] = 0.0
        elif shape == "zero" and draw(st.integers(0, 9)) == 0:
            W = np.zeros_like(W)
        Ws.append(np.ldexp(W, exps[k]))
    per_layer = draw(st.booleans())
    if per_layer:
        slopes = [draw(st.sampled_from(SLOPE_CHOICES)) for _ in range(l)]
    else:
        slopes = draw(st.sampled_from(SLOPE_CHOICES))
    return lipsdp.Network(Ws, slopes if l else None)


def _oracle_log2(net):
    """The exact constant where an oracle knows it (nonnegative ReLU, linear, one matrix)."""
    if any(not np.any(W) for W in net.weights):
        return -np.inf
    if all(a == b for a, b in net.slopes):
        gain = sum(np.log2(abs(a)) if a else -np.inf for a, _ in net.slopes)
        return gain + product_norm_log2(net.weights, dps=30)
    if all(s == (0.0, 1.0) for s in net.slopes) and all(np.all(W >= 0) for W in net.weights):
        return product_norm_log2(net.weights, dps=30)
    return None


def _slope_class_log2(net):
    """log2 of the slope-class lower bound (computed on the normalised network: no overflow)."""
    from lipsdp.scaling import normalise

    normed, scaling = normalise(net)
    low = lipsdp.lower_bound(normed, method="slope-class", n_restarts=2).value
    return (np.log2(low) + scaling.value_exponent) if low > 0 else -np.inf


def _eclipse_rejects(net):
    """ECLipsE-Fast's documented slope restriction (a constant network is answered first)."""
    return (not any(not np.any(W) for W in net.weights)
            and not any(a == b == 0 for a, b in net.slopes)
            and not (net.n_hidden and all(a == b for a, b in net.slopes))
            and any(a * b < 0 or a + b == 0 for a, b in net.slopes))


def _check_all_methods(net, with_solve):
    exact = _oracle_log2(net)
    lower = _slope_class_log2(net)
    results = []
    for method in lipsdp.CLOSED_FORM_METHODS:
        if method == "eclipse-fast" and _eclipse_rejects(net):
            with pytest.raises(ValueError, match="ECLipsE-Fast needs"):
                lipsdp.closed_form(net, method)
            continue
        results.append(lipsdp.closed_form(net, method))
    if with_solve:
        results.append(lipsdp.solve(net))
        results.append(lipsdp.solve(net, multipliers="layer", solver="banded-ipm"))
    for res in results:
        assert_sound(res, exact, tol=1e-9)
        assert_sound(res, lower, tol=1e-9)
        if res.certified and res.multipliers and not res.info.get("multipliers_exact", True):
            continue
        mp_check(net, res)
        if res.certified and res.certificate is not None and net.n_hidden:
            again = lipsdp.certify(net, res.certificate)
            assert_sound(again, exact)
    naive = next(r for r in results if r.method == "naive")
    if np.isfinite(naive.value) and net.n_hidden and abs(log2_value(naive)) < 900:
        assert naive.certified  # the proved fallback is always there


@settings(settings.get_profile(PROFILE))
@given(networks(max_depth=6, max_width=6, max_exp=40))
def test_property_small_networks_every_method(net):
    _check_all_methods(net, with_solve=True)


@settings(settings.get_profile(PROFILE))
@given(networks(max_depth=12, max_width=10, max_exp=300))
def test_property_extreme_scales(net):
    _check_all_methods(net, with_solve=False)


@pytest.mark.slow
@settings(settings.get_profile(PROFILE))
@given(networks(max_depth=100, max_width=80, max_exp=1000))
def test_property_long_profile(net):
    # Depths 1-100, widths 1-80, per-layer scales 2^-1000 .. 2^1000 mixed within a network.
    _check_all_methods(net, with_solve=net.lmi_size <= 400)


def test_variant_options_are_checked_for_networks_answered_without_a_solver(rng, random_weights):
    W = random_weights(rng, [4, 6, 6, 2])
    W[1] = np.zeros_like(W[1])
    with pytest.raises(ValueError, match="split is 9"):
        lipsdp.solve(W, variant="split", split=9)
    with pytest.raises(TypeError, match="unexpected option"):
        lipsdp.solve(W, variant="sequential", clique_size=3)
    assert lipsdp.solve(W, variant="chordal", clique_size=3).value == 0.0


def test_the_best_proved_iterate_is_kept_when_the_last_point_proves_less(rng, monkeypatch,
                                                                          random_weights):
    # Near the optimum the last point can sit too close to the boundary for the proof (the
    # 65-layer GLipSDP network): the result is then the best iterate proved on the way.
    import lipsdp.variants.full as full_variant
    from lipsdp.certify import failed

    net = lipsdp.Network(random_weights(rng, [5, 8, 8, 2]))
    full = lipsdp.solve(net, solver="lowrank-ipm")

    def last_point_fails(net, rho_hat, ts, method):
        return failed(method, "injected"), {}

    monkeypatch.setattr(full_variant, "certify_solution", last_point_fails)
    res = lipsdp.solve(net, solver="lowrank-ipm")
    assert res.certified
    assert res.info["best_iterate"] is True
    assert res.value == pytest.approx(full.value, rel=1e-6)
    mp_check(net, res)
