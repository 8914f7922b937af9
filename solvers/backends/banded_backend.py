"""Chordal primal-dual interior-point backend for block-tridiagonal LMIs (``"banded-ipm"``).

Problem (as for every backend) and its dual::

    (P)  minimise c^T x      s.t.  S = F0 + sum_i x_i F_i >= 0,   x_i >= 0 (i nonneg)
    (D)  maximise -<F0, Y>   s.t.  <F_i, Y> + z_i = c_i,  Y >= 0,  z >= 0 (0 if free)

for one LMI block that declares a ``partition`` under which ``F0`` and every ``F_i`` are block
tridiagonal, with its coefficient matrices in low-rank form (:class:`~solvers.problem.LowRank`).
This is the sparsity of a chain of cliques ``{p-1, p}`` (docs/math.md §7), and the method never
forms a dense ``m x m`` matrix in its Newton system:

* ``S`` is kept as its blocks; its Cholesky factor is block bidiagonal (no fill), so factoring,
  testing definiteness and solving cost ``O(sum n_p^3)`` per right-hand side block.
* The dual ``Y`` is kept only on the pattern (``Y_E``); it stands for its maximum-determinant
  positive definite completion ``Y^``, whose inverse is block tridiagonal and has the closed form
  ``sum_cliques E^T (Y_CC)^{-1} E - sum_separators E^T (Y_pp)^{-1} E``. ``Y_E`` is completable
  exactly when every clique block ``Y_CC`` is positive definite.
* The search direction is HKM's with ``Y^`` for ``Y`` (the completion method of Fukuda, Kojima,
  Murota and Nakata): its Schur matrix, one row per scalar variable,
  ``M_ij = tr(F_i Y^ F_j S^{-1}) = sum_ab lam_a lam_b (u_a^T Y^ u_b)(u_a^T S^{-1} u_b)``, is built
  one chunk of factor columns at a time from block-tridiagonal solves. The dual step needs only
  the pattern parts of ``Y^ dS S^{-1}`` and of Mehrotra's second-order term; from
  ``BAND_MIN_BLOCKS`` blocks on they come from selected inversions of block upper-triangular
  augmented matrices (:class:`~solvers.banded_tridiag.ProductBand`, ``O(sum n_p^3)``), with
  fewer blocks from dense ``S^{-1}`` rows. Mehrotra's predictor-corrector sets the centring.
* Step lengths: the distance to the boundary is estimated by a few Lanczos steps on
  ``L^{-1} dS L^{-T}`` (and per clique for ``Y_E``), then verified by a block Cholesky test
  (clique Cholesky tests for ``Y_E``) and shortened until it passes.
* The dual is also returned on its pattern, ``info["dual_banded"]`` (a
  :class:`~solvers.problem.BandedMatrix`): exact, ``O(sum n_p^2)`` memory, and any PSD
  completion of it is a dual matrix. ``dual`` holds the dense completion up to side
  ``DENSE_DUAL_MAX_SIDE``.

Start: a ``warm_start`` point ``x0`` that is strictly feasible (``F0 + A(x0)`` positive
definite, ``x0 > 0`` where nonnegative) gives a primal-feasible, perfectly centred start: ``S =
F0 + A(x0)``, ``Y = mu S^{-1}`` (its pattern part; the maximum-determinant completion of that is
``mu S^{-1}`` itself, whose inverse is banded), ``z = mu / x0``, with ``mu`` fitted to the dual
equation by least squares. Feasible iterates are also cheaper: without a primal residual the
Schur chunks need no row blocks above their own. Otherwise (no warm start, or one that is not
strictly feasible) the start is infeasible: ``x = 0``, ``S`` and ``Y`` multiples of the identity.

Problems without a partition or factors are accepted too (several blocks are merged into one
block-diagonal LMI; missing factors come from an eigendecomposition of each coefficient), so the
backend solves every problem of the standard form.

Options: ``tol`` (default 1e-8: relative gap and relative primal/dual infeasibility),
``max_iter`` (default 100), ``time_limit``, ``verbose``, ``block_target`` (merge consecutive
partition blocks up to this many rows; default 0, none), and ``callback(x, info) -> bool``
called after every iteration (``info["dual_banded"]`` is the current dual on its pattern);
returning True stops the solve with ``OPTIMAL_INACCURATE`` (native status
``STOPPED_BY_CALLBACK``), and ``schur_callback(iteration, H, info)`` called with every Newton
matrix ``H`` (``M_ij`` above plus ``z_i / x_i`` on the diagonal of nonnegative variables) before
it is scaled and factored (its buffer is reused: copy it to keep it); ``info["slack"]`` and
``info["dual"]`` hold the dense ``S`` and the completion ``Y^`` it was built from, formed when
first read.

The iteration itself (residuals, stopping tests, centring, steps, result) is the one both
structured methods share, :func:`solvers.ipm_core.iterate`; this module supplies its linear
algebra, :class:`BandedAlgebra`, built from :mod:`solvers.banded_structure` (the data),
:mod:`solvers.banded_schur` (the Schur matrix), :mod:`solvers.banded_tridiag` (factors and
bands), :mod:`solvers.banded_completion` (the dual), :mod:`solvers.banded_schur_factor` (its
mixed-precision factor) and :mod:`solvers.banded_newton` (directions and steps).

References
----------
M. Fukuda, M. Kojima, K. Murota, K. Nakata, "Exploiting sparsity in semidefinite programming via
matrix completion I: general framework", SIAM J. Optim. 11 (2000). K. Nakata, K. Fujisawa,
M. Fukuda, M. Kojima, K. Murota, "... II: implementation and numerical results", Math. Program.
95 (2003). L. Vandenberghe, M. S. Andersen, "Chordal graphs and semidefinite optimization",
Found. Trends Optim. 1 (2015). C. Helmberg, F. Rendl, R. Vanderbei, H. Wolkowicz, SIAM J. Optim.
6 (1996). S. Mehrotra, SIAM J. Optim. 2 (1992).
"""

