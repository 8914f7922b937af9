"""LipSDP formulations as block-LMI standard-form problems (docs/math.md §2, §8).

Each builder returns a :class:`Formulation`: the solver-neutral :class:`solvers.LMIProblem` and
the map from a solver's point back to ``(rho, [t_1, ..., t_l])`` in the §2 convention.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from lipsdp_solvers import LMIBlock, LMIProblem

from .closed_form import naive_bound, naive_directions
from .lmi import compress_input, lmi_geometry, neuron_terms, schur_complement
from .network import Network

logger = logging.getLogger(__name__)

__all__ = [
    "ChordalFormulation",
    "Formulation",
    "build_chordal",
    "build_full",
    "chordal_cliques",
    "compress_input",
]


@dataclass(frozen=True)
class Formulation:
    """A standard-form problem plus the map back to LipSDP multipliers.

    The variables are ``x = (y_rho, y_1, ...)`` with ``rho = scale[0] * y_rho`` and
    ``t = scale[1:] * y`` (per neuron, or per layer for LipSDP-Layer), so that a typical solution
    is of order one (the multipliers span orders of magnitude across depth).
    """

    problem: LMIProblem
    scale: np.ndarray
    widths: tuple[int, ...]  # hidden widths
    multipliers: str  # "neuron" or "layer"
    #: Row scaling ``d`` of the LMI: the block holds ``D (-M) D`` with ``D = diag(d)`` (a
    #: congruence, so feasibility is unchanged), or None.
    row_scale: np.ndarray | None = None

    def unscale_dual(self, Y):
        """The dual matrix of ``-M`` itself from the scaled block's dual ``Y`` (``D Y D``),
        dense or a :class:`solvers.BandedMatrix`."""
        d = self.row_scale
        if d is None or Y is None:
            return Y
        if hasattr(Y, "scaled"):
            return Y.scaled(d)
        return d[:, None] * Y * d[None, :]

    def scale_dual(self, Y: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`unscale_dual` for a dense ``Y`` (a warm start's dual)."""
        d = self.row_scale
        return Y if d is None else Y / np.outer(d, d)

    def to_multipliers(self, x: np.ndarray) -> tuple[float, list[np.ndarray]]:
        v = self.scale * np.asarray(x, dtype=np.float64)
        rho, rest = float(v[0]), v[1:]
        ts: list[np.ndarray] = []
        offset = 0
        for n in self.widths:
            if self.multipliers == "layer":
                ts.append(np.full(n, rest[offset]))
                offset += 1
            else:
                ts.append(rest[offset : offset + n].copy())
                offset += n
        return rho, ts

    def from_multipliers(self, rho: float, ts: list[np.ndarray]) -> np.ndarray:
        """The scaled variable vector of a point ``(rho, t)`` (a warm start)."""
        if self.multipliers == "layer":
            flat = np.array([float(np.mean(t)) for t in ts])
        else:
            flat = np.concatenate(ts) if ts else np.zeros(0)
        point = np.concatenate([[rho], flat])
        return point / self.scale[: point.size]


def _vec_index(rows: np.ndarray, cols: np.ndarray, m: int) -> np.ndarray:
    return rows + cols * m


@dataclass(frozen=True)
class _Terms:
    """The linear part of ``-M(rho, t)`` as triplets in full-matrix coordinates (internal).

    Entry ``i`` says: variable ``var[i]`` (unscaled) adds ``vals[i]`` at ``(rows[i], cols[i])`` of
    the side-``offsets[-1]`` matrix. Variable 0 is ``rho``; the others are the multipliers (one
    per neuron, or one per layer for LipSDP-Layer), ``layer[v]`` being the hidden layer
    (1-based, 0 for ``rho``) of variable ``v`` and ``scale[v]`` its reference scale.
    """

    offsets: np.ndarray  # block offsets, blocks 0 (compressed input) .. l
    rows: np.ndarray
    cols: np.ndarray
    var: np.ndarray
    vals: np.ndarray
    scale: np.ndarray
    layer: np.ndarray
    output_gram: np.ndarray  # W_l^T W_l, enters -M on block l with a minus sign


#: Closed forms tried, in order, for the variables' reference scales (see _reference_point).
REFERENCE_METHODS = ("lookahead", "eclipse-fast")


