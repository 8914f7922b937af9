"""Reading trained models: PyTorch modules and state dicts, ONNX graphs, safetensors.

Every reader turns its input into a chain of *ops* (an affine map, or an elementwise activation
named in :data:`lipsdp.ACTIVATIONS`) and :func:`assemble` turns the chain into the form LipSDP
bounds, ``y = W_l phi_l(... phi_1(W_0 x + b_0) ...) + b_l``:

- consecutive affine maps (``Linear``, eval-mode ``BatchNorm1d``, ``Gemm``, ``MatMul``, ``Add``,
  and the no-ops ``Identity``, ``Dropout``, ``Flatten``, a ``Reshape`` of a vector) are composed
  into one matrix product ``W_2 W_1`` (bias ``W_2 b_1 + b_2``). That is exact and never looser than
  the alternative (an identity activation with slopes ``(1, 1)``, which this package also accepts:
  ``Network(W, activation="identity")``), and the LMI gets smaller. So a batch norm is folded into
  the adjacent ``Linear``, and one between two activations becomes its own diagonal layer;
- an activation with no affine map before it (the model's first op), after it (its last) or
  between it and the next activation gets an identity matrix there, which is exact.

Biases never enter a Lipschitz bound; they are kept so that ``f(x)`` can be evaluated
(:func:`load_affine`, :func:`evaluate`). torch, onnx and safetensors are imported only when such
an input is read.
"""

from __future__ import annotations

import json
import logging
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .activations import get_activation

