"""Output rows, class-pair margins and certified l2 radii (docs/math.md §1, issue 18).

A classifier ``f`` predicts ``argmax_j f_j(x)``. If ``g = f_y - f_j`` has a proved Lipschitz
bound ``L_yj`` (the bound of :func:`margin_network`, the network whose last layer is the row
difference ``W_l[y] - W_l[j]``), then ``g(x + d) >= g(x) - L_yj ||d||_2 > 0`` whenever
``||d||_2 < g(x) / L_yj``, so no perturbation of norm below

    ``R(x) = min_{j != y} (f_y(x) - f_j(x)) / L_yj``

changes the prediction ``y``. With one bound ``L`` on the whole network instead,
``|g(x) - g(x')| = |(e_y - e_j)^T (f(x) - f(x'))| <= sqrt(2) L ||x - x'||``, so
``R(x) = (f_y(x) - max_{j != y} f_j(x)) / (sqrt(2) L)`` (Tsuzuku, Sato, Sugiyama 2018). The
pairwise bounds are never looser than ``sqrt(2) L`` at the LipSDP optimum
(``(e_y - e_j)(e_y - e_j)^T <= 2 I``, so a point certifying ``L`` for ``f`` certifies
``sqrt(2) L`` for every margin), and usually much tighter.
"""

from __future__ import annotations

import logging
import numbers
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

import lipsdp_solvers as solvers

from .activations import ACTIVATIONS, Activation, _activations
from .api import MULTIPLIERS, solve
from .closed_form import CLOSED_FORM_METHODS, closed_form
from .network import Network, as_network, real_array
from .result import LipschitzResult, Result
from .variants import VARIANTS
from .variants.options import _check_n_jobs

__all__ = [
    "RadiusResult",
    "certified_accuracy",
    "certified_radius",
    "forward",
    "margin_network",
    "select_outputs",
]

logger = logging.getLogger(__name__)

#: Unit roundoff of float64.
_U = float(np.finfo(np.float64).eps) / 2.0
#: Assumed accuracy of a smooth activation's float64 implementation (tanh, exp, log1p in NumPy
#: are accurate to a few ulps), relative to its value; ReLU is exact, leaky ReLU one rounding.
_SMOOTH_ACTIVATION_ULPS = 16.0


# --- output rows and margins ----------------------------------------------------------------


def _check_row(value: object, n_out: int, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where} is {value!r}; expected an integer output row")
    if not 0 <= int(value) < n_out:
        raise ValueError(f"{where} is {int(value)}; expected an output row in 0..{n_out - 1} "
                         f"(the last layer has {n_out} rows)")
    return int(value)


def _check_net(net: object) -> Network:
    if isinstance(net, Network):
        return net
    if isinstance(net, (list, tuple)):
        return as_network(net)
    raise TypeError(f"net is {type(net).__name__}; expected a lipsdp.Network")


def select_outputs(net: Network, rows: int | Sequence[int]) -> Network:
    """The network restricted to some of its outputs: the last layer keeps ``W_l[rows]``.

    Parameters
    ----------
    net : Network
    rows : int or sequence of int
        Output rows to keep, in the order given (``0 <= row < n_out``, no repeats).

    Returns
    -------
    Network
        Same hidden layers and slopes; its Lipschitz constant is that of ``x -> f(x)[rows]``.

    Raises
    ------
    TypeError
        A row that is not an integer.
    ValueError
        No rows, a row out of range, or a repeated row (which would count that output twice).

    Examples
    --------
    >>> import numpy as np, lipsdp
    >>> net = lipsdp.Network([np.eye(2), np.array([[1.0, 0.0], [0.0, 3.0]])])
    >>> lipsdp.select_outputs(net, [1]).weights[-1]
    array([[0., 3.]])
    """
    net = _check_net(net)
    n_out = net.widths[-1]
    if isinstance(rows, numbers.Integral) and not isinstance(rows, bool):
        rows = [rows]
    if isinstance(rows, (str, bytes)) or not isinstance(rows, (Sequence, np.ndarray)):
        raise TypeError(f"rows is {rows!r}; expected an integer or a sequence of integers")
    if len(rows) == 0:
        raise ValueError("rows is empty; expected at least one output row")
    checked = [_check_row(r, n_out, f"rows[{k}]") for k, r in enumerate(rows)]
    seen: dict[int, int] = {}
    for k, r in enumerate(checked):
        if r in seen:
            raise ValueError(f"rows[{k}] repeats row {r} (rows[{seen[r]}]); expected distinct "
                             "rows (a repeated row counts that output twice)")
        seen[r] = k
    W = net.weights[-1][checked]
    return Network([*net.weights[:-1], W], net.slopes)


