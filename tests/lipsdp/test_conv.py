"""Convolutional layers (lipsdp.conv, docs/conv.md): the operator against a naive construction and
torch, the layer norms against the dense operator's spectral norm, the unrolled LipSDP route."""

import itertools

import numpy as np
import pytest

import lipsdp
from lipsdp.conv import Conv2d, layer_norm_bound, product_bound, unroll

#: (c_out, c_in, h, w, kh, kw, padding): square and rectangular images and kernels, "same",
#: "valid" and wider padding, even kernels, a kernel as large as the image.
SHAPES = [
    (3, 2, 6, 6, 3, 3, 1),
    (2, 3, 7, 5, 3, 3, 0),
    (4, 1, 5, 6, 2, 3, (1, 0)),
    (2, 2, 6, 6, 5, 5, 2),
    (1, 2, 4, 4, 3, 3, 2),
    (2, 1, 3, 3, 3, 3, 1),
]


def _layer(rng, shape, stride, mode):
    co, ci, h, w, kh, kw, p = shape
    return Conv2d(rng.standard_normal((co, ci, kh, kw)), (ci, h, w), stride=stride, padding=p,
                  padding_mode=mode)


def _naive_dense(K, in_shape, stride, padding, mode):
    """The matrix from the definition, one entry at a time (independent of Conv2d's code)."""
    co, _, kh, kw = K.shape
    c, h, w = in_shape
    (sh, sw), (ph, pw) = stride, padding
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    D = np.zeros((co * ho * wo, c * h * w))
    for o, i, j, cc, a, b in itertools.product(range(co), range(ho), range(wo), range(c),
                                               range(kh), range(kw)):
        r, q = sh * i + a - ph, sw * j + b - pw
        if mode == "circular":
            r, q = r % h, q % w
        elif not (0 <= r < h and 0 <= q < w):
            continue
        D[(o * ho + i) * wo + j, (cc * h + r) * w + q] += K[o, cc, a, b]
    return D


@pytest.mark.parametrize("mode", ["zeros", "circular"])
@pytest.mark.parametrize("stride", [1, 2, (1, 2)])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_operator_matches_naive_construction(rng, shape, stride, mode):
    layer = _layer(rng, shape, stride, mode)
    D = layer.to_dense()
    ref = _naive_dense(layer.kernel, layer.in_shape, layer.stride, layer.padding, mode)
    np.testing.assert_allclose(D, ref, rtol=0, atol=1e-14)
    assert layer.to_sparse().shape == layer.shape == D.shape
    # apply on the basis vectors gives the columns; a batch in both layouts
    E = np.eye(layer.shape[1])
    np.testing.assert_allclose(layer.apply(E).T, D, atol=1e-13)
    X = rng.standard_normal((3, *layer.in_shape))
    Y = layer.apply(X)
    assert Y.shape == (3, *layer.out_shape)
    np.testing.assert_allclose(Y.reshape(3, -1), X.reshape(3, -1) @ D.T, atol=1e-12)
    # the adjoint is the transpose
    Yf = rng.standard_normal((4, layer.shape[0]))
    np.testing.assert_allclose(layer.adjoint(Yf), Yf @ D, atol=1e-12)
    np.testing.assert_allclose(layer.adjoint(Yf[0].reshape(layer.out_shape)).ravel(),
                               D.T @ Yf[0], atol=1e-12)


def test_hand_computed_example():
    # 1 channel, 3x3 image, kernel [[1, 2], [3, 4]], no padding: a cross-correlation.
    layer = Conv2d([[[[1.0, 2.0], [3.0, 4.0]]]], (1, 3, 3))
    x = np.arange(9.0).reshape(1, 3, 3)
    y = layer.apply(x)
    expected = [[0 + 2 + 9 + 16, 1 + 4 + 12 + 20], [3 + 8 + 18 + 28, 4 + 10 + 21 + 32]]
    np.testing.assert_array_equal(y[0], expected)
    # circular padding 1 on a 3x3 image, 3x3 kernel of ones: every output is the total sum
    layer = Conv2d(np.ones((1, 1, 3, 3)), (1, 3, 3), padding=1, padding_mode="circular")
    np.testing.assert_array_equal(layer.apply(x)[0], np.full((3, 3), 36.0))