__all__ = ["assemble", "evaluate"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Affine:
    """``x -> W x + b``, ``W`` of shape ``(out, in)``; ``where`` names it in messages."""

    W: np.ndarray
    b: np.ndarray
    where: str


@dataclass(frozen=True)
class Act:
    """An elementwise activation, by its canonical table name."""

    name: str
    where: str


def _require(module: str, extra: str, what: str):
    try:
        return __import__(module)
    except ImportError as exc:
        raise ImportError(
            f"reading {what} needs {module}, which is not installed: pip install lipsdp[{extra}]"
        ) from exc


def assemble(ops: list, source: str) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """Weights, biases and activation names of a chain of :class:`Affine` and :class:`Act` ops
    (see the module docstring for the composition rules)."""
    if not any(isinstance(op, Affine) for op in ops):
        raise ValueError(f"{source}: no Linear/Gemm/MatMul layer found; nothing to bound")
    merged: list = []
    for op in ops:
        if isinstance(op, Affine) and merged and isinstance(merged[-1], Affine):
            prev = merged[-1]
            if op.W.shape[1] != prev.W.shape[0]:
                raise ValueError(
                    f"{source}: {op.where} takes {op.W.shape[1]} inputs but {prev.where} gives "
                    f"{prev.W.shape[0]}; the layers do not form a chain"
                )
            merged[-1] = Affine(op.W @ prev.W, op.W @ prev.b + op.b, prev.where)
        else:
            merged.append(op)
    # Identity matrices where an activation lacks an affine neighbour.
    out: list = []
    for i, op in enumerate(merged):
        if isinstance(op, Act) and (not out or isinstance(out[-1], Act)):
            if out:
                n = _width_before(out)
            else:
                n = next(o.W.shape[1] for o in merged[i:] if isinstance(o, Affine))
            out.append(Affine(np.eye(n), np.zeros(n), f"identity before {op.where}"))
        out.append(op)
    if isinstance(out[-1], Act):
        n = _width_before(out)
        out.append(Affine(np.eye(n), np.zeros(n), f"identity after {out[-1].where}"))
    for k in range(2, len(out), 2):
        if out[k].W.shape[1] != out[k - 2].W.shape[0]:
            raise ValueError(
                f"{source}: {out[k].where} takes {out[k].W.shape[1]} inputs but "
                f"{out[k - 2].where} gives {out[k - 2].W.shape[0]}; the layers do not form a chain"
            )
    weights = [op.W for op in out[0::2]]
    biases = [op.b for op in out[0::2]]
    names = [op.name for op in out[1::2]]
    return weights, biases, names


def _width_before(ops: list) -> int:
    return next(o.W.shape[0] for o in reversed(ops) if isinstance(o, Affine))


def evaluate(weights, biases, activations, x) -> np.ndarray:
    """``f(x)`` of the network ``weights, biases, activations`` (as :func:`load_affine` returns
    them) at the rows of ``x`` (shape ``(n_0,)`` or ``(batch, n_0)``), in float64."""
    x = np.asarray(x, dtype=np.float64)
    z = x.T if x.ndim == 2 else x
    for k, W in enumerate(weights):
        b = np.asarray(biases[k], dtype=np.float64)
        z = W @ z + (b[:, None] if z.ndim == 2 else b)
        if k < len(activations):
            z = get_activation(activations[k]).phi(z)
    return z.T if x.ndim == 2 else z


def to_float64(a, where: str) -> np.ndarray:
    """A tensor or array as a float64 NumPy array: detached, on the CPU, float16/bfloat16 widened
    (exactly: both are subsets of float64)."""
    if hasattr(a, "detach"):  # a torch tensor, perhaps on a GPU or requiring grad
        import torch

        t = a.detach().cpu()
        if not (t.dtype.is_floating_point or t.dtype in (torch.int8, torch.int16, torch.int32,
                                                          torch.int64, torch.uint8)):
            raise ValueError(f"{where} has dtype {t.dtype}; expected a real numeric tensor")
        return t.to(torch.float64).numpy().copy()
    arr = np.asarray(a)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{where} has dtype {arr.dtype}; expected a real numeric array")
    return arr.astype(np.float64)


# --- PyTorch ----------------------------------------------------------------------------------

#: Layers refused, with the reason: none is an elementwise slope-restricted map or a dense layer.
_REFUSED = {
    "Softmax": "not elementwise (each output depends on the whole vector)",
    "LogSoftmax": "not elementwise (each output depends on the whole vector)",
    "Softmin": "not elementwise (each output depends on the whole vector)",
    "MultiheadAttention": "attention is not an elementwise activation",
    "LayerNorm": "not elementwise (it divides by the vector's own standard deviation)",
    "GroupNorm": "not elementwise (it divides by the group's own standard deviation)",
    "MaxPool1d": "max-pooling is not elementwise", "MaxPool2d": "max-pooling is not elementwise",
    "MaxPool3d": "max-pooling is not elementwise",
    "Conv1d": "convolutions are not supported (dense layers only)",
    "Conv2d": "convolutions are not supported (dense layers only)",
    "Conv3d": "convolutions are not supported (dense layers only)",
}


def _torch_leaf(m, where: str, torch) -> object:
    """The op of one leaf module, ``None`` for a no-op, or a ValueError naming it."""
    nn = torch.nn
    name = type(m).__name__
    if isinstance(m, nn.Linear):
        W = to_float64(m.weight, f"{where}.weight")
        b = (to_float64(m.bias, f"{where}.bias") if m.bias is not None
             else np.zeros(W.shape[0]))
        return Affine(W, b, where)
    if isinstance(m, (nn.Identity, nn.Flatten, nn.Dropout, nn.Dropout1d)):
        return None
    if isinstance(m, nn.BatchNorm1d):
        if m.training or m.running_mean is None:
            raise ValueError(f"{where} is BatchNorm1d in training mode or without running "
                             "statistics: it depends on the batch; call model.eval() first")
        mean = to_float64(m.running_mean, f"{where}.running_mean")
        var = to_float64(m.running_var, f"{where}.running_var")
        gamma = (to_float64(m.weight, f"{where}.weight") if m.weight is not None
                 else np.ones_like(mean))
        beta = to_float64(m.bias, f"{where}.bias") if m.bias is not None else np.zeros_like(mean)
        s = gamma / np.sqrt(var + float(m.eps))
        return Affine(np.diag(s), beta - s * mean, where)
    if isinstance(m, nn.GELU) and getattr(m, "approximate", "none") != "none":
        raise ValueError(f"{where} is GELU(approximate={m.approximate!r}); only the exact (erf) "
                         "GELU has slope bounds here")
    if isinstance(m, nn.Threshold):
        raise ValueError(f"{where} is Threshold: discontinuous, not slope-restricted")
    simple = {nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid", nn.GELU: "gelu",
              nn.SiLU: "silu", nn.ReLU6: "relu6"}
    for cls, act in simple.items():
        if type(m) is cls:
            return Act(act, where)
    if isinstance(m, nn.LeakyReLU):
        return Act(get_activation(f"leaky_relu({float(m.negative_slope)!r})").name, where)
    if isinstance(m, nn.ELU):
        return Act(get_activation(f"elu({float(m.alpha)!r})").name, where)
    if isinstance(m, nn.Softplus):
        return Act(get_activation(f"softplus({float(m.beta)!r})").name, where)
    if isinstance(m, nn.Hardtanh):  # ReLU6 is a Hardtanh too (handled above)
        return Act(get_activation(f"hardtanh({float(m.min_val)!r}, {float(m.max_val)!r})").name,
                   where)
    why = _REFUSED.get(name)
    if why is None and name.startswith("BatchNorm"):
        why = "only BatchNorm1d (of a vector) is folded"
    if why is None:
        why = ("not a Linear layer, a no-op (Identity, Dropout, Flatten) or a supported "
               "elementwise activation")
    raise ValueError(f"{where} is {name}: {why}")


def _torch_ops(model, torch) -> list:
    ops: list = []
    leaves = []

    def walk(m, prefix):
        children = list(m.named_children())
        if not children:
            leaves.append((prefix or type(m).__name__, m))
        for n, c in children:
            walk(c, f"{prefix}.{n}" if prefix else n)

    walk(model, "")
    for pos, (qual, m) in enumerate(leaves):
        op = _torch_leaf(m, f"layer {pos} ({qual!r}, {type(m).__name__})", torch)
        if op is not None:
            ops.append(op)
    return ops


def _check_forward(model, weights, biases, names, source, torch) -> None:
    """The module's own forward must compute the chain read from its children (a custom
    ``forward`` may use them in another order, or add skip connections)."""
    import copy

    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, weights[0].shape[1]))
    m = copy.deepcopy(model).to(device="cpu", dtype=torch.float64).eval()
    try:
        with torch.no_grad():
            y = m(torch.from_numpy(x)).detach().numpy().reshape(4, -1)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(f"{source}: running the module on inputs of shape {x.shape} to check "
                         f"the chain read from its children failed ({exc})") from exc
    ours = evaluate(weights, biases, names, x)
    if y.shape != ours.shape or not np.allclose(y, ours, rtol=1e-9, atol=1e-9 * (
            1 + np.abs(ours).max())):
        raise ValueError(
            f"{source}: the module's forward does not compute the chain of its children (a "
            "custom forward, skip connections or reused layers?); only chains are supported"
        )


