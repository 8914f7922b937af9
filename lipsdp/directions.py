"""How the closed forms choose the directions ``Lambda_k`` (docs/math.md §3).

ECLipsE-Fast, the forward look-ahead members and the backward members of
:mod:`lipsdp.closed_form`: each returns directions (or a stage policy run inside the proof's
recursion); :mod:`lipsdp.closed_form` proves them and assembles the results.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import scipy.linalg as sla
import scipy.optimize as sopt
import scipy.sparse.linalg as ssla
from scipy.linalg import blas

from .lmi import lmi_geometry, schur_step
from .network import Network
from .proof import StagePolicy
from .rounding import _cholesky, _gram, _max_gram_eig, _solve_lower

logger = logging.getLogger(__name__)

#: A method returns (directions ``Lambda_k`` or a stage policy, its own published value or
#: ``None`` when that is the certified one, info).
MethodOutput = tuple["list[np.ndarray] | StagePolicy", "float | None", dict]

#: Symmetric matrices at least this large get their top eigenvalue from Lanczos (ARPACK) instead
#: of a dense tridiagonalisation (2-core machine: 13 ms vs 43 ms at n = 1000).
_LANCZOS_MIN = 500
_LANCZOS_TOL = 1e-12
#: Accuracy in log(lambda) of the one-dimensional searches; a direction only has to be good, not
#: exact: the bound is certified for whatever direction comes out.
_SEARCH_XTOL = 1e-4
#: Stand-in for +inf (value or slope) outside the feasible interval of a search.
_HUGE = 1e300


def _best_layer_gain(p: float, m: float) -> float:
    """``u*`` maximising ``u - m^2 u^2 / (1 + p u)`` over ``u > 0`` with ``1 + p u > 0``.

    With ``Lambda_k = lambda_k I`` and ``M_{k-1} >= mu I``, the pivot bound
    ``M_k >= mu / S^2 * (u - m^2 u^2 / (1 + p u)) I`` holds for ``u = lambda_k S^2 / mu`` and
    ``S = ||W_{k-1}||_2``; the stationary point solves ``p d u^2 + 2 d u - 1 = 0`` with
    ``d = m^2 - p = (beta - alpha)^2 / 4``.
    """
    d = m * m - p
    if d <= 0.0:  # alpha == beta: a linear layer, any large u works; 1e6 is close to the limit
        return 1e6
    if p == 0.0:
        return 1.0 / (2.0 * d)
    if m == 0.0:
        # alpha = -beta: the gain u increases up to the pivot's limit 1 + p u = 0 (the root
        # formula lands on it, a singular pivot); half way keeps X >= mu / 2.
        return 0.5 / abs(p)
    return (-d + np.sqrt(d * d + p * d)) / (p * d)


# --- symmetric eigenvalue helpers -----------------------------------------------------------


def _start_vector(n: int) -> np.ndarray:
    """A fixed pseudo-random Lanczos start (deterministic results; never orthogonal by design)."""
    return np.random.default_rng(n).standard_normal(n)


def _top_eigenvalue(A: np.ndarray) -> float:
    """``lambda_max`` of a symmetric matrix: Lanczos when large, else a dense subset solve."""
    n = A.shape[0]
    if n >= _LANCZOS_MIN:
        # Products through SciPy's BLAS (dsymv reads the lower triangle), not NumPy's: see the
        # note on thread pools in lipsdp/certify.py.
        Af = A.T if A.flags.c_contiguous else A
        op = ssla.LinearOperator(
            (n, n), matvec=lambda x: blas.dsymv(1.0, Af, x, lower=1), dtype=np.float64
        )
        try:
            val = ssla.eigsh(
                op, k=1, which="LA", tol=_LANCZOS_TOL, v0=_start_vector(n),
                return_eigenvectors=False,
            )
            return float(val[0])
        except ssla.ArpackNoConvergence:
            logger.debug("Lanczos did not converge at n=%d; using a dense solve", n)
    return float(sla.eigvalsh(A, subset_by_index=[n - 1, n - 1], check_finite=False)[0])


def _top_quadratic(
    B: np.ndarray,
    w: np.ndarray,
    extra: tuple[np.ndarray, float] | None = None,
    v0: np.ndarray | None = None,
) -> tuple[float, np.ndarray, float, np.ndarray | None]:
    """``lambda_max(A)``, ``A = B^T diag(w) B + c E^T E``, for ``B`` of shape ``(r, n)``, ``w > 0``.

    ``extra = (E, c)`` is optional. Returns ``(value, gw, ge, vec)``: by Hellmann-Feynman,
    ``d value / d w_i = gw_i = (B u)_i^2`` and ``d value / d c = ge = ||E u||^2`` for the top unit
    eigenvector ``u``; ``vec`` warm-starts the next Lanczos call (``None`` on the dense path).
    Without ``extra`` the smaller side is used: ``diag(sqrt w) B B^T diag(sqrt w)`` has the same
    nonzero spectrum, and with its top eigenvector ``y``, ``(B u)_i^2 = value y_i^2 / w_i``.
    """
    # SciPy's BLAS only (see the note on thread pools in lipsdp/certify.py); B and E are best
    # passed in Fortran order (no copies inside the Lanczos loop).
    r, n = B.shape
    small_side = extra is None and r < n
    size = r if small_side else n
    if small_side:
        C = np.sqrt(w)[:, None] * B

        def dense() -> np.ndarray:
            return _gram(C.T)

        def matvec(x: np.ndarray) -> np.ndarray:
            return blas.dgemv(1.0, C, blas.dgemv(1.0, C, x, trans=1))

    else:

        def dense() -> np.ndarray:
            A = _gram(np.sqrt(w)[:, None] * B)
            if extra is not None:
                A = A + extra[1] * _gram(extra[0])
            return A

        def matvec(x: np.ndarray) -> np.ndarray:
            y = blas.dgemv(1.0, B, w * blas.dgemv(1.0, B, x), trans=1)
            if extra is not None:
                E = extra[0]
                y = y + extra[1] * blas.dgemv(1.0, E, blas.dgemv(1.0, E, x), trans=1)
            return y

    vec = None
    if size < _LANCZOS_MIN:
        vals, vecs = sla.eigh(dense(), subset_by_index=[size - 1, size - 1], check_finite=False)
    else:
        op = ssla.LinearOperator((size, size), matvec=matvec, dtype=np.float64)
        if v0 is None or v0.shape != (size,):
            v0 = _start_vector(size)
        try:
            vals, vecs = ssla.eigsh(op, k=1, which="LA", tol=1e-9, v0=v0)
        except ssla.ArpackNoConvergence as exc:  # keep the best Ritz pair found
            if exc.eigenvalues.size == 0:
                raise
            vals, vecs = exc.eigenvalues, exc.eigenvectors
        vec = vecs[:, 0]
    value, u = float(vals[0]), vecs[:, 0]
    if small_side:
        return value, value * u * u / w, 0.0, vec
    Bu = blas.dgemv(1.0, B, u)
    ge = float(np.sum(blas.dgemv(1.0, extra[0], u) ** 2)) if extra is not None else 0.0
    return value, Bu * Bu, ge, vec


def _minimise_convex(
    fg: Callable[[float], tuple[float, float]], t_ref: float, lo: float, hi: float
) -> float:
    """Minimiser over ``[lo, hi]`` of a convex ``f(lambda)``, ``t = log lambda``, from its
    (sub)derivative ``fg(t) = (f, df/dt)``: bracket the sign change of ``df/dt`` outwards from
    ``t_ref``, then Brent's root finder on it. Never returns a point worse than ``t_ref``."""
    f_ref, g_ref = fg(t_ref)
    if not np.isfinite(f_ref) or g_ref == 0.0:
        return t_ref
    step = -1.0 if g_ref > 0 else 1.0
    a, ga = t_ref, g_ref
    b = t_ref
    while True:
        b = min(max(a + step, lo), hi)
        _, gb = fg(b)
        if np.sign(gb) != np.sign(ga) or b in (lo, hi):
            break
        a, ga = b, gb
        step *= 2.0
    if np.sign(gb) == np.sign(ga):
        t = b  # minimum at the end of the interval
    else:
        t = sopt.brentq(lambda x: fg(x)[1], min(a, b), max(a, b), xtol=_SEARCH_XTOL)
    return t if fg(t)[0] < f_ref else t_ref


