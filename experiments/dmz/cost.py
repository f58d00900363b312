"""The training cost of DMZ against the unconditional model of the same UNet (issue 15, item 3: matched wall-clock).

Both trainers are built the way ``difflab train`` builds them (``experiments/dmz/study.py``'s MODELS,
batch 64) in ONE process, one thread, and stepped in alternating blocks, so the shared machine's load
falls on both alike. Reported per model: CPU seconds per step (``time.thread_time``: what one
unloaded core would spend) and wall seconds per step (under the shared load). Then the learned prior
(``difflab fit-prior``: encode the training split + fit the MADE) is timed on each DMZ study run that
has none yet — that writes the prior the study's ``eval`` uses — and the unconditional step count of
equal cost is printed: ``(600 · dmz_step + prior) / uncond_step``.

Usage::

    python experiments/dmz/cost.py [--blocks 8] [--block 10] [--root /work/runs/dmz/study] [--seeds 0,1,2]

Writes ROOT/cost.json.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from study import MODELS  # noqa: E402


def build_trainer(name: str, out: Path, seed: int = 0, batch: int = 64):
    from difflab.config import config_to_dict, load_config
    from difflab.config.schema import RunConfig
    from difflab.models.build import build_denoiser, seeded_init
    from difflab.models.run import data_info, load_data
    from difflab.objectives.build import build_objective
    from difflab.training.trainer import Trainer

    config, extra = MODELS[name]
    cfg = load_config(RunConfig, config, [f"seed={seed}", f"train.batch_size={batch}", *extra])
    data = load_data(cfg)
    info = data_info(data)
    seeded_init(cfg.seed)
    denoiser = build_denoiser(cfg, info, data.train)
    objective = build_objective(cfg.method, label_dropout=0.0, num_classes=info.num_classes, train=cfg.train)
    return Trainer(
        denoiser, objective, data.train, None, cfg.train, out / "checkpoints",
        config=config_to_dict(cfg), meta={}, seed=cfg.seed, progress=False,
    )  # fmt: skip


def step_costs(names: list[str], blocks: int, block: int, warmup: int = 5) -> dict:
    """Alternate ``block`` steps of each trainer, ``blocks`` times; CPU and wall seconds per step."""
    with tempfile.TemporaryDirectory() as tmp:
        trainers = {n: build_trainer(n, Path(tmp) / n) for n in names}
        for tr in trainers.values():
            for _ in range(warmup):
                tr.train_step()
        cpu = {n: [] for n in names}
        wall = {n: [] for n in names}
        for b in range(blocks):
            order = names if b % 2 == 0 else names[::-1]  # neither always runs first
            for n in order:
                c0, w0 = time.thread_time(), time.perf_counter()
                for _ in range(block):
                    trainers[n].train_step()
                cpu[n].append((time.thread_time() - c0) / block)
                wall[n].append((time.perf_counter() - w0) / block)
    return {
        n: {"cpu_s_per_step": sum(cpu[n]) / blocks, "wall_s_per_step": sum(wall[n]) / blocks, "blocks": cpu[n]}
        for n in names
    }


def prior_costs(root: Path, seeds: list[int]) -> dict:
    """Fit the MADE prior (as ``difflab fit-prior RUN --seed S`` does) on each paper run lacking one; its seconds."""
    from difflab.dmz.prior import fit_code_prior
    from difflab.pipeline import load_run

    out = {}
    for seed in seeds:
        path = root / f"paper_s{seed}"
        if any(path.glob("checkpoints/step_*/code_prior.json")):
            continue  # already fitted: not re-timed (its first fit was the one the study used)
        run = load_run(path, device="cpu")
        c0, w0 = time.thread_time(), time.perf_counter()
        stats = fit_code_prior(run, seed=run.cfg.seed)
        out[path.name] = {"cpu_s": time.thread_time() - c0, "wall_s": time.perf_counter() - w0, **stats}
        print(f"prior {path.name}: {out[path.name]['cpu_s']:.1f} cpu s", flush=True)
    return out


def main(argv: list[str]) -> None:
    torch.set_num_threads(1)
    p = argparse.ArgumentParser()
    p.add_argument("--blocks", type=int, default=8)
    p.add_argument("--block", type=int, default=10)
    p.add_argument("--root", default="runs/dmz_study")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--train-steps", type=int, default=600, help="the DMZ run's training steps")
    args = p.parse_args(argv)
    root = Path(args.root)
    steps = step_costs(["paper", "uncond"], args.blocks, args.block)
    print(json.dumps({n: {k: v for k, v in s.items() if k != "blocks"} for n, s in steps.items()}), flush=True)
    priors = prior_costs(root, [int(s) for s in args.seeds.split(",")])
    res = {"steps": steps, "prior": priors, "threads": torch.get_num_threads(), "train_steps": args.train_steps}
    if priors:
        for clock in ("cpu", "wall"):
            prior_s = sum(v[f"{clock}_s"] for v in priors.values()) / len(priors)
            dmz_total = args.train_steps * steps["paper"][f"{clock}_s_per_step"] + prior_s
            res[f"dmz_total_{clock}_s"] = dmz_total
            res[f"uncond_steps_equal_{clock}"] = dmz_total / steps["uncond"][f"{clock}_s_per_step"]
    path = root / "cost.json"
    path.write_text(json.dumps(res, indent=1))
    print(json.dumps({k: v for k, v in res.items() if k not in ("steps", "prior")}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