def margin_network(net: Network, i: int, j: int) -> Network:
    """The network computing the margin ``f_i(x) - f_j(x)``: the last layer is replaced by the
    one-row matrix ``W_l[i] - W_l[j]`` (biases do not change a Lipschitz constant).

    Parameters
    ----------
    net : Network
    i, j : int
        Two different output rows.

    Returns
    -------
    Network
        One output; a proved bound on its Lipschitz constant bounds how fast the margin between
        classes ``i`` and ``j`` can change. It equals that of ``margin_network(net, j, i)``.

    Raises
    ------
    TypeError
        A row that is not an integer.
    ValueError
        A row out of range, or ``i == j``.

    Examples
    --------
    >>> import numpy as np, lipsdp
    >>> net = lipsdp.Network([np.eye(2), np.array([[1.0, 0.0], [0.0, 3.0]])])
    >>> lipsdp.margin_network(net, 0, 1).weights[-1]
    array([[ 1., -3.]])
    """
    net = _check_net(net)
    n_out = net.widths[-1]
    i = _check_row(i, n_out, "i")
    j = _check_row(j, n_out, "j")
    if i == j:
        raise ValueError(f"i and j are both {i}; a margin needs two different output rows")
    W = net.weights[-1]
    return Network([*net.weights[:-1], (W[i] - W[j])[None, :]], net.slopes)


# --- the forward pass, with a bound on its rounding -----------------------------------------


def _check_biases(biases: object, net: Network) -> list[np.ndarray]:
    rows = [W.shape[0] for W in net.weights]
    if biases is None:
        return [np.zeros(n) for n in rows]
    if isinstance(biases, (str, bytes, Mapping)) or not isinstance(biases, (Sequence,
                                                                          np.ndarray)):
        raise TypeError(f"biases is {type(biases).__name__}; expected a list of 1-D arrays, one "
                        "per weight matrix")
    if len(biases) != len(rows):
        raise ValueError(f"biases has {len(biases)} entries; expected {len(rows)}, one per "
                         "weight matrix")
    out = []
    for k, (b, n) in enumerate(zip(biases, rows, strict=True)):
        a = real_array(b, f"biases[{k}]")
        if a.shape != (n,):
            raise ValueError(f"biases[{k}] has shape {a.shape}; expected ({n},) to match "
                             f"weights[{k}] ({n} rows)")
        a = np.array(a, dtype=np.float64, copy=True)
        if not np.all(np.isfinite(a)):
            raise ValueError(f"biases[{k}] has non-finite entries (nan or inf); expected finite")
        out.append(a)
    return out


def _check_activations(activation: object, net: Network) -> list[Activation]:
    acts = _activations(activation, net)
    for k, act in enumerate(acts):
        a, b = net.slopes[k]
        if act.slopes is None:
            raise ValueError(
                f"activation[{k}] {act.name!r} has no slope range, so the network's slopes[{k}] "
                f"= ({a}, {b}) cannot be checked against it; pass an Activation with slopes="
            )
        if not (a <= act.slopes[0] and act.slopes[1] <= b):
            raise ValueError(
                f"activation[{k}] {act.name!r} has slopes {act.slopes}, outside the network's "
                f"slopes[{k}] = ({a}, {b}); a bound for those slopes says nothing about this "
                "activation"
            )
    return acts


