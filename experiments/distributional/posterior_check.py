"""Does the generator sample p(x₀ | x_t)? Exact posterior check on Gaussian-mixture data.

De Bortoli et al. (arXiv 2502.02483) claim G(x_t, t, ξ) learns the posterior p(x₀ | x_t).
On the ``gmm`` data the posterior is known exactly (``GMMOracle.posterior_sample``), so for K
conditioning points x_t at each t this script compares n generator draws with n exact draws
(``difflab.metrics.posterior.posterior_fit``: energy distance and MMD²) next to the floor (two
exact sets) and to point masses: the exact posterior mean (the best any regression model can do)
and a trained regression model's prediction.

Usage::

    python experiments/distributional/posterior_check.py --dim 2 --seeds 0 1 2 --out runs/posterior_check
    python experiments/distributional/posterior_check.py --dim 2 --phase report --out runs/posterior_check
"""

import argparse
import json
import os
from pathlib import Path

import torch

from difflab.config import load_config
from difflab.config.schema import RunConfig
from difflab.data import load_dataset
from difflab.io import nearest_checkpoint
from difflab.metrics.posterior import posterior_fit
from difflab.pipeline import load_run, train_run
from difflab.process.oracles import GMMOracle

# name -> (base config, overrides); every generator: MLP 128 x 3, batch 128 data points.
SETTINGS = {
    "regression": ("gmm", []),
    "energy": ("gmm-distributional", []),  # λ = 1, β = 1, m = 8: the paper's 2-D setting
    "lam0.5": ("gmm-distributional", ["method.lam=0.5"]),
    "lam0": ("gmm-distributional", ["method.lam=0.0"]),
    "beta2": ("gmm-distributional", ["method.beta=2.0"]),
    "beta0.5": ("gmm-distributional", ["method.beta=0.5"]),
    "m2": ("gmm-distributional", ["method.m=2"]),
    "kernel_imq": ("gmm-distributional", ["method.rule=kernel", "method.kernel=imq"]),
    "joint": ("gmm-distributional", ["method.loss_form=joint"]),
    "marginal": ("gmm-distributional", ["method.loss_form=marginal"]),
}
TIMES = [0.05, 0.2, 0.4, 0.6, 0.8, 0.95]


# A generator step is 128 data points x m = 8 -> 1024 network rows; the regression model (batch 512,
# gmm.yaml's) does 512: equal network FLOPs is 2x the generator's steps. The regression run goes on
# to that (REG_STEPS_FACTOR) keeping checkpoints, so that equal steps, equal FLOPs and (where the
# clock ratio is at most 2) equal wall-clock are checkpoints of one run (few_steps_fair.py).
REG_BATCH = 512
REG_STEPS_FACTOR = 2


def config(name: str, dim: int, seed: int, steps: int) -> RunConfig:
    base, extra = SETTINGS[name]
    reg = name == "regression"
    common = [
        f"data.options.dim={dim}",
        "network.hidden=128",
        "network.depth=3",
        f"train.batch_size={REG_BATCH if reg else 128}",
        f"train.steps={round(steps * REG_STEPS_FACTOR) if reg else steps}",
        f"train.checkpoint_every={steps // 6 if reg else steps // 2}",
        "train.log_every=250",
        "train.keep_last=100",
        f"seed={seed}",
    ]
    return load_config(RunConfig, f"configs/{base}.yaml", [*common, *extra])


def run_dir(out: Path, name: str, seed: int) -> Path:
    return out / f"{name}_s{seed}"


def train(out: Path, names: list[str], seeds: list[int], dim: int, steps: int) -> None:
    for seed in seeds:
        for name in names:
            path = run_dir(out, name, seed)
            if (path / "checkpoints").exists():
                continue
            train_run(config(name, dim, seed, steps), path, progress=False)


def evaluate(out: Path, names: list[str], seeds: list[int], dim: int, k: int, n: int, steps: int) -> dict:
    ds = load_dataset("gmm", dim=dim, n_components=4)
    results: dict = {}
    for seed in seeds:
        reg = None
        if "regression" in names:  # the checkpoint at the generator's step count (equal steps)
            reg = load_run(nearest_checkpoint(run_dir(out, "regression", seed) / "checkpoints", steps))
        for name in names:
            if name == "regression":
                continue
            run = load_run(run_dir(out, name, seed))
            g = run.denoiser
            oracle = GMMOracle(g.process, ds.meta["weights"], ds.meta["means"], ds.meta["covs"])
            gen = torch.Generator().manual_seed(1000 + seed)

            def model(x, t, g=g, gen=gen):
                return g(x.float(), t.float(), xi=torch.randn(x.shape, generator=gen)).double()

            def exact(x, t, gen=gen, oracle=oracle):
                return oracle.posterior_sample(x, t, generator=gen)

            for t in TIMES:
                x0 = ds.test[torch.randperm(len(ds.test), generator=torch.Generator().manual_seed(int(t * 100)))[:k]]
                x_t, _ = g.process.noise(x0.double(), torch.full((k,), t), noise=torch.Generator().manual_seed(7))
                r = posterior_fit(model, exact, x_t, t, n=n, point=oracle)
                row = {key: float(v.mean()) for key, v in r.items()}
                row |= {f"{key}_sd": float(v.std()) for key, v in r.items()}  # spread over the K x_t
                if reg is not None:
                    # n copies of the regression prediction: the point mass a mean denoiser stands for
                    reg_point = reg.denoiser
                    mass = posterior_fit(
                        lambda x, tt, f=reg_point: f(x.float(), tt.float()).double(), exact, x_t, t, n=n
                    )
                    row["energy_regression"] = float(mass["energy"].mean())
                    row["mmd_regression"] = float(mass["mmd"].mean())
                results.setdefault(name, {}).setdefault(str(seed), {})[str(t)] = row
                print(name, seed, t, {kk: round(v, 4) for kk, v in row.items()}, flush=True)
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dim", type=int, default=2)
    p.add_argument("--settings", nargs="+", default=["regression", "energy", "lam0.5", "lam0", "beta2", "m2"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--k", type=int, default=48, help="conditioning points x_t per time")
    p.add_argument("--n", type=int, default=256, help="draws per x_t from each sampler")
    p.add_argument("--phase", choices=["train", "eval", "all"], default="all")
    p.add_argument("--out", type=Path, default=Path("runs/posterior_check"))
    a = p.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    out = a.out / f"gmm{a.dim}"
    if a.phase in ("train", "all"):
        train(out, a.settings, a.seeds, a.dim, a.steps)
    if a.phase in ("eval", "all"):
        res = evaluate(out, a.settings, a.seeds, a.dim, a.k, a.n, a.steps)
        tag = "_".join(a.settings) if len(a.settings) < 4 else "all"
        (out / f"posterior_{tag}_{'-'.join(map(str, a.seeds))}.json").write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