from __future__ import annotations

import logging
import time

import numpy as np
from threadpoolctl import threadpool_info

from lipsdp_solvers import banded_schur_factor as schur_factor
from lipsdp_solvers.banded_completion import (
    LazyDual,
    banded_info,
    clique_factors,
    completion_inverse,
    dense_completion,
    split_dual,
)
from lipsdp_solvers.banded_newton import BandedNewton
from lipsdp_solvers.banded_schur_factor import SchurFactor
from lipsdp_solvers.banded_structure import BandedStructure, single_block
from lipsdp_solvers.banded_tridiag import (
    BlockFactor,
    Tri,
    block_cholesky,
    inverse_band,
    tri_dense,
    tri_inner,
    tri_lin,
)
from lipsdp_solvers.ipm_core import ConeAlgebra, run, warm_point
from lipsdp_solvers.ipm_linalg import centring_mu
from lipsdp_solvers.options import backend_options
from lipsdp_solvers.problem import LMIProblem
from lipsdp_solvers.result import SolverResult, Status, failed_result

__all__ = ["NAME", "BandedStructure", "solve"]

logger = logging.getLogger(__name__)

NAME = "banded-ipm"

_OPTIONS = ("callback", "block_target", "schur_callback")

#: The dense dual completion (``O(m^2)``) is returned up to this side; beyond it, only the
#: pattern part in ``info["dual_banded"]``.
DENSE_DUAL_MAX_SIDE = 3000

#: Consecutive partition blocks are merged while the merged block has at most this many rows
#: (option ``block_target``). Off by default: merging the blocks of 50-100x3-10 into blocks of
#: up to 150 or 400 rows made the solve 1.2x and 1.8x slower (more fill, same call count).
BLOCK_TARGET = 0

#: From this LMI side on, the Schur matrix's chunks run on every thread (measured: 35.2 s -> 30.9 s
#: on 100-100x20-10, 8.5 s -> 7.6 s on 100-100x10-10; none at side 350, where it cost a little).
THREADED_CHUNKS_MIN_SIDE = 1000


def _feasible_start(st: BandedStructure, c: np.ndarray, nn: np.ndarray,
                    x0: np.ndarray | None) -> tuple | None:
    """``(x, S, s, Y, z)`` of the centred start at a strictly feasible ``x0`` (module docstring),
    or None where ``x0`` is missing or not strictly feasible."""
    if x0 is None or np.any(x0[nn] <= 0):
        return None
    S = st.matrix_blocks(x0)
    fac = block_cholesky(*S)
    if fac is None:
        return None
    Zb = inverse_band(fac)
    mu = centring_mu(c, st.adjoint(Zb), nn, x0)
    if mu is None:
        return None
    Y = ([mu * 0.5 * (d + d.T) for d in Zb[0]], [None] + [mu * b for b in Zb[1][1:]])
    return x0.copy(), S, x0[nn].copy(), Y, mu / x0[nn]

