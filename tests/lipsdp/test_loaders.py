"""lipsdp.load: PyTorch, ONNX, safetensors and .npz give the same network and bound; activation
slopes against dense sampling and high-precision references; bad inputs name file and key.

torch is in the ``torch`` extra, not ``test``: a fresh ``pip install torch`` pulls 15 nvidia CUDA
wheels (5.4 GB, 2 min 18 s measured), so the tests that need it skip without it.
"""

import subprocess
import sys
import warnings

import numpy as np
import pytest

import lipsdp
from lipsdp.activations import ACTIVATIONS, SMOOTH_MARGIN, get_activation
from lipsdp.models import evaluate

TORCH_REASON = "torch is not installed (optional: pip install lipsdp[torch])"


def _torch():
    return pytest.importorskip("torch", reason=TORCH_REASON)


def _model(torch, seed=0):
    torch.manual_seed(seed)
    nn = torch.nn
    return nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 6), nn.Tanh(),
                         nn.Linear(6, 3)).eval()


def _export_onnx(torch, model, path, n_in):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(1, n_in),), str(path), dynamo=False,
                          opset_version=20, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})


# --- activation slopes ------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_slope_pair_contains_sampled_derivatives(name):
    act = ACTIVATIONS[name]
    z = np.linspace(-30, 30, 600_001)
    d = act.dphi(z)
    a, b = act.slopes
    assert d.min() >= a
    assert d.max() <= b
    # Difference quotients of phi itself (what the slope class constrains) lie in the range too.
    q = np.diff(act.phi(z)) / np.diff(z)
    assert q.min() >= a - 1e-9
    assert q.max() <= b + 1e-9


@pytest.mark.parametrize(("name", "root"), [("gelu", np.sqrt(2.0)), ("silu", None)])
def test_gelu_silu_slopes_are_tight_and_outward(name, root):
    act = ACTIVATIONS[name]
    z = np.linspace(-8, 8, 4_000_001)  # step 4e-6: phi' misses its extremes by < 1e-11
    d = act.dphi(z)
    a, b = act.slopes
    assert a < 0
    assert b > 1
    assert d.min() >= a
    assert d.max() <= b
    assert d.max() > b - 1e-6
    assert d.min() < a + 1e-6
    # The true extremes in 50-digit arithmetic lie inside, within the margin.
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    if name == "gelu":
        def dphi(t):
            return mpmath.ncdf(t) + t * mpmath.npdf(t)
        zstar = mpmath.sqrt(2)
    else:
        def dphi(t):
            s = 1 / (1 + mpmath.exp(-t))
            return s * (1 + t * (1 - s))
        zstar = mpmath.findroot(lambda t: t * mpmath.tanh(t / 2) - 2, 2.4)
    top, bottom = dphi(zstar), dphi(-zstar)
    assert b - SMOOTH_MARGIN * 1.001 < top <= b
    assert a <= bottom < a + SMOOTH_MARGIN * 1.001


def test_parametrised_names():
    assert get_activation("leaky_relu(0.2)").slopes == (0.2, 1.0)
    assert get_activation("leaky_relu(3)").slopes == (1.0, 3.0)
    assert get_activation("elu(2)").slopes == (0.0, 2.0)
    assert get_activation("elu(0.5)").slopes == (0.0, 1.0)
    assert get_activation("hardtanh(0, 6)").name == "relu6"
    assert get_activation("softplus(3)").slopes == (0.0, 1.0)
    assert get_activation("Linear").slopes == (1.0, 1.0)
    with pytest.raises(ValueError, match=r"takes at most 0 parameter"):
        get_activation("tanh(2)")
    with pytest.raises(ValueError, match=r"not numbers"):
        get_activation("elu(x)")
    with pytest.raises(ValueError, match=r"expected one of"):
        get_activation("softmax")


def test_elu_difference_quotients_for_large_alpha():
    act = get_activation("elu(3)")
    z = np.linspace(-10, 10, 200_001)
    q = np.diff(act.phi(z)) / np.diff(z)
    assert q.max() <= act.slopes[1] + 1e-9
    assert q.max() > 2.99