@pytest.mark.parametrize("mode", ["zeros", "circular"])
@pytest.mark.parametrize("stride", [1, 2])
def test_matches_torch(rng, stride, mode):
    torch = pytest.importorskip("torch")
    for co, ci, h, w, kh, kw, p in SHAPES:
        K = rng.standard_normal((co, ci, kh, kw))
        layer = Conv2d(K, (ci, h, w), stride=stride, padding=p, padding_mode=mode)
        ref = torch.nn.Conv2d(ci, co, (kh, kw), stride=stride, padding=p, padding_mode=mode,
                              bias=False).double()
        with torch.no_grad():
            ref.weight.copy_(torch.from_numpy(K))
            x = rng.standard_normal((2, ci, h, w))
            y = ref(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(layer.apply(x), y, atol=1e-12)
        flat = torch.nn.Flatten()(torch.from_numpy(y)).numpy()
        np.testing.assert_allclose(x.reshape(2, -1) @ layer.to_dense().T, flat, atol=1e-12)


def test_layer_is_read_only_copy(rng):
    K = rng.standard_normal((2, 1, 3, 3))
    layer = Conv2d(K, (1, 4, 4), padding=1)
    K[0, 0, 0, 0] = 1e6
    assert layer.kernel[0, 0, 0, 0] != 1e6
    assert layer.kernel.dtype == np.float64
    with pytest.raises(ValueError, match="read-only"):
        layer.kernel[0, 0, 0, 0] = 0.0
    assert layer.stride == (1, 1)
    assert layer.padding == (1, 1)
    assert layer.in_shape == (1, 4, 4)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"kernel": np.ones((2, 3, 3))}, ValueError, r"kernel has 3 dimension"),
    ({"kernel": np.ones((2, 2, 3, 3))}, ValueError, r"2 input channels; expected 1"),
    ({"kernel": np.full((1, 1, 3, 3), np.nan)}, ValueError, r"9 non-finite"),
    ({"kernel": np.ones((1, 1, 0, 3))}, ValueError, r"empty dimension"),
    ({"kernel": np.ones((1, 1, 3, 3)) * 1j}, TypeError, r"complex"),
    ({"kernel": "abc"}, TypeError, r"kernel is str"),
    ({"in_shape": (1, 5)}, ValueError, r"in_shape has 2 entries"),
    ({"in_shape": (1, 5, 0)}, ValueError, r"in_shape\[2\] is 0"),
    ({"stride": 0}, ValueError, r"stride is 0; expected an integer >= 1"),
    ({"stride": 1.5}, TypeError, r"stride is 1.5"),
    ({"padding": -1}, ValueError, r"padding is -1"),
    ({"padding": (1, 2, 3)}, ValueError, r"padding has 3 entries"),
    ({"in_shape": (1, 2, 2)}, ValueError, r"larger than the padded input"),
    ({"padding": 6, "padding_mode": "circular"}, ValueError, r"circular padding \(6, 6\) is wider"),
    ({"padding_mode": "reflect"}, ValueError, r"padding_mode is 'reflect'"),
])
def test_validation(kwargs, error, match):
    args = {"kernel": np.ones((1, 1, 3, 3)), "in_shape": (1, 5, 5), **kwargs}
    with pytest.raises(error, match=match):
        Conv2d(**args)


def test_apply_rejects_wrong_shape():
    layer = Conv2d(np.ones((1, 1, 3, 3)), (1, 5, 5))
    with pytest.raises(ValueError, match=r"x has shape \(24,\); expected \(\.\.\., 25\)"):
        layer.apply(np.ones(24))


# --- layer norms ---------------------------------------------------------------------------

NORM_SHAPES = [
    (3, 2, 6, 6, 3, 3, 1),
    (4, 3, 8, 8, 3, 3, 1),
    (2, 2, 7, 7, 3, 3, 0),
    (2, 3, 5, 6, 2, 2, 1),
    (3, 1, 6, 6, 5, 5, 2),
    (5, 5, 4, 4, 3, 3, 1),
]


