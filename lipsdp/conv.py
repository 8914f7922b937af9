"""2-D convolutional layers: the operator, its unrolled matrix and bounds on its norm
(docs/conv.md).

:class:`Conv2d` is the linear map of ``torch.nn.Conv2d`` without bias (cross-correlation, zero or
circular padding, a stride, dilation 1) acting on a ``(c, h, w)`` image flattened in C order
(channel, row, column), as ``torch.nn.Flatten`` does. It is matrix-free (:meth:`Conv2d.apply`,
:meth:`Conv2d.adjoint`) and unrolls to a scipy CSR matrix (:meth:`Conv2d.to_sparse`).

:func:`layer_norm_bound` bounds ``||A||_2`` of one layer by three methods:

``"lipconv"``
    Araujo et al. 2021: the supremum over all frequencies of the spectral norm of the
    matrix-valued symbol, evaluated on a grid and corrected by a Bernstein inequality for the
    grid's gaps (docs/conv.md §3); ``variant="published"`` gives their multi-channel bound
    ``sqrt(sum_i sup_w ||F_i(w)||^2)`` over the rows ``F_i`` of the symbol instead (looser; both
    are always in ``info``).
``"gram"``
    Delattre et al. 2023: Gram iteration on each frequency of the circulant symbol on a torus
    (exact for circular padding; for zero padding, the torus on which the layer is a compression,
    docs/conv.md §4), with rounding accounted for (§5).
``"exact"``
    Lanczos (ARPACK ``svds``) or power iteration on ``A`` and ``A^T``, matrix-free: an estimate of
    ``||A||_2`` and a lower bound ``||A v|| / ||v||`` proved for the final ``v``.

:func:`unroll` turns a chain of layers into the weight matrices of :class:`lipsdp.Network` (the
"unrolled route" for small images) and :func:`product_bound` is the naive bound of such a chain.
"""

from __future__ import annotations

import itertools
import logging
import math
import numbers
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as ssla

from .composition import product_up, proved_norm
from .network import _normalise_slopes, real_array
from .rounding import UNIT_ROUNDOFF, _gamma

__all__ = [
    "LAYER_NORM_METHODS",
    "Conv2d",
    "LayerNormResult",
    "layer_norm_bound",
    "product_bound",
    "unroll",
]

logger = logging.getLogger(__name__)

PADDING_MODES = ("zeros", "circular")


# --- the layer -------------------------------------------------------------------------------


def _positive_int(v: object, name: str, minimum: int) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{name} is {v!r}; expected an integer >= {minimum}")
    if int(v) < minimum:
        raise ValueError(f"{name} is {v}; expected an integer >= {minimum}")
    return int(v)


def _pair(v: object, name: str, minimum: int) -> tuple[int, int]:
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name} has {len(v)} entries; expected an integer or a pair")
        return (_positive_int(v[0], f"{name}[0]", minimum),
                _positive_int(v[1], f"{name}[1]", minimum))
    x = _positive_int(v, name, minimum)
    return x, x


