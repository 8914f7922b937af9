"""Tests of the generic ``solvers`` layer on small SDPs with known answers."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import lipsdp_solvers as solvers
from lipsdp_solvers import (
    LMIBlock,
    LMIProblem,
    SolverNotInstalledError,
    SolverResult,
    Status,
    UnknownSolverError,
    registry,
    svec,
)
from lipsdp_solvers.conic import build_conic_form

ROOT = Path(__file__).resolve().parents[2]

# Backend name -> (options, relative tolerance on objectives and points, tolerance on duals).
BACKENDS: dict[str, tuple[dict, float]] = {
    "clarabel": ({}, 1e-7),
    "scs": ({"tol": 1e-7}, 1e-4),
    "cvxpy:CLARABEL": ({}, 1e-7),
    "cvxpy:SCS": ({"tol": 1e-7}, 1e-4),
    "cvxpy:CVXOPT": ({"tol": 1e-8}, 1e-6),
    "lowrank-ipm": ({}, 1e-7),
    "banded-ipm": ({}, 1e-7),
}

# What ``max_iter=1`` may come back as: a limit, or (CVXOPT through cvxpy, whose "unknown" status
# cvxpy turns into a SolverError) a numerical failure.
MAX_ITER_STATUS = {
    "clarabel": {Status.MAX_ITERATIONS},
    "scs": {Status.MAX_ITERATIONS},
    "cvxpy:CLARABEL": {Status.MAX_ITERATIONS},
    "cvxpy:SCS": {Status.MAX_ITERATIONS},
    "cvxpy:CVXOPT": {Status.NUMERICAL_ERROR},
    "lowrank-ipm": {Status.MAX_ITERATIONS},
    "banded-ipm": {Status.MAX_ITERATIONS},
}


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240611)


@pytest.fixture(params=list(BACKENDS), ids=list(BACKENDS))
def backend(request) -> tuple[str, dict, float]:
    name = request.param
    options, rtol = BACKENDS[name]
    return name, options, rtol


# --------------------------------------------------------------------------- problem builders


def random_symmetric(rng: np.random.Generator, m: int) -> np.ndarray:
    M = rng.standard_normal((m, m))
    return (M + M.T) / 2


def vec_columns(mats: list[np.ndarray]) -> sp.csc_matrix:
    """Stack ``vec(F_i)`` (column-major) as the columns of a sparse matrix."""
    return sp.csc_matrix(np.column_stack([F.ravel(order="F") for F in mats]))


def eig_block(A: np.ndarray) -> LMIBlock:
    """``t I - A >= 0`` in the single variable ``t``."""
    return LMIBlock(F0=-A, F=vec_columns([np.eye(A.shape[0])]))


def random_sdp(rng: np.random.Generator, m: int = 5, n: int = 4) -> LMIProblem:
    """A strictly feasible (``x = 0``), dual strictly feasible, hence bounded, random SDP."""
    Fs = [random_symmetric(rng, m) for _ in range(n)]
    B = rng.standard_normal((m, m))
    Y0 = B @ B.T + np.eye(m)
    c = np.array([np.trace(Y0 @ F) for F in Fs])
    F0 = np.eye(m) + 0.1 * random_symmetric(rng, m)
    return LMIProblem(c=c, blocks=(LMIBlock(F0=F0, F=vec_columns(Fs)),))


def fmatrix(block: LMIBlock, i: int) -> np.ndarray:
    m = block.size
    return block.F[:, i].toarray().reshape(m, m, order="F")


# --------------------------------------------------------------------------- svec


@pytest.mark.parametrize("order", ["clarabel", "scs", "upper-colmajor", "lower-colmajor"])
@pytest.mark.parametrize("m", [0, 1, 2, 3, 7])
def test_svec_round_trip(rng, order, m):
    S = random_symmetric(rng, m)
    v = svec.svec(S, order)
    assert v.shape == (svec.svec_size(m),)
    np.testing.assert_allclose(svec.smat(v, m, order), S, rtol=0, atol=1e-14)
    w = rng.standard_normal(svec.svec_size(m))
    np.testing.assert_allclose(svec.svec(svec.smat(w, m, order), order), w, atol=1e-14)
    T = random_symmetric(rng, m)
    assert np.isclose(v @ svec.svec(T, order), np.trace(S @ T))
    idx, scale = svec.svec_index(m, order)
    np.testing.assert_allclose(v, scale * S.ravel(order="F")[idx])


def test_svec_orderings_are_the_documented_ones():
    S = np.array([[1.0, 2.0, 4.0], [2.0, 3.0, 5.0], [4.0, 5.0, 6.0]])
    r2 = np.sqrt(2.0)
    # Clarabel: upper triangle, column by column
    np.testing.assert_allclose(svec.svec(S, "clarabel"), [1, 2 * r2, 3, 4 * r2, 5 * r2, 6])
    # SCS: lower triangle, column by column
    np.testing.assert_allclose(svec.svec(S, "scs"), [1, 2 * r2, 4 * r2, 3, 5 * r2, 6])
    assert svec.svec_index(3, "scs")[0].tolist() == [0, 1, 2, 4, 5, 8]
    assert svec.svec_index(3, "clarabel")[0].tolist() == [0, 3, 4, 6, 7, 8]


def test_svec_packs_symmetric_part(rng):
    M = rng.standard_normal((4, 4))
    for order in ("clarabel", "scs"):
        np.testing.assert_allclose(svec.svec(M, order), svec.svec((M + M.T) / 2, order))


@pytest.mark.parametrize("order", ["clarabel", "scs"])
def test_svec_sparse_matches_dense(rng, order):
    m, n = 6, 9
    mats = [random_symmetric(rng, m) * (rng.random((m, m)) < 0.3) for _ in range(n)]
    mats = [(F + F.T) / 2 for F in mats]
    mats[3] = np.zeros((m, m))
    packed = svec.svec_sparse(vec_columns(mats), m, order)
    assert packed.shape == (svec.svec_size(m), n)
    assert packed.format == "csc"
    assert packed.has_canonical_format
    expected = np.column_stack([svec.svec(F, order) for F in mats])
    np.testing.assert_allclose(packed.toarray(), expected, atol=1e-15)


def test_svec_sparse_is_fast_for_large_blocks():
    m, n = 600, 2000
    F = sp.random(m * m, n, density=5e-4, format="csc", rng=np.random.default_rng(0))
    packed = svec.svec_sparse(F, m, "scs")
    assert packed.shape == (m * (m + 1) // 2, n)
    assert packed.nnz <= F.nnz


def test_svec_rejects_bad_input():
    with pytest.raises(ValueError, match="order is 'diagonal'"):
        svec.svec(np.eye(2), "diagonal")
    with pytest.raises(ValueError, match=r"S has shape \(2, 3\)"):
        svec.svec(np.ones((2, 3)), "scs")
    with pytest.raises(ValueError, match="v has 4 entries; expected m\\(m\\+1\\)/2 = 3"):
        svec.smat(np.ones(4), 2, "scs")
    with pytest.raises(ValueError, match="F has 5 rows; expected m\\*m = 4"):
        svec.svec_sparse(sp.csc_matrix((5, 1)), 2, "scs")
    with pytest.raises(TypeError, match=r"F must be a scipy\.sparse matrix"):
        svec.svec_sparse(np.zeros((4, 1)), 2, "scs")


def test_conic_form_orders_nonneg_rows_first():
    A = np.diag([1.0, 2.0])
    block = LMIBlock(F0=-A, F=vec_columns([np.eye(2), np.zeros((2, 2))]))
    problem = LMIProblem(c=np.ones(2), blocks=(block,), nonneg=[False, True])
    form = build_conic_form(problem, "scs")
    assert form.n_nonneg == 1
    assert form.sizes == (2,)
    np.testing.assert_allclose(form.A[0].toarray(), [[0.0, -1.0]])
    np.testing.assert_allclose(form.b, [0.0, -1.0, 0.0, -2.0])


# --------------------------------------------------------------------------- known SDPs


def test_largest_eigenvalue(backend, rng):
    name, options, rtol = backend
    A = random_symmetric(rng, 6)
    problem = LMIProblem(c=np.ones(1), blocks=(eig_block(A),))
    result = solvers.solve(problem, name, options=options)
    lam = np.linalg.eigvalsh(A)[-1]
    assert result.status is Status.OPTIMAL
    assert result.ok
    assert result.solver == name
    assert result.objective == pytest.approx(lam, rel=rtol, abs=rtol)
    assert result.x[0] == pytest.approx(lam, rel=rtol, abs=rtol)
    assert result.iterations >= 0
    assert result.solve_time >= 0
    assert result.setup_time >= 0
    # the dual is the projector on the top eigenvector (trace one)
    (Y,) = result.dual
    v = np.linalg.eigh(A)[1][:, -1]
    np.testing.assert_allclose(Y, np.outer(v, v), atol=100 * rtol)


def test_two_blocks(backend, rng):
    name, options, rtol = backend
    A, B = random_symmetric(rng, 4), random_symmetric(rng, 3)
    blocks = (
        LMIBlock(F0=-A, F=vec_columns([np.eye(4), np.zeros((4, 4))])),
        LMIBlock(F0=-B, F=vec_columns([np.zeros((3, 3)), np.eye(3)])),
    )
    result = solvers.solve(LMIProblem(c=np.ones(2), blocks=blocks), name, options=options)
    expected = [np.linalg.eigvalsh(A)[-1], np.linalg.eigvalsh(B)[-1]]
    assert result.ok
    np.testing.assert_allclose(result.x, expected, rtol=rtol, atol=rtol)
    assert [Y.shape for Y in result.dual] == [(4, 4), (3, 3)]


def test_nonneg_bound_active(backend, rng):
    name, options, rtol = backend
    M = rng.standard_normal((4, 4))
    A = -(M @ M.T + np.eye(4))  # lambda_max(A) <= -1, so t >= 0 binds at t = 0
    problem = LMIProblem(c=np.ones(1), blocks=(eig_block(A),), nonneg=[True])
    result = solvers.solve(problem, name, options=options)
    assert result.ok
    assert result.x[0] == pytest.approx(0.0, abs=10 * rtol)
    # the LMI is slack, so its multiplier vanishes and x >= 0 carries the whole cost
    np.testing.assert_allclose(result.dual[0], 0.0, atol=10 * rtol)
    assert result.info["dual_nonneg"][0] == pytest.approx(1.0, rel=10 * rtol)


def test_dual_certifies_optimum(backend, rng):
    name, options, rtol = backend
    problem = random_sdp(rng)
    result = solvers.solve(problem, name, options=options)
    assert result.ok
    block = problem.blocks[0]
    (Y,) = result.dual
    scale = np.linalg.norm(Y) + np.linalg.norm(problem.c)
    # Y is PSD (up to tolerance), dual feasible and complementary to the slack
    assert np.linalg.eigvalsh(Y)[0] >= -10 * rtol * scale
    traces = [np.trace(Y @ fmatrix(block, i)) for i in range(problem.n_vars)]
    np.testing.assert_allclose(traces, problem.c, rtol=10 * rtol, atol=10 * rtol * scale)
    S = block.matrix(result.x)
    assert abs(np.trace(Y @ S)) <= 10 * rtol * scale * (1 + np.linalg.norm(S))
    assert problem.min_eigenvalue(result.x) >= -10 * rtol * (1 + np.linalg.norm(S))
    # strong duality: c^T x = -trace(F0 Y)
    assert result.objective == pytest.approx(-np.trace(block.F0 @ Y), rel=10 * rtol, abs=rtol)


def test_backends_agree_with_each_other(rng):
    problem = random_sdp(rng, m=6, n=5)
    reference = solvers.solve(problem, "cvxpy:CVXOPT", options={"tol": 1e-8})
    for name, (options, rtol) in BACKENDS.items():
        result = solvers.solve(problem, name, options=options)
        assert result.objective == pytest.approx(reference.objective, rel=rtol), name


def test_infeasible(backend, rng):
    name, options, _ = backend
    M = rng.standard_normal((3, 3))
    A = M @ M.T + np.eye(3)  # t >= lambda_max(A) > 0 ...
    nonpositive = LMIBlock(F0=np.zeros((1, 1)), F=sp.csc_matrix([[-1.0]]))  # ... and t <= 0
    problem = LMIProblem(c=np.ones(1), blocks=(eig_block(A), nonpositive))
    result = solvers.solve(problem, name, options=options)
    assert result.status is Status.INFEASIBLE
    assert not result.ok
    assert not result.status.has_solution
    assert np.isnan(result.x).all()
    assert np.isnan(result.objective)
    assert result.dual == ()


@pytest.mark.filterwarnings("ignore:Solution may be inaccurate")
def test_max_iter_one(backend, rng):
    name, options, _ = backend
    problem = random_sdp(rng)
    result = solvers.solve(problem, name, options={**options, "max_iter": 1})
    assert result.status in MAX_ITER_STATUS[name]
    assert not result.ok
    assert result.x.shape == (problem.n_vars,)
    if result.status.has_solution:
        assert np.isfinite(result.x).all()
    else:
        assert np.isnan(result.x).all()


@pytest.mark.parametrize("name", ["clarabel", "scs"])
def test_time_limit(name, rng):
    problem = random_sdp(rng, m=8, n=6)
    result = solvers.solve(problem, name, options={"time_limit": 1e-9, "tol": 1e-12})
    assert result.status is Status.TIME_LIMIT
    assert not result.ok


def test_options_not_mutated(backend, rng):
    name, options, _ = backend
    opts = {**options, "max_iter": 500, "verbose": False}
    if name == "clarabel":
        opts["chordal_decomposition_enable"] = True
    elif name == "scs":
        opts["acceleration_lookback"] = 5
    before = copy.deepcopy(opts)
    problem = random_sdp(rng)
    solvers.solve(problem, name, options=opts)
    solvers.solve_many([problem], name, options=opts, n_jobs=1)
    assert opts == before


def test_bad_options_raise():
    problem = LMIProblem(c=np.ones(1), blocks=(eig_block(np.eye(2)),))
    with pytest.raises(ValueError, match=r"options\['no_such_setting'\] is not a Clarabel setting"):
        solvers.solve(problem, "clarabel", options={"no_such_setting": 1})
    with pytest.raises(ValueError, match="no_such_setting"):
        solvers.solve(problem, "scs", options={"no_such_setting": 1})
    with pytest.raises(ValueError, match=r"options\['tol'\] is -1"):
        solvers.solve(problem, "scs", options={"tol": -1})
    with pytest.raises(ValueError, match=r"options\['max_iter'\] is 2.5"):
        solvers.solve(problem, "clarabel", options={"max_iter": 2.5})
    with pytest.raises(TypeError, match="options is a list"):
        solvers.solve(problem, "clarabel", options=[("tol", 1e-3)])


def test_bad_arguments_raise():
    problem = LMIProblem(c=np.ones(1), blocks=(eig_block(np.eye(2)),))
    with pytest.raises(TypeError, match="problem is a dict; expected an LMIProblem"):
        solvers.solve({"c": 1}, "clarabel")
    with pytest.raises(ValueError, match=r"warm_start has shape \(2,\); expected \(1,\)"):
        solvers.solve(problem, "scs", warm_start=np.zeros(2))
    with pytest.raises(TypeError, match=r"problems\[1\] is a str"):
        solvers.solve_many([problem, "x"], "clarabel")


def test_non_finite_data_raises():
    block = LMIBlock(F0=np.array([[np.nan, 0.0], [0.0, 1.0]]), F=vec_columns([np.eye(2)]))
    problem = LMIProblem(c=np.ones(1), blocks=(block,))
    with pytest.raises(ValueError, match=r"problem\.blocks\[0\]\.F0 has non-finite entries"):
        solvers.solve(problem, "clarabel")
    with pytest.raises(ValueError, match=r"problems\[0\]\.blocks\[0\]\.F0 has non-finite"):
        solvers.solve_many([problem], "scs")


@pytest.mark.parametrize(
    ("name", "module", "attr"), [("clarabel", "clarabel", "DefaultSolver"), ("scs", "scs", "SCS")]
)
def test_solver_exception_becomes_status(monkeypatch, caplog, name, module, attr):
    def explode(*args, **kwargs):
        raise RuntimeError("boom inside the solver")

    monkeypatch.setattr(__import__(module), attr, explode)
    problem = LMIProblem(c=np.ones(1), blocks=(eig_block(np.eye(2)),))
    with caplog.at_level("WARNING"):
        result = solvers.solve(problem, name)
    assert result.status is Status.ERROR
    assert np.isnan(result.x).all()
    assert result.native_status == "RuntimeError"
    assert result.info["message"] == "boom inside the solver"
    assert "boom inside the solver" in caplog.text


def test_cvxpy_failure_becomes_status(caplog):
    problem = random_sdp(np.random.default_rng(1))
    with caplog.at_level("WARNING"):
        result = solvers.solve(problem, "cvxpy:CVXOPT", options={"max_iter": 1})
    assert result.status is Status.NUMERICAL_ERROR
    assert np.isnan(result.x).all()
    assert "CVXOPT" in caplog.text


# --------------------------------------------------------------------------- registry


def test_names_are_normalised():
    assert solvers.check_solver("CLARABEL") == "clarabel"
    assert solvers.check_solver(" scs ") == "scs"
    assert solvers.check_solver("cvxpy:clarabel") == "cvxpy:CLARABEL"
    assert solvers.check_solver("CVXPY:cvxopt") == "cvxpy:CVXOPT"


def test_available_lists_installed_backends():
    names = solvers.available()
    for name in ("clarabel", "scs", "cvxpy:CLARABEL", "cvxpy:SCS", "cvxpy:CVXOPT"):
        assert name in names
    assert all(solvers.is_installed(name) for name in names)
    assert "cvxpy:OSQP" not in names  # installed, but no SDP support


def test_unknown_solver_error():
    with pytest.raises(UnknownSolverError, match=r"'mosekk' is not a known backend.*clarabel"):
        solvers.check_solver("mosekk")
    with pytest.raises(UnknownSolverError, match=r"cvxpy .* knows no solver 'NOT_A_SOLVER'"):
        solvers.check_solver("cvxpy:not_a_solver")
    with pytest.raises(UnknownSolverError, match="cannot solve semidefinite programs"):
        solvers.check_solver("cvxpy:OSQP")
    with pytest.raises(UnknownSolverError):
        solvers.is_installed("nonsense")
    problem = LMIProblem(c=np.ones(1), blocks=(eig_block(np.eye(2)),))
    with pytest.raises(UnknownSolverError):
        solvers.solve(problem, "nonsense")
    err = UnknownSolverError("x")
    assert isinstance(err, ValueError)
    assert not isinstance(err, ImportError)
    with pytest.raises(TypeError, match="solver is a int"):
        solvers.check_solver(3)


def test_not_installed_error():
    import cvxpy

    assert "MOSEK" not in cvxpy.installed_solvers(), "this test needs MOSEK to be absent"
    assert not solvers.is_installed("cvxpy:MOSEK")
    with pytest.raises(SolverNotInstalledError, match=r"pip install mosek.*licence") as info:
        solvers.check_solver("cvxpy:mosek")
    assert isinstance(info.value, ImportError)
    assert isinstance(info.value, ValueError)
    assert not isinstance(info.value, UnknownSolverError)
    if "SDPA" not in cvxpy.installed_solvers():
        with pytest.raises(SolverNotInstalledError, match="pip install sdpa-python"):
            solvers.check_solver("cvxpy:SDPA")


def test_registered_backend_not_installed(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    solvers.register("FakeLMI", "no_such_package_xyz.backend", "pip install fake-lmi")
    assert not solvers.is_installed("fakelmi")
    problem = LMIProblem(c=np.ones(1), blocks=(eig_block(np.eye(2)),))
    with pytest.raises(SolverNotInstalledError, match="pip install fake-lmi"):
        solvers.solve(problem, "fakelmi")
    with pytest.raises(SolverNotInstalledError):
        solvers.solve_many([problem], "fakelmi")
    with pytest.raises(ValueError, match="already registered"):
        solvers.register("fakelmi", "another.module", "pip install other")
    with pytest.raises(ValueError, match="not starting with 'cvxpy:'"):
        solvers.register("cvxpy:MINE", "pkg.mod", "pip install pkg")


def test_registered_backend_is_called(monkeypatch, tmp_path):
    (tmp_path / "my_lmi_backend.py").write_text(
        textwrap.dedent(
            """
            import numpy as np
            from lipsdp_solvers import SolverResult, Status

            def solve(problem, options, warm_start):
                return SolverResult(x=np.zeros(problem.n_vars), status=Status.OPTIMAL,
                                    objective=0.0, native_status=str(sorted(options)))
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    solvers.register("mine", "my_lmi_backend", "pip install mine")
    assert solvers.check_solver("MINE") == "mine"
    assert "mine" in solvers.available()
    problem = LMIProblem(c=np.ones(1), blocks=(eig_block(np.eye(2)),))
    result = solvers.solve(problem, "mine", options={"tol": 1e-3, "custom": 1})
    assert result.solver == "mine"
    assert result.ok
    assert result.native_status == "['custom', 'tol']"


