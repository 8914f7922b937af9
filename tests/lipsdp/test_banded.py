"""The chordal interior-point backend (``banded-ipm``): its block-tridiagonal kernels against
dense linear algebra, the completion it keeps its dual as, and exactness against the full LMI."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp

import lipsdp
import lipsdp_solvers as solvers
from lipsdp.dual import dual_lower_bound
from lipsdp.formulation import build_full
from lipsdp.lowrank import with_lowrank
from lipsdp_solvers import BandedMatrix, LMIBlock, LMIProblem, Status
from lipsdp_solvers import banded_completion as completion
from lipsdp_solvers import banded_newton as newton
from lipsdp_solvers import banded_schur as schur
from lipsdp_solvers import banded_schur_factor as schur_factor
from lipsdp_solvers import banded_tridiag as tridiag
from lipsdp_solvers.backends import banded_backend as bb
from lipsdp_solvers.banded_tridiag import block_cholesky

from reference import reference_lipsdp


def _tri(st, D):
    o = st.offsets
    P = st.sizes.size
    return (
        [D[o[p] : o[p + 1], o[p] : o[p + 1]].copy() for p in range(P)],
        [None] + [D[o[p] : o[p + 1], o[p - 1] : o[p]].copy() for p in range(1, P)],
    )


def _dense(st, T):
    o = st.offsets
    m = int(o[-1])
    D = np.zeros((m, m))
    for p in range(st.sizes.size):
        D[o[p] : o[p + 1], o[p] : o[p + 1]] = T[0][p]
        if p:
            D[o[p] : o[p + 1], o[p - 1] : o[p]] = T[1][p]
            D[o[p - 1] : o[p], o[p] : o[p + 1]] = T[1][p].T
    return D


def _coefficients(block):
    m = block.size
    return [block.F[:, i].toarray().reshape(m, m, order="F") for i in range(block.n_vars)]


@pytest.mark.parametrize(
    ("widths", "slopes", "multipliers"),
    [
        ([3, 4, 5, 2], (0.0, 1.0), "neuron"),
        ([4, 3, 5, 6, 2], (0.1, 1.0), "neuron"),
        ([3, 5, 4, 2], (0.0, 0.25), "layer"),
    ],
)
def test_kernels_match_dense_linear_algebra(rng, widths, slopes, multipliers, random_weights):
    net = lipsdp.Network(random_weights(rng, widths), slopes)
    block = with_lowrank(build_full(net, multipliers), net).problem.blocks[0]
    st = bb.BandedStructure.from_block(block)
    m = block.size
    A = rng.standard_normal((m, m))
    S = _tri(st, A @ A.T + m * np.eye(m))
    B = rng.standard_normal((m, m))
    Y = _tri(st, B @ B.T + m * np.eye(m))
    C = rng.standard_normal((m, m))
    Rp = _tri(st, C + C.T)
    cliques = completion.clique_factors(Y)
    W_inv = completion.completion_inverse(Y, cliques)
    W = np.linalg.inv(_dense(st, W_inv))
    # The completion agrees with Y on the pattern, and its inverse is block tridiagonal.
    np.testing.assert_allclose(_dense(st, _tri(st, W)), _dense(st, Y), atol=1e-10)
    M, aZ, aWRZ = st.schur(block_cholesky(*S), block_cholesky(*W_inv), Rp)
    # On threads (each chunk writes its own columns of M) the result is the same.
    for got, want in zip(st.schur(block_cholesky(*S), block_cholesky(*W_inv), Rp, workers=2),
                         (M, aZ, aWRZ), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)
    # Assembled in a caller's buffer (as a solve reuses one), whatever it held before.
    buf = np.full((block.n_vars, block.n_vars), np.nan)
    M_buf = st.schur(block_cholesky(*S), block_cholesky(*W_inv), Rp, out=buf)[0]
    assert M_buf is buf
    np.testing.assert_array_equal(M_buf, M)
    Z = np.linalg.inv(_dense(st, S))
    Fs = _coefficients(block)
    M_ref = np.array([[np.sum((Fi @ W) * (Fj @ Z).T) for Fj in Fs] for Fi in Fs])
    np.testing.assert_allclose(M, 0.5 * (M_ref + M_ref.T), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(aZ, [np.sum(F * Z) for F in Fs], rtol=1e-10, atol=1e-12)
    WRZ = W @ _dense(st, Rp) @ Z
    np.testing.assert_allclose(aWRZ, [np.sum(F * WRZ) for F in Fs], rtol=1e-9, atol=1e-10)
    # Without Rp (a feasible iterate) the Schur matrix comes from the inverses' semiseparable
    # structure instead of solves: the same matrix, on one thread or two.
    # Where the variables' columns form owner runs, by row chunks (_schur_chunk_rows); the
    # aggregation through agg, for columns that do not, is checked by switching runs off.
    assert st.row_parts is not None
    no_runs = replace(st)
    no_runs.runs_ok, no_runs.row_parts = False, None
    for structure in (st, no_runs):
        for workers in (1, 2):
            M0, aZ0, aWRZ0 = structure.schur(block_cholesky(*S), block_cholesky(*W_inv), None,
                                             workers=workers)
            np.testing.assert_allclose(M0, 0.5 * (M_ref + M_ref.T), rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(aZ0, aZ, rtol=1e-10, atol=1e-12)
            np.testing.assert_array_equal(aWRZ0, 0.0)
    for got, want in zip(no_runs.schur(block_cholesky(*S), block_cholesky(*W_inv), Rp),
                         (M, aZ, aWRZ), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(st.adjoint(Y), [np.sum(F * _dense(st, Y)) for F in Fs],
                               rtol=1e-12, atol=1e-10)
    x = rng.standard_normal(block.n_vars)
    np.testing.assert_allclose(_dense(st, st.matrix_blocks(x)), block.matrix(x), atol=1e-12)


def test_coarsened_partition_solves_the_same_problem(rng, random_weights):
    W = random_weights(rng, [6, 12, 12, 12, 3])
    problem = with_lowrank(build_full(lipsdp.Network(W)), lipsdp.Network(W)).problem
    fine = solvers.solve(problem, "banded-ipm", options={"block_target": 0})
    coarse = solvers.solve(problem, "banded-ipm", options={"block_target": 1000})
    assert fine.ok
    assert coarse.ok
    assert coarse.objective == pytest.approx(fine.objective, rel=1e-7)


@pytest.mark.parametrize(
    ("widths", "slopes"), [([5, 9, 9, 9, 9, 2], (0.0, 1.0)), ([4, 8, 8, 8, 3], (0.1, 1.0))]
)
def test_pattern_dual_certifies_the_optimum(rng, widths, slopes, random_weights):
    """The dual on its pattern alone proves a lower bound within 1e-7 of the optimum."""
    W = random_weights(rng, widths)
    net = lipsdp.Network(W, slopes)
    res = lipsdp.solve(net, solver="banded-ipm")
    ref = reference_lipsdp(W, net.slopes, "neuron")
    assert res.certified
    assert res.info["lower_bound"] <= ref * (1 + 1e-7)
    assert ref <= res.value * (1 + 1e-7)
    assert res.info["certified_gap"] < 1e-7


def test_banded_matrix_blocks_and_completion(rng):
    o = np.array([0, 2, 5, 6])
    A = rng.standard_normal((6, 6))
    A = A @ A.T + 6 * np.eye(6)
    diag = tuple(A[o[p] : o[p + 1], o[p] : o[p + 1]] for p in range(3))
    sub = tuple(A[o[p] : o[p + 1], o[p - 1] : o[p]] for p in (1, 2))
    Bm = BandedMatrix(o, diag, sub)
    np.testing.assert_array_equal(Bm.block(slice(1, 4), slice(0, 5)), A[1:4, 0:5])
    with pytest.raises(ValueError, match="not on the pattern"):
        Bm.block(slice(0, 2), slice(5, 6))
    assert Bm.has_pd_completion()
    d = rng.random(6) + 0.1
    np.testing.assert_allclose(Bm.scaled(d).block(slice(0, 5), slice(0, 5)),
                               (d[:, None] * A * d[None, :])[:5, :5])
    bad = BandedMatrix(o, (diag[0], -diag[1], diag[2]), sub)
    assert not bad.has_pd_completion()


def test_dual_lower_bound_rejects_a_pattern_without_pd_completion(rng, random_weights):
    net = lipsdp.Network(random_weights(rng, [4, 6, 5, 2]))
    sizes = [4, 6, 5]
    o = np.concatenate([[0], np.cumsum(sizes)])
    indefinite = BandedMatrix(o, tuple(-np.eye(n) for n in sizes),
                              tuple(np.zeros((sizes[p], sizes[p - 1])) for p in (1, 2)))
    assert np.isnan(dual_lower_bound(net, indefinite))


def test_partition_is_validated():
    F = sp.csc_matrix(np.eye(3).reshape(9, 1))
    with pytest.raises(ValueError, match="partition"):
        LMIBlock(F0=np.zeros((3, 3)), F=F, partition=(1, 1))
    with pytest.raises(ValueError, match="partition"):
        LMIBlock(F0=np.zeros((3, 3)), F=F, partition=(3, 0))


def test_a_pattern_outside_the_partition_is_not_applicable():
    F0 = np.zeros((3, 3))
    F0[0, 2] = F0[2, 0] = 1.0  # couples blocks 0 and 2
    block = LMIBlock(F0=F0, F=sp.csc_matrix(np.eye(3).reshape(9, 1)), partition=(1, 1, 1))
    problem = LMIProblem(c=np.ones(1), blocks=(block,))
    # Merged into one block, the partition is trivially valid; kept as given, it is not.
    assert solvers.solve(problem, "banded-ipm", options={"block_target": 3}).ok
    res = solvers.solve(problem, "banded-ipm")
    assert res.status is Status.ERROR
    assert "not block tridiagonal" in res.info["message"]
    assert np.isnan(res.x).all()


def test_repair_root_never_returns_a_violated_scaling():
    """A constraint violated at d = 1 by rounding only is met by the returned scaling (the
    repair of a 20-layer dual failed its own re-check when it returned 1 here)."""
    from lipsdp.dual import _largest_root

    A, B, C = 1.0, 1.0 - 1.2e-13, 0.0
    assert A - B + C > 0
    d = _largest_root(A, B, C)
    assert A * d * d - B * d + C <= 0
    assert _largest_root(1.0, 2.0, 0.0) == 1.0


def test_numerical_failure_returns_the_last_iterate(rng, monkeypatch, random_weights):
    """A Schur factorisation that fails mid-solve ends it with the last iterate and a status
    that says so, not an exception or a nan point; lipsdp then returns its best certified
    iterate."""
    net = lipsdp.Network(random_weights(rng, [5, 10, 10, 2]))
    problem = with_lowrank(build_full(net), net).problem
    calls = {"n": 0}
    original = schur_factor.factor_schur

    def failing(Ms, threads):
        calls["n"] += 1
        return None if calls["n"] == 8 else original(Ms, threads)

    monkeypatch.setattr(schur_factor, "factor_schur", failing)
    res = solvers.solve(problem, "banded-ipm")
    assert res.status is Status.NUMERICAL_ERROR  # far from optimal at iteration 8
    assert res.native_status == "linear_algebra_failure"
    assert res.iterations == 8
    assert np.all(np.isfinite(res.x))
    calls["n"] = 0
    out = lipsdp.solve(net, solver="banded-ipm")
    assert out.certified
    assert "best certified iterate" in out.status


@pytest.mark.parametrize("sizes", [[3, 4, 5, 2], [5], [2, 3], [4, 4, 4, 4, 4, 4]])
def test_product_band_matches_dense(rng, sizes):
    """The bands of A^{-1} C B^{-1}, A^{-1} C B^{-1} C B^{-1} and B^{-1} C A^{-1} C B^{-1} from
    the block factors alone equal the dense products'."""

    class _Blocks:  # what _tri and _dense read
        pass

    st = _Blocks()
    st.sizes = np.asarray(sizes)
    st.offsets = np.concatenate([[0], np.cumsum(sizes)])
    m = sum(sizes)

    def spd():
        X = rng.standard_normal((m, m))
        return _tri(st, X @ X.T + 0.5 * m * np.eye(m))

    A, B = spd(), spd()
    Cm = rng.standard_normal((m, m))
    C = _tri(st, Cm + Cm.T)
    pb = tridiag.ProductBand(block_cholesky(*A), block_cholesky(*B), A[1], B[1])
    inv = {"A": np.linalg.inv(_dense(st, A)), "B": np.linalg.inv(_dense(st, B))}
    o = st.offsets
    for labels in ("AB", "ABB", "BAB"):
        G = inv[labels[0]]
        for name in labels[1:]:
            G = G @ _dense(st, C) @ inv[name]
        diag, lower, upper = pb.band(C) if labels == "AB" else pb.chain(labels, C)
        for p in range(len(sizes)):
            np.testing.assert_allclose(diag[p], G[o[p] : o[p + 1], o[p] : o[p + 1]], atol=1e-13)
            if p:
                np.testing.assert_allclose(lower[p], G[o[p] : o[p + 1], o[p - 1] : o[p]],
                                           atol=1e-13)
                np.testing.assert_allclose(upper[p], G[o[p - 1] : o[p], o[p] : o[p + 1]],
                                           atol=1e-13)
    G = inv["A"] @ _dense(st, C) @ inv["B"]
    np.testing.assert_allclose(_dense(st, pb.sym(C)), _dense(st, _tri(st, 0.5 * (G + G.T))),
                               atol=1e-13)


