"""Reading and writing networks: :func:`load` (weight files, PyTorch, ONNX, safetensors) and
:func:`save`; :func:`load_weights` and :func:`load_network` read ``.npz`` and MATLAB ``.mat``.

Orientation of array files. A weight here is ``(out, in)`` (``W x``, PyTorch's ``Linear``). Files
that state their orientation are read by it: PyTorch and ONNX files, the LipSDP reference code's
``weights`` cell array, ``W0 ... Wl`` variables, ``*_weight`` state-dict fields (``(out, in)``),
GLipSDP's top-level ``fc{i}_weight`` variables and arrays named ``*kernel`` (Keras, Flax:
``(in, out)``, transposed on reading). Square kernels cannot be told apart from their transposes,
so the layout's convention is never guessed from shapes: when the matrices do not chain in the
convention's orientation but do transposed, the error says so and ``transpose=True`` (or
``False``) decides explicitly.
"""

from __future__ import annotations

import logging
import re
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from .network import Network

__all__ = ["example_network", "load", "load_affine", "load_network", "load_weights", "save"]

logger = logging.getLogger(__name__)


def _natural_key(name: str) -> list:
    return [int(s) if s.isdigit() else s.lower() for s in re.split(r"(\d+)", name)]


#: Keys of :func:`save`'s metadata in an ``.npz`` file.
_META_KEYS = ("slopes", "activation")


def _from_mapping(arrays: dict[str, np.ndarray], path: Path, keys_out: list | None = None
                  ) -> list[np.ndarray]:
    weights = []
    for key in sorted(arrays, key=_natural_key):
        a = np.asarray(arrays[key])
        if key in _META_KEYS:
            continue
        if a.dtype != object and not (np.issubdtype(a.dtype, np.number)
                                      or np.issubdtype(a.dtype, np.bool_)):
            raise ValueError(f"{path}: array {key!r} has dtype {a.dtype}; expected numbers")
        if a.dtype == object or (a.ndim == 2 and min(a.shape) == 1 and _is_bias_name(key)):
            logger.info("%s: skipping %r (not a weight matrix)", path, key)
            continue
        if a.ndim == 1:
            logger.info("%s: skipping 1-D array %r (a bias does not change a Lipschitz bound)",
                        path, key)
            continue
        if a.ndim != 2:
            raise ValueError(
                f"{path}: array {key!r} has shape {a.shape}; expected a 2-D weight matrix"
            )
        weights.append(a)
        if keys_out is not None:
            keys_out.append(key)
    if not weights:
        raise ValueError(f"{path}: no 2-D weight matrices found (keys: {sorted(arrays)})")
    return weights


def _is_bias_name(key: str) -> bool:
    return bool(re.fullmatch(r"(b|bias)_?\d*|.*_bias", key.lower()))


@dataclass
class _Arrays:
    """What an array file holds: matrices as stored, their keys, every array (for biases), the
    layout's orientation and :func:`save`'s metadata."""

    weights: list
    keys: list
    arrays: dict
    in_out: bool = False
    meta: dict = field(default_factory=dict)


