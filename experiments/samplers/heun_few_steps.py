"""Heun at 2/4/8 steps on a trained run: EDM's trapezoid in σ vs the exponential corrector.

Classifier-FD against the digits test split (n samples per setting, several seeds,
mean ± std), uniform grid, plus the fraction of pixels outside [-1, 1] (the range the
demo's samples are clamped to when shown).

    python experiments/samplers/heun_few_steps.py --run runs/demo --n 500 --seeds 0,1,2
"""

import argparse
import json

import numpy as np
import torch

from difflab.data import load_dataset
from difflab.metrics import classifier_fd
from difflab.models import generate, load_run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", default="runs/demo")
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--steps", default="2,4,8")
    p.add_argument("--out", default=None, help="optional JSON with every number")
    args = p.parse_args()
    torch.set_num_threads(1)
    run = load_run(args.run)
    reference = load_dataset("digits").test
    seeds = [int(s) for s in args.seeds.split(",")]
    results = {}
    print(f"classifier-FD, n={args.n}, seeds {seeds}, uniform grid; mean ± std (fraction of pixels outside [-1, 1])")
    for k in (int(s) for s in args.steps.split(",")):
        for form in ("edm", "exponential"):
            fds, out = [], []
            for seed in seeds:
                x, _ = generate(run, args.n, steps=k, sampler="heun", seed=seed, sampler_options={"heun_form": form})
                fds.append(classifier_fd(x, reference))
                out.append(float((x.abs() > 1).float().mean()))
            results[f"{form}/{k}"] = {"fd": fds, "out_of_range": out}
            print(f"heun {form:11s} {k:2d} steps: {np.mean(fds):10.1f} ± {np.std(fds):8.1f}  ({np.mean(out):.1%})")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
