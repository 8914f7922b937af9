"""The CLI, through main([...])."""

import json

import numpy as np
import pytest

from lipsdp.cli import main


def test_bundled_example_table(capsys):
    assert main(["solve"]) == 0
    out = capsys.readouterr().out
    assert "bundled example" in out
    for method in ("lipsdp-neuron", "eclipse-fast", "naive"):
        assert method in out
    assert "True" in out


def test_json_single_method(tmp_path, capsys, rng):
    path = tmp_path / "net.npz"
    np.savez(path, w0=rng.standard_normal((6, 3)), w1=rng.standard_normal((2, 6)))
    assert main(["solve", str(path), "--method", "lipsdp", "--solver", "clarabel", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["certified"] is True
    assert payload["value"] > 0
    assert payload["method"] == "lipsdp-neuron"


def test_json_several_methods_and_slopes(tmp_path, capsys, rng):
    path = tmp_path / "net.npz"
    np.savez(path, w0=rng.standard_normal((6, 3)), w1=rng.standard_normal((2, 6)))
    assert main(["solve", str(path), "--slopes", "0.1", "1", "--multipliers", "layer",
                 "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["network"]["slopes"] == [[0.1, 1.0]]
    assert [r["method"] for r in payload["results"]] == ["lipsdp-layer", "eclipse-fast", "naive"]
    assert payload["value"] == min(r["value"] for r in payload["results"])


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["solve", "nope.npz"], "does not exist"),
        (["solve", "--slopes", "1", "0"], "expected alpha <= beta"),
        (["solve", "--solver", "nosuch"], "nosuch"),
    ],
)
def test_errors_are_one_line(capsys, args, match):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert match in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_malformed_file(tmp_path, capsys):
    path = tmp_path / "bad.npz"
    path.write_bytes(b"garbage")
    assert main(["solve", str(path)]) == 2
    assert "not a readable .npz" in capsys.readouterr().err


def test_solvers_command(capsys):
    assert main(["solvers"]) == 0
    assert "clarabel" in capsys.readouterr().out


@pytest.mark.parametrize("content", [b"", b"MATLAB 5.0 MAT-file, garbage follows" + bytes(90),
                                     bytes(range(256)) * 2])
def test_unreadable_mat_file_is_a_clear_error(tmp_path, capsys, content):
    path = tmp_path / "broken.mat"
    path.write_bytes(content)
    assert main(["solve", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"lipsdp: error: {path}: not a readable MATLAB v5 file")
    assert "Traceback" not in err


def test_truncated_mat_file_is_a_clear_error(tmp_path, capsys, rng):
    import scipy.io

    good = tmp_path / "good.mat"
    cell = np.empty((1, 2), dtype=object)
    cell[0, 0], cell[0, 1] = rng.standard_normal((4, 3)), rng.standard_normal((2, 4))
    scipy.io.savemat(good, {"weights": cell})
    data = good.read_bytes()
    bad = tmp_path / "truncated.mat"
    bad.write_bytes(data[: len(data) // 2])
    assert main(["solve", str(bad)]) == 2
    assert "not a readable MATLAB v5 file" in capsys.readouterr().err


def test_constant_network_prints_a_proved_zero(tmp_path, capsys, rng):
    path = tmp_path / "net.npz"
    np.savez(path, w0=rng.standard_normal((6, 3)), w1=np.zeros((2, 6)))
    assert main(["solve", str(path), "--method", "lipsdp", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["certified"] is True
    assert payload["value"] == 0.0
    assert payload["status"] == "constant_network"
