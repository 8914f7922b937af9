"""The CLI's compare, bracket, certify, solvers, progress and error paths, through main([...]).

Every printed number is compared with the library call it stands for on the same network
(lipsdp.solve, lipsdp.closed_form, lipsdp.bracket, lipsdp.certify), or with what theory
guarantees (lower <= every certified value; the tightest has ratio 1), so a CLI that printed
the wrong method's value or the wrong units would fail.
"""

import json
import re

import numpy as np
import pytest

import lipsdp
import lipsdp_solvers as solvers
from lipsdp import cli
from lipsdp.cli import main


def save(path, weights):
    np.savez(path, **{f"w{k}": W for k, W in enumerate(weights)})
    return str(path)


@pytest.fixture
def net_file(tmp_path, rng, random_weights):
    """A 4-7-6-2 network (two hidden layers) saved as .npz, and the network."""
    weights = random_weights(rng, [4, 7, 6, 2])
    return save(tmp_path / "net.npz", weights), lipsdp.Network(weights)


def run_json(capsys, args, code=0):
    assert main([*args, "--json"]) == code
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


# --- compare ----------------------------------------------------------------------------------


def test_compare_json_matches_the_library(capsys, net_file):
    path, net = net_file
    payload, _ = run_json(capsys, ["compare", path])
    rows = {r["label"]: r for r in payload["results"]}
    expected = {
        "lipsdp-neuron full": lipsdp.solve(net),
        "lipsdp-layer full": lipsdp.solve(net, multipliers="layer"),
        "lipsdp-neuron chordal": lipsdp.solve(net, variant="chordal"),
        "lipsdp-neuron split": lipsdp.solve(net, variant="split", split=2),
        "lipsdp-neuron sequential": lipsdp.solve(net, variant="sequential"),
        "lipsdp-layer sequential": lipsdp.solve(net, variant="sequential", multipliers="layer"),
        **{m: lipsdp.closed_form(net, m) for m in lipsdp.CLOSED_FORM_METHODS},
    }
    assert set(rows) == set(expected)
    assert payload["skipped"] == []
    for label, ref in expected.items():
        assert rows[label]["certified"] is True, label
        assert rows[label]["value"] == pytest.approx(ref.value, rel=1e-7, abs=0), label
    values = [r["value"] for r in rows.values()]
    assert payload["value"] == min(values)
    lower = payload["lower_bound"]
    # The network's lower bound: at least the bracket's, below every certified value.
    assert lower >= lipsdp.bracket(net).lower * (1 - 1e-12)
    assert lower <= min(values)
    for label, r in rows.items():
        assert r["ratio"] == pytest.approx(r["value"] / min(values), rel=1e-12), label
        assert r["lower"] <= r["value"], label
        assert r["gap"] == pytest.approx(r["value"] / r["lower"] - 1, rel=1e-9, abs=1e-15)
        assert r["peak_memory_mib"] >= 0
    # Theory's ordering (tests/STYLE): neuron <= layer <= naive, full <= split.
    full = rows["lipsdp-neuron full"]["value"]
    assert full <= rows["lipsdp-layer full"]["value"] * (1 + 1e-7)
    assert full <= rows["lipsdp-neuron split"]["value"] * (1 + 1e-7)
    assert rows["lipsdp-layer full"]["value"] <= rows["naive"]["value"]


def test_compare_table(capsys, net_file):
    path, net = net_file
    assert main(["compare", path]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"network {path}: ")
    rule = next(i for i, line in enumerate(out) if set(line) == {"-"})
    assert out[rule - 1].split()[:4] == ["method", "solver", "value", "ratio"]
    rows = {}
    for line in out[rule + 1:]:
        if line.startswith(("lower:", "memory:", "skipped")):
            break
        fields = line.split()
        rows[" ".join(fields[:-9])] = fields[-9:]  # status: one word here
    ref = lipsdp.solve(net)
    solver, value, ratio = rows["lipsdp-neuron full"][:3]
    assert solver == ref.solver
    assert float(value) == pytest.approx(ref.value, rel=1e-9)
    assert float(ratio) == pytest.approx(1.0, abs=1e-3)
    assert float(rows["naive"][1]) == pytest.approx(lipsdp.naive_bound(net), rel=1e-9)
    assert any(line.startswith("memory: ") for line in out)


