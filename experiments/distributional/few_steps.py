"""Few-step quality: regression (DDIM, Heun, DPM-Solver++) vs a distributional denoiser.

De Bortoli et al. (arXiv 2502.02483) claim a generator trained with the energy
score samples well in 1-8 steps, where a mean denoiser blurs. For one dataset
this script:

1. measures seconds per training step of both models (same network, same
   process; the generator's batch is B data points x m samples);
2. trains the regression model long enough to match the generator's training
   wall-clock, keeping checkpoints, and the generator for ``--steps`` steps;
3. evaluates at 1, 2, 4, 8, 16, 32 steps: regression at equal training steps
   and at equal wall-clock (ddim, heun, dpmpp2m), the generator with its
   sampler at several churn values ε;
4. writes ``results.json``, ``quality_vs_steps.png`` (and for 2-D data a
   picture of the samples) under ``--out/<dataset>``.

Usage::

    python experiments/distributional/few_steps.py --dataset digits --steps 400 --out runs/distributional
"""

import argparse
import json
import time
from pathlib import Path

import torch

from difflab.config import load_config
from difflab.config.schema import RunConfig
from difflab.data import load_dataset
from difflab.models.build import DataInfo, build_denoiser
from difflab.objectives.build import build_objective
from difflab.pipeline import generate, load_run, train_run
from difflab.pipeline.evaluate import evaluate_run, primary_metric

STEPS = [1, 2, 4, 8, 16, 32]
REG_SAMPLERS = ["ddim", "heun", "dpmpp2m"]
SCALE = {  # scaled down for a shared 2-core CPU
    "digits": ["network.base_channels=16", "train.warmup_steps=50"],
    "toy2d": ["network.hidden=128", "network.depth=3"],
    "gmm": ["network.hidden=128", "network.depth=3"],
    "patches": ["network.base_channels=16"],
}
DIST = {  # generator batch (data points) and m
    "digits": ["train.batch_size=64", "method.m=4"],
    "toy2d": ["train.batch_size=128", "method.m=8"],
    "gmm": ["train.batch_size=128", "method.m=8"],
    "patches": ["train.batch_size=32", "method.m=4"],
}


