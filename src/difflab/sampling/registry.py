"""Sampler registry: name -> sampler function (all share one signature)."""

from collections.abc import Callable
from typing import Literal

from difflab.errors import DifflabError
from difflab.sampling.ddim import sample_ddim, sample_ddpm
from difflab.sampling.distributional import sample_distributional
from difflab.sampling.dpm_solver import sample_dpmpp_2m
from difflab.sampling.heun import sample_heun
from difflab.sampling.sde import sample_euler_maruyama

SamplerName = Literal["ddpm", "ddim", "euler", "heun", "dpmpp2m", "distributional"]

SAMPLERS: dict[str, Callable] = {
    "ddpm": sample_ddpm,
    "ddim": sample_ddim,
    "euler": sample_euler_maruyama,
    "heun": sample_heun,
    "dpmpp2m": sample_dpmpp_2m,
    "distributional": sample_distributional,
}


def get_sampler(name: SamplerName) -> Callable:
    """The sampler called ``name``.

    Raises:
        DifflabError: for an unknown name, listing the options.
    """
    try:
        return SAMPLERS[name]
    except KeyError:
        raise DifflabError(f"unknown sampler {name!r}; choose one of {', '.join(SAMPLERS)}") from None