def _load_mat(path: Path) -> _Arrays:
    import scipy.io
    from scipy.io.matlab import MatReadError

    if path.stat().st_size == 0:
        raise ValueError(f"{path}: not a readable MATLAB v5 file (the file is empty)")
    try:
        data = scipy.io.loadmat(path)
    except (MatReadError, ValueError, TypeError, OSError, NotImplementedError, IndexError,
            KeyError, EOFError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a readable MATLAB v5 file ({exc})") from exc
    data = {k: v for k, v in data.items() if not k.startswith("__")}
    if "weights" in data:
        cell = data["weights"]
        if cell.dtype != object:
            raise ValueError(f"{path}: variable 'weights' is {cell.dtype} {cell.shape}; "
                             "expected a cell array of weight matrices")
        weights = [np.asarray(W) for W in cell.ravel()]
        for k, W in enumerate(weights):
            if W.dtype == object or not np.issubdtype(W.dtype, np.number):
                raise ValueError(f"{path}: weights{{{k + 1}}} has dtype {W.dtype}; expected "
                                 "a numeric matrix")
        return _Arrays(weights, [f"weights{{{k + 1}}}" for k in range(len(weights))], {})
    layered = {k: v for k, v in data.items() if re.fullmatch(r"W_?\d+", k)}
    if layered:
        keys: list = []
        return _Arrays(_from_mapping(layered, path, keys), keys, data)
    # GLipSDP's Comparison exports: top-level fc{i}_weight stored (in, out), fc{i}_bias.
    fc = {k: v for k, v in data.items() if re.fullmatch(r"fc\d+_weight", k)}
    if fc:
        keys = []
        return _Arrays(_from_mapping(fc, path, keys), keys, data, in_out=True)
    # A PyTorch state_dict saved by scipy.io.savemat: one struct whose fields are named like
    # ``linear_0_weight`` (shape (out, in), as torch stores it) and ``linear_0_bias``.
    structs = {k: v for k, v in data.items() if v.dtype.names and v.size == 1}
    found = {k: {f: np.asarray(v[f].item()) for f in v.dtype.names} for k, v in structs.items()}
    found = {k: fields for k, fields in found.items()
             if any(f.lower().endswith("weight") for f in fields)}
    if len(found) == 1:
        fields = next(iter(found.values()))
        keys = []
        weights = _from_mapping({f: v for f, v in fields.items() if f.lower().endswith("weight")},
                                path, keys)
        return _Arrays(weights, keys, fields)
    raise ValueError(
        f"{path}: expected a cell array 'weights', variables W0 ... Wl, fc1_weight ... (GLipSDP), "
        f"or one struct of '*_weight' fields (a saved state_dict); found {sorted(data)}"
    )


def _load_npz(path: Path) -> _Arrays:
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: not a readable .npz file (the file is empty)")
    try:
        with np.load(path, allow_pickle=False) as data:
            if not hasattr(data, "files"):
                raise ValueError("a single .npy array, not an archive")
            arrays = {k: data[k] for k in data.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"{path}: not a readable .npz file ({_one_line(exc)})") from exc
    meta = {}
    if "slopes" in arrays:
        meta["slopes"] = np.asarray(arrays["slopes"], dtype=np.float64).reshape(-1, 2)
    if "activation" in arrays:
        meta["activation"] = [str(a) for a in np.asarray(arrays["activation"]).ravel()]
    keys: list = []
    weights = _from_mapping(arrays, path, keys)
    in_out = bool(keys) and all(k.lower().endswith("kernel") for k in keys)
    return _Arrays(weights, keys, arrays, in_out=in_out, meta=meta)


def _load_safetensors(path: Path) -> _Arrays:
    from .models import read_safetensors

    arrays = read_safetensors(path)
    if all("." in k for k in arrays):
        # PyTorch names (``0.weight``): read as a state dict, so that a batch norm's or a
        # parametrised weight's keys are refused, never skipped.
        from .models import state_dict_affine

        state_dict_affine(arrays, str(path))
    keys: list = []
    weights = _from_mapping(arrays, path, keys)
    in_out = all(k.lower().endswith("kernel") for k in keys)
    return _Arrays(weights, keys, arrays, in_out=in_out)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _chains(shapes: list) -> int | None:
    """The first ``k`` whose shape does not follow ``shapes[k - 1]`` as ``(out, in)``, or None."""
    for k in range(1, len(shapes)):
        if shapes[k][1] != shapes[k - 1][0]:
            return k
    return None


def _orient(a: _Arrays, path: Path, transpose: bool | None) -> list[np.ndarray]:
    if transpose is not None and not isinstance(transpose, bool):
        raise TypeError(f"transpose is {transpose!r}; expected True, False or None")
    flip = a.in_out if transpose is None else transpose
    Ws = [np.asarray(W).T if flip else np.asarray(W) for W in a.weights]
    bad = _chains([W.shape for W in Ws])
    if bad is not None:
        other = _chains([W.shape[::-1] for W in Ws])
        stored = "(in, out)" if flip else "(out, in)"
        hint = ""
        if other is None:
            hint = (f"; they do as {'(out, in)' if flip else '(in, out)'}: pass "
                    f"transpose={not flip} if the file stores them so")
        raise ValueError(
            f"{path}: {a.keys[bad]!r} has shape {a.weights[bad].shape}, which as {stored} does "
            f"not follow {a.keys[bad - 1]!r} (shape {a.weights[bad - 1].shape}): the matrices do "
            f"not chain{hint}"
        )
    return Ws


def _biases(a: _Arrays, Ws: list) -> list[np.ndarray]:
    from .models import bias_key

    out = []
    for key, W in zip(a.keys, Ws, strict=True):
        bk = bias_key(key, a.arrays)
        b = np.zeros(W.shape[0])
        if bk is not None:
            cand = np.asarray(a.arrays[bk], dtype=np.float64).reshape(-1)
            if cand.size == W.shape[0]:
                b = cand
        out.append(b)
    return out


def _read_array_file(path: Path) -> _Arrays:
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _load_npz(path)
    if suffix == ".mat":
        return _load_mat(path)
    if suffix == ".safetensors":
        return _load_safetensors(path)
    raise ValueError(f"{path}: unknown file type {suffix!r}; expected .npz, .mat, .safetensors, "
                     ".pt, .pth or .onnx")


def load_weights(path: str | Path, *, transpose: bool | None = None) -> list[np.ndarray]:
    """Read the weight matrices ``W_0 ... W_l`` of a network from an array file.

    Parameters
    ----------
    path : str or Path
        ``.npz``: the 2-D arrays in layer order, keys sorted naturally (``w10`` after ``w9``);
        1-D arrays and keys named like biases are skipped. ``.mat``: the LipSDP reference code's
        ``weights`` cell array, variables ``W0 ... Wl``, GLipSDP's ``fc1_weight ...`` (stored
        ``(in, out)``), or one struct whose fields ending in ``weight`` are the matrices (a
        PyTorch ``state_dict`` saved with ``scipy.io.savemat``, e.g. ``params.linear_0_weight``),
        in natural order of their names. ``.safetensors``: as ``.npz``.
    transpose : bool, optional
        ``True``: the file stores ``(in, out)`` matrices (Keras kernels); ``False``: ``(out, in)``;
        default: the layout's convention (module docstring).

    Returns
    -------
    list of ndarray
        Weights with shapes ``(n_{k+1}, n_k)`` that chain.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is empty, unreadable, of an unknown type, holds non-numeric arrays or no
        weight matrices, or its matrices do not chain (naming the key that breaks the chain).
    """
    path = _existing(path)
    a = _read_array_file(path)
    return _orient(a, path, transpose)


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"weights file {str(path)!r} does not exist")
    if path.is_dir():
        raise ValueError(f"{path}: is a directory; expected a weights file")
    return path