def _check_inputs(x: object, n0: int) -> np.ndarray:
    X = real_array(x, "x")
    if X.ndim != 2 or X.shape[1] != n0:
        hint = " (for one point, pass x[None, :])" if X.ndim == 1 and X.shape == (n0,) else ""
        raise ValueError(f"x has shape {X.shape}; expected (batch, {n0}) to match the "
                         f"network's {n0} inputs{hint}")
    if X.shape[0] == 0:
        raise ValueError("x has no rows; expected at least one input")
    X = np.array(X, dtype=np.float64, copy=True)
    bad = ~np.all(np.isfinite(X), axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(f"x has non-finite entries (nan or inf) in {rows.size} row(s), first "
                         f"row {int(rows[0])}; expected finite inputs")
    return X


def _activation_error(act: Activation) -> float:
    """Relative error of ``act.phi`` in float64: 0 for the package's ReLU (exact), else the
    assumed accuracy of a smooth function (a leaky ReLU's one rounding is well inside it)."""
    if act is ACTIVATIONS["relu"]:
        return 0.0
    return _SMOOTH_ACTIVATION_ULPS * _U


def _forward(net: Network, X: np.ndarray, bs: list[np.ndarray],
             acts: list[Activation]) -> tuple[np.ndarray, np.ndarray]:
    """``f(X)`` in float64 and a componentwise bound on its distance to the exact ``f(X)``.

    For ``z = W h + b`` with ``n`` terms, ``|fl(z) - z| <= gamma_{n+1} (|W| |h| + |b|)`` for any
    summation order (Higham, Accuracy and Stability of Numerical Algorithms, §3.5), and an error
    ``e`` in ``h`` adds ``|W| e``; an activation with slopes in ``[alpha, beta]`` maps an error
    ``e`` in ``z`` to at most ``max(|alpha|, |beta|) e``, plus its own rounding. The bound is
    doubled at the end to cover the rounding of its own computation (relative ``O(n u)``).
    """
    H, E = X, np.zeros_like(X)
    tiny = float(np.finfo(np.float64).tiny)
    for k, W in enumerate(net.weights):
        n = W.shape[1] + 1
        gamma = n * _U / (1.0 - n * _U)
        absW = np.abs(W)
        Z = H @ W.T + bs[k]
        E = E @ absW.T + gamma * (np.abs(H) @ absW.T + np.abs(bs[k])) + tiny
        if k < net.n_hidden:
            act = acts[k]
            H = np.asarray(act.phi(Z), dtype=np.float64)
            gain = max(abs(act.slopes[0]), abs(act.slopes[1]))
            E = gain * E + _activation_error(act) * np.abs(H) + tiny
        else:
            H = Z
    return H, 2.0 * E


def forward(net: Network, x: object, *, biases: object = None,
            activation: object = None) -> np.ndarray:
    """The network's output ``f(x) = W_l phi(... phi(W_0 x + b_0) ...) + b_l`` for a batch.

    Parameters
    ----------
    net : Network
    x : array_like, shape (batch, n_0)
        Finite inputs, one per row.
    biases : list of array_like, optional
        ``b_0 ... b_l`` (1-D, ``b_k`` of length ``n_{k+1}``); default zeros.
    activation : str, Activation or list of them, optional
        A name of :data:`lipsdp.ACTIVATIONS`, an :class:`~lipsdp.Activation`, or one per hidden
        layer; default ReLU for slopes ``(0, 1)`` and leaky ReLU for ``(a, 1)``. Its slope range
        must lie inside the network's slopes.

    Returns
    -------
    ndarray, shape (batch, n_out)

    Raises
    ------
    ValueError, TypeError
        As :func:`certified_radius`.
    """
    net = _check_net(net)
    acts = _check_activations(activation, net)
    bs = _check_biases(biases, net)
    X = _check_inputs(x, net.widths[0])
    return _forward(net, X, bs, acts)[0]


# --- certified radii ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RadiusResult(Result):
    """Certified l2 radii of a batch of inputs (:func:`certified_radius`).

    Attributes
    ----------
    radii : ndarray, shape (batch,)
        Proved radius per input: no perturbation ``d`` with ``||d||_2 < radii[s]`` changes the
        prediction at ``x[s]``. ``0`` for a misclassified input (or one whose margin is not
        proved positive, a near tie); ``nan`` where a bound that input needs was not certified;
        ``inf`` where every margin it needs is constant.
    predictions : ndarray of int, shape (batch,)
        ``argmax_j f_j(x)``.
    labels : ndarray of int, shape (batch,)
        The labels the radii are for (the predictions when none were given).
    correct : ndarray of bool, shape (batch,)
        ``predictions == labels``.
    margins : ndarray, shape (batch,)
        ``f_y(x) - max_{j != y} f_j(x)`` as computed in float64 (negative when misclassified).
    closest : ndarray of int, shape (batch,)
        The class ``j`` whose margin gives the radius; ``-1`` for a misclassified input, an
        unproved margin, and a ``nan`` or ``inf`` radius.
    pair_bounds : dict
        ``(i, j) -> L_ij`` with ``i < j``: the proved bound on the Lipschitz constant of
        ``f_i - f_j`` used, for each pair some input needed (``nan`` if not certified);
        empty when ``pairwise`` is False.
    global_bound : float or None
        The proved bound ``L`` on ``f`` used when ``pairwise`` is False, else None.
    bound_results : dict
        The :class:`LipschitzResult` behind each bound, keyed by pair, or ``"global"``.
    certified : bool
        Whether every bound needed was certified (no ``nan`` radius).
    status : str
        ``"certified"``, or ``"not_certified: ..."`` naming the first bound that failed.
    method, pairwise
        As passed.
    """

    radii: np.ndarray
    predictions: np.ndarray
    labels: np.ndarray
    correct: np.ndarray
    margins: np.ndarray
    closest: np.ndarray
    pair_bounds: dict = field(default_factory=dict)
    global_bound: float | None = None
    bound_results: dict = field(default_factory=dict)
    certified: bool = True
    status: str = "certified"
    method: str = "lipsdp"
    pairwise: bool = True

    def certified_accuracy(self, radii: object) -> float | np.ndarray:
        """:func:`certified_accuracy` of this result at ``radii`` (a number or a 1-D array)."""
        return certified_accuracy(self, radii)

    def __repr__(self) -> str:
        n = self.radii.size
        acc = float(np.mean(self.correct))
        kind = f"{len(self.pair_bounds)} pair bounds" if self.pairwise else "global bound"
        known = self.radii[~np.isnan(self.radii)]
        median = float(np.median(known)) if known.size else np.nan
        return (f"RadiusResult({n} inputs, accuracy {acc:.4g}, median radius "
                f"{median:.4g}, {kind}, method={self.method!r}, "
                f"status={self.status!r})")


def certified_accuracy(result: RadiusResult, radii: object) -> float | np.ndarray:
    """Fraction of inputs that are correctly classified with a certified radius ``> r``.

    Parameters
    ----------
    result : RadiusResult
    radii : float or 1-D array_like of float
        Nonnegative perturbation norms ``r``.

    Returns
    -------
    float or ndarray
        For each ``r``: the fraction of inputs whose prediction is correct and provably
        unchanged by every perturbation ``d`` with ``||d||_2 <= r`` (radius strictly above
        ``r``; a ``nan`` radius never counts). At ``r = 0`` this is the accuracy less the
        inputs whose margin is not proved positive.

    Raises
    ------
    TypeError
        ``result`` is not a :class:`RadiusResult`.
    ValueError
        A negative, non-finite or non-numeric radius, or radii that are not 0-D or 1-D.
    """
    if not isinstance(result, RadiusResult):
        raise TypeError(f"result is {type(result).__name__}; expected a RadiusResult "
                        "(from lipsdp.certified_radius)")
    r = np.asarray(radii)
    if r.dtype == object or not np.issubdtype(r.dtype, np.number) or np.iscomplexobj(r):
        raise TypeError(f"radii has dtype {r.dtype}; expected real numbers")
    if r.ndim > 1:
        raise ValueError(f"radii has shape {r.shape}; expected a number or a 1-D array")
    r = r.astype(np.float64)
    if not np.all(np.isfinite(r)) or np.any(r < 0):
        raise ValueError(f"radii is {radii!r}; expected finite nonnegative numbers")
    ok = result.correct & ~np.isnan(result.radii)
    radius = np.where(ok, result.radii, -np.inf)
    acc = np.mean(radius[None, :] > np.atleast_1d(r)[:, None], axis=1)
    return float(acc[0]) if r.ndim == 0 else acc


def _check_labels(labels: object, batch: int, n_out: int) -> np.ndarray:
    y = np.asarray(labels)
    if y.dtype == object or not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"labels has dtype {y.dtype}; expected integer class indices")
    if y.shape != (batch,):
        raise ValueError(f"labels has shape {y.shape}; expected ({batch},), one per row of x")
    bad = (y < 0) | (y >= n_out)
    if bad.any():
        s = int(np.flatnonzero(bad)[0])
        raise ValueError(f"labels[{s}] is {int(y[s])}; expected a class in 0..{n_out - 1} "
                         f"(the network has {n_out} outputs); {int(bad.sum())} label(s) out of "
                         "range")
    return y.astype(np.intp)


