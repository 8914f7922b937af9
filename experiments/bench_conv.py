"""Per-layer norms of convolutional layers: LipConv, Gram iteration, Lanczos, power iterations.

Layers of realistic shape (issue 16): a 3x32x32 input, 64 output channels, 3x3 kernels, stride 1
and 2, zero and circular padding 1; with ``--mid`` also 64x16x16 -> 64 (a middle layer).
Kernels are drawn as torch initialises ``nn.Conv2d`` (uniform in ``+-1/sqrt(fan_in)``, seed 0).

Reference: ``lipsdp.layer_norm_bound(layer, "exact")`` (Lanczos, ARPACK, tol 1e-12), whose
proved lower bound is printed too: every upper bound must be at least that.

Rows:
  * ``exact`` (Lanczos) and ``exact-power`` (lipsdp's power iteration to relative change 1e-12);
  * ``user power x100``: the power iteration a user writes (numpy, on the layer's apply/adjoint,
    a fixed 100 iterations, no convergence test): an estimate, no bound;
  * ``gram``: Gram iteration, 6 steps (proved upper bound; exact for circular padding);
  * ``lipconv`` / ``lipconv-published``: the symbol's supremum on a 64x64 grid with the
    Bernstein correction, and the paper's row-wise multi-channel formula;
  * ``reshaped kernel``: ``||K.reshape(c_out, -1)||_2``, which users take for the operator norm
    (it is not an upper bound: it is at most the symbol's supremum, docs/conv.md §8, and can be
    low by up to ``sqrt(kh kw)``), and ``sqrt(kh kw)`` times it, a valid but loose upper bound
    for stride 1 (each input pixel is read by at most kh kw taps).

With ``--network``, also whole small CNNs (ReLU; seeded): the product of exact layer norms, the
product of Gram bounds, the best closed form and LipSDP on the unrolled network (docs/conv.md §7),
and a sampled Jacobian lower bound (``lipsdp.lower_bound``).

Run:  python experiments/bench_conv.py [--mid] [--network] [--seed S]
Prints markdown tables (times in seconds, single run, noisy on a shared machine).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import lipsdp
from lipsdp.conv import Conv2d, product_bound, unroll


def torch_like_kernel(rng, c_out, c_in, k):
    bound = 1.0 / np.sqrt(c_in * k * k)
    return rng.uniform(-bound, bound, (c_out, c_in, k, k))


def user_power_iteration(layer, n_iter=100, seed=0):
    """What a careful user writes: power iteration on A^T A, fixed iteration count."""
    v = np.random.default_rng(seed).standard_normal(layer.shape[1])
    v /= np.linalg.norm(v)
    for _ in range(n_iter):
        v = layer.adjoint(layer.apply(v))
        v /= np.linalg.norm(v)
    return float(np.linalg.norm(layer.apply(v)))


def timed(f):
    t0 = time.perf_counter()
    out = f()
    return out, time.perf_counter() - t0


def rows_for(layer):
    ref, t_ref = timed(lambda: lipsdp.layer_norm_bound(layer, "exact"))
    exact = ref.value
    rows = [("exact (Lanczos)", ref.value, t_ref, f"estimate; proved lower {ref.lower_bound:.9g}")]
    res, t = timed(lambda: lipsdp.layer_norm_bound(layer, "exact", algorithm="power",
                                                   n_iter=5000))
    rows.append((f"exact-power ({res.iterations} it)", res.value, t,
                 f"estimate; proved lower {res.lower_bound:.9g}"))
    val, t = timed(lambda: user_power_iteration(layer))
    rows.append(("user power x100", val, t, "estimate"))
    res, t = timed(lambda: lipsdp.layer_norm_bound(layer, "gram", n_iter=6))
    rows.append(("gram (6 it)", res.value, t,
                 "upper, exact (circular)" if res.exact else "upper (compression)"))
    res, t = timed(lambda: lipsdp.layer_norm_bound(layer, "lipconv"))
    rows.append(("lipconv (64 grid)", res.value, t,
                 f"upper (grid correction {res.info['grid_correction']:.3f})"))
    res, t = timed(lambda: lipsdp.layer_norm_bound(layer, "lipconv", variant="published"))
    rows.append(("lipconv-published", res.value, t, "upper"))
    K = layer.kernel
    val, t = timed(lambda: float(np.linalg.norm(K.reshape(K.shape[0], -1), 2)))
    rows.append(("reshaped kernel", val, t, "NOT a bound"))
    kh, kw = K.shape[2:]
    if layer.stride == (1, 1):
        rows.append(("sqrt(kh kw) x reshaped", val * np.sqrt(kh * kw), t,
                     "upper (stride 1, no repeated rows)"))
    assert all(v >= ref.lower_bound for name, v, _, kind in rows if kind.startswith("upper"))
    return exact, rows


def small_cnns(rng):
    """(name, layers): 1xNxN input, conv c 3x3 p1, ReLU, conv c->c 3x3 stride 2 p1, ReLU,
    dense to 10 (zero padding)."""
    out = []
    for n, c in ((8, 2), (8, 4), (10, 4)):
        c1 = Conv2d(torch_like_kernel(rng, c, 1, 3), (1, n, n), padding=1)
        c2 = Conv2d(torch_like_kernel(rng, c, c, 3), c1.out_shape, stride=2, padding=1)
        m = int(np.prod(c2.out_shape))
        dense = rng.uniform(-1, 1, (10, m)) / np.sqrt(m)
        out.append((f"1x{n}x{n}, {c}ch conv, {c}ch conv s2, dense 10", [c1, c2, dense]))
    return out


def network_rows(rng):
    print("\n| network | unrolled widths | product exact | product gram | best closed form | "
          "LipSDP unrolled (status, s) | sampled lower |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, layers in small_cnns(rng):
        net = lipsdp.Network(unroll(layers))
        exact = product_bound(layers, method="exact")
        gram = product_bound(layers, method="gram")
        cf = lipsdp.closed_form(net, "best")
        res, t = timed(lambda net=net: lipsdp.solve(net))
        low = lipsdp.lower_bound(net, method="jacobian")
        assert res.certified
        assert low.value <= res.value <= exact * (1 + 1e-9)
        print(f"| {name} | {'-'.join(map(str, net.widths))} | {exact:.4f} | {gram:.4f} | "
              f"{cf.value:.4f} | {res.value:.4f} ({res.status}, {t:.1f}) | {low.value:.4f} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mid", action="store_true", help="also 64x16x16 -> 64 layers")
    parser.add_argument("--network", action="store_true", help="also whole small CNNs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    shapes = [(3, 32, 64)] + ([(64, 16, 64)] if args.mid else [])
    print("| layer | method | value | value / exact | time (s) | kind |")
    print("|---|---|---:|---:|---:|---|")
    for c_in, n, c_out in shapes:
        K = torch_like_kernel(rng, c_out, c_in, 3)
        for stride in (1, 2):
            for mode in ("zeros", "circular"):
                layer = Conv2d(K, (c_in, n, n), stride=stride, padding=1, padding_mode=mode)
                exact, rows = rows_for(layer)
                name = f"{c_in}x{n}x{n}->{c_out}, s{stride}, {mode}"
                for method, val, t, kind in rows:
                    print(f"| {name} | {method} | {val:.6f} | {val / exact:.6f} | {t:.3f} | "
                          f"{kind} |")
    if args.network:
        network_rows(rng)


if __name__ == "__main__":
    main()
