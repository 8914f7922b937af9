"""The closed-form family against ECLipsE-Fast, and the best closed form against LipSDP-Neuron.

Grid: seeded random networks (Gaussian weights scaled by 1/sqrt(fan_in); ReLU, plus leaky ReLU
(0.1, 1) copies of some) and the real networks of the shared data folder
(LipSDP's MNIST and random nets, ECLipsE's MNIST nets, GLipSDP's fnn2/fnn3 and deep mlp_L*_W*).
Every value is certified (docs/math.md §4); a member whose directions fail certification counts as
not beating ECLipsE-Fast. "Beats" means strictly below ECLipsE-Fast's certified value by more
than 1e-9 relative.

Run:  python experiments/family_table.py [--data PATH] [--sdp-max-side 130] [--detail]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

import lipsdp

from common import deep_widths, gaussian_weights, load_glipsdp_fnn

DEFAULT_DATA = Path(os.environ.get("LIPSDP_DATA", Path(__file__).resolve().parents[2] / "shared"
                                   / "data"))
MEMBERS = [m for m in lipsdp.CLOSED_FORM_METHODS if m not in ("naive", "eclipse-fast", "best")]


def random_networks() -> list[tuple[str, lipsdp.Network]]:
    nets = []
    for depth in (1, 2, 4, 6, 10):
        for width in (16, 32, 64):
            for seed in range(2):
                W = gaussian_weights(deep_widths(8, width, depth, 4),
                                     seed=1000 * depth + 10 * width + seed)
                name = f"rand {depth}x{width} s{seed}"
                nets.append((name + " relu", lipsdp.Network(W)))
                # Slopes (0, b) only rescale every ratio of the ReLU case (p = 0), so the other
                # slope class on the grid is leaky ReLU, where alpha * beta != 0.
                if seed == 0:
                    nets.append((name + " leaky0.1", lipsdp.Network(W, (0.1, 1.0))))
    return nets


def real_networks(data: Path) -> list[tuple[str, lipsdp.Network]]:
    nets: list[tuple[str, lipsdp.Network]] = []
    if not data.is_dir():
        return nets
    for rel in ("LipSDP/LipSDP/examples/saved_weights/mnist_weights.mat",
                "LipSDP/LipSDP/examples/saved_weights/random_weights.mat",
                "ECLipsE/demo/sampleweights/npz/lyr2n80test1.npz",
                *(f"ECLipsE/ECLipsE_paper/datasets/MNIST/lyr3n{n}test1.mat"
                  for n in (100, 200, 300, 400))):
        if (data / rel).exists():
            nets.append((Path(rel).stem, lipsdp.load_network(data / rel)))
    fnn = data / "GLipSDP/Comparison/exports"
    for kind in ("fnn2", "fnn3"):
        for seed in range(10):
            p = fnn / f"{kind}_seed{seed}_weights.mat"
            if p.exists():
                nets.append((f"{kind} s{seed}", lipsdp.Network(load_glipsdp_fnn(p))))
    mlp = data / "GLipSDP/Scalability/exported_mnist_models"
    for depth in (3, 5, 9, 17, 33, 65):
        for width in (16, 32, 64):
            p = mlp / f"mlp_L{depth}_W{width}.mat"
            if p.exists():
                nets.append((f"mlp_L{depth}_W{width}", lipsdp.load_network(p)))
    return nets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sdp-max-side", type=int, default=130,
                        help="solve LipSDP-Neuron where the (compressed) LMI side is at most this")
    parser.add_argument("--detail", action="store_true", help="print every network's values")
    args = parser.parse_args()

    nets = [("random", n) for n in random_networks()] + [("real", n)
                                                          for n in real_networks(args.data)]
    rows = []
    if args.detail:
        print("| group | network | eclipse-fast | " + " | ".join(MEMBERS) + " | best / EF |")
        print("|---|---|---|" + "---|" * (len(MEMBERS) + 1))
    for group, (name, net) in nets:
        ef = lipsdp.closed_form(net, "eclipse-fast")
        vals, times = {}, {}
        for m in MEMBERS:
            t0 = time.perf_counter()
            res = lipsdp.closed_form(net, m)
            times[m] = time.perf_counter() - t0
            vals[m] = res.value if res.certified else np.inf
        best = min(ef.value, *vals.values())
        side = min(net.widths[0], net.widths[1]) + net.n_neurons
        sdp = np.nan
        if side <= args.sdp_max_side:
            sres = lipsdp.solve(net)
            sdp = sres.value if sres.certified else np.nan
        rows.append((group, name, ef.value, vals, best, sdp, times))
        if args.detail:
            print(f"| {group} | {name} | {ef.value:.5g} | "
                  + " | ".join(f"{vals[m] / ef.value:.4f}" if np.isfinite(vals[m]) else "n/c"
                               for m in MEMBERS)
                  + f" | {best / ef.value:.4f} |", flush=True)

    print(f"\n{len(rows)} networks ({sum(r[0] == 'random' for r in rows)} seeded random, "
          f"{sum(r[0] == 'real' for r in rows)} real). Ratios are member / ECLipsE-Fast "
          "(certified values; < 1 is tighter).\n")
    print("| member | beats ECLipsE-Fast | median ratio | best ratio | worst ratio | "
          "is the best member | not certified | mean time (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for m in MEMBERS:
        ratios = np.array([r[3][m] / r[2] for r in rows])
        failed = int(np.sum(~np.isfinite(ratios)))
        beats = int(np.sum(ratios < 1 - 1e-9))
        is_best = int(sum(abs(r[3][m] - r[4]) <= 1e-12 * r[4] for r in rows))
        beats_real = int(np.sum([r[3][m] / r[2] < 1 - 1e-9 for r in rows if r[0] == "real"]))
        ok = ratios[np.isfinite(ratios)]
        print(f"| {m} | {beats}/{len(rows)} (real: {beats_real}) | {np.median(ok):.3f} | "
              f"{ok.min():.3f} | {ok.max():.3f} | {is_best} | {failed} | "
              f"{np.mean([r[6][m] for r in rows]):.2f} |")
    b = np.array([r[4] / r[2] for r in rows])
    print(f"| best | {int(np.sum(b < 1 - 1e-9))}/{len(rows)} | {np.median(b):.3f} | "
          f"{b.min():.3f} | {b.max():.3f} | - | 0 | - |")

    with_sdp = [r for r in rows if np.isfinite(r[5])]
    if with_sdp:
        print(f"\nAgainst LipSDP-Neuron (solve, auto backend) on the {len(with_sdp)} networks with "
              f"LMI side <= {args.sdp_max_side}: ratio to the SDP optimum (1 is optimal).\n")
        print("| slopes | networks | ECLipsE-Fast / SDP (median, max) | "
              "best closed form / SDP (median, max) | gap closed by best (median) |")
        print("|---|---|---|---|---|")
        for label, pick in (("ReLU", lambda n: "leaky" not in n),
                            ("leaky ReLU (0.1, 1)", lambda n: "leaky" in n)):
            sel = [r for r in with_sdp if pick(r[1])]
            if not sel:
                continue
            e = np.array([r[2] / r[5] for r in sel])
            bb = np.array([r[4] / r[5] for r in sel])
            closed = np.array([(r[2] - r[4]) / (r[2] - r[5]) if r[2] > r[5] else 1.0
                               for r in sel])
            print(f"| {label} | {len(sel)} | {np.median(e):.3f}, {e.max():.3f} | "
                  f"{np.median(bb):.3f}, {bb.max():.3f} | {np.median(closed):.0%} |")


if __name__ == "__main__":
    main()