def _reference_point(net: Network) -> tuple[float, list[np.ndarray]]:
    """A feasible ``(rho, t)`` that sets the variables' scales: the first closed form of
    :data:`REFERENCE_METHODS` that certifies with positive multipliers, else the naive point
    (always available, positive).

    The closer the reference is to the optimum, the fewer interior-point iterations: ECLipsE-
    Fast's rho was far closer than the naive bound's (on 10 x 100 the naive-scaled optimum was
    4e-4, and the solver spent a third of its iterations there), and the look-ahead member of
    the improved family is closer still on deep networks (``experiments/bench_solvers.py
    --depth-curve`` at commit 4862d58 against 8b50ed3: 25 -> 19 iterations at 20 x 100, 38 -> 28
    at 40 x 100)."""
    from .closed_form import closed_form

    if all(a * b >= 0 for a, b in net.slopes):
        for method in REFERENCE_METHODS:
            try:
                res = closed_form(net, method)
            except (ValueError, np.linalg.LinAlgError):
                continue
            if res.certified and res.value > 0 and all(
                np.all(np.isfinite(t)) and np.all(t > 0) for t in res.multipliers
            ):
                return res.value**2, [np.asarray(t, dtype=float) for t in res.multipliers]
    rho_ref = max(naive_bound(net), np.finfo(float).tiny) ** 2
    return rho_ref, [0.5 * rho_ref * lam for lam in naive_directions(net)]


def _lmi_terms(net: Network, multipliers: str) -> _Terms:
    """Coefficients of ``-M(rho, t)`` (docs/math.md §2) after the input compression of §8: the
    blocks of :func:`lipsdp.lmi.lmi_geometry`, each neuron's terms from
    :func:`lipsdp.lmi.neuron_terms`."""
    if net.n_hidden == 0:
        raise ValueError("a network without hidden layers has no LMI; its bound is ||W_0||_2")
    geometry = lmi_geometry(net)
    Ws, sizes, offsets = geometry.weights, geometry.sizes, geometry.offsets
    hidden = net.hidden_widths

    # Reference scales from the naive feasible point (always available, positive).
    rho_ref, t_ref = _reference_point(net)

    rows_all, cols_all, var_all, vals_all = [], [], [], []
    # rho: +I on the (compressed) input block.
    idx = np.arange(sizes[0])
    rows_all += [idx]
    cols_all += [idx]
    var_all.append(np.zeros(sizes[0], dtype=np.int64))
    vals_all.append(np.ones(sizes[0]))
    var = 1
    for k in range(1, net.n_hidden + 1):
        W = Ws[k - 1]  # (n_k, n_{k-1}')
        nk = W.shape[0]
        ok, op = offsets[k], offsets[k - 1]
        c_ee, c_ew, c_ww = neuron_terms(*net.slopes[k - 1])
        cols = var + np.arange(nk)
        # c_ee e_j e_j^T on block k.
        j = np.arange(nk)
        rows_all.append(ok + j)
        cols_all.append(ok + j)
        var_all.append(cols)
        vals_all.append(np.full(nk, c_ee))
        # c_ew (e_j w_j^T + w_j e_j^T) between blocks k and k-1.
        jj, ii = np.nonzero(W)
        w = W[jj, ii]
        for r, c in ((ok + jj, op + ii), (op + ii, ok + jj)):
            rows_all.append(r)
            cols_all.append(c)
            var_all.append(cols[jj])
            vals_all.append(c_ew * w)
        # c_ww w_j w_j^T on block k-1.
        if c_ww != 0.0:
            for jn in range(nk):
                nz = np.flatnonzero(W[jn])
                r, c = np.meshgrid(op + nz, op + nz, indexing="ij")
                rows_all.append(r.ravel())
                cols_all.append(c.ravel())
                var_all.append(np.full(nz.size * nz.size, cols[jn]))
                vals_all.append(c_ww * np.outer(W[jn, nz], W[jn, nz]).ravel())
        var += nk
    var_arr = np.concatenate(var_all)
    layer = np.concatenate([[0], *[np.full(n, k + 1) for k, n in enumerate(hidden)]])
    scale = np.concatenate([[rho_ref], *t_ref])
    if multipliers == "layer":
        # One variable per layer: t_k = lambda_k 1, i.e. the layer's neuron columns summed.
        var_arr = layer[var_arr]
        scale = np.concatenate([[rho_ref], [float(t[0]) for t in t_ref]])
        layer = np.arange(1 + len(hidden))
    Wl = net.weights[-1]
    return _Terms(
        offsets=offsets,
        rows=np.concatenate(rows_all).astype(np.int64),
        cols=np.concatenate(cols_all).astype(np.int64),
        var=var_arr.astype(np.int64),
        vals=np.concatenate(vals_all),
        scale=scale,
        layer=layer.astype(np.int64),
        output_gram=Wl.T @ Wl,
    )


