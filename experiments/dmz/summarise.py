"""Collect runs/dmz/*/eval*/dmz_metrics.json into docs/figures/dmz_* (figures + one results JSON).

Usage: python experiments/dmz/summarise.py UNCOND_EVAL DMZ_EVAL [ABLATION_EVAL ...]
(each an eval folder, e.g. runs/dmz/dmz16/eval).
"""

import json
import shutil
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FIG = Path("docs/figures")


def main(uncond: str, dmz: str, *others: str) -> None:
    FIG.mkdir(parents=True, exist_ok=True)
    res = {
        name: json.loads((Path(p) / "dmz_metrics.json").read_text())
        for name, p in [("uncond", uncond), ("dmz", dmz)] + [(Path(p).parent.name, p) for p in others]
    }
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
    for name, r in res.items():
        if name not in ("uncond", "dmz"):
            continue
        for sampler, curve in r["fd"].items():
            ks = sorted(curve, key=int)
            ax[0].plot(
                [int(k) for k in ks],
                [curve[k] for k in ks],
                "o-",
                label=f"{'DMZ (fair bits)' if name == 'dmz' else 'unconditional'}, {sampler}",
            )
    ax[0].axhline(res["uncond"]["floor_fd"], color="gray", ls=":", label="train vs test floor")
    ax[0].set(xscale="log", yscale="log", xlabel="steps", ylabel="classifier-FD", title="digits: quality vs steps")
    ax[0].legend(fontsize=7)
    for mode, curve in res["dmz"]["recon_mse"].items():
        ks = sorted(curve, key=int)
        ax[1].plot([int(k) for k in ks], [curve[k] for k in ks], "o-", label=mode)
    ax[1].set(xscale="log", xlabel="steps", ylabel="MSE (test, [-1, 1] scale)", title="DMZ reconstruction error")
    ax[1].legend()
    fig.tight_layout()
    fig.savefig(FIG / "dmz_quality_recon_vs_steps.png", dpi=120)
    for pic in ("reconstruction", "interpolation_soft", "interpolation_bitflip"):
        src = Path(dmz) / f"{pic}.png"
        if src.exists():
            shutil.copy(src, FIG / f"dmz_{pic}.png")
    (FIG / "dmz_results.json").write_text(json.dumps(res, indent=1))
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "entropy"} for k, v in res.items()}, indent=1))


if __name__ == "__main__":
    main(*sys.argv[1:])
