"""Reading weight files: ``.npz`` and MATLAB ``.mat`` (the LipSDP reference code's layout)."""

from __future__ import annotations

import logging
import re
import zipfile
from importlib import resources
from pathlib import Path

import numpy as np

from .network import Network

__all__ = ["example_network", "load_network", "load_weights"]

logger = logging.getLogger(__name__)


def _natural_key(name: str) -> list:
    return [int(s) if s.isdigit() else s.lower() for s in re.split(r"(\d+)", name)]


def _from_mapping(arrays: dict[str, np.ndarray], path: Path) -> list[np.ndarray]:
    weights = []
    for key in sorted(arrays, key=_natural_key):
        a = np.asarray(arrays[key])
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
    if not weights:
        raise ValueError(f"{path}: no 2-D weight matrices found (keys: {sorted(arrays)})")
    return weights


def _is_bias_name(key: str) -> bool:
    return bool(re.fullmatch(r"(b|bias)_?\d*|.*_bias", key.lower()))


def _load_mat(path: Path) -> list[np.ndarray]:
    import scipy.io
    from scipy.io.matlab import MatReadError

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
        return [np.asarray(W) for W in cell.ravel()]
    layered = {k: v for k, v in data.items() if re.fullmatch(r"W_?\d+", k)}
    if layered:
        return _from_mapping(layered, path)
    # A PyTorch state_dict saved by scipy.io.savemat: one struct whose fields are named like
    # ``linear_0_weight`` (shape (out, in), as torch stores it) and ``linear_0_bias``.
    structs = {k: v for k, v in data.items() if v.dtype.names and v.size == 1}
    found = {k: {f: np.asarray(v[f].item()) for f in v.dtype.names
                 if f.lower().endswith("weight")} for k, v in structs.items()}
    found = {k: fields for k, fields in found.items() if fields}
    if len(found) == 1:
        return _from_mapping(next(iter(found.values())), path)
    raise ValueError(
        f"{path}: expected a cell array 'weights', variables W0 ... Wl, or one struct of "
        f"'*_weight' fields (a saved state_dict); found {sorted(data)}"
    )


def load_weights(path: str | Path) -> list[np.ndarray]:
    """Read the weight matrices ``W_0 ... W_l`` of a network from a file.

    Parameters
    ----------
    path : str or Path
        ``.npz``: the 2-D arrays in layer order, keys sorted naturally (``w10`` after ``w9``);
        1-D arrays and keys named like biases are skipped. ``.mat``: the LipSDP reference code's
        ``weights`` cell array, variables ``W0 ... Wl``, or one struct whose fields ending in
        ``weight`` are the matrices (a PyTorch ``state_dict`` saved with ``scipy.io.savemat``,
        e.g. ``params.linear_0_weight``), in natural order of their names.

    Returns
    -------
    list of ndarray
        Weights with shapes ``(n_{k+1}, n_k)`` (not yet validated; see :class:`Network`).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If the file is unreadable, of an unknown type, or holds no weight matrices.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"weights file {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise ValueError(f"{path}: not a readable .npz file ({exc})") from exc
        return _from_mapping(arrays, path)
    if suffix == ".mat":
        return _load_mat(path)
    raise ValueError(f"{path}: unknown file type {suffix!r}; expected .npz or .mat")


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
