"""Multi-attribute trajectory study (issue 15, item 8): digit vs background level on `digits-attr`.

One trajectory extraction of a run on digits-attr (joint labels), relabelled per attribute:
`digit` (fine, lost early under noise), `background` (coarse, the image mean) and `joint` (30 classes).
Per attribute: single-time linear probes at every t and the mixers (concat, GRU, attention), all under
the paper's probe protocol (lr chosen on validation, batch 256, clip 1.0, dropout 0.25, best-validation
epoch). The best single t is chosen on validation too, never on test.

Writes OUT/<name>_<attribute>.json, OUT/<name>_acc_vs_t.png, OUT/<name>_attention.png.

Usage: python experiments/representations/run_attr.py RUN --name drl_reg [--source drl|unet] [--k 5]
       [--attributes digit,background,joint] [--seeds 3] [--lrs 1e-3,2.5e-4,5e-5] [--epochs 30] [--width 64]
The paper's protocol in full: --lrs 1e-3,7.5e-4,5e-4,2.5e-4,1e-4,5e-5 --epochs 100 --seeds 5 --width 256.
"""

import argparse
import json
import time
from pathlib import Path

import torch

from difflab.data import load_dataset
from difflab.data.digits_attr import split_labels
from difflab.io import atomic_write_json
from difflab.representations import (
    Trajectories,
    plot_attention_attributes,
    plot_attributes,
    probe_protocol,
    represent,
    run_study,
    trajectory_times,
)

COMPONENTS = ["down.1.res.0", "mid.res.1"]


def relabel(traj: Trajectories, attribute: str, levels: int) -> Trajectories:
    """The same features with ``attribute``'s labels (joint labels are digit · levels + background)."""
    if attribute == "joint":
        return traj
    pick = 0 if attribute == "digit" else 1
    tr, te = split_labels(traj.train_labels, levels)[pick], split_labels(traj.test_labels, levels)[pick]
    return Trajectories(traj.train, tr, traj.test, te, traj.times, traj.meta)


def pixels(levels: int) -> Trajectories:
    """The raw clean images as a one-time "trajectory": the reference of what x0 itself tells a linear probe."""
    data = load_dataset("digits-attr", label="joint", levels=levels)
    tr, te = data.train.flatten(1)[:, None], data.test.flatten(1)[:, None]
    return Trajectories(tr, data.train_labels, te, data.test_labels, [0.0])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run")
    p.add_argument("--name", required=True)
    p.add_argument("--source", default="drl", choices=["drl", "unet", "pixels"], help="pixels: raw x0 (RUN ignored)")
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--attributes", default="digit,background,joint")
    p.add_argument("--mixers", default="single,concat,gru,attention")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--lrs", default="1e-3,2.5e-4,5e-5")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--levels", type=int, default=3)
    p.add_argument("--standardise", action="store_true", help="standardise features (the quick protocol's choice)")
    p.add_argument("--out", type=Path, default=Path("runs/rep/study"))
    args = p.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    rep = {"components": COMPONENTS} if args.source == "unet" else {}
    traj = (
        pixels(args.levels)
        if args.source == "pixels"
        else represent(
            args.run,
            times=trajectory_times(args.k),
            source=args.source,
            dataset="digits-attr",
            data_options={"label": "joint", "levels": args.levels},
            out=args.out / "cache" / f"{Path(args.run).name}_{args.source}_k{args.k}",  # shared by protocols
            batch_size=512,
            **rep,
        )
    )
    lrs = tuple(float(v) for v in args.lrs.split(","))
    cfg = probe_protocol("paper", lrs=lrs, epochs=args.epochs, standardise=args.standardise)
    studies = {}
    for attribute in args.attributes.split(","):
        path = args.out / f"{args.name}_{attribute}.json"
        if path.exists():
            studies[attribute] = json.loads(path.read_text())
            continue
        t0, c0 = time.time(), time.process_time()
        res = run_study(
            relabel(traj, attribute, args.levels),
            args.mixers.split(","),
            range(args.seeds),
            config=cfg,
            progress=True,
            width=args.width,
        )
        res |= {
            "attribute": attribute,
            "source": args.source,
            "run": args.run,
            "seconds": time.time() - t0,
            "cpu_seconds": time.process_time() - c0,
            "protocol": {
                "lrs": list(cfg.rates()),
                "epochs": args.epochs,
                "width": args.width,
                "batch": 256,
                "grad_clip": 1.0,
                "dropout": 0.25,
                "standardise": args.standardise,
                "seeds": args.seeds,
                "batched": "single, single-mlp, concat (representations.grid); gru, attention one by one",
            },
        }
        atomic_write_json(path, res)
        studies[attribute] = res
        print(f"[{args.name}] {attribute} done in {time.time() - t0:.0f}s ({res['cpu_seconds']:.0f} CPU s)", flush=True)
    plot_attributes(studies, args.out / f"{args.name}_acc_vs_t.png", title=f"{args.name}: accuracy vs t")
    plot_attention_attributes(studies, args.out / f"{args.name}_attention.png", title=f"{args.name}: attention over t")


if __name__ == "__main__":
    main()
