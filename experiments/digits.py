"""Trained networks: small MLPs on scikit-learn's bundled digits, their bounds and certified radii.

Trains four 64-32-32-10 ReLU networks on ``sklearn.datasets.load_digits`` (8x8 images bundled with
scikit-learn, no download; pixels scaled to [0, 1], 1,257 training and 540 test images, a seeded
stratified split), in plain NumPy (Adam, cross-entropy, seeded; a few seconds each):

- ``plain``: cross-entropy only;
- ``weight decay``: plus ``1e-3 * sum ||W_k||_F^2 / 2``;
- ``Lipschitz penalty``: plus ``0.1 * prod ||W_k||_2``, the naive bound (docs/math.md §5) on the
  logits' Lipschitz constant, with its exact gradient ``prod_{j != k} ||W_j||_2 u_k v_k^T``
  (top singular pair of each layer);
- ``1-Lipschitz (spectral norm)``: every layer projected after each step to spectral norm at most 1
  as estimated by one power-iteration step with a persistent vector (Miyato et al. 2018's
  estimator, used as a projection as in Gouk et al. 2021), so that the model is *claimed*
  1-Lipschitz.

For each model it reports the test accuracy, every bound (``lipsdp.CLOSED_FORM_METHODS``,
LipSDP-Neuron and LipSDP-Layer through ``lipsdp.solve``, the sampled Jacobian lower bound of
``lipsdp.lower_bound``) with its time, and the certified l2 radii of the test images
(``lipsdp.certified_radius``: LipSDP-Neuron per class pair, LipSDP-Neuron on the whole network with
``margin / (sqrt(2) L)``, and the naive bound the same way) with the certified accuracy at several
radii. A second table audits the claim of the spectrally normalised model: each layer's norm as
its power iteration estimated it against the proved one, the proved bounds, and the sampled lower
bound.

Written to ``--out`` (default ``experiments/results/``): ``digits.md`` (the tables, also printed)
and ``digits.png`` (certified accuracy against radius, per model); with ``--png`` a copy of the
figure (the README's is ``docs/digits.png``). ``--bundle PATH`` writes the weight-decay
model with its biases and the test images as the package's ``lipsdp/data/digits.npz``.

Run:  python experiments/digits.py   (about a minute on 2 cores; needs ``pip install
".[examples]"``: scikit-learn and matplotlib). Uses only the public API of ``lipsdp``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import lipsdp

from common import save_figure

WIDTHS = (64, 32, 32, 10)
RADII = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
SEED = 0


# --- data and training ----------------------------------------------------------------------


def load_data(seed: int = SEED) -> tuple[np.ndarray, ...]:
    """Digits scaled to [0, 1]: train and test inputs and labels, and the raw test pixels."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    pixels = digits.data.astype(np.uint8)  # integers 0..16
    p_train, p_test, y_train, y_test = train_test_split(
        pixels, digits.target, test_size=540, stratify=digits.target, random_state=seed)
    return p_train / 16.0, y_train, p_test / 16.0, y_test, p_test


@dataclass(frozen=True)
class Config:
    name: str
    weight_decay: float = 0.0
    lipschitz_penalty: float = 0.0
    spectral_norm: bool = False
    logit_scale: float = 1.0  # multiplies the logits in the loss only (a temperature)
    epochs: int = 150
    lr: float = 3e-3


CONFIGS = (
    Config("plain"),
    Config("weight decay", weight_decay=1e-3),
    Config("Lipschitz penalty", lipschitz_penalty=0.03),
    Config("1-Lipschitz (spectral norm)", spectral_norm=True, logit_scale=30.0),
)
#: The model written by ``--bundle`` (lipsdp/data/digits.npz).
BUNDLED = "weight decay"


