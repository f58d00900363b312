"""Trajectory representations on digits (Mittal et al., arXiv 2210.13774), scaled to a 2-core CPU.

Sections (each writes runs/representations/results/<name>.json; reruns reuse finished sections and cached
trajectories):
  unet_k10        unet source, k = 10: single probes (linear, MLP) at every t + concat, GRU, attention
  unet_noisy_k10  as above, test inputs corrupted with N(0, 0.5²) before extraction (robustness)
  unet_vs_k       GRU / attention / concat accuracy for k in {1, 2, 5, 10, 25}
  drl_k10         drl source (needs RUN_DRL), as unet_k10

Usage: python experiments/representations/run_digits.py RUN_UNET [RUN_DRL] [--sections a,b] [--seeds 5]
"""

import argparse
import json
import time
from pathlib import Path

import torch

from difflab.io import atomic_write_json
from difflab.representations import (
    ProbeConfig,
    plot_accuracy_vs_t,
    plot_attention,
    probe_mixer,
    represent,
    run_study,
    trajectory_times,
)

OUT = Path("runs/representations")
COMPONENTS = ["down.1.res.0", "mid.res.1"]
MIXERS = ["single", "single-mlp", "concat", "gru", "attention"]


def study(name: str, run, seeds, cfg, mixers=MIXERS, width=None, **rep) -> dict:
    path = OUT / "results" / f"{name}.json"
    if path.exists():
        return json.loads(path.read_text())
    t0 = time.time()
    traj = represent(run, out=OUT / "cache" / name, batch_size=512, **rep)
    print(f"[{name}] trajectories {tuple(traj.train.shape)} in {time.time() - t0:.0f}s", flush=True)
    res = run_study(traj, mixers, seeds, config=cfg, progress=True, width=width)
    res["mixer_width"] = width
    res["seconds"] = time.time() - t0
    atomic_write_json(path, res)
    plot_accuracy_vs_t(res, OUT / "results" / f"{name}_acc_vs_t.png", title=name)
    plot_attention(res, OUT / "results" / f"{name}_attention.png", title=f"{name}: attention over t")
    return res


def vs_k(run, seeds, cfg, ks=(1, 2, 5, 10, 25), width=None) -> dict:
    path = OUT / "results" / "unet_vs_k.json"
    res = json.loads(path.read_text()) if path.exists() else {}
    for k in ks:
        if str(k) in res:
            continue
        traj = represent(
            run, times=trajectory_times(k), components=COMPONENTS, out=OUT / "cache" / f"unet_k{k}", batch_size=512
        )
        kinds = ["single"] if k == 1 else ["concat", "gru", "attention"]
        res[str(k)] = {
            kind: probe_mixer(traj, kind, seeds, config=cfg, width=width if kind != "concat" else None)
            for kind in kinds
        }
        print(
            f"[vs_k] k={k}: " + ", ".join(f"{m} {r['mean']:.4f}±{r['std']:.4f}" for m, r in res[str(k)].items()),
            flush=True,
        )
        atomic_write_json(path, res)
    return res


def main():
    global OUT  # --out moves results and caches
    p = argparse.ArgumentParser()
    p.add_argument("run_unet")
    p.add_argument("run_drl", nargs="?")
    p.add_argument("--sections", default="unet_k10,unet_noisy_k10,unet_vs_k,drl_k10")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--mixers", default=",".join(MIXERS), help="mixers of the k = 10 studies")
    p.add_argument("--width", type=int, default=None, help="GRU / attention hidden size (default 256)")
    p.add_argument("--out", default=str(OUT), help="results and trajectory cache folder")
    args = p.parse_args()
    OUT = Path(args.out)
    torch.set_num_threads(1)
    seeds, cfg = list(range(args.seeds)), ProbeConfig(epochs=args.epochs)
    k10, mixers = trajectory_times(10), args.mixers.split(",")
    for section in args.sections.split(","):
        if section == "unet_k10":
            study(section, args.run_unet, seeds, cfg, mixers, args.width, times=k10, components=COMPONENTS)
        elif section == "unet_noisy_k10":
            study(
                section, args.run_unet, seeds, cfg, mixers, args.width, times=k10, components=COMPONENTS, noise_std=0.5
            )
        elif section == "unet_vs_k":
            vs_k(args.run_unet, seeds, cfg, width=args.width)
        elif section == "drl_k10" and args.run_drl:
            study(section, args.run_drl, seeds, cfg, mixers, args.width, times=k10, source="drl")


if __name__ == "__main__":
    main()
