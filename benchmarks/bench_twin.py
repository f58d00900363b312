"""The digits demo recipe against its diffusers twin, trained for the same steps in one process (issue 19).

Two arms per training seed, each trained here, one after the other, in this one process:

- ``difflab``: the demo recipe exactly (``configs/digits.yaml``: difflab's UNet, the continuous cosine
  schedule with continuous uniform t, v-prediction, the loss as the config reduces it);
- ``twin``: a ``diffusers.UNet2DModel`` of the same widths, depth and attention placement (the one
  ``network.kind: diffusers`` builds, :func:`difflab.nn.adapters.unet_config`), trained the diffusers way:
  ``DDPMScheduler(beta_schedule="squaredcos_cap_v2", prediction_type="v_prediction", 1000 steps)``,
  uniform integer timesteps, ``scheduler.add_noise`` / ``scheduler.get_velocity``, the MSE averaged over
  components. Its loop is difflab's :class:`~difflab.training.trainer.Trainer` with the same ``train``
  section, so the optimiser (AdamW, lr, warm-up), gradient clipping, EMA (with its warm-up), batches and
  steps are the recipe's by construction; only the network, the time/noise draw and the loss differ.

Each model is sampled with DDIM and DPM-Solver++(2M) at each step count: the difflab model with its own
samplers (uniform-in-t grid), the twin with diffusers' own ``DDIMScheduler`` (η = 0) and
``DPMSolverMultistepScheduler`` (``dpmsolver++``, order 2), built from the training scheduler's config
with ``timestep_spacing`` = ``--spacing`` (``trailing``, the default, is difflab's uniform grid on the
table) and no x̂₀ clipping, started from the x_T difflab's samplers start from for the same sampling
seed. A third row samples the twin with *difflab's* samplers (the twin read as ``difflab import`` reads
a diffusers folder): on the trailing grid it must equal the second row (the two libraries' samplers agree
to ~1e-6 from the same x_T), so a gap between the arms is the trained model's, not the samplers'.
Each cell is the classifier-FD (``difflab.metrics.classifier_fd``) of ``--n``
samples against the held-out split, averaged over the sampling seeds (the same seeds for every model),
then mean ± std over the training seeds. Also printed: the floor (n real training digits vs the test
split), the FD's own noise on the first difflab model (as in ``bench_recipe_ablation.py``), each arm's
training speed and the fraction of steps whose gradient was clipped (from the training logs).

Runs are kept in ``OUT/difflab_s<seed>`` and ``OUT/twin_s<seed>`` (``OUT/quick/...`` with ``--quick``) and
reused when already trained, scores cached in each run folder, so a table can be extended seed by seed.

Usage: python benchmarks/bench_twin.py [--quick] [--seeds 0,1,2] [--arms difflab,twin] [--train-steps 1500] [--n 500]
       [--steps 4,8,16,32] [--sample-seeds 1000,1001,1002] [--spacing trailing] [--out runs/bench/twin]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

from difflab.config import config_to_dict
from difflab.config.loader import load_config
from difflab.config.schema import RunConfig
from difflab.io import atomic_write_json
from difflab.metrics import classifier_fd
from difflab.models.build import seeded_init
from difflab.models.diffusers_io import load_diffusers
from difflab.models.run import LoadedRun, data_info, load_data, load_run
from difflab.nn.adapters import make_unet, unet_config
from difflab.pipeline.run import train_run
from difflab.process.noise import PerSampleNoise, sample_seeds
from difflab.training.trainer import Trainer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_recipe_ablation import SAMPLERS, fd_noise, fmt, from_log, score  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "digits.yaml"
T = 1000  # the twin's discrete training steps


def run_config(seed: int, train_steps: int) -> RunConfig:
    """The demo recipe, only the seed and the length set."""
    return load_config(RunConfig, CONFIG, [f"seed={seed}", f"train.steps={train_steps}", "train.device=cpu"])


def twin_scheduler():
    """The twin's training scheduler (clip_sample off: it only matters when sampling, where we want none)."""
    from diffusers import DDPMScheduler

    return DDPMScheduler(
        num_train_timesteps=T, beta_schedule="squaredcos_cap_v2", prediction_type="v_prediction", clip_sample=False
    )


