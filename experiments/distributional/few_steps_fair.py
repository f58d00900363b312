"""Few-step quality at equal training steps, equal wall-clock and equal network FLOPs, 3 seeds.

Uses the runs of ``posterior_check.py`` (gmm, 2-D, 4 modes): per seed a generator (energy score,
λ = 1, β = 1, m = 8, 128 data points per step = 1024 network rows) and a regression model
(v-prediction, batch 512 = 512 rows) with checkpoints along the way. Compared checkpoints:

* equal steps: the regression checkpoint at the generator's step count;
* equal FLOPs: at m x 128 / 512 = 2x the steps (an MLP's cost is linear in rows);
* equal wall-clock: at the measured ratio of seconds per step (``few_steps.seconds_per_step``,
  both models timed back to back on this machine, median of three rounds).

Metric: energy distance (``metrics/kernels.py``) of n samples to a reference set. Choices (the
generator's churn ε, the regression sampler) are made on a *selection* split (other sample seed,
reference = a training subset) and reported on the test split, so no choice sees the reported
numbers. The metric's own noise is the energy distance between two sample sets of one model.

Usage::

    python experiments/distributional/few_steps_fair.py --out runs/posterior_check --seeds 0 1 2
"""

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

from difflab.data import load_dataset
from difflab.io import nearest_checkpoint
from difflab.metrics.kernels import energy_distance
from difflab.pipeline import generate, load_run

sys.path.insert(0, str(Path(__file__).parent))
from few_steps import seconds_per_step  # noqa: E402
from posterior_check import REG_BATCH, config  # noqa: E402

STEPS = [1, 2, 4, 8, 16]
REG_SAMPLERS = {"ddim": {}, "dpmpp2m": {}, "ddpm": {}}  # ddpm: the stochastic (churn 1) sampler
CHURNS = [0.0, 1.0]


def timing(dim: int, steps: int) -> dict:
    rounds = []
    for _ in range(3):
        gen = seconds_per_step(config("energy", dim, 0, steps), repeats=20)
        reg = seconds_per_step(config("regression", dim, 0, steps), repeats=20)
        rounds.append((gen, reg))
    gen, reg = (float(np.median([r[i] for r in rounds])) for i in (0, 1))
    return {"gen_s_per_step": gen, "reg_s_per_step": reg, "ratio": gen / reg, "rounds": rounds}


def score(run, n, steps, sampler, options, seed, reference) -> float:
    x, _ = generate(run, n, steps=steps, sampler=sampler, seed=seed, sampler_options=options)
    return energy_distance(x.double(), reference)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dim", type=int, default=2)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, default=1500, help="the generator's training steps")
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--out", type=Path, default=Path("runs/posterior_check"))
    a = p.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    out = a.out / f"gmm{a.dim}"
    ds = load_dataset("gmm", dim=a.dim, n_components=4)
    test = ds.test[: a.n].double()
    select = ds.train[torch.randperm(len(ds.train), generator=torch.Generator().manual_seed(5))[: a.n]].double()
    tfile = out / "timing.json"
    if not tfile.exists():
        tfile.write_text(json.dumps(timing(a.dim, a.steps), indent=1))
    tm = json.loads(tfile.read_text())
    targets = {
        "equal_steps": a.steps,
        "equal_flops": round(a.steps * 8 * 128 / REG_BATCH),
        "equal_clock": round(a.steps * tm["ratio"]),
    }
    res: dict = {"timing": tm, "targets": targets, "floor": energy_distance(select, test), "seeds": {}}
    for seed in a.seeds:
        r: dict = {}
        gen = load_run(out / f"energy_s{seed}")
        for c in CHURNS:
            opts = {"churn": c}
            r[f"gen_churn{c}"] = {
                k: {
                    "select": score(gen, a.n, k, "distributional", opts, 100, select),
                    "test": score(gen, a.n, k, "distributional", opts, 0, test),
                }
                for k in STEPS
            }
        # the metric's own noise: two sample sets of one model (4 steps, ε = 1) against the test split
        r["noise"] = abs(r["gen_churn1.0"][4]["test"] - score(gen, a.n, 4, "distributional", {"churn": 1.0}, 1, test))
        for label, step in targets.items():
            ckpt = nearest_checkpoint(out / f"regression_s{seed}" / "checkpoints", step)
            reg = load_run(ckpt)
            for name, opts in REG_SAMPLERS.items():
                r[f"reg_{label}_{name}"] = {
                    k: {
                        "select": score(reg, a.n, k, name, opts, 100, select),
                        "test": score(reg, a.n, k, name, opts, 0, test),
                    }
                    for k in STEPS
                }
            r[f"reg_{label}_step"] = reg.step
        res["seeds"][str(seed)] = r
        print("seed", seed, "done", flush=True)
    (out / f"few_steps_fair_{'-'.join(map(str, a.seeds))}.json").write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