def seconds_per_step(cfg: RunConfig, repeats: int = 8) -> float:
    """Median wall-clock of one optimiser step (forward, backward, AdamW) on the CPU."""
    torch.manual_seed(0)
    ds = load_dataset(cfg.data.name, **cfg.data.options)
    info = DataInfo(cfg.data.name, tuple(ds.train.shape[1:]), ds.num_classes, {})
    model = build_denoiser(cfg, info, ds.train)
    objective = build_objective(cfg.method)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    gen = torch.Generator().manual_seed(0)
    times = []
    for i in range(repeats + 2):
        x0 = ds.train[torch.randint(0, ds.train.shape[0], (cfg.train.batch_size,), generator=gen)]
        t0 = time.perf_counter()
        loss = objective(model, x0, None, gen).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - t0)
    return float(sorted(times)[len(times) // 2])


def configs(dataset: str, steps: int, seed: int, reg_extra: tuple[str, ...] = ()) -> tuple[RunConfig, RunConfig]:
    common = [*SCALE[dataset], f"seed={seed}", "train.keep_last=100", "train.log_every=50"]
    reg = load_config(RunConfig, f"configs/{dataset}.yaml", [*common, *reg_extra])
    dist = load_config(RunConfig, f"configs/{dataset}-distributional.yaml",
                       [*common, *DIST[dataset], f"train.steps={steps}", f"train.checkpoint_every={steps}"])
    return reg, dist


def _cached_eval(run_path: Path, out: Path, tag: str, **kw) -> dict:
    """evaluate_run, or its metrics JSON if an earlier (parallel) process already wrote it."""
    cached = out / "eval" / f"metrics{tag}.json"
    if cached.exists():
        return json.loads(cached.read_text())
    return evaluate_run(load_run(run_path), steps=STEPS, out_dir=out / "eval", tag=tag, **kw)


def evaluate_all(out: Path, steps: int, reg_clock: int, churns: list[float], n: int, dist: bool = True) -> dict:
    res: dict = {}
    ckpt = out / "regression" / "checkpoints"
    for label, k in [("equal_steps", steps), ("equal_clock", reg_clock)]:
        r = _cached_eval(ckpt / f"step_{k:06d}", out, f"_reg_{label}", samplers=REG_SAMPLERS, n=n)
        res[f"regression_{label}"] = {"train_steps": k, **r}
    for c in churns if dist else []:
        r = _cached_eval(out / "distributional", out, f"_dist_churn{c}", samplers=["distributional"], n=n,
                         sampler_options={"distributional": {"churn": c}})
        res[f"distributional_churn{c}"] = {"train_steps": steps, **r}
    return res


def plot(results: dict, metric: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, label in zip(axes, ["equal_steps", "equal_clock"]):
        reg = results["evals"][f"regression_{label}"]
        for s in REG_SAMPLERS:
            ax.plot(STEPS, [reg["samplers"][s][str(k)][metric] for k in STEPS], "o--", label=f"regression {s}")
        for key, r in results["evals"].items():
            if key.startswith("distributional"):
                ax.plot(STEPS, [r["samplers"]["distributional"][str(k)][metric] for k in STEPS], "s-",
                        label=f"distributional ε={key.split('churn')[1]}")
        ax.axhline(reg["floor"][metric], color="grey", lw=0.8, label="train-vs-test floor")
        ax.set(xscale="log", yscale="log", xlabel="sampling steps", title=f"{label.replace('_', ' ')} "
               f"(regression {reg['train_steps']} steps)")
        ax.set_xticks(STEPS, [str(k) for k in STEPS])
    axes[0].set_ylabel(metric)
    axes[1].legend(fontsize=7)
    fig.suptitle(f"{results['dataset']}: quality vs steps (distributional {results['steps']} training steps)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def picture_2d(out: Path, steps: int, reg_clock: int, path: Path) -> None:
    """Rows: regression ddim/dpmpp2m (equal clock), distributional ε=0/1; columns: step counts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    reg = load_run(out / "regression" / "checkpoints" / f"step_{reg_clock:06d}")
    dist = load_run(out / "distributional")
    rows = [("reg ddim", reg, "ddim", None), ("reg dpmpp2m", reg, "dpmpp2m", None),
            ("dist ε=0", dist, "distributional", {"churn": 0.0}), ("dist ε=1", dist, "distributional", {"churn": 1.0})]
    fig, axes = plt.subplots(len(rows), len(STEPS), figsize=(2 * len(STEPS), 2 * len(rows)))
    for i, (name, run, sampler, opts) in enumerate(rows):
        for j, k in enumerate(STEPS):
            x, _ = generate(run, 2000, steps=k, sampler=sampler, sampler_options=opts)
            ax = axes[i, j]
            ax.scatter(x[:, 0], x[:, 1], s=1, alpha=0.4)
            ax.set(xlim=(-3, 3), ylim=(-3, 3), xticks=[], yticks=[])
            if i == 0:
                ax.set_title(f"{k} steps")
            if j == 0:
                ax.set_ylabel(name)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="digits", choices=sorted(SCALE))
    p.add_argument("--steps", type=int, default=400, help="training steps of the distributional model")
    p.add_argument("--churn", type=float, nargs="+", default=[0.0, 0.5, 1.0])
    p.add_argument("--n", type=int, default=1000, help="samples per evaluation")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/distributional")
    p.add_argument("--phase", default="all", choices=["all", "regression", "distributional", "eval-regression", "eval"],
                   help="run one phase only (train the two models in parallel processes, then eval)")
    args = p.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out) / args.dataset
    out.mkdir(parents=True, exist_ok=True)
    reg_cfg, dist_cfg = configs(args.dataset, args.steps, args.seed)
    timing_path = out / "timing.json"  # measured once; the phases below may run as separate processes
    if not timing_path.exists():
        timing_path.write_text(json.dumps({"regression": seconds_per_step(reg_cfg),
                                           "distributional": seconds_per_step(dist_cfg)}))
    timing = json.loads(timing_path.read_text())
    sec_reg, sec_dist = timing["regression"], timing["distributional"]
    every = max(1, args.steps // 4)
    reg_clock = max(args.steps, every * round(args.steps * sec_dist / sec_reg / every))
    print(f"s/step regression {sec_reg:.3f}, distributional {sec_dist:.3f}; regression for {reg_clock} steps",
          flush=True)
    reg_cfg, _ = configs(args.dataset, args.steps, args.seed, (f"train.steps={reg_clock}", f"train.checkpoint_every={every}"))
    for phase, cfg in [("regression", reg_cfg), ("distributional", dist_cfg)]:
        if args.phase in ("all", phase):
            t0 = time.perf_counter()
            train_run(cfg, out / phase, progress=False)
            (out / f"train_seconds_{phase}.txt").write_text(f"{time.perf_counter() - t0:.1f}")
    if args.phase == "eval-regression":
        evaluate_all(out, args.steps, reg_clock, args.churn, args.n, dist=False)
    if args.phase not in ("all", "eval"):
        return
    t_reg, t_dist = (float((out / f"train_seconds_{k}.txt").read_text()) for k in ("regression", "distributional"))
    results = {"dataset": args.dataset, "steps": args.steps, "regression_clock_steps": reg_clock,
               "seconds_per_step": {"regression": sec_reg, "distributional": sec_dist},
               "train_seconds": {"regression": t_reg, "distributional": t_dist},
               "batch": {"regression": reg_cfg.train.batch_size, "distributional": dist_cfg.train.batch_size,
                         "m": dist_cfg.method.m},
               "evals": evaluate_all(out, args.steps, reg_clock, args.churn, args.n)}
    metric = primary_metric(args.dataset)
    results["metric"] = metric
    (out / "results.json").write_text(json.dumps(results, indent=1))
    plot(results, metric, out / "quality_vs_steps.png")
    if args.dataset == "toy2d":
        picture_2d(out, args.steps, reg_clock, out / "samples.png")
    print(f"done: {out / 'results.json'}", flush=True)


if __name__ == "__main__":
    main()