def test_banded_dual_step_gives_the_dense_steps_iterates(rng, monkeypatch, random_weights):
    """The dual step from bands (used from BAND_MIN_BLOCKS blocks on) against the dense S^{-1}
    rows: the same iterates, to rounding, on a network with few blocks."""
    W = random_weights(rng, [4, 6, 6, 6, 6, 2])
    net = lipsdp.Network(W, (0.1, 1.0))
    problem = with_lowrank(build_full(net), net).problem
    monkeypatch.setattr(newton, "BAND_MIN_BLOCKS", 10_000)
    dense = solvers.solve(problem, "banded-ipm")
    monkeypatch.setattr(newton, "BAND_MIN_BLOCKS", 1)
    banded = solvers.solve(problem, "banded-ipm")
    assert dense.ok
    assert banded.ok
    assert banded.iterations == dense.iterations
    np.testing.assert_allclose(banded.x, dense.x, rtol=1e-6, atol=1e-9)


def test_mixed_precision_schur_solves_to_double_precision(rng, monkeypatch):
    """A single-precision factor, refined, solves as accurately as a double-precision one;
    where refinement cannot get there (condition number 1e12) or the single-precision
    factorisation fails, the solve falls back on the double-precision factor."""
    monkeypatch.setattr(schur_factor, "MIXED_SCHUR_MIN", 1)
    n = 300
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    b = rng.standard_normal(n)
    for cond, mixed in ((1e3, True), (1e12, False)):
        M = (Q * np.logspace(0, -np.log10(cond), n)) @ Q.T
        M = 0.5 * (M + M.T)
        want = np.linalg.solve(M, b)
        work32 = np.full((n, n), np.nan, dtype=np.float32)  # a reused buffer's old contents
        fac = schur_factor.SchurFactor.of(M.copy(), 1, work32)
        if mixed:  # factored in single precision, in the buffer
            assert fac.G.dtype == np.float32
            assert np.shares_memory(fac.G, work32)
        x = fac.solve(b)
        assert (fac.M is not None) == mixed  # still single precision, or fallen back
        assert np.linalg.norm(M @ x - b) <= 1e-13 * np.linalg.norm(M) * np.linalg.norm(x)
        np.testing.assert_allclose(x, want, rtol=1e-12 * cond)
    # Positive definite in double precision, not in single: the double factor is used.
    M = np.eye(n)
    M[0, 1] = M[1, 0] = 1.0 - 1e-9  # 1 in single precision: singular there
    fac = schur_factor.SchurFactor.of(M.copy(), 1)
    assert fac.M is None
    assert fac.G.dtype == np.float64
    np.testing.assert_allclose(M @ fac.solve(b), b, rtol=1e-6, atol=1e-6)


