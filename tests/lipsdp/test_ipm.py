"""The structured interior-point backends and the proved lower bound (docs/math.md §9, §6)."""

import itertools
from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp

import lipsdp
import lipsdp_solvers as solvers
from lipsdp import Status
from lipsdp.formulation import build_full
from lipsdp.lowrank import with_lowrank

from reference import reference_lipsdp

#: The backends that exploit LipSDP's structure and report their iterates (anytime bounds).
STRUCTURED = ["banded-ipm", "lowrank-ipm"]


@pytest.mark.parametrize(
    ("widths", "slopes"),
    [([4, 10, 10, 10, 2], (0.0, 1.0)), ([5, 8, 8, 3], (0.1, 1.0)), ([6, 9, 7, 3], (0.0, 0.25))],
)
@pytest.mark.parametrize("multipliers", ["neuron", "layer"])
@pytest.mark.parametrize("solver", STRUCTURED)
def test_lower_bound_brackets_the_optimum(rng, widths, slopes, multipliers, solver, random_weights):
    W = random_weights(rng, widths)
    net = lipsdp.Network(W, slopes)
    res = lipsdp.solve(net, multipliers=multipliers, solver=solver)
    ref = reference_lipsdp(W, net.slopes, multipliers)
    lower = res.info["lower_bound"]
    # The reference solver is itself approximate: allow its own 1e-7.
    assert lower <= ref * (1 + 1e-7)
    assert ref <= res.value * (1 + 1e-7)
    assert res.info["certified_gap"] < 1e-6


def test_factors_match_generic_path(rng, random_weights):
    """Exact rank-2 factors and the backend's own eigendecomposition give the same solve."""
    net = lipsdp.Network(random_weights(rng, [5, 9, 7, 3]), (0.1, 1.0))
    with_factors = with_lowrank(build_full(net), net).problem
    without = replace(with_factors, blocks=(replace(with_factors.blocks[0], lowrank=None),))
    a = solvers.solve(with_factors, "lowrank-ipm")
    b = solvers.solve(without, "lowrank-ipm")
    assert a.ok
    assert b.ok
    assert a.objective == pytest.approx(b.objective, rel=1e-7)


def test_lowrank_factors_reproduce_coefficients(rng, random_weights):
    for slopes, multipliers in [((0.0, 1.0), "neuron"), ((0.1, 1.0), "layer")]:
        net = lipsdp.Network(random_weights(rng, [7, 5, 6, 3]), slopes)  # input compressed
        block = with_lowrank(build_full(net, multipliers), net).problem.blocks[0]
        m = block.size
        for i in range(block.n_vars):
            dense = block.F[:, i].toarray().reshape(m, m, order="F")
            np.testing.assert_allclose(block.lowrank.dense_coefficient(i), dense, atol=1e-14)


@pytest.mark.parametrize("solver", STRUCTURED)
def test_gap_tol_stops_early_with_a_certified_gap(rng, solver, random_weights):
    W = random_weights(rng, [8, 20, 20, 20, 3])
    full = lipsdp.solve(W, solver=solver)
    early = lipsdp.solve(W, solver=solver, options={"gap_tol": 1e-3})
    assert early.certified
    assert early.status.startswith("gap_tol reached")
    assert early.iterations < full.iterations
    assert early.info["certified_gap"] <= 1e-3
    assert early.info["lower_bound"] <= full.value <= early.value


@pytest.mark.parametrize("solver", STRUCTURED)
def test_stopped_solve_returns_best_certified_iterate(rng, solver, random_weights):
    W = random_weights(rng, [8, 20, 20, 20, 3])
    full = lipsdp.solve(W, solver=solver)
    stopped = lipsdp.solve(W, solver=solver, options={"max_iter": 5})
    assert stopped.certified
    assert stopped.status is Status.MAX_ITERATIONS
    assert "best certified iterate" in stopped.message
    assert stopped.value >= full.value * (1 - 1e-9)
    assert lipsdp.certify(W, stopped.multipliers).value <= stopped.value * (1 + 1e-9)


def test_gap_tol_needs_an_anytime_backend(small_net):
    with pytest.raises(ValueError, match="gap_tol"):
        lipsdp.solve(small_net, solver="clarabel", options={"gap_tol": 1e-4})
    with pytest.raises(ValueError, match="gap_tol"):
        lipsdp.solve(small_net, solver="lowrank-ipm", options={"gap_tol": -1.0})


