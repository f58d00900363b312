"""Samplers and time grids.

Every sampler is a stateless function
``sampler(denoiser, process, x_T, times, *, noise=None, callback=None, cond=None, **options) -> x_0``
working per whitened component in float64 (GUD, arXiv 2410.02667). The names are in
:mod:`difflab.sampling.registry` (``SAMPLERS``, ``GRIDS``).

Attributes load on first access, so importing the registry (the CLI's ``--help``, the
config schema) does not import torch.
"""

from importlib import import_module

from difflab.sampling.registry import GRIDS, SAMPLERS, get_sampler

_LAZY = {
    "bridge_step": "difflab.sampling.bridge",
    "current_step": "difflab.sampling._common",
    "sample_ddim": "difflab.sampling.ddim",
    "sample_ddpm": "difflab.sampling.ddim",
    "sample_distributional": "difflab.sampling.distributional",
    "sample_dpmpp_2m": "difflab.sampling.dpm_solver",
    "sample_euler_maruyama": "difflab.sampling.sde",
    "sample_heun": "difflab.sampling.heun",
    "ddim_invert": "difflab.sampling.inversion",
    "build_grid": "difflab.sampling.grids",
    "edm": "difflab.sampling.grids",
    "uniform": "difflab.sampling.grids",
    "uniform_logsnr": "difflab.sampling.grids",
    "user": "difflab.sampling.grids",
    "sampler_output_moments": "difflab.sampling.moments",
    "Known": "difflab.sampling.known",
    "coarse_known": "difflab.sampling.known",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'difflab.sampling' has no attribute {name!r}")


__all__ = ["GRIDS", "SAMPLERS", "get_sampler", *sorted(_LAZY)]