@dataclass(frozen=True, eq=False)
class Conv2d:
    """A 2-D convolution ``x -> K * x`` as ``torch.nn.Conv2d(bias=False, dilation=1)`` computes it.

    ``y[o, i, j] = sum_{c, a, b} K[o, c, a, b] xp[c, s_h i + a, s_w j + b]``, where ``xp`` is the
    input padded by ``p_h`` rows and ``p_w`` columns on each side with zeros or (``"circular"``)
    by wrapping around, exactly torch's ``padding_mode='circular'``. Inputs and outputs are
    flattened in C order ``(channel, row, column)``.

    Parameters
    ----------
    kernel : array_like, shape (c_out, c_in, kh, kw)
        The weight, as ``torch.nn.Conv2d.weight``. Copied as a read-only float64 array.
    in_shape : (int, int, int)
        ``(c_in, h, w)`` of the input image.
    stride : int or (int, int), default 1
    padding : int or (int, int), default 0
    padding_mode : {"zeros", "circular"}, default "zeros"
        Circular padding needs ``padding <= h`` (resp. ``w``), as torch requires.

    Raises
    ------
    TypeError
        A kernel that is not a real numeric array; a non-integer stride, padding or shape.
    ValueError
        A kernel that is not 4-D, empty or non-finite; ``c_in`` not matching ``in_shape``; a
        stride below 1 or a negative padding; an empty output; circular padding wider than the
        image; an unknown padding mode.

    Examples
    --------
    >>> import numpy as np
    >>> from lipsdp.conv import Conv2d
    >>> layer = Conv2d(np.ones((2, 1, 3, 3)), in_shape=(1, 5, 5), padding=1)
    >>> layer.out_shape
    (2, 5, 5)
    >>> layer.to_sparse().shape
    (50, 25)
    """

    kernel: np.ndarray
    in_shape: tuple[int, int, int]
    stride: tuple[int, int] | int = 1
    padding: tuple[int, int] | int = 0
    padding_mode: str = "zeros"

    def __post_init__(self) -> None:
        K = self.kernel
        if not (isinstance(K, (np.ndarray, list, tuple)) or hasattr(K, "__array__")):
            raise TypeError(f"kernel is {type(K).__name__}; expected a 4-D array "
                            "(c_out, c_in, kh, kw)")
        A = real_array(K, "kernel")
        if A.ndim != 4:
            raise ValueError(f"kernel has {A.ndim} dimension(s) (shape {A.shape}); expected 4-D "
                             "(c_out, c_in, kh, kw)")
        if 0 in A.shape:
            raise ValueError(f"kernel has shape {A.shape}; expected no empty dimension")
        A = np.array(A, dtype=np.float64, copy=True)
        if not np.all(np.isfinite(A)):
            bad = int(A.size - np.count_nonzero(np.isfinite(A)))
            raise ValueError(f"kernel has {bad} non-finite entries (nan or inf); expected finite")
        A.setflags(write=False)

        shape = self.in_shape
        if isinstance(shape, (str, bytes)) or not isinstance(shape, (Sequence, np.ndarray)):
            raise TypeError(f"in_shape is {shape!r}; expected (c_in, h, w)")
        if len(shape) != 3:
            raise ValueError(f"in_shape has {len(shape)} entries; expected (c_in, h, w)")
        c, h, w = (_positive_int(v, f"in_shape[{k}]", 1) for k, v in enumerate(shape))
        if c != A.shape[1]:
            raise ValueError(f"kernel has shape {A.shape}: {A.shape[1]} input channels; expected "
                             f"{c} to match in_shape {(c, h, w)}")
        stride = _pair(self.stride, "stride", 1)
        padding = _pair(self.padding, "padding", 0)
        if self.padding_mode not in PADDING_MODES:
            raise ValueError(f"padding_mode is {self.padding_mode!r}; expected one of "
                             f"{PADDING_MODES}")
        if self.padding_mode == "circular" and (padding[0] > h or padding[1] > w):
            raise ValueError(f"circular padding {padding} is wider than the image ({h}, {w}); "
                             "expected padding <= h and <= w (as torch requires)")
        kh, kw = A.shape[2:]
        if h + 2 * padding[0] < kh or w + 2 * padding[1] < kw:
            raise ValueError(f"kernel {kh}x{kw} is larger than the padded input "
                             f"({h + 2 * padding[0]}, {w + 2 * padding[1]}); expected an output "
                             "of positive size")
        object.__setattr__(self, "kernel", A)
        object.__setattr__(self, "in_shape", (c, h, w))
        object.__setattr__(self, "stride", stride)
        object.__setattr__(self, "padding", padding)

    # --- shapes ---

    @property
    def out_shape(self) -> tuple[int, int, int]:
        """``(c_out, h_out, w_out)``, ``h_out = (h + 2 p_h - kh) // s_h + 1`` (as torch)."""
        _, h, w = self.in_shape
        (sh, sw), (ph, pw) = self.stride, self.padding
        kh, kw = self.kernel.shape[2:]
        return (self.kernel.shape[0], (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1)

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_out, n_in)``: the shape of the unrolled matrix."""
        return (math.prod(self.out_shape), math.prod(self.in_shape))

    # --- the operator ---

    def _as_images(self, x: np.ndarray, shape: tuple[int, ...], n: int, name: str):
        """``(images, flat)``: ``x`` as ``(..., *shape)`` and whether it came flattened."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim >= 3 and x.shape[-3:] == shape:
            return x, False
        if x.ndim >= 1 and x.shape[-1] == n:
            return x.reshape((*x.shape[:-1], *shape)), True
        raise ValueError(f"{name} has shape {x.shape}; expected (..., {n}) or (..., "
                         f"{', '.join(map(str, shape))})")

    def _pad(self, x: np.ndarray) -> np.ndarray:
        ph, pw = self.padding
        widths = [(0, 0)] * (x.ndim - 2) + [(ph, ph), (pw, pw)]
        if self.padding_mode == "circular":
            return np.pad(x, widths, mode="wrap")
        return np.pad(x, widths)

    def apply(self, x: np.ndarray, kernel: np.ndarray | None = None) -> np.ndarray:
        """``A x`` for ``x`` of shape ``(..., c_in, h, w)`` or ``(..., c_in*h*w)`` (same layout
        out). ``kernel`` replaces the layer's (same shape), e.g. ``abs(kernel)`` for ``|A|``."""
        K = self.kernel if kernel is None else kernel
        X, flat = self._as_images(x, self.in_shape, self.shape[1], "x")
        xp = self._pad(X)
        co, ho, wo = self.out_shape
        (sh, sw) = self.stride
        y = np.zeros((*X.shape[:-3], co, ho, wo))
        for a in range(K.shape[2]):
            for b in range(K.shape[3]):
                patch = xp[..., :, a:a + sh * (ho - 1) + 1:sh, b:b + sw * (wo - 1) + 1:sw]
                y += np.einsum("oc,...chw->...ohw", K[:, :, a, b], patch)
        return y.reshape((*y.shape[:-3], -1)) if flat else y

    def adjoint(self, y: np.ndarray) -> np.ndarray:
        """``A^T y`` for ``y`` of shape ``(..., c_out, h_out, w_out)`` or flattened."""
        K = self.kernel
        Y, flat = self._as_images(y, self.out_shape, self.shape[0], "y")
        c, h, w = self.in_shape
        (sh, sw), (ph, pw) = self.stride, self.padding
        _, ho, wo = self.out_shape
        g = np.zeros((*Y.shape[:-3], c, h + 2 * ph, w + 2 * pw))
        for a in range(K.shape[2]):
            for b in range(K.shape[3]):
                g[..., :, a:a + sh * (ho - 1) + 1:sh, b:b + sw * (wo - 1) + 1:sw] += np.einsum(
                    "oc,...ohw->...chw", K[:, :, a, b], Y)
        if self.padding_mode == "zeros":
            x = g[..., ph:ph + h, pw:pw + w]
        else:  # fold the wrapped rows and columns back onto the torus
            rows = np.zeros((*g.shape[:-2], h, w + 2 * pw))
            for r, t in enumerate((np.arange(h + 2 * ph) - ph) % h):
                rows[..., t, :] += g[..., r, :]
            x = np.zeros((*g.shape[:-2], h, w))
            for q, t in enumerate((np.arange(w + 2 * pw) - pw) % w):
                x[..., :, t] += rows[..., :, q]
        x = np.ascontiguousarray(x)
        return x.reshape((*x.shape[:-3], -1)) if flat else x

    def to_sparse(self) -> sp.csr_matrix:
        """The unrolled matrix, CSR of shape ``(c_out*h_out*w_out, c_in*h*w)`` (C order).
        Taps that wrap onto the same input entry (circular padding of a small image) are summed."""
        co, ho, wo = self.out_shape
        c, h, w = self.in_shape
        (sh, sw), (ph, pw) = self.stride, self.padding
        kh, kw = self.kernel.shape[2:]
        o, i, j, ci, a, b = np.meshgrid(np.arange(co), np.arange(ho), np.arange(wo),
                                        np.arange(c), np.arange(kh), np.arange(kw),
                                        indexing="ij", sparse=True)
        r = sh * i + a - ph
        q = sw * j + b - pw
        vals = np.broadcast_to(self.kernel[o, ci, a, b], np.broadcast_shapes(
            o.shape, i.shape, j.shape, ci.shape, a.shape, b.shape))
        if self.padding_mode == "circular":
            r, q, keep = r % h, q % w, None
        else:
            keep = (r >= 0) & (r < h) & (q >= 0) & (q < w)
        row = (o * ho + i) * wo + j
        col = (ci * h + r) * w + q
        row, col = np.broadcast_arrays(row, col, vals)[:2]
        if keep is not None:
            keep = np.broadcast_to(keep, vals.shape)
            row, col, vals = row[keep], col[keep], vals[keep]
        M = sp.coo_matrix((np.ravel(vals), (np.ravel(row), np.ravel(col))),
                          shape=self.shape).tocsr()
        M.eliminate_zeros()
        M.sort_indices()
        return M

    def to_dense(self) -> np.ndarray:
        """The unrolled matrix as a dense array (only for small layers)."""
        return self.to_sparse().toarray()