def twin_objective(scheduler):
    """diffusers' training step as a difflab objective: integer t ~ U{0..T-1}, v-target, per-example MSE."""

    def objective(model, x0, labels, generator):
        t = torch.randint(0, T, (x0.shape[0],), generator=generator)
        noise = torch.randn(x0.shape, generator=generator)
        xt = scheduler.add_noise(x0, noise, t)
        target = scheduler.get_velocity(x0, noise, t)
        return (model(xt, t).sample - target).pow(2).flatten(1).mean(1)

    return objective


def twin_unet(cfg: RunConfig, shape: tuple[int, ...]):
    net = cfg.network
    return make_unet(
        unet_config(
            shape[0],
            shape[1],
            base_channels=net.base_channels,
            channel_mults=tuple(net.channel_mults),
            num_res_blocks=net.num_res_blocks,
            attention_levels=tuple(net.attention_levels),
        )
    )


def train_twin(cfg: RunConfig, run_dir: Path, dataset) -> torch.nn.Module:
    """Train (or reload) the twin in ``run_dir``; returns its EMA UNet2DModel."""
    seeded_init(cfg.seed)
    unet = twin_unet(cfg, tuple(dataset.train.shape[1:]))
    trainer = Trainer(
        unet,
        twin_objective(twin_scheduler()),
        dataset.train,
        None,
        cfg.train,
        run_dir / "checkpoints",
        config=config_to_dict(cfg),
        meta={"twin": "diffusers UNet2DModel, DDPMScheduler squaredcos_cap_v2 v_prediction"},
        seed=cfg.seed,
        log_path=run_dir / "train_log.jsonl",
        progress=False,
    )
    trainer.fit()  # resumes a finished run without training
    return trainer.ema.model.eval()


def as_difflab_run(unet, run_dir: Path, info) -> LoadedRun:
    """The twin as ``difflab import`` reads a diffusers folder (written once to ``run_dir/diffusers``)."""
    folder = run_dir / "diffusers"
    if not (folder / "model_index.json").is_file():
        unet.save_pretrained(folder / "unet")
        twin_scheduler().save_pretrained(folder / "scheduler")
        index = {"_class_name": "DDPMPipeline", "unet": ["diffusers", "UNet2DModel"]}
        index["scheduler"] = ["diffusers", "DDPMScheduler"]
        (folder / "model_index.json").write_text(json.dumps(index))
    cfg, info, denoiser = load_diffusers(folder, info)
    return LoadedRun(cfg=cfg, denoiser=denoiser, info=info, step=0, path=folder)


def start_noise(run: LoadedRun, n: int, seed: int) -> torch.Tensor:
    """The x_T that ``generate(run, n, seed=seed)`` starts from (each sample's own noise stream)."""
    return run.process.prior_sample(n, PerSampleNoise(sample_seeds(seed, n)))


@torch.no_grad()
def diffusers_sample(unet, sampler: str, x_T: torch.Tensor, steps: int, spacing: str) -> torch.Tensor:
    """Samples from ``x_T`` with diffusers' own scheduler for ``sampler`` (DDIM η = 0, or DPM-Solver++(2M))."""
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

    config = twin_scheduler().config
    if sampler == "ddim":
        sched = DDIMScheduler.from_config(config, timestep_spacing=spacing)
    else:
        sched = DPMSolverMultistepScheduler.from_config(
            config, timestep_spacing=spacing, algorithm_type="dpmsolver++", solver_order=2
        )
    sched.set_timesteps(steps)
    x = x_T.clone()
    for t in sched.timesteps:
        x = sched.step(unet(x, t).sample, t, x).prev_sample
    return x