def test_table_derivatives_match_torch_autograd():
    torch = _torch()
    nn = torch.nn
    z = torch.linspace(-6, 6, 2001, dtype=torch.float64, requires_grad=True)
    pairs = {"relu": nn.ReLU(), "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid(), "elu": nn.ELU(),
             "softplus": nn.Softplus(), "gelu": nn.GELU(), "silu": nn.SiLU(),
             "hardtanh": nn.Hardtanh(), "leaky_relu(0.1)": nn.LeakyReLU(0.1),
             "elu(2.5)": nn.ELU(2.5), "softplus(3.0)": nn.Softplus(3.0)}
    for name, mod in pairs.items():
        (g,) = torch.autograd.grad(mod(z).sum(), z)
        act = get_activation(name)
        np.testing.assert_allclose(act.dphi(z.detach().numpy()), g.numpy(), atol=1e-12,
                                   err_msg=name)
        np.testing.assert_allclose(act.phi(z.detach().numpy()), mod(z).detach().numpy(),
                                   atol=1e-12, err_msg=name)


# --- round trips --------------------------------------------------------------------------------


def test_round_trip_every_format_same_network_and_bound(tmp_path):
    torch = _torch()
    pytest.importorskip("onnx")
    from safetensors.torch import save_file

    model = _model(torch)
    torch.save(model.state_dict(), tmp_path / "sd.pt")
    torch.save(model, tmp_path / "whole.pth")
    _export_onnx(torch, model, tmp_path / "m.onnx", 5)
    save_file(model.state_dict(), str(tmp_path / "m.safetensors"))
    direct = lipsdp.load(model)
    lipsdp.save(direct, tmp_path / "m.npz")
    acts = ["relu", "tanh"]
    nets = {
        "module": direct,
        "state dict .pt": lipsdp.load(tmp_path / "sd.pt", activation=acts),
        "whole .pth": lipsdp.load(tmp_path / "whole.pth", allow_pickle=True),
        "onnx": lipsdp.load(tmp_path / "m.onnx"),
        "safetensors": lipsdp.load(tmp_path / "m.safetensors", activation=acts),
        "npz": lipsdp.load(tmp_path / "m.npz"),
    }
    expected = [p.detach().double().numpy() for n, p in model.named_parameters()
                if n.endswith("weight")]
    ref = lipsdp.solve(direct).value
    for name, net in nets.items():
        assert net.activation == ("relu", "tanh"), name
        assert net.slopes == ((0.0, 1.0), (0.0, 1.0)), name
        assert len(net.weights) == 3, name
        for W, E in zip(net.weights, expected, strict=True):
            np.testing.assert_array_equal(W, E, err_msg=name)
        res = lipsdp.solve(net)
        assert res.certified, name
        assert res.value == pytest.approx(ref, rel=1e-12), name


def test_bound_exceeds_sampled_autograd_jacobian():
    torch = _torch()
    model = _model(torch, seed=3).double()
    res = lipsdp.solve(lipsdp.load(model))
    assert res.certified
    gen = torch.Generator().manual_seed(1)
    worst = 0.0
    for _ in range(50):
        x = torch.randn(5, generator=gen, dtype=torch.float64)
        J = torch.autograd.functional.jacobian(model, x)
        worst = max(worst, float(torch.linalg.matrix_norm(J, ord=2)))
    assert 0 < worst <= res.value