# --- unrolled chains -------------------------------------------------------------------------


def _layer_matrix(layer: object, k: int) -> np.ndarray | sp.csr_matrix:
    if isinstance(layer, Conv2d):
        return layer.to_sparse()
    if sp.issparse(layer):
        return sp.csr_matrix(layer, dtype=np.float64)
    if isinstance(layer, (np.ndarray, list, tuple)) or hasattr(layer, "__array__"):
        A = np.asarray(layer)
        if A.dtype == object or not np.issubdtype(A.dtype, np.number) or np.iscomplexobj(A):
            raise TypeError(f"layers[{k}] has dtype {A.dtype}; expected a real numeric matrix")
        if A.ndim != 2:
            raise ValueError(f"layers[{k}] has shape {A.shape}; expected a Conv2d or a 2-D "
                             "weight matrix")
        return np.array(A, dtype=np.float64)
    raise TypeError(f"layers[{k}] is {type(layer).__name__}; expected a Conv2d or a 2-D matrix")


def _chain(layers: Sequence[object]) -> list[np.ndarray | sp.csr_matrix]:
    if isinstance(layers, (Conv2d, np.ndarray)) or not isinstance(layers, Sequence):
        raise TypeError(f"layers is {type(layers).__name__}; expected a list of Conv2d layers "
                        "and matrices")
    if len(layers) == 0:
        raise ValueError("layers is empty; expected at least one layer")
    mats = [_layer_matrix(layer, k) for k, layer in enumerate(layers)]
    for k in range(1, len(mats)):
        n_prev, n_in = mats[k - 1].shape[0], mats[k].shape[1]
        if n_prev != n_in:
            what = (f"in_shape {layers[k].in_shape} ({n_in} inputs)"
                    if isinstance(layers[k], Conv2d) else f"{n_in} columns")
            raise ValueError(f"layers[{k}] has {what}; expected {n_prev} inputs to match the "
                             f"{n_prev} outputs of layers[{k - 1}] (flattened in C order)")
    return mats


def unroll(layers: Sequence[object], sparse: bool = False) -> list:
    """The weight matrices of a chain of :class:`Conv2d` layers and dense matrices.

    A flatten between a convolution and a dense layer is implicit (C order, as ``nn.Flatten``);
    a dense layer followed by a convolution reads its output as the convolution's ``in_shape``.

    Parameters
    ----------
    layers : sequence of Conv2d or 2-D array_like
    sparse : bool, default False
        Return scipy CSR matrices. :class:`lipsdp.Network` takes dense arrays only today, so the
        default densifies at that boundary (``n_out * n_in`` floats per layer: small images only).

    Returns
    -------
    list of ndarray (or csr_matrix)

    Raises
    ------
    TypeError, ValueError
        A layer of another kind; sizes that do not chain (named by position).

    Examples
    --------
    >>> import numpy as np, lipsdp
    >>> from lipsdp.conv import Conv2d, unroll
    >>> conv = Conv2d(np.ones((2, 1, 3, 3)), in_shape=(1, 4, 4), padding=1)
    >>> net = lipsdp.Network(unroll([conv, np.ones((3, 32))]))
    >>> net.widths
    (16, 32, 3)
    """
    mats = _chain(layers)
    if sparse:
        return [sp.csr_matrix(M) for M in mats]
    return [M.toarray() if sp.issparse(M) else M for M in mats]


# --- layer norms: the symbol on a torus (docs/conv.md §2-§4) -------------------------------


@dataclass(frozen=True)
class LayerNormResult:
    """The result of :func:`layer_norm_bound`.

    Attributes
    ----------
    value : float
        An upper bound on ``||A||_2`` (``"lipconv"``, ``"gram"``), or the estimate (``"exact"``).
    lower_bound : float
        A lower bound on ``||A||_2`` proved for the method's final vector (``"exact"``); ``nan``
        where the method gives none.
    upper_bound : float
        ``value`` for the bounding methods; for ``"exact"``, ``nan`` (no a-posteriori bound:
        use ``"gram"``).
    exact : bool
        Whether the method's quantity equals ``||A||_2`` in exact arithmetic in the limit of
        iterations (``"gram"`` on a circular layer whose output covers the torus once,
        ``"exact"``); False where it is a bound by compression or subsampling.
    iterations : int
    time : float
        Seconds.
    method : str
    info : dict
        Method-specific details (torus, grid, the grid correction, rounding margins ...).
    """

    value: float
    lower_bound: float
    upper_bound: float
    exact: bool
    iterations: int
    time: float
    method: str
    info: dict = field(default_factory=dict)


