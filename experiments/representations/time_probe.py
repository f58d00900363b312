"""CPU cost of the paper's probe protocol: one epoch of a full (rates x seeds) grid, loop vs batched grid.

Synthetic trajectories shaped like digits-attr (1437 train / 360 test, K = 6, F = 64, 30 classes); the
paper protocol's settings (batch 256, clip 1.0, dropout 0.25, width 256); process CPU seconds per epoch
of the whole 6-rate x 5-seed grid (the loop: train_probe per (rate, seed); the grid: train_probe_grid).

Usage: python experiments/representations/time_probe.py [--epochs 2] [--mixers single,concat,gru,attention]
"""

import argparse
import time
from dataclasses import replace

import torch

from difflab.representations import Trajectories, build_mixer, probe_protocol, train_probe
from difflab.representations.grid import train_probe_grid


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--mixers", default="single,single-mlp,concat,gru,attention")
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--loop-seeds", type=int, default=1, help="seeds x rates timed in the loop (scaled to the grid)")
    args = p.parse_args()
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    traj = Trajectories(
        torch.randn(1437, 6, 64, generator=g),
        torch.randint(0, 30, (1437,), generator=g),
        torch.randn(360, 6, 64, generator=g),
        torch.randint(0, 30, (360,), generator=g),
        [i / 5 for i in range(6)],
    )
    cfg = probe_protocol("paper", epochs=args.epochs)
    seeds = range(5)
    n_grid = len(cfg.rates()) * len(seeds)
    for kind in args.mixers.split(","):
        width = args.width if kind in ("gru", "attention") else None

        def make(kind=kind, width=width):
            return build_mixer(kind, 64, 6, 30, width=width, dropout=cfg.dropout)

        warm = replace(cfg, epochs=1, lrs=cfg.rates()[:1])  # first calls pay one-off set-up costs
        train_probe(make, traj, seed=0, config=warm)
        train_probe_grid(make, [traj], seeds=[0], config=warm)
        t = time.process_time()
        for s in range(args.loop_seeds):
            train_probe(make, traj, seed=s, config=replace(cfg, lr=cfg.rates()[0]))
        loop = (time.process_time() - t) / args.loop_seeds * n_grid / args.epochs
        t = time.process_time()
        train_probe_grid(make, [traj], seeds=seeds, config=cfg)
        grid = (time.process_time() - t) / args.epochs
        print(
            f"{kind:10s} width {width or '-'}: CPU s per epoch of the {n_grid}-probe grid: loop {loop:.2f}, "
            f"batched {grid:.2f} ({loop / grid:.1f}x); full protocol (100 epochs): loop {loop * 100 / 60:.1f} min, "
            f"batched {grid * 100 / 60:.1f} min",
            flush=True,
        )


if __name__ == "__main__":
    main()