# --- ECLipsE-Fast ---------------------------------------------------------------------------


def _check_eclipse_slopes(net: Network) -> None:
    reason = _eclipse_unsupported(net)
    if reason:
        raise ValueError(reason)


def _eclipse_lambda(K: np.ndarray, m: float, k: int) -> float:
    kmax = _top_eigenvalue(K)
    if kmax <= 0.0:
        raise ValueError(f"weights[{k}] is zero; the network is constant (L = 0)")
    return 1.0 / (2.0 * m * m * kmax)


def _eclipse_fast(net: Network) -> MethodOutput:
    """ECLipsE-Fast (Xu & Sivaranjani 2024) as published: ``Lambda_k = lambda_k I`` with
    ``lambda_k = 1 / (2 m_k^2 lambda_max(W_{k-1} M_{k-1}^{-1} W_{k-1}^T))``; the ``p_k`` term is
    dropped from the pivot, as in the paper.

    When every ``p_k = 0`` the published recursion *is* the certification recursion, so it runs
    once, as a stage policy inside it (one Cholesky and one top eigenvalue per layer). Otherwise
    the published recursion runs on its own and its directions are certified afterwards.
    """
    _check_eclipse_slopes(net)
    m = net.m
    if np.all(net.p == 0.0):

        def choose(k: int, K: np.ndarray) -> np.ndarray:
            return np.full(K.shape[0], _eclipse_lambda(K, float(m[k]), k))

        return choose, None, {}
    lams = []
    M = G = None  # M_{k-1} and its Cholesky factor; None is the identity
    for k in range(net.n_hidden):
        W = net.weights[k]
        V = W.T if G is None else _solve_lower(G, W.T)
        K = _gram(V)  # W_{k-1} M_{k-1}^{-1} W_{k-1}^T
        lam = np.full(K.shape[0], _eclipse_lambda(K, float(m[k]), k))
        lams.append(lam)
        # The published M_k: the p term dropped from the pivot (p = 0 in the step).
        M, _ = schur_step(M, W, lam, 0.0, float(m[k]), factor=G)
        G = _cholesky(M)
        if G is None:
            raise ValueError(f"ECLipsE-Fast's published pivot M_{k + 1} is not positive definite")
    Wl = net.weights[-1]
    Y = Wl.T if G is None else _solve_lower(G, Wl.T)
    published = float(np.sqrt(_max_gram_eig(Y)))
    return lams, published, {}