def load_affine(path_or_model: object, *, transpose: bool | None = None,
                allow_pickle: bool = False
                ) -> tuple[list[np.ndarray], list[np.ndarray], list[str] | None]:
    """Weights, biases and activation names of a model, for evaluating ``f(x)``.

    Parameters
    ----------
    path_or_model
        See :func:`load`.
    transpose, allow_pickle
        See :func:`load`.

    Returns
    -------
    weights : list of ndarray
        ``W_k`` of shape ``(n_{k+1}, n_k)``, float64.
    biases : list of ndarray
        ``b_k`` of shape ``(n_{k+1},)`` (zeros where the source has none).
    activations : list of str or None
        The hidden activations' table names, or None where the source does not say (array
        files, state dicts). :func:`lipsdp.models.evaluate` computes
        ``W_l phi(... phi(W_0 x + b_0) ...) + b_l`` from the three.
    """
    from . import models

    if isinstance(path_or_model, (str, Path)):
        path = _existing(path_or_model)
        suffix = path.suffix.lower()
        if suffix in (".pt", ".pth", ".onnx") and transpose is not None:
            raise ValueError(f"{path}: transpose applies to array files (.npz, .mat, "
                             f".safetensors); a {suffix} file states its orientation")
        if suffix in (".pt", ".pth"):
            return models.load_torch_file(path, allow_pickle)
        if suffix == ".onnx":
            return models.onnx_affine(path, str(path))
        a = _read_array_file(path)
        Ws = _orient(a, path, transpose)
        return Ws, _biases(a, Ws), a.meta.get("activation")
    kind = type(path_or_model)
    mod = kind.__module__ or ""
    if transpose is not None and not isinstance(path_or_model, dict):
        raise ValueError(f"transpose applies to array files; a {kind.__name__} states its "
                         "orientation")
    if mod.startswith("torch") or any(c.__module__.startswith("torch.nn") for c in kind.__mro__):
        return models.torch_module_affine(path_or_model, f"{kind.__name__} model")
    if mod.startswith("onnx"):
        return models.onnx_affine(path_or_model, "ONNX model")
    if isinstance(path_or_model, dict):
        if transpose is not None:
            raise ValueError("transpose applies to array files; a state dict is (out, in)")
        return models.state_dict_affine(path_or_model, "state dict")
    raise TypeError(f"path_or_model is {kind.__name__}; expected a file path, a torch.nn.Module, "
                    "an onnx.ModelProto or a state dict")