def test_mixed_precision_schur_gives_the_same_solve(rng, monkeypatch, random_weights):
    net = lipsdp.Network(random_weights(rng, [6, 12, 12, 12, 3]))
    problem = with_lowrank(build_full(net), net).problem
    double = solvers.solve(problem, "banded-ipm")
    monkeypatch.setattr(schur_factor, "MIXED_SCHUR_MIN", 1)
    mixed = solvers.solve(problem, "banded-ipm")
    assert double.ok
    assert mixed.ok
    assert mixed.objective == pytest.approx(double.objective, rel=1e-8)


def test_batched_clique_step_matches_the_per_clique_one(rng, monkeypatch, random_weights):
    """Cliques of one size take the batched Lanczos operator for the dual step; the solve is
    the one the per-clique operator gives."""
    net = lipsdp.Network(random_weights(rng, [6, 6, 6, 6, 6, 2]))  # every clique 12 x 12
    problem = with_lowrank(build_full(net), net).problem
    seen = []
    init = newton.BandedNewton.__init__

    def spy(self, *args, **kwargs):
        init(self, *args, **kwargs)
        seen.append(self.clique_inv is not None)

    monkeypatch.setattr(newton.BandedNewton, "__init__", spy)
    batched = solvers.solve(problem, "banded-ipm")
    assert seen
    assert all(seen)

    def per_clique(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.clique_inv = None

    monkeypatch.setattr(newton.BandedNewton, "__init__", per_clique)
    loop = solvers.solve(problem, "banded-ipm")
    assert batched.ok
    assert loop.ok
    assert batched.iterations == loop.iterations
    assert batched.objective == pytest.approx(loop.objective, rel=1e-9)


def test_paired_dense_columns_give_the_same_gram(rng):
    """Consecutive parallel columns of one owner are stored once; their Gram rows equal the
    full product's, and columns that are not parallel (or not paired) stay as they are."""
    base = rng.standard_normal((7, 3))
    rho = rng.standard_normal(3)
    Ud = np.empty((7, 6))
    Ud[:, 0::2], Ud[:, 1::2] = base, base * rho
    lam = rng.standard_normal(6)
    owner = np.repeat([4, 5, 6], 2)
    X = rng.standard_normal((7, 5))
    cases = [(Ud, owner, True), (Ud + 1e-6 * rng.standard_normal(Ud.shape), owner, False),
             (Ud, np.arange(6), False)]
    for U, own, paired in cases:
        dense, dense_lam = schur.paired(U, U * lam, np.arange(6), own)
        assert (dense[1] is not None) == paired
        for d, A in ((dense, U), (dense_lam, U * lam)):
            G = np.zeros((8, 5))
            schur.add_gram(G, slice(2, 8), d, X)
            np.testing.assert_allclose(G[2:], A.T @ X, rtol=1e-13, atol=1e-13)
            np.testing.assert_array_equal(G[:2], 0.0)