def build_full(net: Network, multipliers: str = "neuron") -> Formulation:
    """The full LipSDP LMI ``-M(rho, t) >= 0`` of side ``n_0' + N`` as an :class:`LMIProblem`.

    ``n_0' = min(n_0, n_1)`` after the input compression of docs/math.md §8. Minimises ``rho``.
    """
    terms = _lmi_terms(net, multipliers)
    m = int(terms.offsets[-1])
    n_vars = terms.scale.size
    # Balance the blocks: at the naive point (x = 1) the block of layer k is of the order of
    # its multipliers, which span orders of magnitude across depth; scaling its rows and
    # columns by 1/sqrt(2 t_k) (1/sqrt(rho) for the input block) makes every block O(1), and
    # the dual's blocks too (interior-point methods then need fewer, better-conditioned steps).
    block_scale = np.array(
        [1.0 / np.sqrt(terms.scale[0])]
        + [1.0 / np.sqrt(2.0 * float(np.mean(terms.scale[terms.layer == k])))
           for k in range(1, len(terms.offsets) - 1)]
    )
    d = np.repeat(block_scale, np.diff(terms.offsets))
    F = sp.csc_matrix(
        (
            terms.vals * terms.scale[terms.var] * d[terms.rows] * d[terms.cols],
            (_vec_index(terms.rows, terms.cols, m), terms.var),
        ),
        shape=(m * m, n_vars),
    )
    F0 = np.zeros((m, m))
    last = slice(terms.offsets[-2], None)
    F0[last, last] = -terms.output_gram * np.outer(d[last], d[last])
    c = np.zeros(n_vars)
    c[0] = 1.0
    block = LMIBlock(F0=F0, F=F, partition=tuple(int(n) for n in np.diff(terms.offsets)))
    problem = LMIProblem(c=c, blocks=(block,), nonneg=np.ones(n_vars, bool))
    return Formulation(
        problem=problem, scale=terms.scale, widths=net.hidden_widths, multipliers=multipliers,
        row_scale=d,
    )


def chordal_cliques(n_hidden: int, clique_size: int = 2) -> list[tuple[int, int]]:
    """Cliques ``(first, last)`` of consecutive blocks ``0..n_hidden`` of the LipSDP matrix.

    Each clique holds ``clique_size`` consecutive blocks (the last one possibly fewer) and shares
    exactly its first block with the clique before, so every pair ``{k-1, k}`` lies in exactly
    one clique and the cliques form a chain with the running-intersection property.
    """
    cliques, first = [], 0
    while True:
        last = min(first + clique_size - 1, n_hidden)
        cliques.append((first, last))
        if last == n_hidden:
            return cliques
        first = last


@dataclass(frozen=True)
class ChordalFormulation(Formulation):
    """A :class:`Formulation` with one LMI block per clique (docs/math.md §7, chordal).

    The variables are ``x = (y_rho, y_t..., y_Y...)``: the scaled ``rho`` and multipliers as in
    :func:`build_full`, followed by the free entries of the symmetric matrices ``Y_b`` that split
    each overlap block ``b`` between the two cliques sharing it (``overlap_blocks``; one variable
    per entry of the upper triangle, with basis ``E_ii`` or ``E_ij + E_ji``).
    """

    cliques: tuple[tuple[int, int], ...] = ()
    overlap_blocks: tuple[int, ...] = ()
    overlap_offsets: tuple[int, ...] = ()  # first variable of each Y_b
    block_sizes: tuple[int, ...] = ()

    def from_multipliers(self, rho: float, ts: list[np.ndarray]) -> np.ndarray:
        """The scaled variables of ``(rho, t)``, with overlap matrices that keep every clique's
        matrix PSD when ``-M(rho, t)`` is (a warm start, by the block-LDL^T recursion: each clique
        keeps the Schur complement of its last block and passes the rest on)."""
        x = np.zeros(self.problem.n_vars)
        base = super().from_multipliers(rho, ts)
        x[: base.size] = base
        for i, block in enumerate(self.problem.blocks[:-1]):
            Z = block.matrix(x)  # includes +Y of its first block; Y of its last block is 0
            n_last = self.block_sizes[self.cliques[i][1]]
            P, Q, R = Z[:-n_last, :-n_last], Z[:-n_last, -n_last:], Z[-n_last:, -n_last:]
            out = schur_complement(P, Q, R)
            if out is None:
                logger.debug("warm start is not strictly feasible; overlaps left at zero")
                return x
            Y = out[0]
            iu, ju = np.triu_indices(n_last)
            start = self.overlap_offsets[i]
            x[start : start + iu.size] = Y[iu, ju] / self.scale[start : start + iu.size]
        return x


