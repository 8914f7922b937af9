"""The interior-point core (solvers.ipm_core) through both structured backends, on small
problems whose optimum, infeasibility or unboundedness is known in closed form."""

import numpy as np
import pytest
import scipy.sparse as sp

import lipsdp_solvers as solvers
from lipsdp_solvers.ipm_core import ConeAlgebra, NewtonSystem

STRUCTURED = ["banded-ipm", "lowrank-ipm"]


def vec_columns(*mats):
    return sp.csc_matrix(np.column_stack([np.asarray(M).ravel(order="F") for M in mats]))


def eigen_problem(rng, m=6):
    """``min t`` s.t. ``t I - A >= 0``: ``t = lambda_max(A)``, the dual its top eigenvector."""
    B = rng.standard_normal((m, m))
    A = B + B.T
    block = solvers.LMIBlock(F0=-A, F=vec_columns(np.eye(m)))
    return solvers.LMIProblem(c=np.ones(1), blocks=(block,)), A


@pytest.mark.parametrize("solver", STRUCTURED)
def test_largest_eigenvalue_and_its_dual(rng, solver):
    problem, A = eigen_problem(rng)
    lam, V = np.linalg.eigh(A)
    res = solvers.solve(problem, solver)
    assert res.status is solvers.Status.OPTIMAL
    assert res.objective == pytest.approx(lam[-1], rel=1e-7)
    (Y,) = res.dual
    if solver == "banded-ipm":
        # The dense dual is the completion of the pattern part, formed through the inverse of
        # its (here ill-conditioned, near rank-one) inverse: a few digits are lost there. The
        # pattern part itself (the whole matrix for one partition block) is exact.
        np.testing.assert_allclose(Y, res.info["dual_banded"].diag[0], atol=1e-5)
        (Y,) = res.info["dual_banded"].diag
    assert np.trace(Y) == pytest.approx(1.0, rel=1e-7)  # the dual equation <I, Y> = c
    np.testing.assert_allclose(Y, np.outer(V[:, -1], V[:, -1]), atol=1e-4)
    assert res.info["dual_objective"] == pytest.approx(lam[-1], rel=1e-7)


@pytest.mark.parametrize("solver", STRUCTURED)
def test_warm_start_reaches_the_same_optimum(rng, solver):
    problem, A = eigen_problem(rng)
    cold = solvers.solve(problem, solver)
    warm = solvers.solve(problem, solver, warm_start=np.array([np.abs(A).sum() + 1.0]))
    assert warm.ok
    assert warm.objective == pytest.approx(cold.objective, rel=1e-7)


@pytest.mark.parametrize("solver", STRUCTURED)
def test_nonnegative_variable_sits_at_its_bound(rng, solver):
    """``min t + u`` s.t. ``t I - A >= 0``, ``u I + diag(1, 2) >= 0``, ``u >= 0``: ``u = 0``."""
    problem, A = eigen_problem(rng, m=4)
    block_u = solvers.LMIBlock(F0=np.diag([1.0, 2.0]), F=vec_columns(np.zeros((2, 2)), np.eye(2)))
    block_t = solvers.LMIBlock(F0=problem.blocks[0].F0,
                               F=sp.hstack([problem.blocks[0].F, sp.csc_matrix((16, 1))]))
    both = solvers.LMIProblem(c=np.ones(2), blocks=(block_t, block_u), nonneg=[False, True])
    res = solvers.solve(both, solver)
    assert res.ok
    assert res.objective == pytest.approx(np.linalg.eigvalsh(A)[-1], rel=1e-7)
    assert abs(res.x[1]) < 1e-6
    assert res.info["dual_nonneg"][1] == pytest.approx(1.0, rel=1e-6)  # c_u - <I, Y_u>, Y_u = 0


@pytest.mark.parametrize("solver", STRUCTURED)
def test_infeasible_lmi_gives_a_farkas_certificate(solver):
    """``-I + t E_11 >= 0`` has no solution; ``Y = e_2 e_2^T`` proves it."""
    E = np.zeros((2, 2))
    E[0, 0] = 1.0
    block = solvers.LMIBlock(F0=-np.eye(2), F=vec_columns(E))
    res = solvers.solve(solvers.LMIProblem(c=np.ones(1), blocks=(block,)), solver)
    assert res.status is solvers.Status.INFEASIBLE
    assert np.all(np.isnan(res.x))
    (Y,) = res.info["certificate"]
    assert np.vdot(-np.eye(2), Y) == pytest.approx(-1.0, rel=1e-6)  # <F0, Y> = -1
    assert abs(np.vdot(E, Y)) < 1e-6  # A^*(Y) = 0
    assert np.linalg.eigvalsh(Y)[0] > -1e-8


@pytest.mark.parametrize("solver", STRUCTURED)
def test_unbounded_problem_is_reported(solver):
    """``min -t1`` s.t. ``I + (t1 - t2) E >= 0``: the ray ``t1 = t2 -> inf`` (``A(d) = 0``)."""
    E = np.array([[1.0, 0.5], [0.5, 1.0]])
    block = solvers.LMIBlock(F0=np.eye(2), F=vec_columns(E, -E))
    res = solvers.solve(solvers.LMIProblem(c=np.array([-1.0, 0.0]), blocks=(block,)), solver)
    assert res.status is solvers.Status.UNBOUNDED
    assert res.native_status == "dual_infeasible"


def test_core_interfaces_are_abstract():
    with pytest.raises(TypeError, match="abstract"):
        ConeAlgebra()
    with pytest.raises(TypeError, match="abstract"):
        NewtonSystem()


def test_boundary_step_returns_the_accepted_factor(rng):
    """The step to the boundary of ``X + a dX >= 0``: the estimate, ``frac`` of the way, capped;
    verified, the factor it returns is that of the accepted step."""
    from lipsdp_solvers.ipm_linalg import boundary_step, chol, lanczos_min

    X = np.eye(5)
    dX = -np.diag([0.5, 1.0, 2.0, 0.1, 0.0])  # boundary at a = 0.5
    lam = lanczos_min(lambda v: dX @ v, 5)  # L = I
    assert lam == pytest.approx(-2.0, rel=1e-10)
    a, fac = boundary_step(lam, lambda a: chol(X + a * dX), cap=1.0, frac=0.9, verify=True)
    assert a == pytest.approx(0.45, rel=1e-10)
    np.testing.assert_allclose(fac @ fac.T, X + a * dX, rtol=1e-14)
    a, fac = boundary_step(lam, lambda a: chol(X + a * dX), cap=0.2, frac=0.9, verify=False)
    assert (a, fac) == (0.2, None)
    # An estimate too long (here: told the boundary is at 2) is shortened until it passes.
    a, fac = boundary_step(-0.5, lambda a: chol(X + a * dX), cap=1.0, frac=1.0, verify=True)
    assert 0 < a < 0.5
    assert fac is not None
