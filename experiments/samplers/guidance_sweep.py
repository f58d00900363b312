"""Classifier-free guidance on digits: label accuracy and classifier-FD as the weight W grows.

Trains configs/digits-cond.yaml if the run is missing, then for each W samples n digits with
labels 0..9 in turn (n/10 per class) under several seeds and scores them with the shipped digits
classifier: the accuracy of the requested label and the classifier-FD against the test split.
Writes a figure (samples per W, accuracy and FD vs W) and a JSON of every number.

    python experiments/samplers/guidance_sweep.py --run runs/digits-cond --n 500 --seeds 0,1,2 \
        --figure docs/figures/guidance.png --json docs/figures/guidance.json
"""

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from difflab.config import load_config
from difflab.config.schema import RunConfig
from difflab.data import load_dataset
from difflab.metrics import classifier_fd, load_digits_classifier
from difflab.models import generate, load_run
from difflab.pipeline import train_run
from difflab.report.image_grid import make_grid


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", default="runs/digits-cond")
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--weights", default="0,1,2,4")
    p.add_argument("--steps", type=int, default=16)
    p.add_argument("--sampler", default="dpmpp2m")
    p.add_argument("--figure", default=None)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    if not Path(args.run).exists():
        train_run(load_config(RunConfig, "configs/digits-cond.yaml"), args.run)
    run = load_run(args.run)
    reference = load_dataset("digits").test
    clf = load_digits_classifier()
    seeds = [int(s) for s in args.seeds.split(",")]
    weights = [float(w) for w in args.weights.split(",")]
    labels = torch.arange(args.n) % 10
    res, pictures = {}, {}
    print(f"{args.sampler}, {args.steps} steps, n={args.n} (labels 0..9 in turn), seeds {seeds}: mean ± std")
    for w in weights:
        acc, fd = [], []
        for seed in seeds:
            x, _ = generate(
                run, args.n, steps=args.steps, sampler=args.sampler, seed=seed, cond={"labels": labels}, guidance=w
            )
            acc.append(float((clf.predict(x) == labels).float().mean()))
            fd.append(classifier_fd(x, reference))
            if seed == seeds[0]:
                pictures[w] = x[:40]
        res[str(w)] = {"accuracy": acc, "classifier_fd": fd}
        print(f"W={w:g}: accuracy {np.mean(acc):.3f} ± {np.std(acc):.3f}", end=", ")
        print(f"classifier-FD {np.mean(fd):.1f} ± {np.std(fd):.1f}")
    if args.json:
        meta = {"run": args.run, "n": args.n, "seeds": seeds, "steps": args.steps, "sampler": args.sampler}
        Path(args.json).write_text(json.dumps({"meta": meta, "results": res}, indent=1))
    if args.figure:
        fig, axes = plt.subplots(1, len(weights) + 1, figsize=(3.2 * (len(weights) + 1), 3.4))
        for ax, w in zip(axes, weights, strict=False):
            ax.imshow(make_grid(pictures[w], nrow=10), cmap="gray")
            ax.set_title(f"W = {w:g}")
            ax.axis("off")
        ax = axes[-1]
        acc = [np.mean(res[str(w)]["accuracy"]) for w in weights]
        fd = [np.mean(res[str(w)]["classifier_fd"]) for w in weights]
        ax.plot(weights, acc, "o-", color="C0")
        ax.set_xlabel("guidance W")
        ax.set_ylabel("label accuracy", color="C0")
        ax2 = ax.twinx()
        ax2.plot(weights, fd, "s--", color="C1")
        ax2.set_ylabel("classifier-FD", color="C1")
        fig.tight_layout()
        fig.savefig(args.figure, dpi=110)


if __name__ == "__main__":
    main()