def test_auto_is_dense_when_small_and_chordal_beyond(rng, random_weights):
    small = lipsdp.Network(random_weights(rng, [4, 10, 10, 2]))
    assert lipsdp.solve(small).solver == "lowrank-ipm"
    api = lipsdp.api
    assert api.choose_solver_for_side(api.DENSE_AUTO_MAX_SIDE) == "lowrank-ipm"
    assert api.choose_solver_for_side(api.DENSE_AUTO_MAX_SIDE + 1) == "banded-ipm"
    side = api.DENSE_AUTO_MAX_SIDE_FEW_BLOCKS
    assert api.choose_solver_for_side(side, api.DENSE_AUTO_MAX_BLOCKS) == "lowrank-ipm"
    assert api.choose_solver_for_side(side, api.DENSE_AUTO_MAX_BLOCKS + 1) == "banded-ipm"
    assert api.choose_solver_for_side(side + 1, api.DENSE_AUTO_MAX_BLOCKS) == "banded-ipm"


def test_auto_decides_on_the_side_that_is_solved():
    # W_0 enters only through its Gram matrix: a 784-wide input is compressed to n_1 columns
    # before any backend sees the LMI, so auto sizes that (784-300-300-10: side 900, not 1384).
    shapes = {(784, 300, 300, 10): "lowrank-ipm", (784, 400, 400, 10): "lowrank-ipm",
              (784, 500, 500, 10): "banded-ipm", (100, 200, 200, 200, 200, 10): "banded-ipm"}
    for widths, expected in shapes.items():
        net = lipsdp.Network([np.ones((b, a)) for a, b in itertools.pairwise(widths)])
        assert net.solved_size == min(widths[0], widths[1]) + sum(widths[1:-1])
        assert lipsdp.choose_solver(net) == expected, widths
    net = lipsdp.Network([np.ones((20, 784)), np.ones((2, 20))])
    assert lipsdp.choose_solver(net) == lipsdp.choose_solver_for_side(40, 2)


@pytest.mark.parametrize("solver", STRUCTURED)
def test_unknown_option_is_rejected(small_net, solver):
    with pytest.raises(ValueError, match=f"not {solver} settings"):
        lipsdp.solve(small_net, solver=solver, options={"chordal": True})


def _first_iterate(problem, solver, warm_start):
    """Residuals at the first iteration, and the final result."""
    seen = []

    def callback(x, info):
        seen.append(info)
        return False

    res = solvers.solve(problem, solver, options={"callback": callback}, warm_start=warm_start)
    return seen[0], res


@pytest.mark.parametrize("solver", STRUCTURED)
def test_feasible_warm_start_is_primal_feasible_and_centred(rng, solver, random_weights):
    net = lipsdp.Network(random_weights(rng, [6, 12, 12, 12, 3]), (0.1, 1.0))
    problem = with_lowrank(build_full(net), net).problem
    cold_first, cold = _first_iterate(problem, solver, None)
    # x = 1.1 is the formulation's reference point scaled up: strictly feasible.
    warm_first, warm = _first_iterate(problem, solver, np.full(problem.n_vars, 1.1))
    assert cold_first["pinf"] > 1e-3
    assert warm_first["pinf"] < 1e-12
    assert warm.ok
    assert warm.objective == pytest.approx(cold.objective, rel=1e-7)


@pytest.mark.parametrize("solver", STRUCTURED)
def test_infeasible_warm_start_falls_back_to_the_default_start(rng, solver, random_weights):
    net = lipsdp.Network(random_weights(rng, [6, 12, 12, 3]))
    problem = with_lowrank(build_full(net), net).problem
    cold = solvers.solve(problem, solver)
    for x0 in (np.zeros(problem.n_vars), np.full(problem.n_vars, 1e-3)):  # S = F0 + A(x0) not PD
        warm = solvers.solve(problem, solver, warm_start=x0)
        assert warm.iterations == cold.iterations
        assert warm.objective == cold.objective


@pytest.mark.parametrize("solver", STRUCTURED)
def test_blocked_feasible_start_falls_back_to_the_default_start(rng, solver, caplog,
                                                                random_weights):
    # ECLipsE-Fast's point is feasible but, on a deep network, so close to the boundary (in the
    # formulation's balanced scaling) that the first step from it is blocked.
    net = lipsdp.Network(random_weights(rng, [6, *[10] * 10, 2]))
    formulation = with_lowrank(build_full(net), net)
    fast = lipsdp.closed_form(net, "eclipse-fast")
    x0 = 1.1 * formulation.from_multipliers(fast.value**2, fast.multipliers)
    cold = solvers.solve(formulation.problem, solver)
    with caplog.at_level("INFO"):
        warm = solvers.solve(formulation.problem, solver, warm_start=x0)
    assert "feasible start blocked" in caplog.text
    assert warm.ok
    assert warm.objective == pytest.approx(cold.objective, rel=1e-7)