def test_onnx_file_computes_what_the_loader_reads(tmp_path):
    torch = _torch()
    ort = pytest.importorskip("onnxruntime")
    nn = torch.nn
    torch.manual_seed(4)
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 7), nn.GELU(), nn.Linear(7, 5), nn.SiLU(),
                          nn.Dropout(0.3), nn.Linear(5, 4), nn.LeakyReLU(0.2), nn.Linear(4, 3),
                          nn.ELU(), nn.Linear(3, 2)).eval()
    path = tmp_path / "m.onnx"
    _export_onnx(torch, model, path, 6)
    W, b, acts = lipsdp.load_affine(path)
    # ONNX stores the leaky slope as float32: the graph's slope is that number, read exactly.
    assert acts == ["gelu", "silu", f"leaky_relu({float(np.float32(0.2))!r})", "elu"]
    x = np.random.default_rng(0).standard_normal((16, 6)).astype(np.float32)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    y_ort = sess.run(None, {"x": x})[0]
    with torch.no_grad():
        y_torch = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(y_ort, y_torch, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(evaluate(W, b, acts, x), y_ort, rtol=1e-5, atol=1e-5)
    net = lipsdp.load(path)
    assert net.slopes[0] == ACTIVATIONS["gelu"].slopes
    assert net.slopes[2] == (float(np.float32(0.2)), 1.0)


def test_onnx_graph_built_by_hand_matmul_add():
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    A, c, B = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal((4, 2))
    nodes = [helper.make_node("MatMul", ["x", "A"], ["h"]),
             helper.make_node("Add", ["c", "h"], ["h2"]),
             helper.make_node("Sigmoid", ["h2"], ["h3"]),
             helper.make_node("Gemm", ["h3", "B"], ["y"], transB=0, alpha=2.0)]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2])],
        [numpy_helper.from_array(v.astype(np.float32), n) for n, v in
         (("A", A), ("c", c), ("B", B))])
    model = helper.make_model(graph)
    W, b, acts = lipsdp.load_affine(model)
    np.testing.assert_allclose(W[0], A.T, rtol=1e-6)
    np.testing.assert_allclose(b[0], c, rtol=1e-6)
    np.testing.assert_allclose(W[1], 2 * B.T, rtol=1e-6)
    assert acts == ["sigmoid"]
    assert lipsdp.load(model).slopes == ((0.0, 0.25),)
    model.graph.node.insert(3, helper.make_node("Softmax", ["h3"], ["h4"]))
    model.graph.node[4].input[0] = "h4"
    with pytest.raises(ValueError, match=r"node 3 \(\?, Softmax\) is Softmax: not elementwise"):
        lipsdp.load(model)


def test_batchnorm_folded_identity_composed_edges_padded():
    torch = _torch()
    nn = torch.nn
    torch.manual_seed(5)
    bn = nn.BatchNorm1d(6)
    model = nn.Sequential(nn.Tanh(), nn.Linear(4, 6), bn, nn.ReLU(), nn.Linear(6, 5),
                          nn.Identity(), nn.Linear(5, 3), nn.Sigmoid())
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.uniform_(0.5, 2)
        bn.bias.uniform_(-1, 1)
    with pytest.raises(ValueError, match=r"layer 2 \('2', BatchNorm1d\) .* training mode"):
        lipsdp.load(model)
    model.eval()
    W, b, acts = lipsdp.load_affine(model)
    # tanh first: an identity W0; the two Linears around Identity: one product; sigmoid last.
    assert [w.shape for w in W] == [(4, 4), (6, 4), (3, 6), (3, 3)]
    assert acts == ["tanh", "relu", "sigmoid"]
    np.testing.assert_array_equal(W[0], np.eye(4))
    lin = [m for m in model if isinstance(m, nn.Linear)]
    np.testing.assert_allclose(W[2], (lin[2].weight @ lin[1].weight).detach().double().numpy(),
                               rtol=1e-6)
    x = np.random.default_rng(2).standard_normal((9, 4))
    with torch.no_grad():
        ref = model.double()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(evaluate(W, b, acts, x), ref, rtol=1e-6, atol=1e-6)


def test_low_precision_grad_tensors():
    torch = _torch()
    model = _model(torch)
    for dtype in (torch.float16, torch.bfloat16):
        low = _model(torch).to(dtype)
        net = lipsdp.load(low)
        for W, p in zip(net.weights, [m.weight for m in low if hasattr(m, "weight")],
                        strict=True):
            assert W.dtype == np.float64
            np.testing.assert_array_equal(W, p.detach().to(torch.float64).numpy())
    sd = {k: v.clone().requires_grad_(True) for k, v in model.state_dict().items()}
    net = lipsdp.load(sd)
    np.testing.assert_array_equal(net.weights[0], model[0].weight.detach().double().numpy())