def test_compare_names_what_it_skips(capsys, tmp_path, rng, random_weights):
    path = save(tmp_path / "one.npz", random_weights(rng, [3, 5, 2]))
    payload, _ = run_json(capsys, ["compare", path, "--max-side", "4"])
    skipped = {s["method"]: s["reason"] for s in payload["skipped"]}
    assert "LMI side 8 > --max-side 4" in skipped["lipsdp-neuron full"]
    assert "lipsdp-layer full" in skipped
    assert "same LMI as full" in skipped["lipsdp chordal, split"]
    labels = [r["label"] for r in payload["results"]]
    assert labels == list(lipsdp.CLOSED_FORM_METHODS)
    assert main(["compare", path, "--max-side", "4"]) == 0
    out = capsys.readouterr().out
    assert "skipped lipsdp-neuron full: LMI side 8 > --max-side 4" in out


def test_compare_skips_a_closed_form_undefined_for_the_slopes(capsys, net_file):
    path, _ = net_file
    payload, _ = run_json(capsys, ["compare", path, "--slopes", "-0.5", "1"])
    reasons = {s["method"]: s["reason"] for s in payload["skipped"]}
    assert "eclipse-fast" in reasons
    assert all(r["certified"] for r in payload["results"])


def test_compare_dense_backend_limit(capsys, tmp_path, rng, random_weights):
    """Chordal's Clarabel cones are dense: cliques whose side^4 sum passes the budget are
    skipped (2 x 62^4 = 3.0e7 > 2e7), smaller ones run (2 x 42^4 = 6.2e6)."""
    if lipsdp.choose_solver(variant="chordal", side=62) not in cli.DENSE_BACKENDS:
        pytest.skip("chordal's auto backend here is not a dense-cone one")
    path = save(tmp_path / "wide.npz", random_weights(rng, [2, 60, 2, 2]))
    payload, _ = run_json(capsys, ["compare", path])
    reasons = {s["method"]: s["reason"] for s in payload["skipped"]}
    assert "sum of clique side^4 = 3e+07 > 2e+07" in reasons["lipsdp-neuron chordal"]
    path = save(tmp_path / "narrow.npz", random_weights(rng, [2, 40, 2, 2]))
    payload, _ = run_json(capsys, ["compare", path])
    assert "lipsdp-neuron chordal" in [r["label"] for r in payload["results"]]


@pytest.mark.parametrize("rss", [True, False], ids=["peak-rss", "tracemalloc"])
def test_memory_meter_sees_a_numpy_allocation(monkeypatch, rss):
    can_reset = cli._can_reset_peak_rss
    monkeypatch.setattr(cli, "_can_reset_peak_rss", lambda: rss and can_reset())
    meter = cli._Meter()
    if rss and not meter.rss:
        pytest.skip("this kernel does not let a process reset its peak RSS")
    _, small = meter.measure(lambda: None)
    _, mib = meter.measure(lambda: float(np.ones(10_000_000).sum()))  # 76.3 MiB
    assert 70 <= mib <= 120
    assert small < 10
    assert ("resident set size" in meter.description) == rss


def test_peak_rss_counts_memory_outside_python():
    """What tracemalloc misses (a compiled library's heap) the RSS meter sees."""
    import ctypes

    meter = cli._Meter()
    if not meter.rss:
        pytest.skip("this kernel does not let a process reset its peak RSS")
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    n = 80 * 2**20

    def c_heap():
        buf = libc.malloc(n)
        ctypes.memset(buf, 1, n)  # touch every page
        libc.free(buf)

    _, mib = meter.measure(c_heap)
    assert 75 <= mib <= 120


# --- bracket ----------------------------------------------------------------------------------


def test_bracket_json(capsys, net_file):
    path, net = net_file
    payload, _ = run_json(capsys, ["bracket", path])
    ref = lipsdp.solve(net)
    assert payload["upper"] == pytest.approx(ref.value, rel=1e-7)
    assert payload["certified"] is True
    assert lipsdp.bracket(net).lower <= payload["lower"] <= payload["upper"]
    assert payload["gap"] == pytest.approx(payload["upper"] / payload["lower"] - 1, rel=1e-12)
    assert payload["lower_true"] <= payload["lower"]


def test_bracket_without_solve_is_the_closed_form_bracket(capsys, net_file):
    path, net = net_file
    payload, _ = run_json(capsys, ["bracket", path, "--no-solve"])
    ref = lipsdp.bracket(net)
    assert payload["upper"] == ref.upper
    assert payload["lower"] == ref.lower
    assert payload["gap"] == pytest.approx(ref.gap, rel=1e-12)
    assert main(["bracket", path, "--no-solve"]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"^upper\s+{ref.upper:.10g}\s", out, re.MULTILINE)


