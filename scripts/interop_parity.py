"""The parity table of docs/interop.md: difflab vs diffusers from the same x_T, and both vs the exact answer.

    python scripts/interop_parity.py            # prints the markdown table (CPU, ~20 s)

Rows: sampler, diffusers scheduler and its timestep_spacing, steps. Columns:
- ``UNet``: max |difflab − diffusers| on a tiny random UNet2DModel (ε-prediction, float32 network,
  diffusers' float32 ᾱ), 8 samples of 1×8×8, seeds 0, 1, 2 (the max over seeds);
- ``oracle``: the same on the exact Gaussian-oracle model (4-dim Gaussian, float64 on both sides), 256 samples;
- ``difflab→exact`` / ``diffusers→exact``: max distance of each to the exact PF-ODE solution from that x_T
  at the first evaluated timestep.
"""

from __future__ import annotations

import torch
from diffusers import DDIMScheduler, DPMSolverMultistepScheduler, UNet2DModel

from difflab.config import load_config
from difflab.config.schema import RunConfig
from difflab.models.build import DataInfo, build_denoiser
from difflab.process.factory import build_process
from difflab.process.oracles import GaussianOracle
from difflab.process.schedules.discrete import time_of
from difflab.sampling.ddim import sample_ddim
from difflab.sampling.dpm_solver import sample_dpmpp_2m
from difflab.sampling.timesteps import from_timesteps

CASES = [  # (difflab sampler, scheduler class, kwargs, steps)
    ("ddim", DDIMScheduler, dict(timestep_spacing="leading"), 10),
    ("ddim", DDIMScheduler, dict(timestep_spacing="leading"), 50),
    ("ddim", DDIMScheduler, dict(timestep_spacing="trailing"), 16),
    ("ddim", DDIMScheduler, dict(timestep_spacing="linspace"), 10),
    ("dpmpp2m", DPMSolverMultistepScheduler, dict(timestep_spacing="linspace"), 10),
    ("dpmpp2m", DPMSolverMultistepScheduler, dict(timestep_spacing="linspace"), 20),
]
SAMPLERS = {"ddim": sample_ddim, "dpmpp2m": sample_dpmpp_2m}
EXTRA = {
    DDIMScheduler: dict(clip_sample=False, set_alpha_to_one=True),
    DPMSolverMultistepScheduler: dict(algorithm_type="dpmsolver++", solver_order=2, final_sigmas_type="zero"),
}


@torch.no_grad()
def loop(fn, sched, x_T, n):
    sched.set_timesteps(n)
    x = x_T.clone()
    for k in sched.timesteps:
        x = sched.step(fn(x, k), k, x).prev_sample
    return x


def f64(sched):
    sched.alphas_cumprod = sched.alphas_cumprod.double()
    if hasattr(sched, "final_alpha_cumprod"):
        sched.final_alpha_cumprod = sched.final_alpha_cumprod.double()
    return sched


def unet_model(seed):
    torch.manual_seed(seed)
    unet = UNet2DModel(
        sample_size=8,
        in_channels=1,
        out_channels=1,
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        norm_num_groups=4,
    ).eval()
    with torch.no_grad():
        for p in unet.parameters():
            p.add_(0.05 * torch.randn_like(p))
    cfg = load_config(
        RunConfig,
        {
            "process": {"schedule": "discrete"},
            "network": {"kind": "diffusers", "diffusers": dict(unet.config)},
            "method": {"prediction": "eps"},
        },
    )
    den = build_denoiser(cfg, DataInfo("x", (1, 8, 8), 0, {}), None)
    den.network.unet.load_state_dict(unet.state_dict())
    return unet, den.eval()


def main():
    process = build_process((1, 2, 2), schedule="discrete")
    g = torch.Generator().manual_seed(0)
    a = torch.randn(4, 4, generator=g, dtype=torch.float64)
    cov = a @ a.T / 4 + 0.05 * torch.eye(4, dtype=torch.float64)
    mean = 0.3 * torch.randn(4, generator=g, dtype=torch.float64)
    oracle = GaussianOracle(process, mean, cov)

    def eps_fn(x, k):
        t = time_of(torch.full((x.shape[0],), int(k)), 1000)
        al, si = process.alpha_sigma(t[:1])
        return (x.double() - al[0, 0] * oracle(x.double(), t)) / si[0, 0]

    lam, v = torch.linalg.eigh(cov)

    def exact(x_T, t0):
        """PF-ODE solution from x_T at the grid's first time t0 (e.g. k = 900 for leading at 10 steps)."""
        al1, si1 = (c[0].item() for c in process.alpha_sigma(torch.tensor(t0)))
        z = ((x_T.reshape(len(x_T), -1) - al1 * mean) @ v) / (al1**2 * lam + si1**2).sqrt()
        return (mean + (z * lam.sqrt()) @ v.T).reshape(x_T.shape)

    models = [unet_model(s) for s in range(3)]
    print(
        "| sampler | diffusers scheduler (spacing) | steps | UNet: max abs diff | oracle: max abs diff "
        "| difflab→exact | diffusers→exact |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, cls, kw, n in CASES:
        unet_diff = 0.0
        for seed, (unet, den) in enumerate(models):
            x_T = torch.randn(8, 1, 8, 8, generator=torch.Generator().manual_seed(seed))
            sched = cls(**kw, **EXTRA[cls])
            theirs = loop(lambda x, k, u=unet: u(x, k).sample, sched, x_T, n)
            with torch.no_grad():
                ours = SAMPLERS[name](den, den.process, x_T, from_timesteps(sched.timesteps, 1000))
            unet_diff = max(unet_diff, (ours - theirs).abs().max().item())
        x_T = torch.randn(256, 1, 2, 2, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
        sched = f64(cls(**kw, **EXTRA[cls]))
        theirs = loop(eps_fn, sched, x_T, n)
        grid = from_timesteps(sched.timesteps, 1000)
        ours = SAMPLERS[name](oracle, process, x_T, grid)
        ex = exact(x_T, float(grid[0]))
        row = [
            name,
            f"{cls.__name__} ({kw['timestep_spacing']})",
            n,
            unet_diff,
            (ours - theirs).abs().max().item(),
            (ours - ex).abs().max().item(),
            (theirs - ex).abs().max().item(),
        ]
        print("| " + " | ".join(f"{c:.2e}" if isinstance(c, float) else str(c) for c in row) + " |")


if __name__ == "__main__":
    main()
