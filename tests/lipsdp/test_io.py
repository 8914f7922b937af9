"""Loaders: .npz and .mat round trips, natural key order, and malformed files."""

import numpy as np
import pytest
import scipy.io

import lipsdp


def test_npz_natural_order_and_biases_skipped(tmp_path, rng):
    widths = list(range(2, 14))
    W = {f"w{k}": rng.standard_normal((widths[k + 1], widths[k])) for k in range(11)}
    b = {f"b{k}": rng.standard_normal(widths[k + 1]) for k in range(11)}
    path = tmp_path / "net.npz"
    np.savez(path, **W, **b)
    loaded = lipsdp.load_weights(path)
    assert len(loaded) == 11  # w10 follows w9, not w1
    for k, A in enumerate(loaded):
        np.testing.assert_array_equal(A, W[f"w{k}"])
    net = lipsdp.load_network(path, slopes=(0.0, 0.25))
    assert net.slopes[0] == (0.0, 0.25)


def test_mat_cell_array_and_named_variables(tmp_path, rng):
    W = [rng.standard_normal((5, 3)), rng.standard_normal((2, 5))]
    cell = np.empty((1, 2), dtype=object)
    cell[0, 0], cell[0, 1] = W
    scipy.io.savemat(tmp_path / "cell.mat", {"weights": cell})
    scipy.io.savemat(tmp_path / "named.mat", {"W0": W[0], "W1": W[1]})
    for name in ("cell.mat", "named.mat"):
        loaded = lipsdp.load_weights(tmp_path / name)
        for a, b in zip(loaded, W, strict=True):
            np.testing.assert_array_equal(a, b)


def test_bundled_example():
    net = lipsdp.example_network()
    assert net.widths == (8, 16, 16, 16, 4)


@pytest.mark.parametrize(
    ("name", "content", "error", "match"),
    [
        ("missing.npz", None, FileNotFoundError, "does not exist"),
        ("junk.npz", b"not a zip", ValueError, "not a readable .npz"),
        ("junk.mat", b"not a mat file at all", ValueError, "MATLAB"),
        ("net.txt", b"1 2 3", ValueError, "unknown file type '.txt'"),
    ],
)
def test_bad_files(tmp_path, name, content, error, match):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(error, match=match):
        lipsdp.load_weights(path)


def test_npz_without_matrices(tmp_path):
    np.savez(tmp_path / "b.npz", b0=np.ones(3))
    with pytest.raises(ValueError, match="no 2-D weight matrices"):
        lipsdp.load_weights(tmp_path / "b.npz")
    np.savez(tmp_path / "c.npz", w0=np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match=r"'w0' has shape \(2, 2, 2\)"):
        lipsdp.load_weights(tmp_path / "c.npz")


def test_mat_without_weights(tmp_path):
    scipy.io.savemat(tmp_path / "x.mat", {"foo": np.ones((2, 2))})
    with pytest.raises(ValueError, match="expected a cell array 'weights', variables W0"):
        lipsdp.load_weights(tmp_path / "x.mat")


def test_mat_state_dict_struct(tmp_path, rng):
    """A PyTorch state_dict saved by savemat: one struct, layers in natural order, biases out."""
    widths = [5, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 3]  # 12 layers: linear_10 follows linear_9
    W = {f"linear_{k}_weight": rng.standard_normal((widths[k + 1], widths[k]))
         for k in range(12)}
    b = {f"linear_{k}_bias": rng.standard_normal(widths[k + 1]) for k in range(12)}
    scipy.io.savemat(tmp_path / "sd.mat", {"params": {**W, **b}, "metadata": "x"})
    loaded = lipsdp.load_weights(tmp_path / "sd.mat")
    assert len(loaded) == 12
    for k, A in enumerate(loaded):
        np.testing.assert_array_equal(A, W[f"linear_{k}_weight"])


def test_mat_two_weight_structs_are_ambiguous(tmp_path):
    one = {"l0_weight": np.ones((2, 3))}
    scipy.io.savemat(tmp_path / "two.mat", {"a": one, "b": one})
    with pytest.raises(ValueError, match="one struct of '\\*_weight' fields"):
        lipsdp.load_weights(tmp_path / "two.mat")


def test_shapes_that_do_not_chain_name_the_key(tmp_path, rng):
    np.savez(tmp_path / "bad.npz", w0=np.ones((4, 3)), w1=np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"bad.npz: 'w1' has shape \(2, 5\), which as \(out, in\) "
                                         r"does not follow 'w0' \(shape \(4, 3\)\)"):
        lipsdp.load_network(tmp_path / "bad.npz")


def test_load_weights_glipsdp_layout_and_transpose(tmp_path, rng):
    """GLipSDP's top-level fc{i}_weight are (in, out) and read transposed; transpose= overrides."""
    W = [rng.standard_normal((3, 5)), rng.standard_normal((5, 2))]
    scipy.io.savemat(tmp_path / "g.mat", {"fc1_weight": W[0], "fc2_weight": W[1],
                                          "fc1_bias": np.ones((1, 5))})
    loaded = lipsdp.load_weights(tmp_path / "g.mat")
    np.testing.assert_array_equal(loaded[0], W[0].T)
    np.testing.assert_array_equal(loaded[1], W[1].T)
    with pytest.raises(ValueError, match="pass transpose=True"):
        lipsdp.load_weights(tmp_path / "g.mat", transpose=False)
    cell = np.empty((1, 2), dtype=object)
    cell[0, 0], cell[0, 1] = W
    scipy.io.savemat(tmp_path / "c.mat", {"weights": cell})
    np.testing.assert_array_equal(lipsdp.load_weights(tmp_path / "c.mat", transpose=True)[0],
                                  W[0].T)


def test_empty_files(tmp_path):
    for name in ("e.npz", "e.mat"):
        (tmp_path / name).write_bytes(b"")
        with pytest.raises(ValueError, match=f"{name}: not a readable .* file is empty"):
            lipsdp.load_weights(tmp_path / name)
