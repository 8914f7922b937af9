"""Backend capabilities on the registry, the shared user-stop status, and the Schur hook."""

import numpy as np
import pytest
import scipy.sparse as sp

import lipsdp_solvers as solvers
from lipsdp_solvers.registry import Capabilities, UnknownSolverError, capabilities
from lipsdp_solvers.result import STOPPED_BY_CALLBACK

STRUCTURED = ["banded-ipm", "lowrank-ipm"]


def eigen_problem(rng, m=9, partition=(3, 3, 3)):
    """``min t + u`` s.t. ``t I - A >= 0`` (A block tridiagonal) and ``u I - C >= 0`` with
    ``C < 0``, ``u >= 0``: the optimum is ``t = lambda_max(A)``, ``u = 0``."""
    o = np.concatenate([[0], np.cumsum(partition)])
    A = np.zeros((m, m))
    for p in range(len(partition)):
        lo, hi = o[p], o[min(p + 2, len(partition))]
        B = rng.standard_normal((hi - lo, hi - lo))
        A[lo:hi, lo:hi] += B + B.T
    eye = sp.csc_matrix(np.eye(m).reshape(-1, 1, order="F"))
    F = sp.hstack([eye, sp.csc_matrix((m * m, 1))], format="csc")
    first = solvers.LMIBlock(F0=-A, F=F, partition=partition)
    C = -np.diag([1.0, 2.0])
    second = solvers.LMIBlock(
        F0=-C, F=sp.csc_matrix(np.column_stack([np.zeros(4), np.eye(2).ravel()]))
    )
    problem = solvers.LMIProblem(c=np.ones(2), blocks=(first, second),
                                 nonneg=np.array([False, True]))
    return problem, float(np.linalg.eigvalsh(A)[-1])


def test_capabilities_are_declared_on_the_registry():
    assert capabilities("banded-ipm") == Capabilities(
        callback=True, warm_start=True, dual_on_pattern=True, schur_callback=True
    )
    low = capabilities("lowrank-ipm")
    assert low.callback
    assert low.schur_callback
    assert not low.dual_on_pattern
    assert low.blas_threads(low.single_thread_max_side) == 1
    assert low.blas_threads(low.single_thread_max_side + 1) is None
    assert capabilities("banded-ipm").blas_threads(10) is None
    assert capabilities("scs").warm_start
    assert not capabilities("clarabel").callback
    assert capabilities("cvxpy:scs") == Capabilities()
    with pytest.raises(UnknownSolverError, match="not a known backend"):
        capabilities("nosuch")


def test_capabilities_validate_their_fields():
    with pytest.raises(TypeError, match="callback"):
        Capabilities(callback=1)
    with pytest.raises(ValueError, match="single_thread_max_side"):
        Capabilities(single_thread_max_side=0)
    with pytest.raises(TypeError, match="capabilities"):
        solvers.registry.BackendSpec(name="x", module="x.y", requires=(), pip_hint="pip",
                                     capabilities={"callback": True})


@pytest.mark.parametrize("solver", STRUCTURED)
def test_user_stop_has_the_shared_native_status(rng, solver):
    problem, _ = eigen_problem(rng)
    res = solvers.solve(problem, solver, options={"callback": lambda x, info: True})
    assert res.status is solvers.Status.OPTIMAL_INACCURATE
    assert res.native_status == STOPPED_BY_CALLBACK
    assert res.stopped_by_callback
    assert res.iterations == 1
    assert not solvers.solve(problem, solver).stopped_by_callback


@pytest.mark.parametrize("solver", STRUCTURED)
def test_schur_callback_sees_every_newton_matrix(rng, solver):
    problem, want = eigen_problem(rng)
    seen = []

    def hook(iteration, H, info):
        S, Y = info["slack"], info["dual"]
        seen.append((iteration, H.copy(), [np.array(a) for a in S], [np.array(a) for a in Y]))

    plain = solvers.solve(problem, solver)
    hooked = solvers.solve(problem, solver, options={"schur_callback": hook})
    assert plain.ok
    assert plain.objective == pytest.approx(want, rel=1e-7)
    # Watching changes nothing.
    assert hooked.iterations == plain.iterations
    np.testing.assert_array_equal(hooked.x, plain.x)
    assert [it for it, *_ in seen] == list(range(1, plain.iterations))
    for _, H, S, Y in seen:
        assert H.shape == (2, 2)
        np.testing.assert_allclose(H, H.T, rtol=1e-12, atol=1e-12)
        assert np.linalg.eigvalsh(H)[0] > 0
        for Sk, Yk in zip(S, Y, strict=True):
            assert np.linalg.eigvalsh(Sk)[0] > 0
            assert np.linalg.eigvalsh(Yk)[0] > 0


@pytest.mark.parametrize("solver", STRUCTURED)
@pytest.mark.parametrize("key", ["callback", "schur_callback"])
def test_callback_options_must_be_callable(rng, solver, key):
    problem, _ = eigen_problem(rng)
    with pytest.raises(TypeError, match=f"options\\['{key}'\\] is int; expected a callable"):
        solvers.solve(problem, solver, options={key: 3})