def test_bracket_with_an_activation(capsys, net_file):
    path, net = net_file
    payload, _ = run_json(capsys, ["bracket", path, "--activation", "sigmoid", "--no-solve"])
    ref = lipsdp.bracket(lipsdp.Network(net.weights, (0.0, 0.25)), activation="sigmoid")
    assert payload["network"]["slopes"] == [[0.0, 0.25], [0.0, 0.25]]
    assert payload["upper"] == ref.upper
    assert payload["lower_true"] == pytest.approx(ref.lower_true, rel=1e-12)


def test_bracket_of_a_constant_network(capsys, tmp_path):
    path = save(tmp_path / "const.npz", [np.ones((3, 4)), np.zeros((2, 3))])
    payload, _ = run_json(capsys, ["bracket", path])
    assert (payload["lower"], payload["upper"], payload["gap"]) == (0.0, 0.0, 0.0)
    payload, _ = run_json(capsys, ["compare", path])
    assert {r["value"] for r in payload["results"]} == {0.0}
    assert {r["gap"] for r in payload["results"]} == {0.0}


# --- certificates -----------------------------------------------------------------------------


def test_certificate_round_trip(capsys, tmp_path, net_file):
    path, net = net_file
    cert = tmp_path / "cert.npz"
    payload, err = run_json(capsys, ["solve", path, "--method", "lipsdp",
                                     "--save-certificate", str(cert)])
    assert payload["certificate_file"] == str(cert)
    assert f"written to {cert}" in err
    ref = lipsdp.solve(net)
    with np.load(cert) as f:
        assert str(f["method"]) == "lipsdp-neuron"
        assert f["widths"].tolist() == [4, 7, 6, 2]
        assert float(f["value"]) == payload["value"]
        assert float(f["rho_mantissa"]) == ref.certificate.rho
        for k, t in enumerate(ref.certificate.multipliers):
            assert np.array_equal(f[f"t_{k}"], t)
    out, _ = run_json(capsys, ["certify", path, str(cert)])
    assert out["certified"] is True
    assert out["proves_saved_value"] is True
    assert out["value"] == lipsdp.certify(net, ref.certificate).value
    assert out["value"] == pytest.approx(payload["value"], rel=1e-12)
    assert main(["certify", path, str(cert)]) == 0
    assert f"proved: L <= {out['value']:.10g}" in capsys.readouterr().out


def test_extreme_scale_certificate_round_trips_exactly(capsys, tmp_path, rng):
    """Multipliers below float64's range: mantissas and exponents travel exactly."""
    weights = [rng.standard_normal((6, 3)) * 2.0**520, rng.standard_normal((5, 6)) * 2.0**-520,
               rng.standard_normal((2, 5))]
    path = save(tmp_path / "scaled.npz", weights)
    cert = tmp_path / "cert.npz"
    assert main(["solve", path, "--method", "lipsdp", "--save-certificate", str(cert)]) == 0
    capsys.readouterr()
    saved = cli.read_certificate(cert).certificate
    ref = lipsdp.solve(lipsdp.Network(weights)).certificate
    assert any(saved.exponents)  # the case this test is for
    assert saved.exponents == ref.exponents
    assert saved.rho_exponent == ref.rho_exponent
    assert saved.rho == ref.rho
    assert all(np.array_equal(a, b) for a, b in zip(saved.multipliers, ref.multipliers,
                                                     strict=True))
    assert main(["certify", path, str(cert)]) == 0


def tampered(src, dst, **changes):
    with np.load(src) as f:
        arrays = {k: f[k] for k in f.files}
    for key, fn in changes.items():
        arrays[key] = fn(arrays[key])
    np.savez(dst, **arrays)
    return str(dst)


@pytest.fixture
def saved_cert(tmp_path, net_file, capsys):
    path, _ = net_file
    cert = tmp_path / "cert.npz"
    assert main(["solve", path, "--method", "lipsdp", "--save-certificate", str(cert)]) == 0
    capsys.readouterr()
    return cert


