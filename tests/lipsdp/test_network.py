"""Network validation: every bad input fails before any work, naming what was wrong."""

import numpy as np
import pytest

import lipsdp


def test_shapes_and_defaults(rng):
    net = lipsdp.Network([rng.standard_normal((4, 3)), rng.standard_normal((2, 4))])
    assert net.widths == (3, 4, 2)
    assert net.hidden_widths == (4,)
    assert net.slopes == ((0.0, 1.0),)
    assert net.lmi_size == 7


def test_single_matrix_is_a_network(rng):
    W = rng.standard_normal((3, 5))
    for given in (W, [W]):
        net = lipsdp.Network(given)
        assert net.n_hidden == 0
        assert net.slopes == ()


def test_weights_are_copied_read_only_and_caller_untouched(rng):
    W = [rng.standard_normal((4, 3)), rng.standard_normal((2, 4))]
    before = [w.copy() for w in W]
    net = lipsdp.Network(W)
    W[0][0, 0] = 99.0
    assert net.weights[0][0, 0] == before[0][0, 0]
    with pytest.raises(ValueError, match="read-only"):
        net.weights[0][0, 0] = 1.0


def test_per_layer_slopes(rng):
    net = lipsdp.Network(
        [rng.standard_normal((4, 3)), rng.standard_normal((4, 4)), rng.standard_normal((1, 4))],
        slopes=[(0, 1), (0.1, 1)],
    )
    assert net.slopes == ((0.0, 1.0), (0.1, 1.0))
    np.testing.assert_allclose(net.p, [0.0, 0.1])
    np.testing.assert_allclose(net.m, [0.5, 0.55])


@pytest.mark.parametrize(
    ("weights", "slopes", "error", "match"),
    [
        ([], (0, 1), ValueError, "weights is empty"),
        ([np.ones(3)], (0, 1), ValueError, r"weights\[0\] has 1 dimension"),
        ([np.ones((2, 2, 2))], (0, 1), ValueError, r"weights\[0\] has 3 dimension"),
        ([np.ones((4, 3)), np.ones((2, 5))], (0, 1), ValueError,
         r"weights\[1\] has shape \(2, 5\); expected 4 columns to match weights\[0\] \(4 rows\)"),
        ([np.array([[1.0, np.nan]])], (0, 1), ValueError, r"weights\[0\] has 1 non-finite"),
        ([np.array([[np.inf]]), np.ones((1, 1))], (0, 1), ValueError, "non-finite"),
        ([np.ones((2, 2)), np.ones((1, 2))], (1, 0), ValueError,
         r"\(1.0, 0.0\); expected alpha <= beta"),
        ([np.ones((2, 2)), np.ones((1, 2))], [(0, 1), (0, 1)], ValueError,
         "slopes has 2 pairs; expected 1"),
        ([np.ones((2, 2)), np.ones((1, 2))], (0, 1, 2), ValueError, "expected 1, one per hidden"),
        ([np.ones((2, 2)), np.ones((1, 2))], (0, float("nan")), ValueError, "finite"),
        ([np.ones((2, 2)), np.ones((1, 2))], "relu", TypeError, "slopes"),
        ("not weights", (0, 1), TypeError, "weights is str"),
        ([np.array([["a"]])], (0, 1), TypeError, r"weights\[0\] has dtype"),
        ([np.ones((2, 2)) + 1j], (0, 1), TypeError, "complex"),
        ([np.ones((0, 2))], (0, 1), ValueError, "empty dimension"),
    ],
)
def test_bad_input(weights, slopes, error, match):
    with pytest.raises(error, match=match):
        lipsdp.Network(weights, slopes)


def test_slopes_with_network_is_rejected(small_net):
    with pytest.raises(ValueError, match="slopes was given together with a Network"):
        lipsdp.closed_form(small_net, "naive", slopes=(0, 1))


# --- activations by name ----------------------------------------------------------------------


def _w():
    return [np.ones((3, 2)), np.ones((4, 3)), np.ones((1, 4))]


def test_activation_by_name_gives_the_table_slopes():
    net = lipsdp.Network(_w(), activation="sigmoid")
    assert net.slopes == ((0.0, 0.25), (0.0, 0.25))
    assert net.activation == ("sigmoid", "sigmoid")
    net = lipsdp.Network(_w(), activation=["tanh", "leaky_relu(0.1)"])
    assert net.slopes == ((0.0, 1.0), (0.1, 1.0))
    gelu = lipsdp.Network(_w(), activation="gelu").slopes[0]
    assert gelu[0] < -0.128 and gelu[1] > 1.128  # noqa: PT018 -- one range, both ends
    assert lipsdp.Network(_w(), activation="identity").slopes[0] == (1.0, 1.0)
    assert lipsdp.Network(_w()).activation is None
    assert "activation='sigmoid'" in repr(lipsdp.Network(_w(), activation="sigmoid"))


def test_activation_and_slopes_together_must_contain():
    # A wider sector than the activation's range is valid and kept.
    net = lipsdp.Network(_w(), slopes=(0.0, 1.0), activation="sigmoid")
    assert net.slopes == ((0.0, 1.0), (0.0, 1.0))
    assert net.activation == ("sigmoid", "sigmoid")
    with pytest.raises(ValueError, match=r"slopes\[1\] is \(0.0, 0.5\) but activation\[1\] 'tanh' "
                                         r"has slopes \(0.0, 1.0\)"):
        lipsdp.Network(_w(), slopes=[(0, 1), (0, 0.5)], activation="tanh")
    with pytest.raises(ValueError, match="expected slopes containing them"):
        lipsdp.Network(_w(), slopes=(0, 1), activation="silu")


@pytest.mark.parametrize(
    ("activation", "error", "match"),
    [
        ("softmax", ValueError, "activation is 'softmax'; expected one of"),
        (["relu"], ValueError, "activation has 1 entries; expected 2"),
        (["relu", 3], TypeError, r"activation\[1\] is int"),
        (["relu", "nope"], ValueError, r"activation\[1\] is 'nope'"),
        (7, TypeError, "activation is int"),
        ("leaky_relu(a)", ValueError, "not numbers"),
    ],
)
def test_activation_bad_input(activation, error, match):
    with pytest.raises(error, match=match):
        lipsdp.Network(_w(), activation=activation)


def test_slopes_as_name_points_to_activation():
    with pytest.raises(TypeError, match="an activation name goes in activation="):
        lipsdp.Network(_w(), "tanh")


def test_activation_drives_the_jacobian_lower_bound(rng, random_weights):
    """bracket without activation= uses the network's own: its Jacobian bound then exists for
    sigmoid slopes (which alone give no activation) and lies below the certified bound."""
    net = lipsdp.Network(random_weights(rng, [3, 6, 2]), activation="sigmoid")
    b = lipsdp.bracket(net, n_samples=20, ascent_steps=5)
    assert "jacobian" in b.lower_results
    assert b.lower_results["jacobian"].value <= b.upper
