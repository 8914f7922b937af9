"""The CLI, through main([...]); ``python -m lipsdp`` and ``--version`` in a subprocess.

Every printed bound is compared with the library call it stands for, on the same network, so a
CLI that printed the wrong method's value, dropped a flag or rounded carelessly would fail.
"""

import importlib.metadata
import json
import re
import subprocess
import sys

import numpy as np
import pytest

import lipsdp
import lipsdp_solvers as solvers
from lipsdp.cli import main

#: One row of the table: name (may hold "(solver)"), value, certified, time, status.
ROW = re.compile(r"^(?P<name>\S+(?: \(\S+\))?)\s+(?P<value>\S+)\s+(?P<certified>True|False)"
                 r"\s+(?P<time>\d+\.\d{3})\s+(?P<status>\S+)$")


def table_rows(out: str) -> dict[str, dict[str, str]]:
    """The table's result rows (those under the dashed rule), by name."""
    lines = out.strip().splitlines()
    rule = next(i for i, line in enumerate(lines) if set(line) == {"-"})
    rows = {}
    for line in lines[rule + 1:]:
        match = ROW.match(line)
        assert match, f"unparsable table row {line!r}"
        rows[match["name"]] = match.groupdict()
    return rows


def save_net(path, rng, widths=(3, 6, 2)):
    np.savez(path, **{f"w{k}": rng.standard_normal((widths[k + 1], widths[k]))
                      for k in range(len(widths) - 1)})
    return lipsdp.load_network(path)


def test_bundled_example_table(capsys):
    assert main(["solve"]) == 0
    out = capsys.readouterr().out
    net = lipsdp.example_network()
    assert out.splitlines()[0] == (
        f"network bundled example: {net!r}, LMI side {net.lmi_size}"
    )
    sdp = lipsdp.solve(net)
    expected = {f"lipsdp-neuron ({sdp.solver})": sdp,
                "eclipse-fast": lipsdp.closed_form(net, "eclipse-fast"),
                "naive": lipsdp.closed_form(net, "naive")}
    rows = table_rows(out)
    assert list(rows) == list(expected)
    for name, res in expected.items():
        row = rows[name]
        # The table prints 10 significant digits: within half a unit of the 10th of the value.
        assert float(row["value"]) == pytest.approx(res.value, rel=1e-9, abs=0), name
        assert row["certified"] == "True"
        assert row["status"] == res.status
    values = [float(rows[name]["value"]) for name in expected]
    assert values == sorted(values)  # LipSDP-Neuron <= ECLipsE-Fast <= naive


def test_json_single_method(tmp_path, capsys, rng):
    net = save_net(tmp_path / "net.npz", rng)
    assert main(["solve", str(tmp_path / "net.npz"), "--method", "lipsdp", "--solver",
                 "clarabel", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    ref = lipsdp.solve(net, solver="clarabel")
    assert payload["certified"] is True
    assert payload["method"] == "lipsdp-neuron"
    assert payload["solver"] == "clarabel"
    assert payload["value"] == pytest.approx(ref.value, rel=1e-9, abs=0)
    assert payload["value"] == payload["results"][0]["value"]
    assert payload["network"]["widths"] == [3, 6, 2]


def test_json_several_methods_and_slopes(tmp_path, capsys, rng):
    path = tmp_path / "net.npz"
    net = lipsdp.Network(save_net(path, rng).weights, (0.1, 1.0))
    assert main(["solve", str(path), "--slopes", "0.1", "1", "--multipliers", "layer",
                 "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["network"]["slopes"] == [[0.1, 1.0]]
    results = payload["results"]
    assert [r["method"] for r in results] == ["lipsdp-layer", "eclipse-fast", "naive"]
    expected = [lipsdp.solve(net, multipliers="layer"), lipsdp.closed_form(net, "eclipse-fast"),
                lipsdp.closed_form(net, "naive")]
    for r, ref in zip(results, expected, strict=True):
        assert r["certified"] is True
        assert r["value"] == pytest.approx(ref.value, rel=1e-9, abs=0), r["method"]
    assert payload["value"] == min(r["value"] for r in results)


def test_variant_options_reach_solve(capsys):
    assert main(["solve", "--method", "lipsdp", "--variant", "split", "--split", "2",
                 "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    net = lipsdp.example_network()
    ref = lipsdp.solve(net, variant="split", split=2)
    full = lipsdp.solve(net)
    assert payload["variant"] == "split"
    assert len(payload["parts"]) == 2
    assert payload["value"] == pytest.approx(ref.value, rel=1e-9, abs=0)
    assert payload["value"] >= full.value  # split >= full


def test_option_of_another_variant_is_an_error(capsys):
    assert main(["solve", "--clique-size", "2"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lipsdp: error: ")
    assert "clique_size" in err


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
    captured = capsys.readouterr()
    err = captured.err
    assert err.startswith("lipsdp: error: ")
    assert match in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert captured.out == ""


def test_malformed_file(tmp_path, capsys):
    path = tmp_path / "bad.npz"
    path.write_bytes(b"garbage")
    assert main(["solve", str(path)]) == 2
    assert "not a readable .npz" in capsys.readouterr().err


def test_solvers_command(capsys):
    assert main(["solvers"]) == 0
    out = capsys.readouterr().out.splitlines()
    installed = [line.split()[0] for line in out if line.split()[1:2] == ["installed"]]
    assert installed == [name for name in solvers.registry.known() if solvers.is_installed(name)]
    assert set(solvers.available()) <= set(installed)


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


def run_module(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lipsdp", *args], capture_output=True,
                          text=True, timeout=120, check=False)


def test_version_is_the_installed_distribution_s():
    proc = run_module("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"lipsdp {importlib.metadata.version('lipsdp')}"
    assert importlib.metadata.version("lipsdp") == lipsdp.__version__


def test_python_dash_m_runs_the_cli():
    proc = run_module("solve", "--method", "lipsdp", "--json")
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    ref = lipsdp.solve(lipsdp.example_network())
    assert payload["certified"] is True
    assert payload["value"] == pytest.approx(ref.value, rel=1e-9, abs=0)


def test_python_dash_m_reports_errors_with_exit_code_2():
    proc = run_module("solve", "nope.npz")
    assert proc.returncode == 2
    assert proc.stderr.startswith("lipsdp: error: ")
    assert proc.stdout == ""


def test_version_falls_back_on_the_package_s_without_an_install(monkeypatch, capsys):
    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"lipsdp {lipsdp.__version__}"


def test_header_gives_the_side_that_is_solved(tmp_path, capsys):
    rng = np.random.default_rng(3)
    path = tmp_path / "wide.npz"
    np.savez(path, W0=rng.standard_normal((6, 30)), W1=rng.standard_normal((2, 6)))
    assert main(["solve", str(path), "--method", "naive"]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert header.endswith("LMI side 12 (input compressed; 36 uncompressed)"), header