def test_tampered_certificate_is_not_proved(capsys, tmp_path, net_file, saved_cert):
    path, net = net_file
    # Scaled-down multipliers prove only a larger bound than the saved one: not the claim.
    down = tampered(saved_cert, tmp_path / "down.npz", t_0=lambda t: 0.5 * t,
                    t_1=lambda t: 0.5 * t)
    assert main(["certify", path, down]) == 1
    out = capsys.readouterr().out
    assert "not proved: the certificate proves only L <= " in out
    # A smaller rho for the same multipliers: another ray, which does not prove the claim.
    small = tampered(saved_cert, tmp_path / "small.npz", rho_mantissa=lambda r: 0.9 * r)
    payload, _ = run_json(capsys, ["certify", path, small], code=1)
    assert payload["proves_saved_value"] is False
    assert not payload["certified"] or payload["value"] > lipsdp.solve(net).value
    # Zero multipliers prove nothing at all.
    zero = tampered(saved_cert, tmp_path / "zero.npz", t_0=lambda t: 0 * t, t_1=lambda t: 0 * t)
    payload, _ = run_json(capsys, ["certify", path, zero], code=1)
    assert payload["certified"] is False
    assert payload["value"] is None
    assert main(["certify", path, zero]) == 1
    assert "not proved: " in capsys.readouterr().out
    # A smaller claimed value than the certificate proves.
    claim = tampered(saved_cert, tmp_path / "claim.npz", value=lambda v: 0.99 * v)
    assert main(["certify", path, claim]) == 1
    capsys.readouterr()


def test_certify_uses_the_saved_slopes_and_notes_other_weights(capsys, tmp_path, rng,
                                                               random_weights, net_file):
    path, net = net_file
    cert = tmp_path / "sig.npz"
    assert main(["solve", path, "--method", "lipsdp", "--activation", "sigmoid",
                 "--save-certificate", str(cert), "-q"]) == 0
    assert capsys.readouterr().err == ""
    payload, _ = run_json(capsys, ["certify", path, str(cert)])
    assert payload["network"]["slopes"] == [[0.0, 0.25], [0.0, 0.25]]
    sig = lipsdp.solve(lipsdp.Network(net.weights, (0.0, 0.25)))
    assert payload["value"] == pytest.approx(sig.value, rel=1e-12)
    other = save(tmp_path / "other.npz", [1.01 * W for W in net.weights])
    main(["certify", other, str(cert)])
    err = capsys.readouterr().err
    assert "computed for other weights of the same widths" in err
    main(["certify", path, str(cert), "--slopes", "0", "1"])
    assert "computed for slopes [(0.0, 0.25), (0.0, 0.25)]" in capsys.readouterr().err


def test_save_certificate_without_one_is_an_error(capsys, tmp_path, net_file):
    path, net = net_file
    # A split certified by whole-network multipliers has a certificate; one certified by its
    # parts' (the product rule) has none.
    split = lipsdp.solve(net, variant="split", cuts=[1])
    code = main(["solve", path, "--method", "lipsdp", "--variant", "split", "--cuts", "1",
                 "--save-certificate", str(tmp_path / "c.npz")])
    captured = capsys.readouterr()
    if split.certificate is not None:
        assert code == 0
        assert main(["certify", path, str(tmp_path / "c.npz")]) == 0
    else:
        assert code == 2
        assert "no certificate to save" in captured.err
    const = save(tmp_path / "const.npz", [np.ones((3, 2)), np.zeros((1, 3))])
    assert main(["solve", const, "--method", "lipsdp", "--save-certificate",
                 str(tmp_path / "k.npz")]) == 2
    assert "no certificate to save" in capsys.readouterr().err
    assert not (tmp_path / "k.npz").exists()


# --- solvers ----------------------------------------------------------------------------------


def test_solvers_table_and_json(capsys):
    payload, _ = run_json(capsys, ["solvers"])
    by_name = {r["name"]: r for r in payload}
    assert set(by_name) == set(solvers.registry.known())
    for name, r in by_name.items():
        assert r["installed"] == solvers.is_installed(name), name
        assert (r["install"] is None) == r["installed"], name
        assert r["purpose"], name
    assert "anytime" in by_name["banded-ipm"]["purpose"]
    assert main(["solvers"]) == 0
    lines = capsys.readouterr().out.splitlines()
    first = {line.split()[0]: line.split()[1] for line in lines if not line.startswith(" ")}
    assert first == {n: "installed" if r["installed"] else "missing"
                     for n, r in by_name.items()}
    missing = [n for n, r in by_name.items() if not r["installed"]]
    for name in missing:
        i = next(i for i, line in enumerate(lines) if line.startswith(name + " "))
        assert lines[i + 1].strip() == f"install: {by_name[name]['install']}"


def test_solvers_names(capsys):
    assert main(["solvers", "--names"]) == 0
    assert capsys.readouterr().out.splitlines() == list(solvers.available())


