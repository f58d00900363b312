"""Training-step time of difflab's Trainer with train.channels_last and train.compile against the default.

For each config it builds one Trainer per variant (same data, model and seed), runs the warm-up steps
(compilation happens there; its time is reported apart), then times ``--steps`` steps per variant in
``--repeats`` interleaved rounds, so machine load affects every variant alike. Reports wall and
process-CPU seconds per step (median over rounds); on a shared machine the CPU figure is the steadier one.
Timings are never pass/fail.

    OMP_NUM_THREADS=1 python benchmarks/bench_train_formats.py --configs configs/digits.yaml,configs/mnist5k.yaml \\
        --variants eager,channels_last,compile [--steps 5 --repeats 3 --json out.json]
"""

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from difflab.config.loader import load_config
from difflab.config.schema import RunConfig
from difflab.models.build import build_denoiser, seeded_init
from difflab.objectives.build import build_objective
from difflab.pipeline.run import data_info, load_data
from difflab.training.trainer import Trainer

VARIANTS = {
    "eager": [],
    "channels_last": ["train.channels_last=true"],
    "compile": ["train.compile=true"],
    "compile+channels_last": ["train.compile=true", "train.channels_last=true"],
}


def build(config: str, variant: str, batch: int, out: Path) -> Trainer:
    cfg = load_config(RunConfig, config, [f"train.batch_size={batch}", "train.device=cpu", *VARIANTS[variant]])
    data = load_data(cfg)
    info = data_info(data)
    seeded_init(cfg.seed)
    model = build_denoiser(cfg, info, data.train)
    objective = build_objective(cfg.method, num_classes=info.num_classes, train=cfg.train)
    return Trainer(
        model, objective, data.train, None, cfg.train, out, config={}, meta={}, seed=cfg.seed, progress=False
    )


def timed(trainer: Trainer, steps: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        trainer.train_step()
    return (time.perf_counter() - wall) / steps, (time.process_time() - cpu) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="configs/digits.yaml", help="comma-separated config files")
    parser.add_argument("--variants", default="eager,channels_last", help=f"comma-separated: {', '.join(VARIANTS)}")
    parser.add_argument("--batch", type=int, default=64, help="training batch size")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (compilation happens here)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per variant per round")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for config in args.configs.split(","):
            variants = args.variants.split(",")
            trainers, warm = {}, {}
            for v in variants:
                trainers[v] = build(config, v, args.batch, Path(tmp) / v)
                t = time.perf_counter()
                for _ in range(args.warmup):
                    trainers[v].train_step()
                warm[v] = time.perf_counter() - t
            times = {v: [] for v in variants}
            for _ in range(args.repeats):
                for v in variants:
                    times[v].append(timed(trainers[v], args.steps))
            base = statistics.median(c for _, c in times[variants[0]])
            for v in variants:
                wall = statistics.median(w for w, _ in times[v])
                cpu = statistics.median(c for _, c in times[v])
                row = dict(config=config, variant=v, batch=args.batch, warmup_s=warm[v], wall_s=wall, cpu_s=cpu)
                row["cpu_speedup"] = base / cpu
                rows.append(row)
                print(
                    f"{config} {v:>22}: {wall:.3f} s/step wall, {cpu:.3f} s/step CPU "
                    f"(x{base / cpu:.2f} vs {variants[0]}), warm-up {warm[v]:.0f} s",
                    flush=True,
                )
    meta = dict(torch=torch.__version__, threads=torch.get_num_threads(), machine=platform.processor())
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