def load(path_or_model: object, *, slopes: object = None, activation: object = None,
         transpose: bool | None = None, allow_pickle: bool = False) -> Network:
    """A :class:`Network` from a weight file, a PyTorch or ONNX model, or a state dict.

    Parameters
    ----------
    path_or_model : str, Path, torch.nn.Module, onnx.ModelProto or dict
        ``.npz``, ``.mat``, ``.safetensors`` (array files, see :func:`load_weights`; an ``.npz``
        written by :func:`save` brings its slopes); ``.pt``/``.pth`` (a state dict of ``Linear``
        layers, read with ``torch.load(weights_only=True)``, or a whole pickled module); ``.onnx``;
        a live ``torch.nn.Module`` whose leaf children form a chain of ``Linear``, ``Flatten``,
        ``Identity``, ``Dropout``, eval-mode ``BatchNorm1d`` and supported activations (its forward
        is run once to check that it computes that chain); an ``onnx.ModelProto``; a state dict.
        Composition rules (consecutive affine maps multiplied, identity layers where an activation
        lacks a neighbour): :mod:`lipsdp.models`.
    slopes, activation
        As for :class:`Network`. A model or ONNX graph names its activations: ``activation=``
        must then agree with them, and ``slopes=`` must contain their ranges (a wider sector is
        allowed). For array files and state dicts, which do not say, the default is the file's
        saved slopes (:func:`save`), else ReLU's ``(0, 1)``.
    transpose : bool, optional
        Array files only: ``True`` reads ``(in, out)`` matrices, ``False`` ``(out, in)``; default
        the layout's convention (see the module docstring). Never guessed from shapes.
    allow_pickle : bool, default False
        A ``.pt`` file that holds a whole module is a pickle, and unpickling runs code from the
        file: it is refused unless this is True (for files you trust).

    Returns
    -------
    Network

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ImportError
        If the input needs torch or onnx and it is not installed (naming the pip extra).
    ValueError
        One line naming the file and key, layer or node: an empty, truncated or mislabelled file,
        non-numeric arrays, keys that do not form a chain, an unsupported layer (with its position
        and why), an ambiguous or inconsistent activation.

    Examples
    --------
    >>> import lipsdp
    >>> net = lipsdp.load(model)  # doctest: +SKIP
    >>> lipsdp.solve(net).value  # doctest: +SKIP
    """
    weights, _, names = load_affine(path_or_model, transpose=transpose,
                                    allow_pickle=allow_pickle)
    if names is not None and _is_model(path_or_model):
        if activation is not None:
            given = Network(weights, activation=activation).activation
            if given != tuple(names):
                k = next(i for i, (a, b) in enumerate(zip(given, names, strict=True)) if a != b)
                raise ValueError(f"activation[{k}] is {given[k]!r} but the model's hidden layer "
                                 f"{k} is {names[k]!r}")
        return Network(weights, slopes, activation=tuple(names))  # type: ignore[arg-type]
    if slopes is None and activation is None and isinstance(path_or_model, (str, Path)):
        saved = _read_saved_meta(Path(path_or_model))
        if saved:
            return Network(weights, saved.get("slopes"), activation=saved.get("activation"))
    return Network(weights, slopes, activation=activation)  # type: ignore[arg-type]


def _is_model(obj: object) -> bool:
    return not isinstance(obj, (str, Path)) or Path(obj).suffix.lower() in (".pt", ".pth", ".onnx")


def _read_saved_meta(path: Path) -> dict:
    if path.suffix.lower() != ".npz":
        return {}
    meta = _load_npz(path).meta
    out: dict = {}
    if "slopes" in meta:
        out["slopes"] = [tuple(r) for r in meta["slopes"]]
    if "activation" in meta:
        out["activation"] = meta["activation"]
    return out


def save(net: Network, path: str | Path) -> Path:
    """Write ``net`` to an ``.npz`` file: ``W0 ... Wl`` and its ``slopes`` (and ``activation``
    names when it has them), which :func:`load` reads back to the same network.

    Raises
    ------
    TypeError
        If ``net`` is not a :class:`Network`.
    ValueError
        If ``path`` does not end in ``.npz``.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net is {type(net).__name__}; expected a Network")
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise ValueError(f"{path}: save writes .npz files; expected a path ending in .npz")
    arrays = {f"W{k}": W for k, W in enumerate(net.weights)}
    arrays["slopes"] = np.array(net.slopes, dtype=np.float64).reshape(-1, 2)
    if net.activation is not None:
        arrays["activation"] = np.array(net.activation, dtype=str)
    np.savez(path, **arrays)
    return path


def load_network(path: str | Path, slopes: object = None) -> Network:
    """:func:`load_weights` followed by :class:`Network` (slopes default to ReLU's ``(0, 1)``)."""
    weights = load_weights(path)
    return Network(weights, (0.0, 1.0) if slopes is None else slopes)  # type: ignore[arg-type]


def example_network(slopes: object = None) -> Network:
    """The network bundled with the package: 8-16-16-16-4 with Gaussian weights (seed 0) scaled by
    ``1/sqrt(fan_in)``, stored in ``lipsdp/data/example.npz`` (LMI side 56)."""
    ref = resources.files("lipsdp") / "data" / "example.npz"
    with resources.as_file(ref) as p:
        return load_network(p, slopes)