def torch_module_affine(model, source: str = "model"):
    """Weights, biases and activations of a ``torch.nn.Module`` whose leaf children form a chain."""
    torch = _require("torch", "torch", "a PyTorch module")
    ops = _torch_ops(model, torch)
    weights, biases, names = assemble(ops, source)
    _check_forward(model, weights, biases, names, source, torch)
    return weights, biases, names


def state_dict_affine(sd: dict, source: str):
    """Weights and biases of a state dict of ``Linear`` layers (``prefix.weight`` of shape
    ``(out, in)``, ``prefix.bias``), in natural order of the prefixes; activations unknown."""
    groups: dict[str, dict[str, np.ndarray]] = {}
    for key, value in sd.items():
        if not isinstance(key, str):
            raise ValueError(f"{source}: key {key!r} is not a str; expected a state dict")
        prefix, _, leaf = key.rpartition(".")
        if leaf in ("running_mean", "running_var", "num_batches_tracked"):
            raise ValueError(f"{source}: key {key!r} belongs to a batch norm, whose eps a state "
                             "dict does not hold; load the module itself to fold it")
        if leaf not in ("weight", "bias"):
            raise ValueError(f"{source}: key {key!r} is not a Linear layer's weight or bias "
                             "(a parametrised weight?); load the module itself")
        groups.setdefault(prefix, {})[leaf] = to_float64(value, f"{source}: {key!r}")
    from .io import _natural_key

    ops = []
    prev = None
    for prefix in sorted(groups, key=_natural_key):
        g = groups[prefix]
        key = f"{prefix}.weight" if prefix else "weight"
        if "weight" not in g:
            raise ValueError(f"{source}: {prefix + '.bias'!r} has no matching weight")
        W = g["weight"]
        if W.ndim != 2:
            raise ValueError(f"{source}: {key!r} has shape {W.shape}; expected a 2-D Linear "
                             "weight (convolutions are not supported)")
        b = g.get("bias", np.zeros(W.shape[0])).reshape(-1)
        if b.shape != (W.shape[0],):
            raise ValueError(f"{source}: bias of {key!r} has {b.size} entries; expected "
                             f"{W.shape[0]}")
        if prev is not None and W.shape[1] != prev[1].shape[0]:
            raise ValueError(
                f"{source}: {key!r} has shape {W.shape}; expected {prev[1].shape[0]} columns to "
                f"match {prev[0]!r} ({prev[1].shape[0]} rows): the keys do not form a chain"
            )
        prev = (key, W)
        ops.append(Affine(W, b, key))
    if not ops:
        raise ValueError(f"{source}: the state dict is empty")
    weights, biases, _ = assemble(_interleave(ops), source)
    return weights, biases, None