def test_import_has_no_side_effects():
    code = textwrap.dedent(
        """
        import sys
        import lipsdp_solvers as solvers
        solvers.check_solver("clarabel"); solvers.check_solver("cvxpy:CVXOPT")
        loaded = [m for m in ("lipsdp", "clarabel", "scs", "cvxpy", "joblib") if m in sys.modules]
        print(",".join(loaded))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )
    assert out.stdout.strip() == ""


def test_solvers_never_imports_lipsdp():
    for path in (ROOT / "solvers").rglob("*.py"):
        text = path.read_text()
        assert not re.search(r"^\s*(import|from)\s+lipsdp\b", text, re.MULTILINE), path


# --------------------------------------------------------------------------- parallel, warm start


def test_solve_many_matches_serial(rng):
    problems = [random_sdp(rng) for _ in range(4)]
    one = solvers.solve_many(problems, "clarabel", n_jobs=1)
    two = solvers.solve_many(problems, "clarabel", n_jobs=2)
    assert [r.status for r in one] == [Status.OPTIMAL] * 4
    for a, b in zip(one, two, strict=True):
        assert isinstance(b, SolverResult)
        assert b.solver == "clarabel"
        np.testing.assert_allclose(a.x, b.x, rtol=1e-10)
        assert a.objective == pytest.approx(b.objective, rel=1e-12)
    assert solvers.solve_many([], "scs") == []


def test_solve_many_respects_parallel_config(rng):
    from joblib import parallel_config

    problems = [random_sdp(rng) for _ in range(3)]
    with parallel_config(backend="threading", n_jobs=2):
        results = solvers.solve_many(problems, "scs", options={"tol": 1e-7})
    serial = [solvers.solve(p, "scs", options={"tol": 1e-7}) for p in problems]
    for a, b in zip(serial, results, strict=True):
        np.testing.assert_allclose(a.x, b.x, rtol=1e-8)


def test_scs_warm_start_saves_iterations(rng):
    problem = random_sdp(rng, m=8, n=6)
    options = {"tol": 1e-7}
    cold = solvers.solve(problem, "scs", options=options)
    warm = solvers.solve(problem, "scs", options=options, warm_start=cold)
    assert cold.ok
    assert warm.ok
    assert warm.info["warm_started"]
    assert warm.iterations < cold.iterations
    assert warm.objective == pytest.approx(cold.objective, rel=1e-4)
    # from an interior-point optimum of another backend too, and from x alone
    ipm = solvers.solve(problem, "clarabel")
    assert (
        solvers.solve(problem, "scs", options=options, warm_start=ipm).iterations < cold.iterations
    )
    from_x = solvers.solve(problem, "scs", options=options, warm_start=cold.x)
    assert from_x.ok
    assert from_x.objective == pytest.approx(cold.objective, rel=1e-4)


def test_interior_point_backends_ignore_warm_start(rng):
    problem = random_sdp(rng)
    cold = solvers.solve(problem, "clarabel")
    warm = solvers.solve(problem, "clarabel", warm_start=cold.x)
    assert warm.iterations == cold.iterations


def test_scs_stopped_by_a_limit_is_that_limit_not_infeasible():
    # LipSDP is always feasible: SCS's inaccurate infeasibility guess at its time limit
    # (784-200-200-10, time_limit 1 s) is the limit, and its y (a certificate) is no dual.
    from lipsdp_solvers.backends.scs_backend import _status

    stopped = {"status": "infeasible (inaccurate - reached time_limit_secs)", "status_val": -7}
    assert _status(stopped) == (Status.TIME_LIMIT, stopped["status"], False)
    iters = {"status": "unbounded (inaccurate - reached max_iters)", "status_val": -6}
    assert _status(iters)[0] is Status.MAX_ITERATIONS
    assert _status({"status": "infeasible", "status_val": -2})[0] is Status.INFEASIBLE
    solved = {"status": "solved (inaccurate - reached time_limit_secs)", "status_val": 2}
    assert _status(solved) == (Status.TIME_LIMIT, solved["status"], True)


@pytest.mark.skipif(not solvers.is_installed("cvxpy:CVXOPT"), reason="CVXOPT not installed")
def test_cvxpy_options_a_solver_would_ignore_are_errors(rng):
    # CVXOPT has no time limit and copies any key into its global options: both silently
    # ignored before; now an error naming the option, before any work.
    problem = random_sdp(rng)
    with pytest.raises(ValueError, match="'time_limit' has no setting in cvxpy:CVXOPT"):
        solvers.solve(problem, "cvxpy:CVXOPT", options={"time_limit": 1.0})
    with pytest.raises(ValueError, match=r"unknown cvxpy:CVXOPT options \['maxiter'\]"):
        solvers.solve(problem, "cvxpy:CVXOPT", options={"maxiter": 5})
    assert solvers.solve(problem, "cvxpy:CVXOPT", options={"maxiters": 50}).ok
