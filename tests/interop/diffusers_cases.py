"""Tiny diffusers checkpoints built and saved inside the tests (no download), and diffusers' own loops."""

from __future__ import annotations

from pathlib import Path

import torch

diffusers = __import__("pytest").importorskip("diffusers")

TINY_UNET = dict(
    sample_size=8,
    in_channels=1,
    out_channels=1,
    block_out_channels=(8, 16),
    layers_per_block=1,
    down_block_types=("DownBlock2D", "AttnDownBlock2D"),
    up_block_types=("AttnUpBlock2D", "UpBlock2D"),
    norm_num_groups=4,
    attention_head_dim=8,
)


def tiny_unet(seed: int = 0, **overrides) -> torch.nn.Module:
    torch.manual_seed(seed)
    unet = diffusers.UNet2DModel(**{**TINY_UNET, **overrides})
    with torch.no_grad():  # diffusers zero-initialises some output convs; make every weight matter
        for p in unet.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return unet.eval()


def save_pipeline(folder: Path, unet=None, **scheduler) -> Path:
    """A DDPMPipeline folder (model_index.json, unet/, scheduler/) with safetensors weights."""
    unet = unet if unet is not None else tiny_unet()
    diffusers.DDPMPipeline(unet=unet, scheduler=diffusers.DDPMScheduler(**scheduler)).save_pretrained(folder)
    return folder


@torch.no_grad()
def diffusers_loop(model_fn, scheduler, x_T: torch.Tensor, n: int, generator=None) -> torch.Tensor:
    """diffusers' sampling loop: ``model_fn(x, k) -> output`` at each of the scheduler's timesteps."""
    scheduler.set_timesteps(n)
    x = x_T.clone()
    for k in scheduler.timesteps:
        out = model_fn(x, k)
        kw = {"generator": generator} if generator is not None else {}
        x = scheduler.step(out, k, x, **kw).prev_sample
    return x
