"""Each component's active window under GUD soft conditioning: the figure of issue 13 item 5.

Needs only the process (no training). For digits (or patches), each basis (pixel, DCT, Haar, PCA)
and softness in {inf, 1, 0.3, 0.1, 0.05}, with variance ordering (l_i = −log Σ_i of the centred
data), the GUD-code normalisation (``soft_form=gud_code``: softness 1 = standard diffusion) and the
white prior, it draws the signal fraction α_i(t)² of every component (rows sorted by variance,
largest on top) and reports the spread of the α² = ½ crossings. A component is "active" while
α² moves between ~0.9 and ~0.1; disjoint windows mean autoregressive generation.

Usage:
    python experiments/gud_design_space/active_windows.py --dataset digits --out docs/figures/gud_active_windows.png
"""

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from PIL import Image

from difflab.data import load_dataset
from difflab.process.factory import build_process

BASES = ("pixel", "dct", "haar", "pca")


def windows(process, times: torch.Tensor, order: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """α² ``(D, T)`` in ``order`` and each component's α² = ½ crossing time ``(D,)``."""
    a2 = process.alpha_sigma(times)[0].T[order] ** 2
    cross = torch.tensor([float(times[int((row < 0.5).nonzero()[0])]) if (row < 0.5).any() else 1.0 for row in a2])
    return a2, cross


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="digits", choices=["digits", "patches"])
    ap.add_argument("--prior", default="white", choices=["white", "data"])
    ap.add_argument("--soft-form", default="gud_code", choices=["true_snr", "gud_code", "one_gamma"])
    ap.add_argument(
        "--deterministic-tol",
        type=float,
        default=1e-6,
        help="process.deterministic_tol: pin zero-variance components (0 = floor their variance at 1e-12)",
    )
    ap.add_argument("--bases", default=",".join(BASES))
    ap.add_argument("--softness", default="inf,1,0.3,0.1,0.05")
    ap.add_argument("--out", default="docs/figures/gud_active_windows.png")
    args = ap.parse_args()
    data = load_dataset(args.dataset, **({"n_train": 4000} if args.dataset == "patches" else {})).train
    times = torch.linspace(0, 1, 401, dtype=torch.float64)
    bases, softs = args.bases.split(","), [float(s) for s in args.softness.split(",")]
    fig, axes = plt.subplots(len(softs), len(bases), figsize=(2.6 * len(bases), 1.9 * len(softs)), squeeze=False)
    table = {}
    for j, basis in enumerate(bases):
        for i, soft in enumerate(softs):
            p = build_process(
                data.shape[1:],
                basis=basis,
                prior=args.prior,
                schedule="soft",
                softness=soft,
                ordering="variance",
                soft_form=args.soft_form,
                center=True,
                deterministic_tol=args.deterministic_tol,
                levels=2 if args.dataset == "patches" else 1,
                data=data,
            )
            var = (p.to_white(data.double()) * p.scale).var(0)  # centred variance per component
            order = torch.argsort(var, descending=True)
            a2, cross = windows(p, times, order)
            live = var[order] > 1e-10  # zero-variance (constant border) components are drawn but not counted
            axes[i, j].imshow(a2.numpy(), aspect="auto", cmap="magma", vmin=0, vmax=1, extent=(0, 1, a2.shape[0], 0))
            axes[i, j].set_title(f"{basis}, softness {soft:g}", fontsize=8)
            axes[i, j].tick_params(labelsize=6)
            c = cross[live]
            table[f"{basis}/{soft:g}"] = {"first": float(c.min()), "median": float(c.median()), "last": float(c.max())}
            if j == 0:
                axes[i, j].set_ylabel("component\n(by variance)", fontsize=7)
            if i == len(softs) - 1:
                axes[i, j].set_xlabel("t", fontsize=7)
    fig.suptitle(
        f"{args.dataset}: signal fraction α_i(t)² (bright = clean), variance ordering, {args.soft_form}, "
        f"{args.prior} prior, centred, deterministic_tol {args.deterministic_tol:g}",
        fontsize=9,
    )
    fig.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    # a 128-colour palette keeps the docs figure under 200 KB (the colour map is smooth)
    Image.open(args.out).convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(
        args.out, optimize=True
    )
    print(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