def _sparse_lowrank_sdp(rng, m=120, n=30):
    """A bounded SDP whose coefficients are rank-2 with two nonzeros per factor column (so sparse
    that lowrank-ipm keeps them as a sparse matrix rather than dense row groups)."""
    rows, cols, vals, d, owner = [], [], [], [], []
    for i in range(n):
        for k in range(2):
            rows += list(rng.choice(m, size=2, replace=False))
            cols += [2 * i + k] * 2
            vals += list(rng.standard_normal(2))
            d.append(1.0 if k == 0 else -0.5)
            owner.append(i)
    U = sp.csc_matrix((vals, (rows, cols)), shape=(m, 2 * n))
    lowrank = solvers.LowRank(U=U, D=sp.diags(d), owner=np.array(owner))
    Fs = [lowrank.dense_coefficient(i) for i in range(n)]
    F = sp.csc_matrix(np.column_stack([Fi.ravel(order="F") for Fi in Fs]))
    B = rng.standard_normal((m, m))
    Y0 = B @ B.T / m + np.eye(m)
    c = np.array([np.trace(Y0 @ Fi) for Fi in Fs])
    block = solvers.LMIBlock(F0=np.eye(m), F=F, lowrank=lowrank)
    return solvers.LMIProblem(c=c, blocks=(block,))


def test_lowrank_ipm_sparse_factor_columns_match_clarabel(rng):
    problem = _sparse_lowrank_sdp(rng)
    from lipsdp_solvers.backends.ipm_backend import _prepare

    assert _prepare(problem.blocks[0]).Urest is not None  # the sparse path is the one tested
    ours = solvers.solve(problem, "lowrank-ipm")
    ref = solvers.solve(problem, "clarabel")
    assert ours.ok
    assert ref.ok
    assert ours.objective == pytest.approx(ref.objective, rel=1e-6)


@pytest.mark.parametrize(("runs", "segments"), [(True, True), (False, True), (True, False)])
def test_lowrank_schur_matches_its_definition(rng, runs, segments, random_weights):
    """``M_ij = tr(F_i Y F_j Z)`` from the factors equals the definition, with D's
    off-diagonal applied as slice runs or by the sparse product, and the columns summed into
    variables by owner segments or by the sparse aggregation."""
    from lipsdp_solvers.backends.ipm_backend import _prepare

    net = lipsdp.Network(random_weights(rng, [5, 9, 7, 3]), (0.1, 1.0))
    block = with_lowrank(build_full(net), net).problem.blocks[0]
    b = _prepare(block)
    assert b.D_runs is not None
    assert b.segments is not None
    if not runs:
        b = replace(b, D_runs=None)
    if not segments:
        b = replace(b, segments=None)
    m = block.size
    Y, Z = (B @ B.T for B in rng.standard_normal((2, m, m)))
    Fs = [block.F[:, i].toarray().reshape(m, m, order="F") for i in range(block.n_vars)]
    want = np.array([[np.trace(Fi @ Y @ Fj @ Z) for Fj in Fs] for Fi in Fs])
    for _ in range(2):  # the second call reuses the work buffers
        np.testing.assert_allclose(b.schur(Y, Z), want, rtol=1e-10, atol=1e-10 * abs(want).max())


@pytest.mark.parametrize("block_rank", [2, 3])
def test_lowrank_schur_matches_its_definition_on_generic_factors(rng, block_rank):
    """The same check on factors that are not LipSDP's: dense random columns with a full
    ``block_rank x block_rank`` coupling per variable (rank 3 puts two off-diagonal entries in a
    row of D, so D is applied by the sparse product) and a variable owning a run of unit columns
    (a summed owner segment)."""
    from lipsdp_solvers.backends.ipm_backend import _prepare

    m, n = 12, 5
    k = block_rank
    U = np.hstack([np.eye(m)[:, :3], rng.standard_normal((m, k * (n - 1)))])
    owner = np.concatenate([[0, 0, 0], np.repeat(np.arange(1, n), k)])
    blocks = [np.diag(rng.uniform(0.5, 1.5, 3))]
    for _ in range(1, n):
        B = rng.standard_normal((k, k))
        blocks.append(B + B.T)
    lowrank = solvers.LowRank(U=sp.csc_matrix(U), D=sp.block_diag(blocks), owner=owner)
    Fs = [lowrank.dense_coefficient(i) for i in range(n)]
    F = sp.csc_matrix(np.column_stack([Fi.ravel(order="F") for Fi in Fs]))
    b = _prepare(solvers.LMIBlock(F0=np.eye(m), F=F, lowrank=lowrank))
    assert (b.D_runs is None) == (block_rank == 3)
    Y, Z = (B @ B.T for B in rng.standard_normal((2, m, m)))
    want = np.array([[np.trace(Fi @ Y @ Fj @ Z) for Fj in Fs] for Fi in Fs])
    np.testing.assert_allclose(b.schur(Y, Z), want, rtol=1e-10, atol=1e-10 * abs(want).max())