def _top_pair(W: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    U, s, Vt = np.linalg.svd(W, full_matrices=False)
    return float(s[0]), U[:, 0], Vt[0]


def train(X: np.ndarray, y: np.ndarray, cfg: Config, seed: int = SEED):
    """Weights, biases and, per layer, the norm the last projection set by its estimate (``nan``
    without spectral normalisation) and one more power-iteration step's estimate (plain NumPy)."""
    rng = np.random.default_rng(seed)
    Ws = [rng.standard_normal((WIDTHS[k + 1], WIDTHS[k])) * np.sqrt(2.0 / WIDTHS[k])
          for k in range(len(WIDTHS) - 1)]
    bs = [np.zeros(n) for n in WIDTHS[1:]]
    us = [rng.standard_normal(W.shape[0]) for W in Ws]  # persistent power-iteration vectors
    sigma_hat = [np.nan] * len(Ws)
    if cfg.spectral_norm:
        Ws = [W / np.linalg.norm(W, 2) for W in Ws]
    params = Ws + bs
    m1 = [np.zeros_like(p) for p in params]
    m2 = [np.zeros_like(p) for p in params]
    b1, b2, eps = 0.9, 0.999, 1e-8
    Y = np.eye(WIDTHS[-1])[y]
    step = 0
    for _epoch in range(cfg.epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), 64):
            idx = order[start:start + 64]
            h, hs, zs = X[idx], [X[idx]], []
            for k in range(len(Ws) - 1):
                z = h @ Ws[k].T + bs[k]
                h = np.maximum(z, 0.0)
                zs.append(z)
                hs.append(h)
            logits = cfg.logit_scale * (h @ Ws[-1].T + bs[-1])
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            g = cfg.logit_scale * (p - Y[idx]) / len(idx)
            gW, gb = [None] * len(Ws), [None] * len(Ws)
            for k in range(len(Ws) - 1, -1, -1):
                gW[k] = g.T @ hs[k]
                gb[k] = g.sum(axis=0)
                if k:
                    g = (g @ Ws[k]) * (zs[k - 1] > 0)
            if cfg.weight_decay:
                gW = [gw + cfg.weight_decay * W for gw, W in zip(gW, Ws, strict=True)]
            if cfg.lipschitz_penalty:
                tops = [_top_pair(W) for W in Ws]
                prod = np.prod([s for s, _, _ in tops])
                gW = [gw + cfg.lipschitz_penalty * prod / s * np.outer(u, v)
                      for gw, (s, u, v) in zip(gW, tops, strict=True)]
            step += 1
            for i, gp in enumerate(gW + gb):
                m1[i] = b1 * m1[i] + (1 - b1) * gp
                m2[i] = b2 * m2[i] + (1 - b2) * gp * gp
                params[i] -= cfg.lr * (m1[i] / (1 - b1**step)) / (
                    np.sqrt(m2[i] / (1 - b2**step)) + eps)
            if cfg.spectral_norm:  # one power-iteration step, then project to norm <= 1
                for k, W in enumerate(Ws):
                    v = W.T @ us[k]
                    v /= np.linalg.norm(v)
                    u = W @ v
                    sigma_hat[k] = float(np.linalg.norm(u))
                    us[k] = u / sigma_hat[k]
                    if sigma_hat[k] > 1.0:
                        W /= sigma_hat[k]
    claims = [min(s, 1.0) for s in sigma_hat]  # the norm each layer was projected to
    estimates = []  # one more power-iteration step on the final weights
    for k, W in enumerate(Ws):
        v = W.T @ us[k]
        estimates.append(float(np.linalg.norm(W @ (v / np.linalg.norm(v)))))
    return [W.copy() for W in Ws], [b.copy() for b in bs], (claims, estimates)


def accuracy(net: lipsdp.Network, biases, X, y) -> float:
    return float(np.mean(np.argmax(lipsdp.forward(net, X, biases=biases), axis=1) == y))




# --- bounds and radii -----------------------------------------------------------------------


def timed(f, *args, **kwargs):
    t = time.perf_counter()
    out = f(*args, **kwargs)
    return out, time.perf_counter() - t


