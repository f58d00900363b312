"""Plot per-component α_i²(t) for GUD schedules on an 8×8 layout -> docs/figures/schedules.png.

Panels: scalar cosine; soft conditioning in the DCT basis at softness ∞, 1 and
0.1 (whitened Σ_i = 1, i.e. the data prior); sequential column schedule in the
pixel basis at softness 2 (τ_max = 0.5). Curves are coloured by label (frequency
magnitude) or by column position.

Usage: python scripts/plot_schedules.py [--out docs/figures/schedules.png]
"""

import argparse
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from difflab.process.bases.registry import build_basis  # noqa: E402
from difflab.process.schedules.registry import build_schedule  # noqa: E402

SHAPE = (1, 8, 8)


def panels() -> list[tuple[str, object, torch.Tensor, str]]:
    dct, pixel = build_basis("dct", SHAPE), build_basis("pixel", SHAPE)
    ones = torch.ones(dct.dim, dtype=torch.float64)
    out = [("scalar cosine", build_schedule("cosine"), dct.labels, "label")]
    for softness in (math.inf, 1.0, 0.1):
        sched = build_schedule("soft", labels=dct.labels, data_var=ones, softness=softness)
        out.append((f"soft, DCT, softness={softness:g}", sched, dct.labels, "DCT |k| label"))
    seq = build_schedule("sequential", positions=pixel.positions, softness=2.0, axis="column")
    out.append(("sequential column, pixel, softness=2", seq, pixel.positions[:, 1], "column position"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/figures/schedules.png"))
    args = parser.parse_args()
    t = torch.linspace(0, 1, 401, dtype=torch.float64)
    items = panels()
    fig, axes = plt.subplots(1, len(items), figsize=(4 * len(items), 3.4), sharey=True)
    cmap = plt.get_cmap("viridis")
    for ax, (title, sched, colour, clabel) in zip(axes, items):
        alpha2 = torch.sigmoid(-sched.gamma(t)).expand(len(t), len(colour))
        norm = (colour - colour.min()) / max(float(colour.max() - colour.min()), 1e-12)
        for i in torch.argsort(colour, descending=True).tolist():
            ax.plot(t.numpy(), alpha2[:, i].numpy(), color=cmap(float(norm[i])), lw=0.8, alpha=0.8)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("t")
        sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(float(colour.min()), float(colour.max())))
        fig.colorbar(sm, ax=ax, fraction=0.05, pad=0.02).set_label(clabel, fontsize=8)
    axes[0].set_ylabel("α_i²(t) (signal fraction)")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=120)
    tmp.replace(args.out)  # atomic write
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