def _interleave(ops: list) -> list:
    """Linear layers read without their activations: a placeholder between each pair keeps
    them apart (the caller supplies the slopes)."""
    out: list = []
    for k, op in enumerate(ops):
        if k:
            out.append(Act("relu", f"after {ops[k - 1].where}"))
        out.append(op)
    return out


def load_torch_file(path: Path, allow_pickle: bool):
    torch = _require("torch", "torch", f"{path}")
    import pickle

    if path.stat().st_size == 0:
        raise ValueError(f"{path}: empty file; expected a PyTorch .pt/.pth file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights_only" not in str(exc) and "Unsupported global" not in str(exc):
            raise ValueError(f"{path}: not a readable PyTorch file ({_first_line(exc)})") from exc
        if not allow_pickle:
            raise ValueError(
                f"{path}: holds a pickled object (a whole module?), not a state dict; unpickling "
                "runs code from the file: pass allow_pickle=True only for files you trust"
            ) from exc
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch.load of a foreign file raises whatever its parser hits
        raise ValueError(f"{path}: not a readable PyTorch file ({_first_line(exc)})") from exc
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            if key in obj and isinstance(obj[key], (dict, torch.nn.Module)):
                obj = obj[key]
                break
    if isinstance(obj, torch.nn.Module):
        return torch_module_affine(obj, str(path))
    if isinstance(obj, dict):
        return state_dict_affine(obj, str(path))
    raise ValueError(f"{path}: holds a {type(obj).__name__}; expected a state dict or a module")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# --- safetensors (read without the library: 8-byte header length, JSON header, raw data) ------

_ST_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4",
              "I16": "<i2", "I8": "i1", "U8": "u1"}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a ``.safetensors`` file as float64 arrays (BF16 widened exactly)."""
    data = path.read_bytes()
    if len(data) < 8:
        raise ValueError(f"{path}: {'empty' if not data else 'truncated'} file; expected "
                         "a .safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError(f"{path}: truncated or not a .safetensors file (header of {n} bytes, "
                         f"file of {len(data)})")
    try:
        header = json.loads(data[8:8 + n])
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path}: not a .safetensors file (unreadable header)") from exc
    if not isinstance(header, dict):
        raise ValueError(f"{path}: not a .safetensors file (header is not a JSON object)")
    body = data[8 + n:]
    out = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        try:
            dtype, shape, (start, end) = info["dtype"], info["shape"], info["data_offsets"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: tensor {key!r} has a malformed header entry") from exc
        if end > len(body) or start > end:
            raise ValueError(f"{path}: tensor {key!r} lies past the end of the file (truncated)")
        raw = body[start:end]
        if dtype == "BF16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32)
        elif dtype in _ST_DTYPES:
            arr = np.frombuffer(raw, dtype=_ST_DTYPES[dtype])
        else:
            raise ValueError(f"{path}: tensor {key!r} has dtype {dtype}; expected a real number "
                             "type")
        if arr.size != int(np.prod(shape)):
            raise ValueError(f"{path}: tensor {key!r} has {arr.size} values for shape {shape}")
        out[key] = arr.reshape(shape).astype(np.float64)
    if not out:
        raise ValueError(f"{path}: the file holds no tensors")
    return out


# --- ONNX -------------------------------------------------------------------------------------

_ONNX_ACTS = {"Relu": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid", "Gelu": "gelu"}
_ONNX_REFUSED = {
    "Softmax": "not elementwise (each output depends on the whole vector)",
    "LogSoftmax": "not elementwise (each output depends on the whole vector)",
    "MaxPool": "max-pooling is not elementwise", "Conv": "convolutions are not supported",
    "Attention": "attention is not an elementwise activation",
    "LayerNormalization": "not elementwise (it divides by the vector's standard deviation)",
}


def onnx_affine(model_or_path, source: str):
    """Weights, biases and activations of an ONNX graph: one chain of ``Gemm`` / ``MatMul`` +
    ``Add``, ``BatchNormalization``, elementwise activations, and no-ops (``Identity``,
    ``Dropout``, ``Flatten``, ``Reshape`` of a vector)."""
    onnx = _require("onnx", "onnx", "an ONNX graph")
    from onnx import numpy_helper

    if isinstance(model_or_path, (str, Path)):
        path = Path(model_or_path)
        if path.stat().st_size == 0:
            raise ValueError(f"{path}: empty file; expected an ONNX model")
        try:
            model = onnx.load(str(path))
        except Exception as exc:
            raise ValueError(f"{path}: not a readable ONNX model ({_first_line(exc)})") from exc
        if not model.graph.node:
            raise ValueError(f"{path}: not an ONNX model (no graph nodes)")
    else:
        model = model_or_path
    g = model.graph
    consts = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in g.initializer}
    inputs = [i.name for i in g.input if i.name not in consts]
    if len(inputs) != 1:
        raise ValueError(f"{source}: the graph has {len(inputs)} inputs; expected one")
    cur = inputs[0]
    width = None
    ops: list = []
    nodes = list(g.node)
    i = 0
    while i < len(nodes):
        node = nodes[i]
        where = f"node {i} ({node.name or '?'}, {node.op_type})"
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        op = node.op_type
        if op == "Constant":
            consts[node.output[0]] = numpy_helper.to_array(attrs["value"]).astype(np.float64)
            i += 1
            continue
        if cur not in node.input:
            raise ValueError(f"{source}: {where} does not take the running value {cur!r}; only a "
                             "single chain is supported (branches or skip connections?)")
        others = [n for n in node.input if n != cur and n]
        if op == "Gemm":
            if attrs.get("transA", 0) or node.input[0] != cur:
                raise ValueError(f"{source}: {where} multiplies the input from the right or "
                                 "transposed; expected Y = X B + C")
            B = _const(consts, node.input[1], source, where)
            B = B.T if attrs.get("transB", 0) else B
            W = float(attrs.get("alpha", 1.0)) * B.T
            C = (_const(consts, node.input[2], source, where) if len(node.input) > 2
                 and node.input[2] else np.zeros(W.shape[0]))
            b = float(attrs.get("beta", 1.0)) * np.broadcast_to(C.reshape(-1), (W.shape[0],))
            ops.append(Affine(W, np.array(b), where))
        elif op == "MatMul":
            if node.input[0] != cur:
                raise ValueError(f"{source}: {where} multiplies from the left; expected X @ B")
            B = _const(consts, node.input[1], source, where)
            if B.ndim != 2:
                raise ValueError(f"{source}: {where} has a {B.ndim}-D weight; expected 2-D")
            ops.append(Affine(B.T, np.zeros(B.shape[1]), where))
        elif op in ("Add", "Sub"):
            c = _const(consts, others[0], source, where).reshape(-1) if others else None
            n = _current_width(ops, width)
            if c is None or (n is not None and c.size not in (1, n)) or n is None:
                raise ValueError(f"{source}: {where} adds something other than a constant "
                                 "vector of the running width")
            c = np.broadcast_to(c, (n,)).copy()
            sign = 1.0
            if op == "Sub" and node.input[0] == cur:  # x - c
                c = -c
            elif op == "Sub":  # c - x
                sign = -1.0
            ops.append(Affine(sign * np.eye(n), c, where))
        elif op == "BatchNormalization":
            scale, bias, mean, var = (_const(consts, n, source, where) for n in node.input[1:5])
            s = scale / np.sqrt(var + float(attrs.get("epsilon", 1e-5)))
            ops.append(Affine(np.diag(s), bias - s * mean, where))
        elif op in ("Identity", "Dropout", "Flatten", "Reshape"):
            if op == "Reshape":
                shape = _const(consts, node.input[1], source, where).reshape(-1)
                if shape.size != 2:
                    raise ValueError(f"{source}: {where} reshapes to {shape.astype(int).tolist()};"
                                     " only a reshape of a vector to (batch, n) is supported")
        elif op == "Sigmoid" and i + 1 < len(nodes) and nodes[i + 1].op_type == "Mul" and set(
                nodes[i + 1].input) == {cur, node.output[0]}:
            ops.append(Act("silu", where))  # x * sigmoid(x), as torch exports SiLU
            i += 1
            node = nodes[i]
        elif op in _ONNX_ACTS:
            if op == "Gelu" and attrs.get("approximate", b"none") not in (b"none", "none"):
                raise ValueError(f"{source}: {where} is the tanh-approximate GELU; only the exact "
                                 "(erf) GELU has slope bounds here")
            ops.append(Act(_ONNX_ACTS[op], where))
        elif op == "LeakyRelu":
            ops.append(Act(get_activation(f"leaky_relu({float(attrs.get('alpha', 0.01))!r})")
                           .name, where))
        elif op == "Elu":
            ops.append(Act(get_activation(f"elu({float(attrs.get('alpha', 1.0))!r})").name,
                           where))
        elif op == "Softplus":
            ops.append(Act("softplus", where))
        elif op == "Clip":
            lo = _const(consts, node.input[1], source, where) if len(node.input) > 1 and \
                node.input[1] else None
            hi = _const(consts, node.input[2], source, where) if len(node.input) > 2 and \
                node.input[2] else None
            if lo is None or hi is None:
                raise ValueError(f"{source}: {where} is a one-sided Clip; not supported")
            ops.append(Act(get_activation(f"hardtanh({float(lo)!r}, {float(hi)!r})").name,
                           where))
        else:
            why = _ONNX_REFUSED.get(op, "not a dense layer, a no-op or a supported elementwise "
                                        "activation")
            raise ValueError(f"{source}: {where} is {op}: {why}")
        if ops and isinstance(ops[-1], Affine):
            width = ops[-1].W.shape[0]
        cur = node.output[0]
        i += 1
    if cur not in [o.name for o in g.output]:
        raise ValueError(f"{source}: the chain ends at {cur!r}, which is not the graph's output")
    return assemble(ops, source)


def _current_width(ops, width):
    for op in reversed(ops):
        if isinstance(op, Affine):
            return op.W.shape[0]
    return width


def _const(consts: dict, name: str, source: str, where: str) -> np.ndarray:
    if name not in consts:
        raise ValueError(f"{source}: {where} takes {name!r}, which is not a constant; only "
                         "constant weights are supported")
    return consts[name]


_BIAS_OF = [(re.compile(r"(.*)weight$"), r"\1bias"), (re.compile(r"(.*)kernel$"), r"\1bias"),
            (re.compile(r"^[Ww](_?\d+)$"), r"b\1")]


def bias_key(key: str, keys) -> str | None:
    """The key of the bias paired with weight ``key`` when there is one."""
    for pattern, repl in _BIAS_OF:
        if pattern.match(key):
            cand = pattern.sub(repl, key)
            if cand in keys:
                return cand
    return None