def bounds_of(net: lipsdp.Network, X_test: np.ndarray) -> dict[str, tuple[float, float, bool]]:
    """method -> (value, seconds, certified) for every upper bound and the sampled lower one."""
    rows: dict[str, tuple[float, float, bool]] = {}
    for method in lipsdp.CLOSED_FORM_METHODS:
        res, t = timed(lipsdp.closed_form, net, method)
        rows[method] = (res.value, t, res.certified)
    for mult in ("neuron", "layer"):
        res, t = timed(lipsdp.solve, net, multipliers=mult)
        rows[f"lipsdp-{mult}"] = (res.value, t, res.certified)
    # Gaussian samples, then ascent from the best; the test images are extra starts.
    low, t = timed(lipsdp.lower_bound, net, "jacobian", starts=list(X_test[:64]))
    rows["lower bound (sampled Jacobian)"] = (low.value, t, False)
    return rows


RADIUS_RUNS = (  # label, method, pairwise
    ("LipSDP-Neuron, per class pair", "lipsdp", True),
    ("LipSDP-Neuron, global / sqrt(2)", "lipsdp", False),
    ("naive, global / sqrt(2)", "naive", False),
)


@dataclass
class Model:
    cfg: Config
    net: lipsdp.Network
    biases: list
    norm_estimates: tuple  # (claims, estimates) of train()
    train_time: float
    accuracy: float
    bounds: dict
    radii: dict  # label -> (RadiusResult, seconds)


def evaluate(cfg: Config, data, n_jobs: int | None) -> Model:
    X_train, y_train, X_test, y_test, _ = data
    (Ws, bs, norms), t_train = timed(train, X_train, y_train, cfg)
    net = lipsdp.Network(Ws)
    radii = {}
    for label, method, pairwise in RADIUS_RUNS:
        radii[label] = timed(lipsdp.certified_radius, net, X_test, y_test, biases=bs,
                             method=method, pairwise=pairwise, n_jobs=n_jobs)
    return Model(cfg, net, bs, norms, t_train, accuracy(net, bs, X_test, y_test),
                 bounds_of(net, X_test), radii)


# --- tables and plot ------------------------------------------------------------------------


