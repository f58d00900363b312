"""Grids on a discrete model's table points: diffusers' ``timestep_spacing`` as difflab time grids.

A diffusers scheduler evaluates the network at integer timesteps k; difflab's discrete schedule puts
k at t = (k + 1)/T (:func:`difflab.process.schedules.discrete.time_of`), so any list of timesteps is a
grid: those times, then 0 (the last step returns x̂₀, diffusers' step to ``final_alpha_cumprod = 1``).
:func:`from_timesteps` turns a scheduler's own ``timesteps`` into that grid; the three named grids are
``DDIMScheduler.set_timesteps`` (diffusers 0.2x–0.4x) for ``leading``, ``trailing`` and ``linspace``.

With ``leading`` spacing the grid reproduces diffusers' DDIM exactly. With ``trailing`` or ``linspace``
it does not, and difflab is the consistent one: diffusers' DDIM steps from k to k − ⌊T/N⌋ (its
integer stride) but evaluates the network next at the following entry of its own list, which is up to
one stride elsewhere, whereas a difflab step lands exactly where the next evaluation is.
"""

import numpy as np
import torch
from torch import Tensor

from difflab.errors import DifflabError
from difflab.process.process import Process
from difflab.process.schedules.discrete import time_of
from difflab.sampling.grids import user

SPACINGS = ("leading", "trailing", "linspace")


def diffusers_timesteps(num_train_timesteps: int, n: int, spacing: str = "leading", steps_offset: int = 0) -> Tensor:
    """The ``n`` integer timesteps ``DDIMScheduler`` evaluates, largest first, ``(n,)`` int64."""
    T = int(num_train_timesteps)
    if int(n) != n or not 1 <= n <= T:
        raise DifflabError(f"the number of steps must be an integer in [1, {T}], got {n!r}")
    if spacing == "linspace":
        ks = np.linspace(0, T - 1, n).round()[::-1].astype(np.int64)
    elif spacing == "leading":
        ks = (np.arange(0, n) * (T // n)).round()[::-1].astype(np.int64) + int(steps_offset)
    elif spacing == "trailing":
        ks = np.round(np.arange(T, 0, -T / n)).astype(np.int64) - 1
    else:
        raise DifflabError(f"unknown timestep spacing {spacing!r}; choose one of {', '.join(SPACINGS)}")
    return torch.from_numpy(ks.copy())


def from_timesteps(timesteps: Tensor | list[int], num_train_timesteps: int) -> Tensor:
    """A difflab grid ``(n + 1,)`` evaluating at the given timesteps (largest first), then 0."""
    ks = torch.as_tensor(timesteps, dtype=torch.float64).reshape(-1)
    if ks.numel() == 0 or ks.min() < 0 or ks.max() > num_train_timesteps - 1:
        raise DifflabError(f"timesteps must lie in [0, {num_train_timesteps - 1}]")
    return user(torch.cat([time_of(ks, num_train_timesteps), torch.zeros(1, dtype=torch.float64)]))


def _T(process: Process) -> int:
    if process.options is None:
        raise DifflabError("timestep grids need a factory-built process (its num_train_timesteps)")
    return int(process.options.num_train_timesteps)


def leading(process: Process, n: int, steps_offset: int = 0) -> Tensor:
    """Diffusers' ``leading`` spacing: k = i ⌊T/n⌋ + steps_offset (DDPM/DDIM's default)."""
    return from_timesteps(diffusers_timesteps(_T(process), n, "leading", steps_offset), _T(process))


def trailing(process: Process, n: int) -> Tensor:
    """Diffusers' ``trailing`` spacing: k = round(T − i T/n) − 1 (starts at k = T − 1)."""
    return from_timesteps(diffusers_timesteps(_T(process), n, "trailing"), _T(process))


def linspace(process: Process, n: int) -> Tensor:
    """Diffusers' ``linspace`` spacing (DDIM's): k = round(linspace(0, T − 1, n))."""
    return from_timesteps(diffusers_timesteps(_T(process), n, "linspace"), _T(process))