@pytest.mark.parametrize("mode", ["zeros", "circular"])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("shape", NORM_SHAPES, ids=str)
def test_layer_norms_against_dense(rng, shape, stride, mode):
    layer = _layer(rng, shape, stride, mode)
    exact = np.linalg.norm(layer.to_dense(), 2)
    gram = layer_norm_bound(layer, "gram")
    lip = layer_norm_bound(layer, "lipconv")
    lanczos = layer_norm_bound(layer, "exact")
    power = layer_norm_bound(layer, "exact", algorithm="power", n_iter=20000, tol=1e-13)
    assert gram.value >= exact
    assert lip.value >= exact
    assert lip.value == lip.info["spectral"]
    assert lip.info["published"] >= lip.value * (1 - 1e-12)  # the row-wise form: never tighter
    for res in (lanczos, power):
        assert res.value == pytest.approx(exact, rel=1e-6)
        assert res.lower_bound <= exact
        assert res.lower_bound == pytest.approx(exact, rel=1e-6)
    if gram.exact:
        assert gram.value == pytest.approx(exact, rel=1e-3)
    for res, name in ((gram, "gram"), (lip, "lipconv"), (lanczos, "exact")):
        assert res.method == name
        assert res.time >= 0


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize(("co", "ci", "n", "k"), [(4, 3, 8, 3), (8, 8, 8, 3), (3, 6, 6, 5),
                                                  (16, 3, 8, 3)])
