"""The temporal-dynamics study on a UNet2DModel trained the diffusers way, then imported into difflab.

    python scripts/diffusers_temporal_study.py --out runs/diffusers_study --minutes 2

1. trains a small ``diffusers.UNet2DModel`` on the bundled digits (1×8×8, in [-1, 1]) with diffusers' own
   recipe: ``DDPMScheduler.add_noise`` at uniform integer timesteps, ε-MSE, AdamW, an EMA copy;
2. ``save_pretrained`` as a ``DDPMPipeline`` folder (OUT/hub);
3. ``difflab import OUT/hub --out OUT/run --data digits``;
4. ``difflab ablate`` (impact heatmap) and ``difflab shortcuts`` (speed-up and its FD shift) on it.
Everything is offline and CPU-only. ``--import-only`` stops after step 3 (and a sample grid): the imported
plain DDPM is then used elsewhere, e.g. for inpainting (``experiments/conditional/digits.py --run OUT/run``).
"""

from __future__ import annotations

import argparse
import copy
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel

from difflab.data import load_dataset


def train(minutes: float, seed: int) -> tuple[UNet2DModel, DDPMScheduler, int]:
    torch.manual_seed(seed)
    data = load_dataset("digits").train
    unet = UNet2DModel(
        sample_size=8,
        in_channels=1,
        out_channels=1,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        norm_num_groups=8,
    )
    sched = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2", clip_sample=True)
    ema = copy.deepcopy(unet).eval()
    opt = torch.optim.AdamW(unet.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(seed)
    end, step = time.time() + 60 * minutes, 0
    while time.time() < end:
        x0 = data[torch.randint(len(data), (128,), generator=g)]
        noise = torch.randn(x0.shape, generator=g)
        k = torch.randint(0, 1000, (x0.shape[0],), generator=g)
        loss = torch.nn.functional.mse_loss(unet(sched.add_noise(x0, noise, k), k).sample, noise)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            for pe, p in zip(ema.parameters(), unet.parameters(), strict=True):
                pe.lerp_(p, 1 - min(0.995, (1 + step) / (10 + step)))
        step += 1
        if step % 200 == 0:
            print(f"step {step} loss {loss.item():.4f}", flush=True)
    return ema, sched, step


def difflab(*args: str) -> None:
    print("$ difflab", " ".join(args), flush=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}
    subprocess.run([sys.executable, "-m", "difflab", *args], check=True, env=env)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="runs/diffusers_study")
    p.add_argument("--minutes", type=float, default=2.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--windows", type=int, default=5)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared CPU)")
    p.add_argument("--import-only", action="store_true", help="stop after the import and a sample grid")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    unet, sched, steps = train(args.minutes, args.seed)
    print(f"trained {steps} steps the diffusers way", flush=True)
    DDPMPipeline(unet=unet, scheduler=sched).save_pretrained(out / "hub")
    difflab("import", str(out / "hub"), "--out", str(out / "run"), "--data", "digits")
    difflab("sample", str(out / "run"), "--n", "64", "--steps", str(args.steps), "--out", str(out / "samples.png"))
    if args.import_only:
        return
    common = ["--steps", str(args.steps), "--n", str(args.n), "--seed", str(args.seed)]
    difflab("ablate", str(out / "run"), "--windows", str(args.windows), "--out", str(out / "ablate"), *common)
    difflab(
        "shortcuts", str(out / "run"), "--impact", str(out / "ablate" / "impact.json"),
        "--out", str(out / "shortcuts.json"), "--windows", str(args.windows), *common,
    )  # fmt: skip


if __name__ == "__main__":
    main()