# --- slopes and activations -------------------------------------------------------------------


def test_activation_sets_every_hidden_layer(capsys, net_file):
    path, net = net_file
    payload, _ = run_json(capsys, ["solve", path, "--method", "lipsdp", "--activation",
                                   "sigmoid"])
    ref = lipsdp.solve(lipsdp.Network(net.weights, (0.0, 0.25)))
    assert payload["network"]["slopes"] == [[0.0, 0.25], [0.0, 0.25]]
    assert payload["value"] == pytest.approx(ref.value, rel=1e-9)


def test_slopes_once_per_hidden_layer(capsys, net_file):
    path, net = net_file
    payload, _ = run_json(capsys, ["solve", path, "--method", "lipsdp", "--slopes", "0", "1",
                                   "--slopes", "0.1", "0.5"])
    ref = lipsdp.solve(lipsdp.Network(net.weights, [(0.0, 1.0), (0.1, 0.5)]))
    assert payload["network"]["slopes"] == [[0.0, 1.0], [0.1, 0.5]]
    assert payload["value"] == pytest.approx(ref.value, rel=1e-9)


# --- progress and -v --------------------------------------------------------------------------

ITERATION = re.compile(r"^lipsdp: (?P<label>.+?): it +(?P<it>\d+)  sqrt\(rho\) (?P<primal>\S+)  "
                       r"dual (?P<dual>\S+)  gap (?P<gap>\S+)  pinf \S+  dinf \S+  "
                       r"certified <= (?P<cert>\S+)$")


def iterations(err):
    return [m.groupdict() for m in map(ITERATION.match, err.splitlines()) if m]


@pytest.mark.parametrize("scale", [1.0, 2.0**40], ids=["unit", "scaled-2^40"])
def test_verbose_shows_iterations_in_the_bound_s_units(capsys, tmp_path, rng, random_weights,
                                                       scale):
    """With layers scaled by 2^40 the solver works on the normalised network (units 2^-80 of
    the user's): the lines must still read in the user's units."""
    weights = [scale * W for W in random_weights(rng, [4, 7, 6, 2])]
    path = save(tmp_path / "net.npz", weights)
    res = lipsdp.solve(lipsdp.Network(weights))
    payload, err = run_json(capsys, ["solve", path, "--method", "lipsdp", "-v"])
    its = iterations(err)
    # Every iteration but a converged last one (the backend stops before reporting it).
    assert res.iterations - 1 <= len(its) <= res.iterations
    assert len(its) >= 3
    assert [int(i["it"]) for i in its] == list(range(1, len(its) + 1))
    last = its[-1]
    assert float(last["primal"]) == pytest.approx(res.value, rel=1e-5)
    assert float(last["dual"]) == pytest.approx(res.value, rel=1e-5)
    certified = [float(i["cert"]) for i in its if i["cert"] != "-"]
    # Each printed certified value is proved; the result keeps the smallest (or a better one).
    assert certified == sorted(certified, reverse=True)
    assert payload["value"] <= certified[-1] * (1 + 1e-12)
    assert certified[-1] == pytest.approx(payload["value"], rel=1e-6)


def test_verbose_reports_blocks_and_stages(capsys, tmp_path, rng, random_weights):
    weights = [2.0**30 * W for W in random_weights(rng, [4, 7, 6, 5, 2])]
    path = save(tmp_path / "net.npz", weights)
    net = lipsdp.Network(weights)
    assert main(["solve", path, "--method", "lipsdp", "--variant", "split", "--split", "2",
                 "-v"]) == 0
    err = capsys.readouterr().err
    blocks = re.findall(r"block (\d)/(\d) done: (\S+) \(certified True\)", err)
    ref = lipsdp.solve(net, variant="split", split=2)
    assert sorted(int(i) for i, _, _ in blocks) == [1, 2]
    for i, total, value in blocks:
        assert int(total) == 2
        assert float(value) == pytest.approx(ref.parts[int(i) - 1].value, rel=1e-9)
    assert main(["solve", path, "--method", "lipsdp", "--variant", "sequential", "-v"]) == 0
    err = capsys.readouterr().err
    assert re.findall(r"stage (\d)/3 done", err) == ["1", "2", "3"]