def test_gram_is_exact_for_circular_padding(rng, co, ci, n, k, stride):
    layer = Conv2d(rng.standard_normal((co, ci, k, k)), (ci, n, n), stride=stride,
                   padding=k // 2, padding_mode="circular")
    exact = np.linalg.norm(layer.to_dense(), 2)
    res = layer_norm_bound(layer, "gram", n_iter=6)
    assert res.exact
    assert exact <= res.value <= exact * (1 + 1e-3)
    # more iterations only tighten, down to the rounding margin
    tight = layer_norm_bound(layer, "gram", n_iter=12)
    assert exact <= tight.value <= exact * (1 + 1e-9)


def test_gram_converges_quadratically_on_rank_one_symbol():
    # A 1x1 kernel (channel mixing only): the symbol is the constant matrix K, the norm ||K||_2.
    K = np.array([[3.0, 0.0], [0.0, 2.9]]).reshape(2, 2, 1, 1)
    layer = Conv2d(K, (2, 4, 4))
    values = [layer_norm_bound(layer, "gram", n_iter=t).value for t in (1, 3, 6)]
    assert values[0] > values[1] > values[2] >= 3.0
    # ||G_t||_F^(1/2^t) = (3^(2^(t+1)) + 2.9^(2^(t+1)))^(1/2^(t+1))
    for t, v in zip((1, 3, 6), values, strict=True):
        ref = (3.0 ** (2 ** (t + 1)) + 2.9 ** (2 ** (t + 1))) ** (1 / 2 ** (t + 1))
        assert v == pytest.approx(ref, rel=1e-9)


def test_lipconv_bounds_the_symbol_supremum(rng):
    # The circular convolution on a large torus approaches sup_w ||F(w)||: the grid correction
    # must keep lipconv above it even on a coarse grid.
    K = rng.standard_normal((3, 2, 3, 3))
    big = Conv2d(K, (2, 97, 97), padding=1, padding_mode="circular")
    sup = layer_norm_bound(big, "gram", n_iter=12).value
    small = Conv2d(K, (2, 6, 6), padding=1)
    for n_grid in (7, 16, 64):
        res = layer_norm_bound(small, "lipconv", n_grid=n_grid)
        assert res.value >= sup
        assert res.info["published"] >= sup
    # On a 256 grid, lipconv is the grid maximum (= the circular norm on the 256 x 256 torus,
    # computed through Conv2d's own torus) times the correction 1 / (1 - pi (1 + 1) / 256).
    torus = Conv2d(K, (2, 256, 256), padding=1, padding_mode="circular")
    grid_max = layer_norm_bound(torus, "gram", n_iter=12).value
    fine = layer_norm_bound(small, "lipconv", n_grid=256)
    assert fine.value == pytest.approx(grid_max / (1 - np.pi * 2 / 256), rel=1e-8)
    with pytest.raises(ValueError, match=r"n_grid is 6; expected at least 7"):
        layer_norm_bound(small, "lipconv", n_grid=6)
    with pytest.raises(ValueError, match=r"variant is 'rows'"):
        layer_norm_bound(small, "lipconv", variant="rows")
    published = layer_norm_bound(small, "lipconv", variant="published")
    assert published.value == published.info["published"] >= sup


def test_reshaped_kernel_norm_is_not_the_operator_norm():
    # Two orthogonal 1x1-shifted taps: the reshaped kernel has norm sqrt(2), the operator 2.
    K = np.zeros((1, 1, 1, 2))
    K[0, 0, 0, :] = 1.0
    layer = Conv2d(K, (1, 4, 4), padding=(0, 0))
    reshaped = np.linalg.norm(layer.kernel.reshape(1, -1), 2)
    assert reshaped == pytest.approx(np.sqrt(2))
    exact = np.linalg.norm(layer.to_dense(), 2)
    assert exact > 1.8 > reshaped
    assert layer_norm_bound(layer, "gram").value >= exact


def test_layer_norm_bound_errors(rng):
    layer = Conv2d(rng.standard_normal((2, 1, 3, 3)), (1, 5, 5), padding=1)
    with pytest.raises(ValueError, match=r"n_iter is 0; expected an integer >= 1"):
        layer_norm_bound(layer, "gram", n_iter=0)
    with pytest.raises(ValueError, match=r"n_iter is -3"):
        layer_norm_bound(layer, "exact", n_iter=-3)
    with pytest.raises(TypeError, match=r"n_iter is 2.5"):
        layer_norm_bound(layer, "gram", n_iter=2.5)
    with pytest.raises(ValueError, match=r"method is 'svd'; expected one of"):
        layer_norm_bound(layer, "svd")
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['n_grid'\] for method 'gram'"):
        layer_norm_bound(layer, "gram", n_grid=10)
    with pytest.raises(ValueError, match=r"algorithm is 'qr'"):
        layer_norm_bound(layer, "exact", algorithm="qr")
    with pytest.raises(TypeError, match=r"layer is ndarray; expected a lipsdp.conv.Conv2d"):
        layer_norm_bound(np.eye(3), "gram")


def test_homogeneity(rng):
    layer = _layer(rng, NORM_SHAPES[0], 1, "zeros")
    scaled = Conv2d(-2.5 * layer.kernel, layer.in_shape, padding=layer.padding)
    for method in ("gram", "lipconv", "exact"):
        a, b = layer_norm_bound(layer, method).value, layer_norm_bound(scaled, method).value
        assert b == pytest.approx(2.5 * a, rel=1e-9)


# --- chains: unroll, product bound, unrolled LipSDP ----------------------------------------


def _small_cnn(rng):
    c1 = Conv2d(rng.standard_normal((2, 1, 3, 3)) / 3, (1, 6, 6), padding=1)
    c2 = Conv2d(rng.standard_normal((2, 2, 3, 3)) / 4, (2, 6, 6), stride=2, padding=1)
    dense = rng.standard_normal((3, 2 * 3 * 3)) / np.sqrt(18)
    return [c1, c2, dense]


def test_unroll_chain_and_errors(rng):
    layers = _small_cnn(rng)
    Ws = unroll(layers)
    assert [W.shape for W in Ws] == [(72, 36), (18, 72), (3, 18)]
    np.testing.assert_array_equal(Ws[0], layers[0].to_dense())
    sparse = unroll(layers, sparse=True)
    assert all(hasattr(S, "tocsr") for S in sparse)
    np.testing.assert_array_equal(sparse[1].toarray(), Ws[1])
    with pytest.raises(ValueError, match=r"layers\[2\] has 17 columns; expected 18 inputs"):
        unroll([layers[0], layers[1], np.ones((3, 17))])
    with pytest.raises(ValueError, match=r"layers\[1\] has in_shape \(2, 5, 5\)"):
        unroll([layers[0], Conv2d(np.ones((1, 2, 3, 3)), (2, 5, 5))])
    with pytest.raises(TypeError, match=r"layers\[0\] is str"):
        unroll(["conv"])
    with pytest.raises(ValueError, match="layers is empty"):
        unroll([])


def test_product_bound(rng):
    layers = _small_cnn(rng)
    Ws = unroll(layers)
    dense_norms = [np.linalg.norm(W, 2) for W in Ws]
    exact = product_bound(layers, method="exact")
    assert exact == pytest.approx(np.prod(dense_norms), rel=1e-9)
    for method in ("gram", "lipconv"):
        assert product_bound(layers, method=method) >= np.prod(dense_norms)
    leaky = product_bound(layers, slopes=[(0.0, 0.25), (-2.0, 1.0)], method="exact")
    assert leaky == pytest.approx(np.prod(dense_norms) * 0.25 * 2.0, rel=1e-9)
    assert product_bound(layers, method="exact") == pytest.approx(
        lipsdp.naive_bound(lipsdp.Network(Ws)), rel=1e-9)
    with pytest.raises(ValueError, match="slopes has 1 pairs; expected 2"):
        product_bound(layers, slopes=[(0.0, 1.0)])
    with pytest.raises(ValueError, match=r"slopes\[1\] is \(1.0, 0.0\); expected alpha <= beta"):
        product_bound(layers, slopes=[(0.0, 1.0), (1.0, 0.0)])


def _sampled_jacobian_lower(Ws, rng, n=400):
    """max over Gaussian inputs of ||W_2 D_2 W_1 D_1 W_0||_2 for ReLU (an independent bound)."""
    best = 0.0
    for _ in range(n):
        x = rng.standard_normal(Ws[0].shape[1])
        J = np.eye(len(x))
        h = x
        for W in Ws[:-1]:
            z = W @ h
            d = (z > 0).astype(float)
            J = (d[:, None] * W) @ J
            h = np.maximum(z, 0.0)
        best = max(best, np.linalg.norm(Ws[-1] @ J, 2))
    return best


def test_unrolled_lipsdp_on_small_cnn(rng):
    layers = _small_cnn(rng)
    net = lipsdp.Network(unroll(layers))
    res = lipsdp.solve(net)
    assert res.certified
    product = product_bound(layers, method="exact")
    assert res.value <= product * (1 + 1e-9)
    assert res.value >= _sampled_jacobian_lower(list(net.weights), rng)
    # the closed form on the unrolled network sits between the two as well
    cf = lipsdp.closed_form(net, "best")
    assert res.value <= cf.value * (1 + 1e-6)


def test_fourier_prototype_matches_unrolled_lipsdp(rng):
    from lipsdp.conv import _fourier_blocks, fourier_lipsdp_prototype

    from reference import reference_matrix

    n = 6
    layers = [Conv2d(rng.standard_normal((2, 1, 3, 3)) / 3, (1, n, n), padding=1,
                     padding_mode="circular"),
              Conv2d(rng.standard_normal((3, 2, 3, 3)) / 4, (2, n, n), padding=1,
                     padding_mode="circular"),
              Conv2d(rng.standard_normal((1, 3, 3, 3)) / 4, (3, n, n), padding=1,
                     padding_mode="circular")]
    Ws = unroll(layers)
    slopes = [(0.0, 1.0), (0.1, 1.0)]
    # The block diagonalisation: the spectrum of the unrolled M(rho, T) with channel-shared T is
    # the union of the per-frequency spectra.
    ts = [rng.uniform(0.1, 1.0, 2), rng.uniform(0.1, 1.0, 3)]
    M = reference_matrix(Ws, slopes, 2.0, [np.repeat(t, n * n) for t in ts])
    _, _, mats = _fourier_blocks(layers, slopes, 2.0, ts)
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(M)),
                               np.sort(np.concatenate([np.linalg.eigvalsh(m) for m in mats])),
                               atol=1e-12)
    out = fourier_lipsdp_prototype(layers, slopes)
    assert out["certified"].certified
    full = lipsdp.solve(lipsdp.Network(Ws, slopes))
    # translation invariance: channel-shared multipliers lose nothing on a torus
    assert out["certified"].value == pytest.approx(full.value, rel=1e-5)
    assert out["certified"].value <= product_bound(layers, slopes, method="exact")
    with pytest.raises(ValueError, match=r"layers\[0\] must be a stride-1 circular"):
        fourier_lipsdp_prototype([Conv2d(np.ones((1, 1, 3, 3)), (1, 5, 5), padding=1)])