def score_twin(unet, run: LoadedRun, run_dir, reference, n, steps, seeds, spacing) -> dict[str, float]:
    """As ``bench_recipe_ablation.score``, with diffusers' schedulers started from the x_T of difflab's
    samplers for the same sampling seed (``run``: the twin as a difflab run); cached in
    ``run_dir/twin_scores.json``."""
    cache_path = run_dir / "twin_scores.json"
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    key = json.dumps({"n": n, "steps": steps, "seeds": seeds, "spacing": spacing, "x_T": "difflab"}, sort_keys=True)
    if key not in cache:
        out = {}
        for sampler in SAMPLERS:
            for k in steps:
                sets = (diffusers_sample(unet, sampler, start_noise(run, n, s), k, spacing) for s in seeds)
                out[f"{sampler}/{k}"] = statistics.fmean(classifier_fd(x, reference) for x in sets)
        cache[key] = out
        atomic_write_json(cache_path, cache)
    return cache[key]


DIFFLAB = "difflab demo recipe, difflab samplers"
TWIN_DIFFLAB = "diffusers twin, difflab samplers"


def difflab_arm(cfg: RunConfig, run_dir: Path, bench: dict, first: bool) -> None:
    """Train (or reuse) the demo recipe in ``run_dir`` and add its row; the first one also measures the FD noise."""
    n, steps, seeds, reference = bench["n"], bench["steps"], bench["sample_seeds"], bench["reference"]
    train_run(cfg, run_dir, progress=False)  # a no-op when trained
    run = load_run(run_dir)
    row = from_log(run_dir) | score(run, run_dir, reference, n, steps, seeds)
    bench["rows"].setdefault(DIFFLAB, []).append(row)
    print(f"difflab seed {cfg.seed}: {json.dumps({k: round(v or 0, 3) for k, v in row.items()})}", flush=True)
    if first:
        bench["noise"] = fd_noise(run, run_dir, reference, n, steps[len(steps) // 2], bench["noise_seeds"])


def twin_arm(cfg: RunConfig, run_dir: Path, bench: dict, dataset) -> None:
    """Train (or reuse) the twin in ``run_dir``; add its rows with diffusers' schedulers and difflab's samplers."""
    n, steps, seeds, reference = bench["n"], bench["steps"], bench["sample_seeds"], bench["reference"]
    unet = train_twin(cfg, run_dir, dataset)
    run = as_difflab_run(unet, run_dir, data_info(dataset))
    row = from_log(run_dir)
    row |= score_twin(unet, run, run_dir, reference, n, steps, seeds, bench["spacing"])
    bench["rows"].setdefault(f"diffusers twin, diffusers schedulers ({bench['spacing']})", []).append(row)
    print(f"twin seed {cfg.seed}: {json.dumps({k: round(v or 0, 3) for k, v in row.items()})}", flush=True)
    cross = score(run, run_dir, reference, n, steps, seeds, grid=bench["spacing"])  # diffusers' timesteps
    bench["rows"].setdefault(TWIN_DIFFLAB, []).append(cross)
    print(f"twin (difflab samplers) seed {cfg.seed}: {json.dumps({k: round(v, 3) for k, v in cross.items()})}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke run: 30 training steps, n 64, 4 steps, 1 seed")
    p.add_argument("--seeds", default="0,1,2", help="comma list of training seeds")
    p.add_argument("--arms", default="difflab,twin", help="comma list of the arms to train and score: difflab, twin")
    p.add_argument("--train-steps", type=int, default=1500)
    p.add_argument("--n", type=int, default=500, help="samples per FD (the test split has 360 digits)")
    p.add_argument("--steps", default="4,8,16,32", help="sampling step counts")
    p.add_argument("--sample-seeds", default="1000,1001,1002", help="sampling seeds; a cell is the mean over them")
    p.add_argument(
        "--spacing",
        default="trailing",
        choices=["trailing", "leading", "linspace"],
        help="timestep_spacing of the twin's diffusers schedulers (trailing = difflab's uniform grid)",
    )
    p.add_argument("--noise-seeds", type=int, default=8, help="sample sets for the FD-noise line (first difflab run)")
    p.add_argument("--out", default=str(ROOT / "runs" / "bench" / "twin"))
    p.add_argument("--json", default=None)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared 2-core CPU)")
    args = p.parse_args()
    if args.quick:
        args.train_steps, args.n, args.steps = min(args.train_steps, 30), min(args.n, 64), "4"
        args.sample_seeds, args.noise_seeds, args.seeds = args.sample_seeds.split(",")[0], 2, args.seeds.split(",")[0]
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    steps = [int(s) for s in args.steps.split(",")]
    sample_seeds = [int(s) for s in args.sample_seeds.split(",")]
    out = Path(args.out) / "quick" if args.quick else Path(args.out)
    dataset = load_data(run_config(0, args.train_steps))
    reference = dataset.test
    gen = torch.Generator().manual_seed(0)
    floor = classifier_fd(dataset.train[torch.randperm(dataset.train.shape[0], generator=gen)[: args.n]], reference)

    arms = [a for a in args.arms.split(",") if a]
    if not arms or set(arms) - {"difflab", "twin"}:
        p.error(f"--arms takes difflab and/or twin, got {args.arms!r}")
    rows: dict[str, list[dict]] = {}
    results: dict = {"n": args.n, "train_steps": args.train_steps, "seeds": seeds, "floor": floor, "rows": rows}
    bench = results | {"steps": steps, "sample_seeds": sample_seeds, "reference": reference}
    bench |= {"spacing": args.spacing, "noise_seeds": args.noise_seeds}
    for seed in seeds:
        cfg = run_config(seed, args.train_steps)
        if "difflab" in arms:
            difflab_arm(cfg, out / f"difflab_s{seed}", bench, seed == seeds[0])
        if "twin" in arms:
            twin_arm(cfg, out / f"twin_s{seed}", bench, dataset)
    results["noise"] = bench.get("noise")

    cols = [f"{s}/{k}" for s in SAMPLERS for k in steps]
    print(
        f"\nclassifier-FD (lower is better), n = {args.n} samples vs the {reference.shape[0]} held-out digits, "
        f"{args.train_steps} training steps, training seeds {','.join(map(str, seeds))} (mean ± std over them), "
        f"each cell the mean over sampling seeds {args.sample_seeds}, floor (n training digits) {floor:.1f}\n"
    )
    heads = " | ".join(f"{SAMPLERS[c.split('/')[0]]} {c.split('/')[1]}" for c in cols)
    print(f"| model, sampler | {heads} | best | clipped | img/s |")
    print("|---|" + "---:|" * (len(cols) + 3))
    for name, rs in rows.items():
        cells = [fmt([r[c] for r in rs]) for c in cols]
        best = fmt([min(r[c] for c in cols) for r in rs])
        clipped = fmt([100 * r["clipped"] for r in rs]) + " %" if "clipped" in rs[0] else ""
        speed = f"{statistics.median(r['images_per_s'] for r in rs):.0f}" if "images_per_s" in rs[0] else ""
        print(f"| {name} | " + " | ".join(cells) + f" | {best} | {clipped} | {speed} |")
    twin = next((v for k, v in rows.items() if k.startswith("diffusers twin, diffusers")), None)
    if DIFFLAB in rows and twin:
        ratio = [min(x[c] for c in cols) / min(y[c] for c in cols) for x, y in zip(rows[DIFFLAB], twin, strict=True)]
        spread = f" ± {statistics.stdev(ratio):.2f}" if len(ratio) > 1 else ""
        print(
            f"\nbest FD, difflab / twin, paired by training seed: {statistics.fmean(ratio):.2f}{spread} "
            "(issue 19's target: <= 0.8)"
        )
    if results["noise"]:
        nz = results["noise"]
        to_test = nz["fd_to_test"]
        print(
            f"FD noise ({nz['sampler']}, first difflab model, {len(to_test)} sample sets of n = {args.n}): "
            f"FD to test {fmt(to_test)} (range {min(to_test):.1f}–{max(to_test):.1f}); FD between two sets of "
            f"the one model {fmt(nz['fd_between_sets'])}."
        )
    print(
        f"A cell averages {len(sample_seeds)} sample sets. 'img/s' is the median training speed from the logs "
        "(this machine, as loaded as it was; the arms ran one after the other in this process)."
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