def _bound(net: Network, method: str, settings: dict) -> LipschitzResult:
    """One proved bound (runs in a joblib worker: plain, picklable arguments only)."""
    if method == "lipsdp":
        return solve(net, **settings)
    return closed_form(net, method)


def _down(a: np.ndarray) -> np.ndarray:
    """The next float below (towards -inf): a lower bound on an exact value ``a`` rounds to."""
    return np.nextafter(a, -np.inf)


def certified_radius(
    net: Network,
    x: object,
    labels: object = None,
    *,
    biases: object = None,
    activation: object = None,
    method: str = "lipsdp",
    pairwise: bool = True,
    n_jobs: int | None = None,
    variant: str = "full",
    multipliers: str = "neuron",
    solver: str = "auto",
    options: Mapping | None = None,
) -> RadiusResult:
    """Certified l2 robustness radii of a classifier at a batch of inputs.

    Parameters
    ----------
    net : Network
        The classifier's weights and slopes; its outputs are the class scores (at least 2).
    x : array_like, shape (batch, n_0)
        Finite inputs, one per row.
    labels : array_like of int, shape (batch,), optional
        True classes; a misclassified input gets radius 0. Default: the predictions (the radius
        within which the prediction does not change).
    biases : list of array_like, optional
        ``b_0 ... b_l`` (``b_k`` 1-D of length ``n_{k+1}``); default zeros. They shift the
        outputs, not the bounds.
    activation : str, Activation or list of them, optional
        The hidden activations (names of :data:`lipsdp.ACTIVATIONS`, one for all layers or one
        per hidden layer); default ReLU for slopes ``(0, 1)``, leaky ReLU for ``(a, 1)``. Each
        one's slope range must lie inside the network's slopes, else the bounds would not apply.
    method : str
        ``"lipsdp"`` (:func:`lipsdp.solve` with ``variant``, ``multipliers``, ``solver``,
        ``options``) or a closed form of :data:`lipsdp.CLOSED_FORM_METHODS`.
    pairwise : bool
        True (default): one bound per class pair, ``R = min_j (f_y - f_j) / L_yj``. False: one
        bound ``L`` on the whole network, ``R = (f_y - max_{j != y} f_j) / (sqrt(2) L)``.
    n_jobs : int, optional
        joblib workers for the pair bounds (``-1``: all cores); ``None`` defers to
        :func:`joblib.parallel_config` (serial by default, or e.g. a Dask cluster).
    variant, multipliers, solver, options
        Passed to :func:`lipsdp.solve` when ``method="lipsdp"``.

    Returns
    -------
    RadiusResult
        ``radii`` (proved: below each, no perturbation changes the prediction; 0 when
        misclassified), the bounds used, predictions, and ``certified_accuracy(radii)``.

    Raises
    ------
    TypeError
        Arguments of the wrong kind (a non-integer label array, non-numeric inputs).
    ValueError
        ``x`` not of shape ``(batch, n_0)`` or with non-finite entries, labels of the wrong
        shape or out of range, biases of the wrong shapes, an activation outside the slopes,
        fewer than 2 outputs, an unknown method, variant, multipliers or solver.

    Notes
    -----
    Each class pair's bound is solved once, only for the pairs some input needs (those with
    label ``y`` correctly classified with a margin proved positive need ``(y, j)`` for every
    ``j != y``); ``(i, j)`` and ``(j, i)`` share one bound, as ``f_i - f_j`` and ``f_j - f_i``
    have the same Lipschitz constant. The margins are lowered by a bound on the float64
    forward pass's rounding (:func:`_forward`; smooth activations are assumed accurate to 16
    ulps), and each quotient is rounded down, so a radius is a proved one for the network as
    given.

    References
    ----------
    Y. Tsuzuku, I. Sato, M. Sugiyama, "Lipschitz-Margin Training: Scalable Certification of
    Perturbation Invariance for Deep Neural Networks", NeurIPS 2018 (``margin / (sqrt(2) L)``).
    M. Fazlyab et al., "Efficient and Accurate Estimation of Lipschitz Constants for Deep Neural
    Networks", NeurIPS 2019 (LipSDP; the margin bounds of its reference code).

    Examples
    --------
    >>> import numpy as np, lipsdp
    >>> net = lipsdp.Network([np.eye(2), np.array([[1.0, 0.0], [0.0, 1.0]])])
    >>> res = lipsdp.certified_radius(net, np.array([[1.0, 0.0]]), [0], method="naive")
    >>> round(float(res.radii[0]), 6)   # margin 1, ||(1, -1)|| = sqrt(2)
    0.707107
    """
    start = time.perf_counter()
    net = _check_net(net)
    n_out = net.widths[-1]
    if n_out < 2:
        raise ValueError(f"the network has {n_out} output; a classifier's margin needs at "
                         "least 2")
    if not isinstance(method, str):
        raise TypeError(f"method is {type(method).__name__}; expected a method name (str)")
    if method != "lipsdp" and method not in CLOSED_FORM_METHODS:
        raise ValueError(f"method is {method!r}; expected 'lipsdp' or one of "
                         f"{sorted(CLOSED_FORM_METHODS)}")
    if not isinstance(pairwise, bool):
        raise TypeError(f"pairwise is {type(pairwise).__name__}; expected a bool")
    n_jobs = _check_n_jobs(n_jobs)
    settings: dict = {}
    if method == "lipsdp":
        if variant not in VARIANTS:
            raise ValueError(f"variant is {variant!r}; expected one of {sorted(VARIANTS)}")
        if multipliers not in MULTIPLIERS:
            raise ValueError(f"multipliers is {multipliers!r}; expected one of "
                             f"{list(MULTIPLIERS)}")
        if options is not None and not isinstance(options, Mapping):
            raise TypeError(f"options is {type(options).__name__}; expected a mapping")
        if not isinstance(solver, str):
            raise TypeError(f"solver is {type(solver).__name__}; expected a backend name")
        if solver != "auto":
            solver = solvers.check_solver(solver)
        settings = {"variant": variant, "multipliers": multipliers, "solver": solver,
                    "options": dict(options or {})}
    acts = _check_activations(activation, net)
    bs = _check_biases(biases, net)
    X = _check_inputs(x, net.widths[0])
    F, E = _forward(net, X, bs, acts)
    batch = X.shape[0]
    predictions = np.argmax(F, axis=1).astype(np.intp)
    y = predictions.copy() if labels is None else _check_labels(labels, batch, n_out)
    correct = predictions == y
    rows = np.arange(batch)
    fy = F[rows, y]
    others = F.copy()
    others[rows, y] = -np.inf
    margins = fy - np.max(others, axis=1)
    # Proved lower bounds on every margin f_y - f_j (the subtraction's rounding included).
    diff = fy[:, None] - F
    low = diff - 2.0 * (E[rows, y][:, None] + E + _U * np.abs(diff))
    low[rows, y] = np.inf
    positive = correct & np.all(low > 0, axis=1)

    def pair(i: int, j: int) -> tuple[int, int]:
        return (i, j) if i < j else (j, i)

    if pairwise:
        needed = sorted({pair(int(c), j) for c in np.unique(y[positive])
                         for j in range(n_out) if j != c})
        nets = [margin_network(net, i, j) for i, j in needed]
    else:
        needed, nets = ["global"], [net]
    logger.info("certified_radius: %d inputs, %d bound(s) to solve (method %s, n_jobs=%s)",
                batch, len(needed), method, n_jobs)
    if nets:
        from joblib import Parallel, delayed

        solved = Parallel(n_jobs=n_jobs)(delayed(_bound)(m, method, settings) for m in nets)
    else:
        solved = []
    bound_results = dict(zip(needed, solved, strict=True))
    values = {k: (float(r.value) if r.certified else np.nan) for k, r in bound_results.items()}
    failed = [k for k in needed if np.isnan(values[k])]
    status = "certified"
    if failed:
        res = bound_results[failed[0]]
        what = "the global bound" if failed[0] == "global" else f"pair {failed[0]}"
        status = f"not_certified: {what}: {res.summary}"

    # L per (input, class); the radius is min_j low_j / L_j, every quotient rounded down.
    if pairwise:
        L = np.full((n_out, n_out), np.nan)
        for (i, j), v in values.items():
            L[i, j] = L[j, i] = v
        Lyj = L[y]
    else:
        g = values.get("global", np.nan)
        up = np.nextafter(np.nextafter(np.sqrt(2.0), np.inf) * g, np.inf) if g > 0 else g
        Lyj = np.full((batch, n_out), up)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(Lyj > 0, _down(low / np.where(Lyj > 0, Lyj, 1.0)), np.inf)
    q = np.where(np.isnan(Lyj), np.nan, q)
    q[rows, y] = np.inf
    radii = np.zeros(batch)
    closest = np.full(batch, -1, dtype=np.intp)
    idx = np.flatnonzero(positive)
    if idx.size:
        qi = q[idx]
        unknown = np.isnan(qi).any(axis=1)
        best = np.argmin(np.where(np.isnan(qi), np.inf, qi), axis=1)
        radii[idx] = np.where(unknown, np.nan, qi[np.arange(idx.size), best])
        closest[idx] = np.where(unknown | np.isinf(radii[idx]), -1, best)
    pair_bounds = {k: v for k, v in values.items() if k != "global"} if pairwise else {}
    return RadiusResult(
        radii=radii, predictions=predictions, labels=y, correct=correct, margins=margins,
        closest=closest, pair_bounds=pair_bounds,
        global_bound=None if pairwise else float(values.get("global", np.nan)),
        bound_results=bound_results, certified=not failed, status=status, method=method,
        pairwise=pairwise, total_time=time.perf_counter() - start,
        info={"n_bounds": len(needed), "settings": settings, "n_jobs": n_jobs},
    )
