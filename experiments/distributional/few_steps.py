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
    # on a GPU: paper-sized m = 8, configs' widths, timing first, then both trainings side by side
    python experiments/distributional/few_steps.py --scale gpu --device cuda --steps 20000 --phase timing
"""

import argparse
import json
import time
from pathlib import Path

import torch

from difflab import io
from difflab.config import load_config
from difflab.config.schema import RunConfig
from difflab.data import load_dataset
from difflab.models.build import DataInfo, build_denoiser
from difflab.objectives.build import build_objective
from difflab.pipeline import generate, load_run, train_run
from difflab.pipeline.evaluate import evaluate_run, primary_metric
from difflab.training.distributed import resolve_device
from difflab.utils.device import autocast_for, sync_device

STEPS = [1, 2, 4, 8, 16, 32]
REG_SAMPLERS = ["ddim", "heun", "dpmpp2m"]
SCALE = {  # --scale cpu: cut down for a shared 2-core CPU; --scale gpu: the configs' sizes, m = 8 (the paper's)
    "cpu": {
        "digits": ["network.base_channels=16", "train.warmup_steps=50"],
        "toy2d": ["network.hidden=128", "network.depth=3"],
        "gmm": ["network.hidden=128", "network.depth=3"],
        "patches": ["network.base_channels=16"],
    },
    "gpu": {"digits": ["network.base_channels=32"], "toy2d": [], "gmm": [], "patches": []},
}
DIST = {  # generator batch (data points) and m
    "cpu": {
        "digits": ["train.batch_size=64", "method.m=4"],
        "toy2d": ["train.batch_size=128", "method.m=8"],
        "gmm": ["train.batch_size=128", "method.m=8"],
        "patches": ["train.batch_size=32", "method.m=4"],
    },
    "gpu": {
        "digits": ["train.batch_size=128", "method.m=8"],
        "toy2d": ["train.batch_size=128", "method.m=8"],
        "gmm": ["train.batch_size=128", "method.m=8"],
        "patches": ["train.batch_size=64", "method.m=8"],
    },
}


def seconds_per_step(cfg: RunConfig, repeats: int = 8) -> float:
    """Median wall-clock of one optimiser step (forward, backward, AdamW) on ``train.device``."""
    torch.manual_seed(0)
    device = resolve_device(cfg.train.device)
    ds = load_dataset(cfg.data.name, **cfg.data.options)
    info = DataInfo(cfg.data.name, tuple(ds.train.shape[1:]), ds.num_classes, {})
    model = build_denoiser(cfg, info, ds.train).to(device)
    objective = build_objective(cfg.method)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    gen = torch.Generator().manual_seed(0)
    train = ds.train.to(device)
    times = []
    for i in range(repeats + 3):
        x0 = train[torch.randint(0, train.shape[0], (cfg.train.batch_size,), generator=gen).to(device)]
        sync_device(device)
        t0 = time.perf_counter()
        with autocast_for(device, cfg.train.precision):
            loss = objective(model, x0, None, gen).float().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sync_device(device)
        if i >= 3:
            times.append(time.perf_counter() - t0)
    return float(sorted(times)[len(times) // 2])


def configs(
    dataset: str, steps: int, seed: int, reg_extra: tuple[str, ...] = (), scale: str = "cpu", device: str = "cpu"
) -> tuple[RunConfig, RunConfig]:
    common = [
        *SCALE[scale][dataset],
        f"seed={seed}",
        "train.keep_last=1000",
        "train.log_every=50",
        f"train.device={device}",
    ]
    reg = load_config(RunConfig, f"configs/{dataset}.yaml", [*common, *reg_extra])
    dist = load_config(
        RunConfig,
        f"configs/{dataset}-distributional.yaml",
        [*common, *DIST[scale][dataset], f"train.steps={steps}", f"train.checkpoint_every={max(1, steps // 4)}"],
    )
    return reg, dist


def nearest_checkpoint(run: Path, step: int) -> Path:
    """The kept checkpoint of ``run`` closest to ``step`` (a time-limited run may stop early)."""
    found = io.nearest_checkpoint(run / "checkpoints", step)
    if found is None:
        raise SystemExit(f"no checkpoints under {run}")
    return found


def _cached_eval(run_path: Path, out: Path, tag: str, device: str = "cpu", **kw) -> dict:
    """evaluate_run, or its metrics JSON if an earlier (parallel) process already wrote it."""
    cached = out / "eval" / f"metrics{tag}.json"
    if cached.exists():
        return json.loads(cached.read_text())
    return evaluate_run(load_run(run_path, device=device), steps=STEPS, out_dir=out / "eval", tag=tag, **kw)


def evaluate_all(
    out: Path, steps: int, reg_clock: int, churns: list[float], n: int, dist: bool = True, device: str = "cpu"
) -> dict:
    res: dict = {}
    for label, k in [("equal_steps", steps), ("equal_clock", reg_clock)]:
        ckpt = nearest_checkpoint(out / "regression", k)
        r = _cached_eval(ckpt, out, f"_reg_{label}", device, samplers=REG_SAMPLERS, n=n)
        res[f"regression_{label}"] = {"train_steps": load_run(ckpt).step, **r}
    for c in churns if dist else []:
        r = _cached_eval(
            out / "distributional",
            out,
            f"_dist_churn{c}",
            device,
            samplers=["distributional"],
            n=n,
            sampler_options={"distributional": {"churn": c}},
        )
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
                ax.plot(
                    STEPS,
                    [r["samplers"]["distributional"][str(k)][metric] for k in STEPS],
                    "s-",
                    label=f"distributional ε={key.split('churn')[1]}",
                )
        ax.axhline(reg["floor"][metric], color="grey", lw=0.8, label="train-vs-test floor")
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="sampling steps",
            title=f"{label.replace('_', ' ')} (regression {reg['train_steps']} steps)",
        )
        ax.set_xticks(STEPS, [str(k) for k in STEPS])
    axes[0].set_ylabel(metric)
    axes[1].legend(fontsize=7)
    fig.suptitle(f"{results['dataset']}: quality vs steps (distributional {results['steps']} training steps)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def picture_2d(out: Path, reg_clock: int, path: Path) -> None:
    """Rows: regression ddim/dpmpp2m (equal clock), distributional ε=0/1; columns: step counts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    reg = load_run(nearest_checkpoint(out / "regression", reg_clock))
    dist = load_run(out / "distributional")
    rows = [
        ("reg ddim", reg, "ddim", None),
        ("reg dpmpp2m", reg, "dpmpp2m", None),
        ("dist ε=0", dist, "distributional", {"churn": 0.0}),
        ("dist ε=1", dist, "distributional", {"churn": 1.0}),
    ]
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
    p.add_argument("--dataset", default="digits", choices=sorted(SCALE["cpu"]))
    p.add_argument("--steps", type=int, default=400, help="training steps of the distributional model")
    p.add_argument("--churn", type=float, nargs="+", default=[0.0, 0.5, 1.0])
    p.add_argument("--n", type=int, default=1000, help="samples per evaluation")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs/distributional")
    p.add_argument("--scale", default="cpu", choices=sorted(SCALE), help="model/batch sizes (see SCALE, DIST)")
    p.add_argument("--device", default="cpu", help="train and evaluate here (cpu | cuda)")
    p.add_argument(
        "--time-limit",
        type=float,
        default=0.0,
        help="seconds; stop each training phase there (the comparison then uses the steps reached)",
    )
    p.add_argument(
        "--phase",
        default="all",
        choices=["all", "timing", "regression", "distributional", "eval-regression", "eval"],
        help="run one phase only (timing first, then train the two models in parallel processes, then eval)",
    )
    args = p.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out) / args.dataset
    out.mkdir(parents=True, exist_ok=True)
    extra = (f"train.time_limit={args.time_limit}",)
    reg_cfg, dist_cfg = configs(args.dataset, args.steps, args.seed, extra, args.scale, args.device)
    dist_cfg.train.time_limit = args.time_limit
    timing_path = out / "timing.json"  # measured once; the phases below may run as separate processes
    if not timing_path.exists():
        timing_path.write_text(
            json.dumps(
                {
                    "regression": seconds_per_step(reg_cfg),
                    "distributional": seconds_per_step(dist_cfg),
                    "device": args.device,
                }
            )
        )
    timing = json.loads(timing_path.read_text())
    sec_reg, sec_dist = timing["regression"], timing["distributional"]
    every = max(1, args.steps // 4)
    reg_clock = max(args.steps, every * round(args.steps * sec_dist / sec_reg / every))
    print(
        f"s/step regression {sec_reg:.4f}, distributional {sec_dist:.4f}; regression for {reg_clock} steps", flush=True
    )
    reg_cfg, _ = configs(
        args.dataset,
        args.steps,
        args.seed,
        (*extra, f"train.steps={reg_clock}", f"train.checkpoint_every={every}"),
        args.scale,
        args.device,
    )
    for phase, cfg in [("regression", reg_cfg), ("distributional", dist_cfg)]:
        if args.phase in ("all", phase):
            t0 = time.perf_counter()
            train_run(cfg, out / phase, progress=False)
            (out / f"train_seconds_{phase}.txt").write_text(f"{time.perf_counter() - t0:.1f}")
    if args.phase in ("timing", "regression", "distributional"):
        return
    # A time-limited generator may stop short of --steps: compare at the steps it reached.
    dist_steps = load_run(out / "distributional").step if (out / "distributional").exists() else args.steps
    clock_steps = round(dist_steps * sec_dist / sec_reg)
    if args.phase == "eval-regression":
        evaluate_all(out, dist_steps, clock_steps, args.churn, args.n, dist=False, device=args.device)
        return
    t_reg, t_dist = (float((out / f"train_seconds_{k}.txt").read_text()) for k in ("regression", "distributional"))
    results = {
        "dataset": args.dataset,
        "steps": dist_steps,
        "regression_clock_steps": clock_steps,
        "device": timing.get("device", "cpu"),
        "scale": args.scale,
        "seconds_per_step": {"regression": sec_reg, "distributional": sec_dist},
        "train_seconds": {"regression": t_reg, "distributional": t_dist},
        "batch": {
            "regression": reg_cfg.train.batch_size,
            "distributional": dist_cfg.train.batch_size,
            "m": dist_cfg.method.m,
        },
        "evals": evaluate_all(out, dist_steps, clock_steps, args.churn, args.n, device=args.device),
    }
    metric = primary_metric(args.dataset)
    results["metric"] = metric
    (out / "results.json").write_text(json.dumps(results, indent=1))
    plot(results, metric, out / "quality_vs_steps.png")
    if args.dataset == "toy2d":
        picture_2d(out, clock_steps, out / "samples.png")
    print(f"done: {out / 'results.json'}", flush=True)


if __name__ == "__main__":
    main()
