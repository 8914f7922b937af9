"""Certificate files: a result's exact certificate and what it was computed for, as ``.npz``.

``.npz`` rather than JSON: float64 arrays are stored bit for bit (no decimal or hex-float
conversion to get right), it loads without pickle, and it is the format the package already
reads weights from. The file holds (all plain arrays, ``np.load(path)`` shows them):

- ``format``: ``"lipsdp-certificate"``, ``format_version``: 1;
- the certificate, exactly (:class:`~lipsdp.result.Certificate`): ``rho_mantissa``,
  ``rho_exponent`` (``rho = rho_mantissa * 2**rho_exponent``), ``t_0 ... t_{l-1}`` (mantissas
  of the multipliers, one per hidden layer) and ``t_exponents``;
- what it certifies: ``widths``, ``slopes`` (one ``(alpha, beta)`` row per hidden layer),
  ``weights_sha256`` (of the float64 weights, so that a check against other weights can say
  so), ``value`` (the proved bound), ``method``, ``variant``, ``solver`` (``""`` for none),
  ``lipsdp_version``.

:func:`lipsdp.certify` re-proves the bound from the certificate alone; the metadata is never
trusted for the proof.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .network import Network
from .result import Certificate, LipschitzResult

__all__ = ["CertificateFile", "read_certificate", "weights_digest", "write_certificate"]

FORMAT = "lipsdp-certificate"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class CertificateFile:
    """A certificate file's contents: the exact ``certificate`` and its metadata."""

    certificate: Certificate
    widths: tuple[int, ...]
    slopes: tuple[tuple[float, float], ...]
    value: float
    method: str
    variant: str | None
    solver: str | None
    lipsdp_version: str
    weights_sha256: str


def weights_digest(net: Network) -> str:
    """SHA-256 over the network's widths and its weights' float64 bytes (C order)."""
    h = hashlib.sha256(np.asarray(net.widths, dtype=np.int64).tobytes())
    for W in net.weights:
        h.update(np.ascontiguousarray(W, dtype=np.float64).tobytes())
    return h.hexdigest()


def write_certificate(path: str | Path, net: Network, result: LipschitzResult,
                      version: str) -> Path:
    """Write ``result.certificate`` for ``net`` to ``path`` (``.npz``; returns the path written,
    which ``np.savez`` gives the ``.npz`` suffix where it lacks one).

    Raises
    ------
    ValueError
        If ``result`` is not certified or has no certificate (a constant or linear network, a
        split certified by its parts), or the certificate does not fit ``net``.
    """
    cert = result.certificate
    if not result.certified or cert is None:
        raise ValueError(
            f"{result.method} ({result.summary}) has no certificate to save: only a bound proved "
            "from a point (rho, t) of the LMI has one"
        )
    cert.checked(net.hidden_widths)
    path = Path(path)
    if path.suffix.lower() != ".npz":
        path = path.with_name(path.name + ".npz")
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT),
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "rho_mantissa": np.array(cert.rho, dtype=np.float64),
        "rho_exponent": np.array(cert.rho_exponent, dtype=np.int64),
        "t_exponents": np.array(cert.exponents, dtype=np.int64),
        "widths": np.array(net.widths, dtype=np.int64),
        "slopes": np.array(net.slopes, dtype=np.float64).reshape(net.n_hidden, 2),
        "weights_sha256": np.array(weights_digest(net)),
        "value": np.array(result.value, dtype=np.float64),
        "method": np.array(result.method),
        "variant": np.array(result.variant or ""),
        "solver": np.array(result.solver or ""),
        "lipsdp_version": np.array(version),
    }
    for k, t in enumerate(cert.multipliers):
        arrays[f"t_{k}"] = np.asarray(t, dtype=np.float64)
    np.savez(path, **arrays)
    return path


def _scalar(data: dict, key: str, kind: str, path: Path) -> object:
    if key not in data:
        raise ValueError(f"{path}: certificate file has no {key!r}; expected a file written by "
                         "lipsdp solve --save-certificate")
    a = data[key]
    ok = a.ndim == 0 and {"str": a.dtype.kind == "U", "int": a.dtype.kind in "iu",
                          "float": a.dtype.kind == "f"}[kind]
    if not ok:
        raise ValueError(f"{path}: {key!r} is {a.dtype} {a.shape}; expected a {kind} scalar")
    return {"str": str, "int": int, "float": float}[kind](a)


def read_certificate(path: str | Path) -> CertificateFile:
    """Read a file written by :func:`write_certificate`.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is not a readable ``.npz`` certificate file, naming the file and the key.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"certificate file {str(path)!r} does not exist")
    try:
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"{path}: not a readable .npz certificate file ({exc})") from exc
    if data.get("format") is None or str(data["format"]) != FORMAT:
        raise ValueError(f"{path}: not a lipsdp certificate file (no format={FORMAT!r}; keys: "
                         f"{sorted(data)})")
    version = _scalar(data, "format_version", "int", path)
    if version != FORMAT_VERSION:
        raise ValueError(f"{path}: certificate format version {version}; this lipsdp reads "
                         f"version {FORMAT_VERSION}")
    widths = data.get("widths")
    if widths is None or widths.ndim != 1 or widths.dtype.kind not in "iu" or widths.size < 2:
        raise ValueError(f"{path}: 'widths' is missing or not a list of at least 2 integers")
    l = widths.size - 2
    exps = data.get("t_exponents")
    if exps is None or exps.shape != (l,) or exps.dtype.kind not in "iu":
        raise ValueError(f"{path}: 't_exponents' is missing or not {l} integers")
    slopes = data.get("slopes")
    if slopes is None or slopes.shape != (l, 2) or slopes.dtype.kind != "f":
        raise ValueError(f"{path}: 'slopes' is missing or not a ({l}, 2) float array")
    ts = []
    for k in range(l):
        t = data.get(f"t_{k}")
        if t is None or t.dtype.kind != "f" or t.shape != (int(widths[k + 1]),):
            raise ValueError(f"{path}: 't_{k}' is missing or not {int(widths[k + 1])} floats "
                             f"(hidden layer {k + 1})")
        ts.append(t)
    cert = Certificate(rho=_scalar(data, "rho_mantissa", "float", path), multipliers=tuple(ts),
                       rho_exponent=_scalar(data, "rho_exponent", "int", path),
                       exponents=tuple(int(e) for e in exps))
    return CertificateFile(
        certificate=cert,
        widths=tuple(int(w) for w in widths),
        slopes=tuple((float(a), float(b)) for a, b in slopes),
        value=_scalar(data, "value", "float", path),
        method=_scalar(data, "method", "str", path),
        variant=_scalar(data, "variant", "str", path) or None,
        solver=_scalar(data, "solver", "str", path) or None,
        lipsdp_version=_scalar(data, "lipsdp_version", "str", path),
        weights_sha256=_scalar(data, "weights_sha256", "str", path),
    )
