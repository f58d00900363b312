"""Training-step cost of the streamed path against the in-memory one, on mnist5k written out as 4,000 PNGs.

For each variant (in memory; streamed with 0 workers; streamed with 2 workers) it trains ``--steps`` steps of
configs/mnist5k.yaml through the real Trainer and reports wall seconds per step and CPU seconds per step of the
training process plus its finished children (the loader workers). Rounds are interleaved. Indicative only.

    OMP_NUM_THREADS=1 python experiments/stream_overhead/run.py --out runs/stream_overhead [--steps 10 --rounds 2]
"""

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
from PIL import Image

from difflab.config.loader import load_config
from difflab.config.schema import RunConfig
from difflab.data import load_dataset
from difflab.models.build import build_denoiser, seeded_init
from difflab.objectives.build import build_objective
from difflab.pipeline.run import data_info, load_data
from difflab.training.trainer import Trainer

VARIANTS = {
    "memory": ["data.stream=never"],
    "stream, 0 workers": ["data.stream=always", "data.num_workers=0"],
    "stream, 2 workers": ["data.stream=always", "data.num_workers=2"],
}


def write_pngs(folder: Path) -> None:
    if folder.exists():
        return
    folder.mkdir(parents=True)
    data = load_dataset("mnist5k")
    raw = np.round(data.normaliser.decode(data.train.numpy())[:, 0] * 255).astype(np.uint8)
    for i, img in enumerate(raw):
        Image.fromarray(img).save(folder / f"{i:05d}.png")


def cpu_seconds() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run(folder: Path, variant: str, steps: int, out: Path) -> tuple[float, float]:
    overrides = [f"data.options.path={folder}", "data.options.size=28", "data.options.channels=1"]
    cfg = load_config(RunConfig, "configs/mnist5k.yaml", ["data.name=folder", *overrides, *VARIANTS[variant]])
    cfg.train.steps = steps
    data = load_data(cfg)
    seeded_init(cfg.seed)
    model = build_denoiser(cfg, data_info(data), data.train)
    objective = build_objective(cfg.method, train=cfg.train)
    trainer = Trainer(
        model,
        objective,
        data.train,
        None,
        cfg.train,
        out,
        config={},
        meta={},
        seed=cfg.seed,
        progress=False,
        stream=data.train_stream,
        num_workers=cfg.data.num_workers,
    )
    trainer.batches.start(0)
    trainer.train_step()  # warm-up (and the workers' start)
    wall, cpu = time.perf_counter(), cpu_seconds()
    for _ in range(steps):
        trainer.train_step()
    trainer.batches.close()
    time.sleep(0.5)  # let the workers exit, so their CPU time is counted
    return (time.perf_counter() - wall) / steps, (cpu_seconds() - cpu) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/stream_overhead", help="output folder (PNGs, results)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per variant per round")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds")
    args = parser.parse_args()
    out = Path(args.out)
    write_pngs(out / "png")
    rows = []
    for r in range(args.rounds):
        for v in VARIANTS:
            wall, cpu = run(out / "png", v, args.steps, out / f"ckpt_{r}")
            rows.append({"round": r, "variant": v, "wall_s": wall, "cpu_s": cpu})
            print(f"round {r} {v:>18}: {wall:.3f} s/step wall, {cpu:.3f} s/step CPU (incl. workers)", flush=True)
    (out / "results.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