def build_chordal(
    net: Network, multipliers: str = "neuron", clique_size: int = 2
) -> ChordalFormulation:
    """LipSDP split over the cliques of its block-tridiagonal sparsity (docs/math.md §7).

    By Agler's theorem ``-M = sum_k E_k^T Z_k E_k`` with ``Z_k >= 0`` supported on clique ``k``.
    Each multiplier's matrix (rank <= 2 on the pair ``{k-1, k}``), ``rho``'s identity on block 0
    and ``-W_l^T W_l`` on block ``l`` go to the one clique that contains them; the blocks shared by
    consecutive cliques are split by free symmetric matrices ``Y_b``:
    ``Z_k = (clique k's share of -M) + Y_first(k) - Y_last(k)`` (``Y`` of the network's first and
    last blocks are zero), so the ``Y`` cancel in the sum. The optimum equals that of
    :func:`build_full`; the PSD cones have side ``sum of clique_size block widths`` instead of
    ``n_0' + N``.

    Parameters
    ----------
    net : Network
    multipliers : {"neuron", "layer"}
    clique_size : int, default 2
        Number of consecutive blocks per clique (>= 2); ``2`` gives the block pairs.

    Returns
    -------
    ChordalFormulation

    References
    ----------
    A. Xue, L. Lindemann, A. Robey, H. Hassani, G. J. Pappas, R. Alur, "Chordal Sparsity for
    Lipschitz Constant Estimation of Deep Neural Networks", CDC 2022.
    J. Agler, W. Helton, S. McCullough, L. Rodman, "Positive semidefinite matrices with a given
    sparsity pattern", Linear Algebra Appl. 107, 1988.
    """
    if isinstance(clique_size, bool) or not isinstance(clique_size, (int, np.integer)):
        raise TypeError(f"clique_size is {clique_size!r}; expected an integer >= 2")
    if clique_size < 2:
        raise ValueError(f"clique_size is {clique_size}; expected an integer >= 2")
    terms = _lmi_terms(net, multipliers)
    l = net.n_hidden
    offsets = terms.offsets
    block_sizes = tuple(int(n) for n in np.diff(offsets))
    cliques = chordal_cliques(l, int(clique_size))
    n_base = terms.scale.size
    # Clique of each variable: the one whose blocks contain its pair {k-1, k} (rho: block 0).
    firsts = np.array([f for f, _ in cliques])
    var_clique = np.searchsorted(firsts, np.maximum(terms.layer, 1) - 1, side="right") - 1
    entry_clique = var_clique[terms.var]

    overlap_blocks = tuple(last for _, last in cliques[:-1])
    overlap_offsets, scale_y, start = [], [], n_base
    for b in overlap_blocks:
        n = block_sizes[b]
        overlap_offsets.append(start)
        # Overlap entries are of the order of block b's multipliers (its diagonal is 2 t_b).
        scale_y.append(np.full(n * (n + 1) // 2, terms.scale[terms.layer == b][0]))
        start += n * (n + 1) // 2
    n_vars = start
    scale = np.concatenate([terms.scale, *scale_y])

    blocks = []
    for i, (first, last) in enumerate(cliques):
        lo, hi = int(offsets[first]), int(offsets[last + 1])
        m = hi - lo
        sel = entry_clique == i
        rows = [terms.rows[sel] - lo]
        cols = [terms.cols[sel] - lo]
        var = [terms.var[sel]]
        vals = [terms.vals[sel] * terms.scale[terms.var[sel]]]
        # +Y of the block shared with the clique before, -Y of the one shared with the next.
        shared = []
        if i > 0:
            shared.append((1.0, i - 1, 0))
        if i < len(cliques) - 1:
            shared.append((-1.0, i, int(offsets[last]) - lo))
        for sign, j, local in shared:
            iu, ju = np.triu_indices(block_sizes[overlap_blocks[j]])
            yvar = overlap_offsets[j] + np.arange(iu.size)
            off = iu != ju
            for r, c, v in ((iu, ju, yvar), (ju[off], iu[off], yvar[off])):
                rows.append(local + r)
                cols.append(local + c)
                var.append(v)
                vals.append(sign * scale[v])
        F = sp.csc_matrix(
            (
                np.concatenate(vals),
                (_vec_index(np.concatenate(rows), np.concatenate(cols), m), np.concatenate(var)),
            ),
            shape=(m * m, n_vars),
        )
        F0 = np.zeros((m, m))
        if last == l:
            F0[int(offsets[l]) - lo :, int(offsets[l]) - lo :] = -terms.output_gram
        blocks.append(LMIBlock(F0=F0, F=F))
    c = np.zeros(n_vars)
    c[0] = 1.0
    nonneg = np.zeros(n_vars, dtype=bool)
    nonneg[:n_base] = True
    problem = LMIProblem(c=c, blocks=tuple(blocks), nonneg=nonneg)
    return ChordalFormulation(
        problem=problem,
        scale=scale,
        widths=net.hidden_widths,
        multipliers=multipliers,
        cliques=tuple(cliques),
        overlap_blocks=overlap_blocks,
        overlap_offsets=tuple(overlap_offsets),
        block_sizes=block_sizes,
    )