# --- forward look-ahead family --------------------------------------------------------------


def _jacobi(diag: np.ndarray, power: float) -> np.ndarray:
    """``diag^-power`` with zero entries (constant neurons) treated as the largest entry."""
    top = float(np.max(diag))
    return np.maximum(diag, 1e-12 * top if top > 0 else 1.0) ** -power


def _scalings(K: np.ndarray, kind: str) -> list[tuple[str, np.ndarray]]:
    d = np.diag(K)
    ident = ("identity", np.ones(K.shape[0]))
    if kind == "identity":
        return [ident]
    if kind == "jacobi":
        return [("jacobi", _jacobi(d, 1.0))]
    return [ident, ("jacobi-sqrt", _jacobi(d, 0.5)), ("jacobi", _jacobi(d, 1.0))]


def _lookahead_stage(
    K: np.ndarray, D: np.ndarray, W_next: np.ndarray, m: float, p: float, k: int
) -> tuple[float, float]:
    """Best ``lambda`` for ``Lambda_k = lambda D``: minimises
    ``lambda_max(W_next M_k(lambda)^{-1} W_next^T)``.

    With ``Kt = D^{1/2} K D^{1/2} = U diag(mu) U^T``, docs/math.md §3's pivot step gives
    ``M_k = D^{1/2} U diag(g) U^T D^{1/2}`` with ``g = lam - m^2 lam^2 mu / (1 + p lam mu)``
    (the ``p`` term through ``W (M + p W^T Lambda W)^{-1} W^T = K (I + p Lambda K)^{-1}``), so
    the look-ahead is ``lambda_max(B diag(1/g) B^T)`` with ``B = W_next D^{-1/2} U``: convex in
    ``lam`` (each ``1/g_i`` is), searched on ``log lam``. Returns ``(value, lam)``.
    """
    s = np.sqrt(D)
    mu, U = sla.eigh(K * np.outer(s, s), check_finite=False, driver="evd")
    mu = np.maximum(mu, 0.0)
    if mu[-1] <= 0.0:
        raise ValueError(f"weights[{k}] is zero; the network is constant (L = 0)")
    Bt = blas.dgemm(1.0, U, W_next / s, trans_a=1, trans_b=1)  # (W_next D^{-1/2} U)^T
    lam_ref = _best_layer_gain(p, m) / mu[-1]  # ECLipsE-Fast's criterion, with the p term
    d = m * m - p
    lam_hi = 1.0 / (d * mu[-1]) if d > 0 else 1e6 * lam_ref
    state: dict[str, np.ndarray | None] = {"v": None}

    def fg(t: float) -> tuple[float, float]:
        lam = float(np.exp(t))
        den = 1.0 + p * lam * mu
        g = lam - m * m * lam * lam * mu / den
        if np.any(den <= 0.0) or np.any(g <= 0.0):
            return _HUGE, _HUGE
        val, gw, _, state["v"] = _top_quadratic(Bt, 1.0 / g, v0=state["v"])
        dg = 1.0 - m * m * lam * mu * (2.0 + p * lam * mu) / (den * den)  # dg/dlam
        return val, float(np.sum(gw * (-dg / (g * g)))) * lam

    t = _minimise_convex(fg, np.log(lam_ref), np.log(lam_ref) - 12.0,
                         np.log(lam_hi) - 1e-12)
    return fg(t)[0], float(np.exp(t))


