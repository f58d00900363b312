"""Time training steps of a config: wall and process-CPU seconds per step (the CPU figure survives a shared machine).

Builds the config's data, model and objective, takes one warm-up AdamW step, then times ``--steps`` more.

    OMP_NUM_THREADS=1 python scripts/time_train_step.py configs/mnist5k.yaml [key=value ...] [--steps 5]
"""

import argparse
import time

import torch

from difflab.config.loader import load_config
from difflab.config.schema import RunConfig
from difflab.models.build import build_denoiser, seeded_init
from difflab.objectives.build import build_objective
from difflab.pipeline.run import data_info, load_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config")
    parser.add_argument("overrides", nargs="*", help="key=value config overrides")
    parser.add_argument("--steps", type=int, default=5, help="timed steps after one warm-up step")
    args = parser.parse_args()
    cfg = load_config(RunConfig, args.config, args.overrides)
    data = load_data(cfg)
    seeded_init(cfg.seed)
    model = build_denoiser(cfg, data_info(data), data.train)
    objective = build_objective(cfg.method, train=cfg.train)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr)
    generator = torch.Generator().manual_seed(cfg.seed)

    def step() -> None:
        idx = torch.randint(len(data.train), (cfg.train.batch_size,), generator=generator)
        optimizer.zero_grad()
        objective(model, data.train[idx], None, generator).mean().backward()
        optimizer.step()

    step()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(args.steps):
        step()
    wall, cpu = (time.perf_counter() - wall) / args.steps, (time.process_time() - cpu) / args.steps
    params = sum(p.numel() for p in model.parameters())
    print(
        f"{args.config}: {params / 1e6:.2f} M parameters, batch {cfg.train.batch_size}, "
        f"{torch.get_num_threads()} threads: {wall:.3f} s/step wall, {cpu:.3f} s/step CPU over {args.steps} steps"
    )


if __name__ == "__main__":
    main()
