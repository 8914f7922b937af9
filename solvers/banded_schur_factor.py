"""The Cholesky factor of the scaled Schur matrix, in mixed precision where it is large."""

from __future__ import annotations

import logging

import numpy as np
from scipy.linalg import blas, lapack
from threadpoolctl import threadpool_limits

from lipsdp_solvers.ipm_linalg import trsm

__all__ = ["MIXED_MAX_REFINE", "MIXED_SCHUR_MIN", "THREADED_SCHUR_MIN", "SchurFactor"]

logger = logging.getLogger(__name__)

#: Schur matrices at least this large are factored with every BLAS thread.
THREADED_SCHUR_MIN = 1500

#: Schur matrices at least this large are factored in single precision, their solves refined
#: to double precision's accuracy against the matrix itself (half the factorisation's time).
MIXED_SCHUR_MIN = 2000

#: Refinement steps before a single-precision factor is given up for a double-precision one.
MIXED_MAX_REFINE = 10

class SchurFactor:
    """A Cholesky factorisation of the scaled Schur matrix ``Ms`` that solves ``Ms x = b``.

    Large matrices (``MIXED_SCHUR_MIN``) are factored in single precision, at half the cost,
    and each solve is refined in double precision (``r = b - Ms x``, ``x += solve(r)``) until
    the normwise backward error is at double precision's level (LAPACK's ``dsposv`` test,
    ``||r|| <= ||x|| ||Ms|| eps sqrt(n)``, with the Frobenius norm); a solve that does not get
    there within ``MIXED_MAX_REFINE`` steps, or a single-precision factorisation that fails,
    falls back on the double-precision factor. Smaller matrices are factored in double
    precision, in place."""

    def __init__(self, G: np.ndarray, M: np.ndarray | None, threads: int):
        self.G, self.M, self.threads = G, M, threads  # M: kept for refinement (mixed only)
        if M is not None:
            # The Frobenius norm bounds ||Ms|| and takes one pass, no temporary.
            self.tol = np.sqrt(M.shape[0]) * np.finfo(float).eps * float(np.linalg.norm(M))

    @classmethod
    def of(cls, Ms: np.ndarray, threads: int,
           work32: np.ndarray | None = None) -> SchurFactor | None:
        """``work32``: a float32 array of ``Ms``'s shape for the single-precision factor
        (overwritten; a fresh one when None)."""
        if Ms.shape[0] >= MIXED_SCHUR_MIN:
            if work32 is None:
                work32 = np.empty(Ms.shape, dtype=np.float32)
            np.copyto(work32, Ms, casting="same_kind")
            G32 = factor_schur(work32, threads)
            if G32 is not None:
                return cls(G32, Ms, threads)
        G = factor_schur(Ms, threads)
        return None if G is None else cls(G, None, threads)

    def _solve_factor(self, b: np.ndarray) -> np.ndarray:
        G = self.G
        y = blas.strsv(G, b.astype(np.float32), lower=1) if G.dtype == np.float32 else None
        if y is not None:
            return blas.strsv(G, y, lower=1, trans=1).astype(np.float64)
        return trsm(G, trsm(G, b[:, None]), trans=1).ravel()

    def solve(self, b: np.ndarray) -> np.ndarray:
        if self.M is None:
            return self._solve_factor(b)
        x = self._solve_factor(b)
        for _ in range(MIXED_MAX_REFINE):
            r = b - self.M @ x
            if np.linalg.norm(r) <= self.tol * np.linalg.norm(x):
                return x
            x += self._solve_factor(r)
        # Not refined to double precision's accuracy: factor in double precision (in place:
        # the matrix is not needed after this) and solve with that from now on.
        G = factor_schur(self.M, self.threads)
        if G is None:
            raise np.linalg.LinAlgError("Schur matrix is not positive definite")
        logger.info("single-precision Schur factor not accurate enough; double instead")
        self.G, self.M = G, None
        return self._solve_factor(b)

def factor_schur(Ms: np.ndarray, threads: int) -> np.ndarray | None:
    """Cholesky factor of the (scaled, symmetric) Schur matrix, computed in its memory (``Ms``
    is overwritten: its transpose is the Fortran-ordered matrix LAPACK works on, so no copy of
    an ``n x n`` array is made); a large one on ``threads`` BLAS threads (the caller's setting
    when the solve began)."""

    potrf = lapack.spotrf if Ms.dtype == np.float32 else lapack.dpotrf

    def factor():
        G, info = potrf(Ms.T, lower=1, clean=1, overwrite_a=1)
        return G if info == 0 else None

    if Ms.shape[0] < THREADED_SCHUR_MIN or threads <= 1:
        return factor()
    with threadpool_limits(limits=threads, user_api="blas"):
        return factor()
