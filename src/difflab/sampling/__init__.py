"""Samplers and time grids.

Every sampler is a stateless function
``sampler(denoiser, process, x_T, times, *, noise=None, callback=None, cond=None, **options) -> x_0``
working per whitened component in float64 (GUD, arXiv 2410.02667).
"""

from difflab.sampling.bridge import bridge_step
from difflab.sampling.ddim import sample_ddim, sample_ddpm
from difflab.sampling.distributional import sample_distributional
from difflab.sampling.dpm_solver import sample_dpmpp_2m
from difflab.sampling.grids import build_grid, edm, uniform, uniform_logsnr, user
from difflab.sampling.heun import sample_heun
from difflab.sampling.inversion import ddim_invert
from difflab.sampling.moments import sampler_output_moments
from difflab.sampling.registry import SAMPLERS, get_sampler
from difflab.sampling.sde import sample_euler_maruyama

__all__ = [
    "SAMPLERS",
    "bridge_step",
    "build_grid",
    "ddim_invert",
    "edm",
    "get_sampler",
    "sample_ddim",
    "sample_ddpm",
    "sample_distributional",
    "sample_dpmpp_2m",
    "sample_euler_maruyama",
    "sample_heun",
    "sampler_output_moments",
    "uniform",
    "uniform_logsnr",
    "user",
]