def test_bfloat16_safetensors(tmp_path):
    torch = _torch()
    from safetensors.torch import save_file

    model = _model(torch).to(torch.bfloat16)
    save_file(model.state_dict(), str(tmp_path / "m.safetensors"))
    net = lipsdp.load(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(net.weights[1], model[2].weight.detach().double().numpy())


def test_safetensors_without_torch(tmp_path, rng):
    from safetensors.numpy import save_file

    W = {"0.weight": rng.standard_normal((4, 3)), "0.bias": rng.standard_normal(4),
         "2.weight": rng.standard_normal((2, 4)).astype(np.float16)}
    save_file(W, str(tmp_path / "m.safetensors"))
    Ws, bs, acts = lipsdp.load_affine(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(Ws[0], W["0.weight"])
    np.testing.assert_array_equal(bs[0], W["0.bias"])
    np.testing.assert_array_equal(Ws[1], W["2.weight"].astype(np.float64))
    assert acts is None
    save_file({"0.weight": W["0.weight"], "1.running_mean": np.zeros(4)},
              str(tmp_path / "bn.safetensors"))
    with pytest.raises(ValueError, match=r"bn.safetensors: key '1.running_mean' belongs"):
        lipsdp.load(tmp_path / "bn.safetensors")


# --- refusals -----------------------------------------------------------------------------------


def test_unsupported_layers_named_with_position():
    torch = _torch()
    nn = torch.nn
    cases = [
        (nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2), nn.Softmax(dim=1)),
         r"layer 3 \('3', Softmax\) is Softmax: not elementwise"),
        (nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 2)),
         r"layer 0 \('0', Conv2d\) is Conv2d: convolutions"),
        (nn.Sequential(nn.Linear(3, 4), nn.MaxPool1d(2)), r"layer 1 .*max-pooling"),
        (nn.Sequential(nn.Linear(3, 4), nn.GELU(approximate="tanh"), nn.Linear(4, 1)),
         r"layer 1 .*approximate='tanh'"),
        (nn.Sequential(nn.Linear(3, 4), nn.Sequential(nn.ReLU(), nn.LayerNorm(4))),
         r"layer 2 \('1.1', LayerNorm\)"),
    ]
    for model, match in cases:
        with pytest.raises(ValueError, match=match):
            lipsdp.load(model)


def test_custom_forward_out_of_child_order_refused():
    torch = _torch()
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.act = nn.Linear(3, 4), nn.Linear(4, 4), nn.ReLU()

        def forward(self, x):
            return self.fc2(self.act(self.fc1(x))) + x.sum()  # not a chain

    with pytest.raises(ValueError, match=r"does not compute the chain of its children"):
        lipsdp.load(Net())


def test_state_dict_chain_break_names_the_key(rng):
    sd = {"fc1.weight": rng.standard_normal((4, 3)), "fc1.bias": np.zeros(4),
          "fc2.weight": rng.standard_normal((2, 5))}
    with pytest.raises(ValueError, match=r"'fc2.weight' has shape \(2, 5\); expected 4 columns "
                                         r"to match 'fc1.weight'"):
        lipsdp.load(sd)
    with pytest.raises(ValueError, match=r"'fc1.weight_orig' is not a Linear layer's weight"):
        lipsdp.load({"fc1.weight_orig": np.ones((2, 2))})
    with pytest.raises(ValueError, match=r"'bn.running_mean' belongs to a batch norm"):
        lipsdp.load({"fc.weight": np.ones((2, 2)), "bn.running_mean": np.ones(2)})
    with pytest.raises(ValueError, match=r"'c.weight' has shape \(2, 1, 3, 3\)"):
        lipsdp.load({"c.weight": np.ones((2, 1, 3, 3))})


def test_model_activation_must_agree():
    torch = _torch()
    model = _model(torch)
    with pytest.raises(ValueError, match=r"activation\[1\] is 'relu' but the model's hidden "
                                         "layer 1 is 'tanh'"):
        lipsdp.load(model, activation="relu")
    wide = lipsdp.load(model, slopes=(-0.5, 1.5))
    assert wide.slopes[0] == (-0.5, 1.5)
    with pytest.raises(ValueError, match=r"expected slopes containing them"):
        lipsdp.load(model, slopes=(0.0, 0.25))


def test_whole_module_needs_allow_pickle(tmp_path):
    torch = _torch()
    torch.save(_model(torch), tmp_path / "m.pt")
    with pytest.raises(ValueError, match=r"pickled object .* allow_pickle=True"):
        lipsdp.load(tmp_path / "m.pt")