def test_progress_line_only_on_a_terminal(capsys, monkeypatch, net_file):
    path, _ = net_file
    assert main(["solve", path, "--method", "lipsdp"]) == 0
    assert capsys.readouterr().err == ""  # not a terminal: quiet
    monkeypatch.setattr(type(cli.sys.stderr), "isatty", lambda self: True, raising=False)
    assert main(["solve", path, "--method", "lipsdp"]) == 0
    err = capsys.readouterr().err
    assert "\r\x1b[Klipsdp-neuron (full): it   1" in err
    assert err.endswith("\r\x1b[K")  # the line is cleared before the table
    assert main(["solve", path, "--method", "lipsdp", "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_progress_hooks_are_silent_without_a_reporter(net_file):
    _, net = net_file
    assert not lipsdp.progress.active()
    events = []
    with lipsdp.progress.reporting(events.append):
        assert lipsdp.progress.active()
        res = lipsdp.solve(net)
    assert not lipsdp.progress.active()
    assert [e["iteration"] for e in events] == list(range(1, res.iterations))  # converged
    with pytest.raises(TypeError, match="expected a callable"):
        with lipsdp.progress.reporting(3):
            pass


# --- errors -----------------------------------------------------------------------------------


def garbage(tmp_path, name="bad.npz", content=b"garbage"):
    p = tmp_path / name
    p.write_bytes(content)
    return str(p)


ERROR_CASES = [
    (lambda t, f: ["compare", str(t / "nope.npz")], "does not exist"),
    (lambda t, f: ["bracket", str(t / "nope.npz")], "does not exist"),
    (lambda t, f: ["certify", str(t / "nope.npz"), f[1]], "does not exist"),
    (lambda t, f: ["certify", f[0], str(t / "nope.npz")], "certificate file"),
    (lambda t, f: ["compare", garbage(t)], "not a readable .npz"),
    (lambda t, f: ["bracket", garbage(t)], "not a readable .npz"),
    (lambda t, f: ["certify", garbage(t), f[1]], "not a readable .npz"),
    (lambda t, f: ["certify", f[0], garbage(t, "c.npz")], "not a readable .npz certificate"),
    (lambda t, f: ["certify", f[0], f[0]], "not a lipsdp certificate file"),
    (lambda t, f: ["certify", f[0], tampered(f[1], t / "v.npz", format_version=lambda v: v + 1)],
     "format version 2"),
    (lambda t, f: ["certify", f[0], tampered(f[1], t / "m.npz", t_1=lambda v: v[:-1])],
     "'t_1' is missing or not 6 floats"),
    (lambda t, f: ["certify", f[2], f[1]], "is for a network of widths 4-7-6-2; "),
    (lambda t, f: ["solve", f[0], "--activation", "swish"], "--activation is 'swish'"),
    (lambda t, f: ["compare", f[0], "--activation", "swish"], "expected one of relu"),
    (lambda t, f: ["solve", f[0], "--slopes", "0", "1", "--slopes", "0", "1", "--slopes", "0",
                   "1"], "--slopes is given 3 times; expected once (every hidden layer) or 2"),
    (lambda t, f: ["bracket", f[0], "--solver", "nosuch"], "nosuch"),
    (lambda t, f: ["solve", f[0], "--solver", "cvxpy:nosuch"], "NOSUCH"),
    (lambda t, f: ["compare", f[0], "--max-side", "0"], "--max-side is 0"),
    (lambda t, f: ["solve", f[0], "--slopes", "0", "1", "--activation", "relu"],
     "not allowed with argument"),
    (lambda t, f: ["solve", f[0], "--save-certificate", str(t / "no" / "such" / "dir.npz")],
     "No such file or directory"),
    (lambda t, f: ["frobnicate"], "invalid choice"),
    (lambda t, f: ["certify", f[0]], "the following arguments are required: CERT"),
    (lambda t, f: ["solve", "--slopes", "x", "1"], "invalid float value"),
]


@pytest.mark.parametrize(("make", "match"), ERROR_CASES,
                         ids=[f"{i}-{c[1][:24]}" for i, c in enumerate(ERROR_CASES)])
def test_errors_are_one_line_with_exit_code_2(capsys, tmp_path, net_file, saved_cert, rng,
                                              random_weights, make, match):
    other = save(tmp_path / "other.npz", random_weights(rng, [4, 5, 6, 2]))
    args = make(tmp_path, (net_file[0], str(saved_cert), other))
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("lipsdp: error: ")
    assert match in captured.err
    assert "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert captured.out == ""


@pytest.mark.parametrize("command", ["solve", "compare", "bracket"])
def test_every_command_s_json_parses(capsys, command):
    payload, _ = run_json(capsys, [command])
    assert payload["network"]["widths"] == list(lipsdp.example_network().widths)
    assert payload["value"] > 0