def bounds_table(models: list[Model]) -> str:
    head = "| method | " + " | ".join(m.cfg.name for m in models) + " |"
    lines = [head, "|---|" + "---:|" * len(models)]
    lines.append("| test accuracy | " + " | ".join(f"{m.accuracy:.1%}" for m in models) + " |")
    lines.append("| training time [s] | " + " | ".join(f"{m.train_time:.1f}" for m in models)
                 + " |")
    for method in models[0].bounds:
        cells = []
        for m in models:
            value, t, certified = m.bounds[method]
            mark = "" if certified or method.startswith("lower") else " (not certified)"
            cells.append(f"{value:.4f}{mark} ({t:.3f} s)")
        lines.append(f"| {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def radius_table(models: list[Model]) -> str:
    head = ("| model | radii from | bounds solved | time [s] | median radius | "
            + " | ".join(f"r = {r:g}" for r in RADII) + " |")
    lines = [head, "|---|---|---:|---:|---:|" + "---:|" * len(RADII)]
    for m in models:
        for label, (res, t) in m.radii.items():
            if not res.certified:
                raise RuntimeError(f"{m.cfg.name}, {label}: {res.status}")
            acc = res.certified_accuracy(RADII)
            lines.append(f"| {m.cfg.name} | {label} | {res.info['n_bounds']} | {t:.2f} | "
                         f"{np.median(res.radii):.3f} | "
                         + " | ".join(f"{a:.1%}" for a in acc) + " |")
    return "\n".join(lines)


def audit_table(m: Model) -> str:
    claims, estimates = m.norm_estimates
    lines = ["| layer | spectral norm after the last projection, by its power iteration (the "
             "claim) | one more power-iteration step | spectral norm, proved upper bound |",
             "|---|---:|---:|---:|"]
    for k, W in enumerate(m.net.weights):
        proved = lipsdp.closed_form(lipsdp.Network([W]), "naive").value
        lines.append(f"| {k} | {claims[k]:.6f} | {estimates[k]:.6f} | {proved:.6f} |")
    lines += ["", "| bound on the whole network | value |", "|---|---:|"]
    for method, label in (("naive", "product of the proved norms (naive), proved"),
                          ("eclipse-fast", "ECLipsE-Fast, proved"),
                          ("lipsdp-neuron", "LipSDP-Neuron, proved"),
                          ("lower bound (sampled Jacobian)",
                           "sampled Jacobian norm (a lower bound, not a certificate)")):
        lines.append(f"| {label} | {m.bounds[method][0]:.6f} |")
    return "\n".join(lines)


def plot(models: list[Model], path: Path, copy: str | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.linspace(0.0, 1.1, 221)
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    styles = {"LipSDP-Neuron, per class pair": "-", "LipSDP-Neuron, global / sqrt(2)": "--",
              "naive, global / sqrt(2)": ":"}
    for i, m in enumerate(models):
        for label, (res, _) in m.radii.items():
            ax.plot(grid, res.certified_accuracy(grid), styles[label], color=f"C{i}",
                    label=m.cfg.name if label == RADIUS_RUNS[0][0] else None)
    for label, style in styles.items():
        ax.plot([], [], style, color="grey", label=f"radius from {label}")
    ax.set_xlabel("l2 radius r (inputs in [0, 1]^64)")
    ax.set_ylabel("certified accuracy (radius > r)")
    ax.set_title("sklearn digits, 64-32-32-10 ReLU, 540 test images", fontsize=10)
    ax.set_ylim(0, 1)
    ax.set_xlim(0, grid[-1])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    save_figure(fig, path, copy, dpi=100)


def bundle(m: Model, data, path: str) -> None:
    """Weights ``W0..W2``, biases ``b0..b2`` (1-D, skipped by ``lipsdp.load_weights``), and the
    test images as raw pixels 0..16 (``test_pixels``, flattened to 1-D so that the loader skips
    them too) with their labels."""
    *_, y_test, pixels = data
    arrays = {f"W{k}": W for k, W in enumerate(m.net.weights)}
    arrays |= {f"b{k}": b for k, b in enumerate(m.biases)}
    arrays["test_pixels"] = pixels.astype(np.uint8).ravel()
    arrays["test_labels"] = np.asarray(y_test, dtype=np.uint8)
    np.savez_compressed(path, **arrays)
    print(f"wrote {path} ({m.cfg.name} model)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="experiments/results", help="output folder")
    parser.add_argument("--png", default=None, help="also copy the figure here "
                        "(the README's: docs/digits.png)")
    parser.add_argument("--bundle", default=None, metavar="PATH",
                        help=f"write the {BUNDLED!r} model here (lipsdp/data/digits.npz)")
    parser.add_argument("--n-jobs", type=int, default=None,
                        help="joblib workers for the pair bounds (default: serial)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    data = load_data()
    models = []
    for cfg in CONFIGS:
        models.append(evaluate(cfg, data, args.n_jobs))
        print(f"{cfg.name}: done ({time.perf_counter() - start:.1f} s)", flush=True)
    audited = next(m for m in models if m.cfg.spectral_norm)
    text = "\n\n".join([
        f"## Bounds on the logits' l2 Lipschitz constant (value, time)\n\n{bounds_table(models)}",
        "## Certified accuracy on the 540 test images (fraction correct with certified radius "
        f"> r)\n\n{radius_table(models)}",
        f"## Audit: is the {audited.cfg.name!r} model 1-Lipschitz?\n\n{audit_table(audited)}",
    ])
    print(text)
    path = out / "digits.md"
    path.write_text(f"# python experiments/digits.py\n\n{text}\n")
    print(f"wrote {path}")
    plot(models, out / "digits.png", args.png)
    if args.bundle:
        bundle(next(m for m in models if m.cfg.name == BUNDLED), data, args.bundle)
    print(f"total {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