# --- orientation --------------------------------------------------------------------------------


def test_glipsdp_fc_layout_read_transposed(data_dir):
    import scipy.io

    for name in ("fnn2", "fnn3"):
        path = data_dir / "GLipSDP/Comparison/exports" / f"{name}_seed0_weights.mat"
        raw = scipy.io.loadmat(path)
        net = lipsdp.load(path)
        keys = sorted(k for k in raw if k.startswith("fc") and k.endswith("_weight"))
        for W, k in zip(net.weights, keys, strict=True):
            np.testing.assert_array_equal(W, raw[k].T)
        _Ws, bs, _ = lipsdp.load_affine(path)
        np.testing.assert_array_equal(bs[0], raw["fc1_bias"].ravel())
    with pytest.raises(ValueError, match=r"'fc2_weight' has shape .* pass transpose=True"):
        lipsdp.load(data_dir / "GLipSDP/Comparison/exports/fnn2_seed0_weights.mat",
                    transpose=False)


def test_transpose_explicit_never_guessed(tmp_path, rng):
    K = [rng.standard_normal((3, 5)), rng.standard_normal((5, 2))]  # Keras (in, out)
    np.savez(tmp_path / "k.npz", layer0=K[0], layer1=K[1])
    with pytest.raises(ValueError, match=r"'layer1' .* as \(out, in\) .* pass transpose=True"):
        lipsdp.load(tmp_path / "k.npz")
    net = lipsdp.load(tmp_path / "k.npz", transpose=True)
    assert net.widths == (3, 5, 2)
    # Square kernels chain both ways: the layout's convention is used, never a guess; keys named
    # like Keras kernels are (in, out).
    S = [rng.standard_normal((4, 4)) for _ in range(2)]
    np.savez(tmp_path / "s.npz", w0=S[0], w1=S[1])
    np.testing.assert_array_equal(lipsdp.load(tmp_path / "s.npz").weights[0], S[0])
    np.testing.assert_array_equal(lipsdp.load(tmp_path / "s.npz", transpose=True).weights[0],
                                  S[0].T)
    np.savez(tmp_path / "kern.npz", dense_0_kernel=S[0], dense_1_kernel=S[1])
    np.testing.assert_array_equal(lipsdp.load(tmp_path / "kern.npz").weights[0], S[0].T)
    with pytest.raises(TypeError, match=r"transpose is 'yes'"):
        lipsdp.load(tmp_path / "s.npz", transpose="yes")


def test_transpose_refused_where_the_format_states_it(tmp_path):
    torch = _torch()
    torch.save(_model(torch).state_dict(), tmp_path / "m.pt")
    with pytest.raises(ValueError, match=r"a .pt file states its orientation"):
        lipsdp.load(tmp_path / "m.pt", transpose=True)
    with pytest.raises(ValueError, match=r"Sequential states its orientation"):
        lipsdp.load(_model(torch), transpose=False)


# --- save ---------------------------------------------------------------------------------------


def test_save_round_trip(tmp_path, rng, random_weights):
    net = lipsdp.Network(random_weights(rng, [4, 6, 5, 2]), activation=["gelu", "sigmoid"])
    p = lipsdp.save(net, tmp_path / "n.npz")
    back = lipsdp.load(p)
    assert back.slopes == net.slopes
    assert back.activation == net.activation
    for a, b in zip(back.weights, net.weights, strict=True):
        np.testing.assert_array_equal(a, b)
    plain = lipsdp.Network(random_weights(rng, [3, 4, 2]), slopes=(-0.5, 2.0))
    back = lipsdp.load(lipsdp.save(plain, tmp_path / "p.npz"))
    assert back.slopes == ((-0.5, 2.0),)
    assert back.activation is None
    assert lipsdp.load(tmp_path / "p.npz", slopes=(0, 1)).slopes == ((0.0, 1.0),)
    with pytest.raises(ValueError, match=r"save writes .npz"):
        lipsdp.save(net, tmp_path / "n.mat")
    with pytest.raises(TypeError, match=r"expected a Network"):
        lipsdp.save([np.eye(2)], tmp_path / "x.npz")