def solve(problem: LMIProblem, options: dict, warm_start: object = None) -> SolverResult:
    """Solve ``problem`` by the chordal HKM method (see the module docstring)."""
    x0 = warm_point(warm_start)
    common, rest = backend_options(options, NAME, _OPTIONS)
    target = rest.get("block_target", BLOCK_TARGET)
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)) or target < 0:
        raise ValueError(f"options['block_target'] is {target!r}; expected an integer >= 0")
    t0 = time.perf_counter()
    try:
        st = BandedStructure.from_block(single_block(problem), target)
    except ValueError as exc:
        return failed_result(problem, Status.ERROR, solver=NAME, native_status="not_applicable",
                             message=str(exc))
    setup = time.perf_counter() - t0
    # One BLAS thread: the kernels are many mid-sized products, which gain nothing from a
    # second thread and lose badly when two libraries' thread pools alternate (measured:
    # 17 s on one thread, 36 s on two, for 100-200x5-10). Only the Schur factorisation
    # gets the machine's threads (see factor_schur).
    threads = max((i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"),
                  default=1)
    return run(problem, BandedAlgebra(problem, st, threads), common, rest, setup=setup, t0=t0,
               threads=1, x0=x0, step_fraction=None, predictor_fraction=0.995)


class BandedAlgebra(ConeAlgebra):
    """:class:`~solvers.ipm_core.ConeAlgebra` on the block-tridiagonal pattern: ``S`` and ``Y_E``
    as :data:`~solvers.banded_tridiag.Tri`, ``S`` factored by block Cholesky, ``Y_E`` by its
    cliques (standing for the completion ``Y^``).

    ``threads``: the BLAS threads the Schur factorisation (and, from
    ``THREADED_CHUNKS_MIN_SIDE`` on, its assembly) may use.
    """

    name = NAME

    def __init__(self, problem: LMIProblem, st: BandedStructure, threads: int = 1):
        self.problem, self.st, self.threads = problem, st, threads
        self.order = self.side = m = int(st.offsets[-1])
        # The first block's coefficients (the only one where the problem has one block).
        block = problem.blocks[0]
        self.col_norms = np.sqrt(np.asarray(block.F.multiply(block.F).sum(axis=0)).ravel())
        self.F0 = st.F0()
        self.f0_norm = np.sqrt(tri_inner(self.F0, self.F0))
        n = problem.n_vars
        # One Schur matrix, and one single-precision copy where it is factored so, for the whole
        # solve: fresh ones page-faulted in 300 MB per iteration at 50 x 100.
        self.bufs = {"M": np.empty((n, n))}
        if n >= schur_factor.MIXED_SCHUR_MIN:
            self.bufs["M32"] = np.empty((n, n), dtype=np.float32)
        self.workers = threads if m >= THREADED_CHUNKS_MIN_SIDE else 1

    def identity(self, value: float) -> Tri:
        return self.st.identity(value)

    def slack(self, x: np.ndarray) -> Tri:
        return self.st.matrix_blocks(x)

    def operator_norm(self, x: np.ndarray) -> float:
        Ax = self.st.matrix_blocks(x, with_F0=False)
        return np.sqrt(tri_inner(Ax, Ax))

    def adjoint(self, Y: Tri) -> np.ndarray:
        return self.st.adjoint(Y)

    def lin(self, a: float, A: Tri, b: float, B: Tri) -> Tri:
        return tri_lin(a, A, b, B)

    def inner(self, A: Tri, B: Tri) -> float:
        return tri_inner(A, B)

    def factor(self, S: Tri) -> BlockFactor | None:
        return block_cholesky(*S)

    def dual_factor(self, Y: Tri) -> list[np.ndarray] | None:
        return clique_factors(Y)

    def feasible_start(self, c: np.ndarray, nn: np.ndarray,
                       x0: np.ndarray | None) -> tuple | None:
        return _feasible_start(self.st, c, nn, x0)

    def newton(self, S, fac_S, Y, fac_Y, z, s, Rp, rp_lp, rd, aY, nn, hook) -> BandedNewton:
        st, n = self.st, rd.size
        Winv = completion_inverse(Y, fac_Y)
        facW = block_cholesky(*Winv) if Winv is not None else None
        if facW is None:
            raise np.linalg.LinAlgError("an iterate lost positive definiteness")
        M, aZ, aWRZ = st.schur(fac_S, facW, Rp, workers=self.workers, out=self.bufs.get("M"))
        M[nn, nn] += z / s
        if hook is not None:
            hook(M)
        dsc = 1.0 / np.sqrt(np.maximum(np.diag(M), np.finfo(float).tiny))
        M *= dsc[:, None]  # in place: the unscaled matrix is not needed again
        M *= dsc[None, :]
        M[np.diag_indices(n)] += 1e-14
        Gm = SchurFactor.of(M, self.threads, self.bufs.get("M32"))
        if Gm is None:
            raise np.linalg.LinAlgError("Schur matrix is not positive definite")
        return BandedNewton(st, fac_S, facW, fac_Y, S, Y, z, s, Rp, rp_lp, rd, aY, aZ, aWRZ,
                            Gm, dsc, nn, Winv, workers=self.workers)

    def iterate_info(self, Y: Tri) -> dict:
        return {"dual": LazyDual(lambda: dense_completion(self.st, Y)),
                **banded_info(self.problem, self.st, Y)}

    def schur_info(self, S: Tri, Y: Tri) -> dict:
        return {"slack": LazyDual(lambda: tri_dense(self.st.offsets, S)),
                "dual": LazyDual(lambda: dense_completion(self.st, Y))}

    def result_dual(self, Y: Tri) -> tuple[np.ndarray, ...]:
        if self.order > DENSE_DUAL_MAX_SIDE:
            return ()
        try:
            return split_dual(self.problem, dense_completion(self.st, Y))
        except np.linalg.LinAlgError:
            return ()

    def result_info(self, Y: Tri) -> dict:
        return banded_info(self.problem, self.st, Y)

    def certificate(self, Y: Tri, dobj: float) -> tuple[np.ndarray, ...] | None:
        try:
            return split_dual(self.problem, dense_completion(self.st, Y) / dobj)
        except np.linalg.LinAlgError:
            return None