@dataclass(frozen=True)
class _Torus:
    """How a layer sits in a circulant (docs/conv.md §4): ``||A|| <= factor * ||C||`` where ``C``
    is the stride-``stride`` circular convolution of the layer's kernel on the ``size`` torus (all
    ``size/stride`` output positions); equality if ``exact``."""

    size: tuple[int, int]
    stride: tuple[int, int]
    factor: float
    exact: bool


def _torus_1d(n: int, n_out: int, s: int, p: int, circular: bool) -> tuple[int, int, int, bool]:
    """``(torus size, stride used, row multiplicity, exact)`` along one axis."""
    if not circular:
        # No tap wraps if N >= n + p; distinct output rows of the strided circulant if N >= s n_out.
        N = max(n + p, s * n_out)
        N = -(-N // s) * s
        return N, s, 1, False
    if n % s == 0:
        # Output row i reads torus rows (s i - p + a) mod n: row i mod (n/s) of the strided
        # circulant, so rows repeat ceil(n_out / (n/s)) times at most.
        m = -(-n_out // (n // s))
        return n, s, m, n_out == n // s
    counts = np.bincount((s * np.arange(n_out) - p) % n, minlength=n)
    return n, 1, int(counts.max()), False


def _torus(layer: Conv2d) -> _Torus:
    _, h, w = layer.in_shape
    _, ho, wo = layer.out_shape
    circ = layer.padding_mode == "circular"
    Nh, sh, mh, eh = _torus_1d(h, ho, layer.stride[0], layer.padding[0], circ)
    Nw, sw, mw, ew = _torus_1d(w, wo, layer.stride[1], layer.padding[1], circ)
    return _Torus((Nh, Nw), (sh, sw), float(np.sqrt(mh * mw)), eh and ew)


def _polyphase(K: np.ndarray, stride: tuple[int, int], padding: tuple[int, int]):
    """The stride-1 kernel of the polyphase form: ``(Kp, offsets)``, ``Kp`` of shape
    ``(c_out, c_in*sh*sw, nh, nw)`` with tap ``(alpha, beta)`` at ``offsets + (alpha, beta)``.

    Tap ``a`` reads input ``s i + a - p = s (i + alpha) + r``, ``0 <= r < s``: channel ``(c, r)`` of
    the polyphase input at offset ``alpha = floor((a - p) / s)`` (docs/conv.md §4).
    """
    co, ci, kh, kw = K.shape
    (sh, sw), (ph, pw) = stride, padding
    ah = np.floor_divide(np.arange(kh) - ph, sh)
    rh = np.mod(np.arange(kh) - ph, sh)
    aw = np.floor_divide(np.arange(kw) - pw, sw)
    rw = np.mod(np.arange(kw) - pw, sw)
    nh, nw = int(ah.max() - ah.min() + 1), int(aw.max() - aw.min() + 1)
    Kp = np.zeros((co, ci, sh, sw, nh, nw))
    for a in range(kh):
        for b in range(kw):
            Kp[:, :, rh[a], rw[b], ah[a] - ah.min(), aw[b] - aw.min()] += K[:, :, a, b]
    return Kp.reshape(co, ci * sh * sw, nh, nw), (int(ah.min()), int(aw.min()))


def _symbol_on_grid(Kp: np.ndarray, offsets: tuple[int, int], grid: tuple[int, int]):
    """``F[u, v] = sum_{alpha, beta} Kp[:, :, alpha, beta] exp(-2 pi i (alpha u / M + beta v /
    N))`` on the ``M x N`` grid: shape ``(M, N, c_out, c_in')``. Taps are wrapped modulo the grid
    (aliasing on a small torus, exact there); the common offset only multiplies by a phase."""
    M, N = grid
    co, ci, nh, nw = Kp.shape
    wrapped = np.zeros((co, ci, M, N))
    for a in range(nh):
        for b in range(nw):
            wrapped[:, :, (a + offsets[0]) % M, (b + offsets[1]) % N] += Kp[:, :, a, b]
    F = np.fft.fft2(wrapped, axes=(2, 3))
    return np.moveaxis(F, (2, 3), (0, 1))


#: Relative margin covering the FFT's rounding error (docs/conv.md §5): each computed symbol entry
#: is within ``_FFT_MARGIN * sum_{a,b} |K[o, c, a, b]|`` of the exact one. The standard model
#: bound for a radix-2 FFT of size ``M`` (Higham, Thm 24.2, componentwise via the l1 mass) is
#: ``about 5 u log2 M``: for any grid below ``2**40`` points this margin is over 50 times larger.
_FFT_MARGIN = 2.0**-36


def _symbol_error(Kp: np.ndarray) -> float:
    """An upper bound on ``||F~(w) - F(w)||_2`` at every grid frequency (Frobenius of the
    entrywise bounds), for the FFT's rounding."""
    l1 = np.abs(Kp).sum(axis=(2, 3))
    return float(_FFT_MARGIN * np.sqrt(np.sum(l1 * l1)) * (1.0 + 1e-10))


def _gram_upper(F: np.ndarray, n_iter: int) -> tuple[np.ndarray, np.ndarray]:
    """Per matrix of the batch ``F`` (``(..., m, n)``, complex), an upper bound on ``||F||_2``
    proved in the standard rounding model, and the plain float estimate ``||G_t||_F^(1/2^t)``.

    Normalised Gram iteration ``H_0 = F / f_0``, ``H'_{k+1} = H_k^* H_k``, ``f_{k+1} =
    ||H'_{k+1}||_F``, ``H_{k+1} = H'_{k+1} / f_{k+1}``; with ``s_k = ||H_k||_2``, ``s_t <= ||H_t||_F
    <= r`` and ``s_k^2 = ||H_k^* H_k||_2 <= f_{k+1} (s_{k+1} + d) + ||E_k||_2`` (``d`` the scaling's
    rounding), ``||E_k||_F <= g r^2`` for the matmul error ``E_k`` (docs/conv.md §5). Every step
    is rounded up.
    """
    m, n = F.shape[-2:]
    if m < n:  # ||F|| = ||F^*||; the Gram matrices are then the smaller (m x m)
        F = np.conj(np.swapaxes(F, -1, -2))
        m, n = n, m
    up = 1.0 + 8.0 * UNIT_ROUNDOFF
    g_norm = _gamma(2 * m * n + 8)  # the computed Frobenius norm (complex: 2 m n squares)
    g_mm = 2.0 * _gamma(2 * m + 8)  # a complex inner product of length m, entrywise in |.|^T|.|
    r = (1.0 + g_norm) * (1.0 + 4.0 * UNIT_ROUNDOFF)  # bound on ||H_k||_F (exact) after scaling
    f0 = np.sqrt(np.sum(np.abs(F) ** 2, axis=(-2, -1)))
    safe = np.where(f0 > 0, f0, 1.0)
    H = F / safe[..., None, None]
    fs = []
    est_log = np.log(safe)
    for k in range(n_iter):
        H2 = np.conj(np.swapaxes(H, -1, -2)) @ H
        f = np.sqrt(np.sum(np.abs(H2) ** 2, axis=(-2, -1)))
        f = np.where(f > 0, f, np.finfo(float).tiny)
        fs.append(f)
        est_log = est_log + np.log(f) / 2.0 ** (k + 1)
        H = H2 / f[..., None, None]
    # est: ||F||_F prod f_k^(1/2^k) = ||G_t||_F^(1/2^t) in exact arithmetic (the published bound)
    est = np.exp(est_log)
    # The proved backward recursion: the matmul error is at most g_mm |H^*| |H| entrywise, whose
    # Frobenius norm is at most ||H||_F^2 <= r^2.
    # H_{k+1} = fl(H'_{k+1} / f_{k+1}) is within 4u r (Frobenius) of H'_{k+1} / f_{k+1}.
    d = 4.0 * UNIT_ROUNDOFF * r
    s = np.full(f0.shape, r)
    for f in reversed(fs):
        s = np.sqrt((f * (s + d) + g_mm * r * r) * up) * up
    bound = f0 * (s + d) * up
    return np.where(f0 > 0, bound, 0.0), np.where(f0 > 0, est, 0.0)


#: Frequencies per batch of Gram iterations (bounds the working memory to a few batches of
#: ``16 c_out c_in`` bytes each).
_CHUNK = 512


def _gram_upper_chunked(F: np.ndarray, n_iter: int) -> tuple[float, float]:
    """``(max proved bound, max float estimate)`` of :func:`_gram_upper` over the batch ``F``
    of shape ``(n, m, k)``, in chunks."""
    bound, est = 0.0, 0.0
    for start in range(0, F.shape[0], _CHUNK):
        b, e = _gram_upper(F[start:start + _CHUNK], n_iter)
        bound, est = max(bound, float(b.max())), max(est, float(e.max()))
    return bound, est


def _gram(layer: Conv2d, n_iter: int = 6) -> LayerNormResult:
    torus = _torus(layer)
    Kp, off = _polyphase(layer.kernel, torus.stride, layer.padding)
    grid = (torus.size[0] // torus.stride[0], torus.size[1] // torus.stride[1])
    F = _symbol_on_grid(Kp, off, grid)
    bound, est = _gram_upper_chunked(F.reshape(-1, *F.shape[2:]), n_iter)
    err = _symbol_error(Kp)
    value = product_up([float(np.nextafter(bound + err, np.inf)), torus.factor])
    return LayerNormResult(
        value=value, lower_bound=np.nan, upper_bound=value, exact=torus.exact,
        iterations=n_iter, time=0.0, method="gram",
        info={"torus": torus.size, "polyphase_stride": torus.stride, "grid": grid,
              "row_multiplicity_factor": torus.factor, "symbol_error": err,
              "float_estimate": est * torus.factor})


def _lipconv(layer: Conv2d, n_grid: int = 64, variant: str = "spectral",
             n_iter: int = 10) -> LayerNormResult:
    """``variant="spectral"``: ``sup_w ||F(w)||_2``, each grid point bounded by ``n_iter`` Gram
    steps (proved); ``"published"``: Araujo et al.'s multi-channel ``sqrt(sum_i sup_w
    ||F_i(w)||^2)`` over the rows of ``F`` (of ``F^*`` if ``c_out > c_in``). Both are corrected
    for the grid by the same Bernstein factor (docs/conv.md §3)."""
    if variant not in ("spectral", "published"):
        raise ValueError(f"variant is {variant!r}; expected 'spectral' or 'published'")
    torus = _torus(layer)
    Kp, off = _polyphase(layer.kernel, torus.stride, layer.padding)
    # Bernstein: the symbol times a unimodular phase is a trigonometric polynomial whose
    # frequencies lie within sigma of 0 along each axis (half the taps' span).
    sig_h, sig_w = (Kp.shape[2] - 1) / 2.0, (Kp.shape[3] - 1) / 2.0
    alpha = math.pi * (sig_h + sig_w) / n_grid
    if alpha >= 1.0:
        raise ValueError(f"n_grid is {n_grid}; expected at least "
                         f"{math.floor(math.pi * (sig_h + sig_w)) + 1} for this kernel (the grid "
                         "correction 1/(1 - pi (sigma_h + sigma_w)/n_grid) needs n_grid > "
                         "pi (sigma_h + sigma_w))")
    F = _symbol_on_grid(Kp, off, (n_grid, n_grid))
    co, ci = F.shape[-2:]
    err = _symbol_error(Kp)
    correction = 1.0 / (1.0 - alpha) * (1.0 + 8.0 * UNIT_ROUNDOFF)
    # sup_w ||X(w)|| <= (max_grid ||X~(w)|| + err) / (1 - alpha) for X = F or a row F_i
    spec_grid, _ = _gram_upper_chunked(F.reshape(-1, co, ci), n_iter)
    spectral = float((spec_grid + err) * (1.0 + 4.0 * UNIT_ROUNDOFF)) * correction
    G = F if co <= ci else np.conj(np.swapaxes(F, -1, -2))
    g = _gamma(2 * ci * co + 8)
    rows2 = np.sum(np.abs(G) ** 2, axis=-1)  # (n, n, rows): ||F_i(w)||^2 on the grid
    row_sup = (np.sqrt(rows2.max(axis=(0, 1)) * (1.0 + g)) + err) * correction
    published = float(np.sqrt(np.sum(row_sup**2) * (1.0 + g))) * (1.0 + 4.0 * UNIT_ROUNDOFF)
    spectral = product_up([spectral, torus.factor])
    published = product_up([published, torus.factor])
    value = spectral if variant == "spectral" else published
    return LayerNormResult(
        value=value, lower_bound=np.nan, upper_bound=value, exact=False, iterations=n_iter,
        time=0.0, method="lipconv",
        info={"variant": variant, "spectral": spectral, "published": published,
              "grid": (n_grid, n_grid), "grid_correction": 1.0 / (1.0 - alpha),
              "polyphase_stride": torus.stride, "row_multiplicity_factor": torus.factor,
              "symbol_error": err})


# --- layer norms: iterations on the operator ------------------------------------------------


def _proved_ratio(layer: Conv2d, v: np.ndarray) -> float:
    """A lower bound on ``||A v|| / ||v||`` in the standard rounding model: the computed ``A v``
    is within ``g |A| |v|`` entrywise of the exact one (inner products of length ``c_in kh kw``
    plus the taps' accumulation), so ``||A v|| >= ||fl(A v)|| - g || |A| |v| ||``."""
    _, ci, kh, kw = layer.kernel.shape
    y = layer.apply(v)
    z = layer.apply(np.abs(v), kernel=np.abs(layer.kernel))
    g = _gamma(ci * kh * kw + 8)
    gn = _gamma(y.size + 8)
    # z itself is computed: the exact |A| |v| is at most fl(z) (1 + g) entrywise (no cancellation)
    num = np.linalg.norm(y) * (1.0 - gn) - g * (1.0 + g) * np.linalg.norm(z) * (1.0 + gn)
    den = np.linalg.norm(v) * (1.0 + gn)
    if not num > 0:
        return 0.0
    return float(np.nextafter(num / den * (1.0 - 4.0 * UNIT_ROUNDOFF), 0.0))


def _exact(layer: Conv2d, algorithm: str = "lanczos", n_iter: int = 1000, tol: float = 1e-12,
           seed: int = 0) -> LayerNormResult:
    """``algorithm="lanczos"``: ``scipy.sparse.linalg.svds`` (ARPACK) on a LinearOperator;
    ``"power"``: power iteration on ``A^T A`` until the relative change is below ``tol``."""
    if algorithm not in ("lanczos", "power"):
        raise ValueError(f"algorithm is {algorithm!r}; expected 'lanczos' or 'power'")
    rng = np.random.default_rng(seed)
    n_out, n_in = layer.shape
    v0 = rng.standard_normal(n_in)
    if algorithm == "lanczos" and min(n_out, n_in) > 1:
        count = [0]

        def counted(f, X):
            count[0] += 1 if X.ndim == 1 else X.shape[1]
            return f(X.T).T

        op = ssla.LinearOperator(
            (n_out, n_in), dtype=np.float64,
            matvec=lambda x: counted(layer.apply, np.ravel(x)),
            rmatvec=lambda y: counted(layer.adjoint, np.ravel(y)),
            matmat=lambda X: counted(layer.apply, X), rmatmat=lambda Y: counted(layer.adjoint, Y))
        _, s, vt = ssla.svds(op, k=1, tol=tol, v0=v0 if n_in <= n_out else layer.apply(v0),
                             maxiter=n_iter, solver="arpack")
        v = vt[0]
        # one "iteration" = one product with A and one with A^T, as for the power iteration
        estimate, iterations = float(s[0]), -(-count[0] // 2)
    else:
        v = v0 / np.linalg.norm(v0)
        estimate, iterations = 0.0, 0
        for iterations in range(1, n_iter + 1):  # noqa: B007
            u = layer.adjoint(layer.apply(v))
            nu = float(np.linalg.norm(u))
            if nu == 0.0:
                break
            new = float(np.sqrt(nu))
            v = u / nu
            if abs(new - estimate) <= tol * new:
                estimate = new
                break
            estimate = new
    lower = _proved_ratio(layer, v)
    return LayerNormResult(value=estimate, lower_bound=lower, upper_bound=np.nan, exact=True,
                           iterations=iterations, time=0.0, method="exact",
                           info={"algorithm": algorithm, "vector": v})


#: name -> function(layer, **options) -> LayerNormResult.
LAYER_NORM_METHODS: dict[str, Callable[..., LayerNormResult]] = {
    "lipconv": _lipconv,
    "gram": _gram,
    "exact": _exact,
}

_OPTIONS = {"lipconv": ("n_grid", "variant", "n_iter"), "gram": ("n_iter",),
            "exact": ("algorithm", "n_iter", "tol", "seed")}


def layer_norm_bound(layer: Conv2d, method: str = "gram", **options) -> LayerNormResult:
    """Bound the operator norm ``||A||_2`` of a convolutional layer.

    Parameters
    ----------
    layer : Conv2d
    method : {"gram", "lipconv", "exact"}, default "gram"
        ``"gram"``: Gram iteration on the circulant symbol (``n_iter=6``): a proved upper bound,
        exact in the limit for a circular layer whose output covers its torus once (e.g. stride 1
        and ``2 p = k - 1``, or stride 2 with ``h`` even), and for zero padding the norm of the
        circular convolution on a torus where the layer is a compression (docs/conv.md §4).
        ``"lipconv"``: the Toeplitz bound of Araujo et al., ``sup_w ||F(w)||_2`` from an
        ``n_grid x n_grid`` grid (``n_grid=64``, each point bounded by ``n_iter=10`` Gram steps)
        with the Bernstein grid correction ``1 / (1 - pi (sigma_h + sigma_w) / n_grid)``;
        ``variant="published"`` for their row-wise multi-channel formula. Memory
        ``16 n_grid^2 c_out c_in`` bytes. ``"exact"``: Lanczos (default) or
        power iteration (``algorithm="power"``), matrix-free; returns the estimate and a proved
        lower bound.
    **options
        ``n_iter`` (gram, lipconv: Gram steps; exact: iteration cap), ``n_grid``, ``variant``
        (lipconv), ``algorithm``, ``tol``, ``seed`` (exact).

    Returns
    -------
    LayerNormResult

    Raises
    ------
    TypeError
        ``layer`` not a :class:`Conv2d`; a non-integer ``n_iter``/``n_grid``.
    ValueError
        An unknown method or option; ``n_iter < 1``; ``n_grid`` too small for the correction.

    Notes
    -----
    Every method covers every stride and padding of :class:`Conv2d` (the polyphase form reduces a
    stride to more input channels; a layer whose circular output repeats rows gets the factor
    ``sqrt(multiplicity)``, docs/conv.md §4). For strides that do not divide a circular image,
    ``"gram"`` and ``"lipconv"`` bound through the stride-1 layer, which is loose.

    What is proved: the upper bounds follow from the standard rounding model for the matmuls
    and norms (Higham) and from a documented margin ``2**-36 * ||K||_1`` for the FFT
    (``_FFT_MARGIN``, over 50 times the model bound); numpy's FFT is not itself verified, so this
    is an outward-rounded bound, not a machine-checked proof like docs/math.md §4's. The
    ``"exact"`` lower bound is proved in the same model (``fl(A v)`` against ``|A| |v|``).

    References
    ----------
    A. Araujo, B. Negrevergne, Y. Chevaleyre, J. Atif, "On Lipschitz Regularization of
    Convolutional Layers using Toeplitz Matrix Theory", AAAI 2021 (arXiv:2006.08391).
    B. Delattre, Q. Barthélemy, A. Araujo, A. Allauzen, "Efficient Bound of Lipschitz Constant
    for Convolutional Layers by Gram Iteration", ICML 2023.

    Examples
    --------
    >>> import numpy as np, lipsdp
    >>> from lipsdp.conv import Conv2d
    >>> layer = Conv2d(np.ones((1, 1, 3, 3)), (1, 8, 8), padding=1, padding_mode="circular")
    >>> round(lipsdp.layer_norm_bound(layer, "gram").value, 6)
    9.0
    """
    if not isinstance(layer, Conv2d):
        raise TypeError(f"layer is {type(layer).__name__}; expected a lipsdp.conv.Conv2d")
    if method not in LAYER_NORM_METHODS:
        raise ValueError(f"method is {method!r}; expected one of {sorted(LAYER_NORM_METHODS)}")
    unknown = sorted(set(options) - set(_OPTIONS[method]))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for method {method!r}; expected "
                         f"{list(_OPTIONS[method])}")
    for key in ("n_iter", "n_grid"):
        if key in options:
            options[key] = _positive_int(options[key], key, 1)
    t0 = time.perf_counter()
    res = LAYER_NORM_METHODS[method](layer, **options)
    object.__setattr__(res, "time", time.perf_counter() - t0)
    return res


def product_bound(layers: Sequence[object], slopes=(0.0, 1.0), method: str = "gram",
                  **options) -> float:
    """``prod_k ||A_k||_2 * prod_k max(|alpha_k|, |beta_k|)`` for a chain of layers, as
    :func:`lipsdp.naive_bound` (one slope pair per hidden layer, or one pair for all).

    A :class:`Conv2d` factor is :func:`layer_norm_bound`'s value for ``method`` (for ``"exact"``
    an estimate, so the product is then an estimate too); a dense factor is the spectral norm
    proved by ``rho I - W^T W >= 0`` (``np.linalg.norm(W, 2)`` for ``"exact"``). Products are
    rounded up.
    """
    mats = _chain(layers)  # validates the chain
    pairs = _normalise_slopes(slopes, len(mats) - 1)  # as Network validates them
    norms = []
    for layer, M in zip(layers, mats, strict=True):
        if isinstance(layer, Conv2d):
            norms.append(layer_norm_bound(layer, method, **options).value)
        else:
            W = M.toarray() if sp.issparse(M) else M
            norms.append(float(np.linalg.norm(W, 2)) if method == "exact" else proved_norm(W))
    gains = [max(abs(a), abs(b)) for a, b in pairs]
    return product_up([*norms, *gains])


# --- PROTOTYPE: LipSDP in Fourier blocks (docs/conv.md §10) --------------------------------


def _fourier_blocks(layers: Sequence[Conv2d], slopes, rho: float | None = None,
                    ts: Sequence[np.ndarray] | None = None):
    """The per-frequency data of docs/conv.md §10: ``(freqs, symbols, sizes)`` and, with ``rho``
    and ``ts`` (one array of channel multipliers per hidden layer), the Hermitian ``M(omega)``
    of every frequency (a list)."""
    n = layers[0].in_shape[1:]
    symbols = []
    for layer in layers:
        Kp, off = _polyphase(layer.kernel, (1, 1), layer.padding)
        symbols.append(_symbol_on_grid(Kp, off, n))
    sizes = [layers[0].in_shape[0]] + [layer.out_shape[0] for layer in layers[:-1]]
    if rho is None:
        return symbols, sizes, None
    offs = np.concatenate([[0], np.cumsum(sizes)])
    l = len(layers) - 1
    mats = []
    for u, v in itertools.product(range(n[0]), range(n[1])):
        F = [S[u, v] for S in symbols]
        M = np.zeros((offs[-1], offs[-1]), dtype=complex)
        M[:sizes[0], :sizes[0]] = -rho * np.eye(sizes[0])
        for k in range(1, l + 1):
            a, b = slopes[k - 1]
            T = np.diag(ts[k - 1])
            kk = slice(offs[k], offs[k + 1])
            prev = slice(offs[k - 1], offs[k])
            M[kk, kk] += -2.0 * T
            M[prev, prev] += -2.0 * a * b * F[k - 1].conj().T @ T @ F[k - 1]
            M[kk, prev] += (a + b) * T @ F[k - 1]
            M[prev, kk] += ((a + b) * T @ F[k - 1]).conj().T
        last = slice(offs[l], offs[l + 1])
        M[last, last] += F[l].conj().T @ F[l]
        mats.append(M)
    return symbols, sizes, mats


def _real_embedding(H: np.ndarray) -> np.ndarray:
    """``[[Re H, -Im H], [Im H, Re H]]``: PSD exactly when the Hermitian ``H`` is."""
    return np.block([[H.real, -H.imag], [H.imag, H.real]])


def fourier_lipsdp_prototype(layers: Sequence[Conv2d], slopes=(0.0, 1.0),
                             solver: str = "clarabel") -> dict:
    """PROTOTYPE (issue 16, Fourier route): LipSDP with channel-shared multipliers for a chain of
    stride-1 circular convolutions whose output covers the torus once, solved as one small
    Hermitian LMI per frequency (docs/conv.md §10).

    Not part of the public API and not a certified result by itself: it returns the solver's
    ``rho`` and channel multipliers, and, when the unrolled network is small enough to form,
    the bound :func:`lipsdp.certify` proves for those multipliers on the unrolled network
    (``"certified"``). A Fourier-side proof (without the unrolled matrix) is not implemented.

    Returns
    -------
    dict
        ``sqrt_rho`` (the solver's objective, unproved), ``channel_multipliers`` (list, one
        array per hidden layer, docs/math.md §2 convention), ``n_frequencies``, ``block_side``,
        ``solve_time``, and ``certified`` (a LipschitzResult) when ``n_in <= 5000``.
    """
    import lipsdp_solvers as solvers

    from .certify import certify
    from .network import Network

    if not layers or not all(isinstance(L, Conv2d) for L in layers):
        raise TypeError("layers must be a non-empty list of Conv2d (the prototype covers "
                        "all-convolutional chains only)")
    for k, L in enumerate(layers):
        if (L.padding_mode != "circular" or L.stride != (1, 1)
                or L.out_shape[1:] != L.in_shape[1:]):
            raise ValueError(f"layers[{k}] must be a stride-1 circular convolution with output "
                             f"size equal to its input (2 p = k - 1); got stride {L.stride}, "
                             f"padding {L.padding} {L.padding_mode!r}")
    _chain(layers)
    pairs = _normalise_slopes(slopes, len(layers) - 1)
    symbols, sizes, _ = _fourier_blocks(layers, pairs)
    nh, nw = layers[0].in_shape[1:]
    l = len(layers) - 1
    offs = np.concatenate([[0], np.cumsum(sizes)])
    d = int(offs[-1])
    var_off = np.concatenate([[1], 1 + np.cumsum([sizes[k] for k in range(1, l + 1)])])
    n_vars = int(var_off[-1])
    # -M(omega) = F0 + rho E_rho + sum t_{k,c} E_{k,c}; one frequency of each conjugate pair
    blocks = []
    freqs = [(u, v) for u, v in itertools.product(range(nh), range(nw))
             if (u, v) <= ((-u) % nh, (-v) % nw)]
    for u, v in freqs:
        F = [S[u, v] for S in symbols]
        cols = []
        E = np.zeros((d, d), dtype=complex)
        E[:sizes[0], :sizes[0]] = np.eye(sizes[0])
        cols.append(_real_embedding(E).ravel(order="F"))
        for k in range(1, l + 1):
            a, b = pairs[k - 1]
            kk = slice(offs[k], offs[k + 1])
            prev = slice(offs[k - 1], offs[k])
            for c in range(sizes[k]):
                E = np.zeros((d, d), dtype=complex)
                e = np.zeros(sizes[k])
                e[c] = 1.0
                T = np.diag(e)
                E[kk, kk] = 2.0 * T
                E[prev, prev] = 2.0 * a * b * F[k - 1].conj().T @ T @ F[k - 1]
                E[kk, prev] = -(a + b) * T @ F[k - 1]
                E[prev, kk] = E[kk, prev].conj().T
                cols.append(_real_embedding(E).ravel(order="F"))
        F0 = np.zeros((d, d), dtype=complex)
        last = slice(offs[l], offs[l + 1])
        F0[last, last] = -F[l].conj().T @ F[l]
        blocks.append(solvers.LMIBlock(F0=_real_embedding(F0),
                                       F=sp.csc_matrix(np.column_stack(cols))))
    c = np.zeros(n_vars)
    c[0] = 1.0
    nonneg = np.ones(n_vars, dtype=bool)
    t0 = time.perf_counter()
    res = solvers.solve(solvers.LMIProblem(c=c, blocks=tuple(blocks), nonneg=nonneg), solver)
    elapsed = time.perf_counter() - t0
    ts = [np.maximum(res.x[var_off[k]:var_off[k + 1]], 0.0) for k in range(l)]
    out = {"sqrt_rho": float(np.sqrt(max(res.objective, 0.0))), "channel_multipliers": ts,
           "status": str(res.status), "n_frequencies": len(freqs), "block_side": 2 * d,
           "solve_time": elapsed}
    if layers[0].shape[1] <= 5000:
        net = Network(unroll(layers), pairs)
        per_neuron = [np.repeat(t, nh * nw) for t in ts]  # C order: channel-major
        out["certified"] = certify(net, per_neuron)
    return out