# --- bad input ----------------------------------------------------------------------------------


def _files(tmp_path, rng):
    from safetensors.numpy import save_file

    good_npz = tmp_path / "good.npz"
    np.savez(good_npz, w0=rng.standard_normal((40, 30)), w1=rng.standard_normal((2, 40)))
    good_st = tmp_path / "good.safetensors"
    save_file({"0.weight": rng.standard_normal((40, 30))}, str(good_st))
    return good_npz, good_st


@pytest.mark.parametrize("suffix", [".npz", ".mat", ".safetensors", ".pt", ".pth", ".onnx"])
@pytest.mark.parametrize("content", ["empty", "text"])
def test_empty_or_mislabelled_files(tmp_path, suffix, content):
    if suffix in (".pt", ".pth"):
        _torch()
    if suffix == ".onnx":
        pytest.importorskip("onnx")
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(b"" if content == "empty" else b"this is a text file, not weights\n" * 3)
    with pytest.raises(ValueError, match=r"bad\..*: ") as info:
        lipsdp.load(path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_truncated_files(tmp_path, rng):
    good_npz, good_st = _files(tmp_path, rng)
    for good in (good_npz, good_st):
        data = good.read_bytes()
        cut = tmp_path / f"cut{good.suffix}"
        cut.write_bytes(data[: len(data) // 2])
        with pytest.raises(ValueError, match=r"cut") as info:
            lipsdp.load(cut)
        assert "\n" not in str(info.value)


def test_truncated_torch_and_onnx(tmp_path):
    torch = _torch()
    pytest.importorskip("onnx")
    model = _model(torch)
    torch.save(model.state_dict(), tmp_path / "m.pt")
    _export_onnx(torch, model, tmp_path / "m.onnx", 5)
    for name in ("m.pt", "m.onnx"):
        data = (tmp_path / name).read_bytes()
        cut = tmp_path / f"cut_{name}"
        cut.write_bytes(data[: len(data) // 2])
        with pytest.raises(ValueError, match=f"cut_{name}: ") as info:
            lipsdp.load(cut)
        assert "\n" not in str(info.value)


def test_non_numeric_arrays_name_file_and_key(tmp_path):
    np.savez(tmp_path / "s.npz", w0=np.ones((2, 2)), names=np.array(["a", "b"]))
    with pytest.raises(ValueError, match=r"s.npz: array 'names' has dtype <U1; expected numbers"):
        lipsdp.load(tmp_path / "s.npz")
    with pytest.raises(ValueError, match=r"state dict: 'w.weight' has dtype <U1"):
        lipsdp.load({"w.weight": np.array([["a"]])})


def test_nothing_written_by_load(tmp_path, rng):
    good_npz, good_st = _files(tmp_path, rng)
    before = sorted(p.name for p in tmp_path.iterdir())
    lipsdp.load(good_npz)
    lipsdp.load(good_st)
    with pytest.raises(ValueError, match="do not chain"):
        lipsdp.load(tmp_path / "good.npz", transpose=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_package_imports_and_loads_without_optional_dependencies(tmp_path):
    np.savez(tmp_path / "a.npz", w0=np.eye(2), w1=np.ones((1, 2)))
    (tmp_path / "a.onnx").write_bytes(b"x")
    code = (
        "import sys\n"
        "for m in ('torch', 'onnx', 'onnxruntime', 'safetensors'): sys.modules[m] = None\n"
        "import lipsdp\n"
        f"print(lipsdp.load({str(tmp_path / 'a.npz')!r}).widths)\n"
        "try:\n"
        f"    lipsdp.load({str(tmp_path / 'a.onnx')!r})\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "(2, 2, 1)" in out.stdout
    assert "pip install lipsdp[onnx]" in out.stdout


def test_unknown_inputs(tmp_path):
    (tmp_path / "w.h5").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"unknown file type '.h5'"):
        lipsdp.load(tmp_path / "w.h5")
    with pytest.raises(TypeError, match=r"path_or_model is int"):
        lipsdp.load(3)
    with pytest.raises(FileNotFoundError, match=r"does not exist"):
        lipsdp.load(tmp_path / "nope.pt")