def _lookahead_policy(net: Network, kind: str, record: list) -> StagePolicy:
    """Stage policy choosing ``Lambda_k = lambda_k D_k`` by look-ahead (see module docstring)."""

    def choose(k: int, K: np.ndarray) -> np.ndarray:
        m, p = float(net.m[k]), float(net.p[k])
        best = None
        for name, D in _scalings(K, kind):
            value, lam = _lookahead_stage(K, D, net.weights[k + 1], m, p, k)
            if best is None or value < best[0]:
                best = (value, name, lam * D)
        record.append(best[1])
        return best[2]

    return choose


def _lookahead_method(kind: str) -> Callable[[Network], MethodOutput]:
    def method(net: Network) -> MethodOutput:
        record: list[str] = []
        info = {"scalings": record} if kind == "mix" else {}
        return _lookahead_policy(net, kind, record), None, info

    method.__doc__ = f"Forward look-ahead with {kind} scaling (module docstring)."
    return method


# --- backward family ------------------------------------------------------------------------


def _backward(net: Network, lookahead: bool, jacobi: bool) -> MethodOutput:
    """Eliminate the blocks of docs/math.md §2 from the output: ``P_l = 2 T_l - W_l^T W_l`` and
    ``P_{k-1} = 2 T_{k-1} - W_{k-1}^T Q_k W_{k-1}`` with ``Q_k = 4 m_k^2 T_k P_k^{-1} T_k -
    2 p_k T_k``, ending in ``rho = lambda_max(W_0^T Q_1 W_0)``; ``T_k = tau_k D_k``.

    ``H_k`` denotes the matrix ``T_k`` must dominate (``2 T_k > H_k``). Greedy: ``tau_k``
    minimises ``lambda_max(Q_k)``, i.e. ``tau = x h_max`` with ``4 d x^2 - 4 d x - p = 0`` (for
    ReLU ``tau = h_max``), the mirror image of ECLipsE-Fast. Look-ahead: ``tau_k`` minimises
    ``lambda_max(H_{k-1}) = lambda_max(W_{k-1}^T Q_k W_{k-1})`` (at the first layer that is
    ``rho`` itself), a convex one-dimensional problem once ``H_k`` is eigendecomposed.
    """
    l = net.n_hidden
    Ws = list(lmi_geometry(net).weights)  # W_0 compressed (docs/math.md §8; same bound)
    H = _gram(Ws[l])
    taus_D: list[np.ndarray] = [np.zeros(0)] * l
    for k in range(l, 0, -1):
        W = Ws[k - 1]  # (n_k, n_{k-1})
        m, p = float(net.m[k - 1]), float(net.p[k - 1])
        H = 0.5 * (H + H.T)
        D = (1.0 / _jacobi(np.diag(H), 1.0)) if jacobi else np.ones(H.shape[0])
        s = np.sqrt(D)
        Ht = H / np.outer(s, s)
        d = m * m - p
        if lookahead:
            h, U = sla.eigh(Ht, check_finite=False, driver="evd")
            Bq = blas.dgemm(1.0, U, s[:, None] * W, trans_a=1)  # (n_k, n_{k-1})
            extra_E = np.asfortranarray(s[:, None] * W) if p != 0.0 else None
            h_max = float(h[-1])
            tau_lo = 0.5 * h_max if h_max > 0 else 0.0
            x = 0.5 * (1.0 + np.sqrt(1.0 + p / d)) if d > 0 else 1.0
            scale = max(float(np.max(np.abs(h))), np.finfo(float).tiny)
            tau_ref = x * h_max if h_max > 0 else scale
            state: dict[str, np.ndarray | None] = {"v": None}

            def fg(t: float, h=h, Bq=Bq, E=extra_E, m=m, p=p, tau_lo=tau_lo,
                   state=state) -> tuple[float, float]:
                tau = float(np.exp(t))
                gap = 2.0 * tau - h
                if tau <= tau_lo or np.any(gap <= 0.0):
                    return _HUGE, -_HUGE  # below the feasible interval: go right
                q = 4.0 * m * m * tau * tau / gap
                extra = None if E is None else (E, -2.0 * p * tau)
                val, gw, ge, state["v"] = _top_quadratic(Bq, q, extra=extra, v0=state["v"])
                dq = 8.0 * m * m * tau * (tau - h) / (gap * gap)
                return val, tau * (float(np.sum(gw * dq)) - 2.0 * p * ge)

            lo = np.log(tau_lo) + 1e-12 if tau_lo > 0 else np.log(tau_ref) - 12.0
            t = (_minimise_convex(fg, np.log(tau_ref), lo, np.log(tau_ref) + 12.0)
                 if m != 0.0 else np.log(tau_ref))
            tau = float(np.exp(t))
            # m = 0 (alpha = -beta): no coupling, nothing passed on (the proof still needs the
            # pivot 2 T_k - H_k, which it checks).
            q = 4.0 * m * m * tau * tau / (2.0 * tau - h) if m != 0.0 else np.zeros_like(h)
            H = _gram(np.sqrt(q)[:, None] * Bq)
        else:
            h_max = _top_eigenvalue(Ht)
            h_ref = h_max if h_max > 0 else max(float(np.max(np.abs(np.diag(Ht)))), 1e-300)
            x = 0.5 * (1.0 + np.sqrt(1.0 + p / d)) if d > 0 else 1.0
            tau = x * h_ref
            P = 2.0 * tau * np.diag(D) - H
            G = _cholesky(P)
            if G is None:
                raise ValueError(f"backward recursion: 2 T_{k} - H_{k} is not positive definite")
            H = (4.0 * m * m) * _gram(_solve_lower(G, (tau * D)[:, None] * W))
        if p != 0.0:
            H = H - (2.0 * p * tau) * _gram(s[:, None] * W)
        taus_D[k - 1] = tau * D
    rho = _top_eigenvalue(0.5 * (H + H.T))
    if not rho > 0.0:
        raise ValueError("the network is constant (L = 0): the backward recursion gives rho = 0")
    return [2.0 * t / rho for t in taus_D], None, {}


def _backward_method(lookahead: bool, jacobi: bool) -> Callable[[Network], MethodOutput]:
    def method(net: Network) -> MethodOutput:
        return _backward(net, lookahead, jacobi)

    return method


def _eclipse_unsupported(net: Network) -> str:
    for k, (a, b) in enumerate(net.slopes):
        if a * b < 0:
            return (f"slopes[{k}] is ({a}, {b}); ECLipsE-Fast needs alpha * beta >= 0 "
                    "(it drops the alpha*beta term, which is only valid when that term is PSD)")
        if a + b == 0:
            return f"slopes[{k}] is ({a}, {b}); ECLipsE-Fast needs alpha + beta > 0"
    return ""
