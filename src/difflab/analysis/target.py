"""What an impact study or a shortcut search samples from, and the exact DDIM replay it relies on.

Prasad et al. (arXiv 2312.14965) ablate a component inside one window of the
sampling run and compare the final sample with the unablated one. DDIM with
η = 0 is deterministic, so the unablated state at the start of a window is
cached once (through the sampler callback) and an ablated run only needs the
steps from that window on: :func:`ddim_trajectory` keeps the states in float64
(the sampler's own precision) so a replay starts from the state itself.

:class:`difflab.nn.adapters.DiffusersAdapter` wraps a ``diffusers.UNet2DModel`` to difflab's
network contract (its timestep is ``1000 · t``), so the same study runs on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from difflab.models.run import load_data
from difflab.process.noise import PerSampleNoise, sample_seeds
from difflab.process.process import Process
from difflab.sampling import build_grid, sample_ddim, sample_ddpm


@dataclass
class SamplingTarget:
    """A denoiser with the network to intervene on.

    Attributes:
        denoiser: ``denoiser(x_t, t) -> x̂₀`` in data layout (e.g. ``LoadedRun.denoiser``).
        network: the root network inside it (the model :func:`intervene` hooks).
        process: the forward process.
    """

    denoiser: nn.Module
    network: nn.Module
    process: Process

    @classmethod
    def from_denoiser(cls, denoiser: nn.Module) -> SamplingTarget:
        """From a :class:`difflab.models.denoiser.Denoiser` (network and process are its attributes)."""
        return cls(denoiser, denoiser.network, denoiser.process)

    def start(self, n: int, seed: int = 0) -> Tensor:
        """Fixed-seed start states ``(n, *shape)`` float64 (sample i uses seed ``(seed, i)`` as in ``generate``)."""
        noise = PerSampleNoise(sample_seeds(seed, n), device=self.process.scale.device)
        return self.process.prior_sample(n, noise).double()

    def grid(self, steps: int, grid: str = "uniform") -> Tensor:
        """The time grid ``(steps + 1,)``."""
        return build_grid(grid, self.process, steps)

    def fp64_denoiser(self, dtype: torch.dtype = torch.float32):
        """The denoiser behind a float64 interface: the sampler's state stays float64, the network sees ``dtype``."""

        def call(x: Tensor, t: Tensor, **cond) -> Tensor:
            return self.denoiser(x.to(dtype), t, **cond).double()

        return call


@torch.no_grad()
def ddim_trajectory(target: SamplingTarget, x_start: Tensor, times: Tensor) -> tuple[Tensor, list[Tensor]]:
    """Deterministic DDIM from ``x_start`` over ``times``, recording the state before every step.

    Args:
        target: what to sample.
        x_start: ``(B, *shape)`` float64 state at ``times[0]``.
        times: decreasing grid ``(n + 1,)``.

    Returns:
        ``(x_0, states)``: final samples ``(B, *shape)`` float32 and ``states[i]``
        ``(B, *shape)`` float64, the state entering step i (``states[0]`` is ``x_start``).
        Replaying from ``states[k]`` over ``times[k:]`` reproduces the run's
        steps k.. (up to float64 round-off of one basis round trip).
    """
    states: list[Tensor] = []
    x0 = sample_ddim(
        target.fp64_denoiser(),
        target.process,
        x_start,
        times,
        callback=lambda i, t, s, x_t, x0_hat: states.append(x_t.detach().clone()),
    )
    return x0.float(), states


@torch.no_grad()
def ddim_sample(target: SamplingTarget, x_start: Tensor, times: Tensor, callback=None) -> Tensor:
    """Deterministic DDIM from a float64 state; returns ``(B, *shape)`` float32."""
    return sample_ddim(target.fp64_denoiser(), target.process, x_start, times, callback=callback).float()


@torch.no_grad()
def ddpm_sample(target: SamplingTarget, x_start: Tensor, times: Tensor, seed: int = 0) -> Tensor:
    """Ancestral DDPM from a float64 state with per-sample step noise (seeds ``(seed, i)`` offset 1).

    Two calls with the same ``seed`` draw the same noise at every step, so runs
    that differ only by an intervention are paired sample by sample.
    """
    noise = PerSampleNoise(sample_seeds(seed, x_start.shape[0], offset=1), device=x_start.device)
    return sample_ddpm(target.fp64_denoiser(), target.process, x_start, times, noise=noise).float()


def run_target(loaded) -> tuple[SamplingTarget, Tensor, str]:
    """``(target, held-out test split, dataset name)`` of a :class:`difflab.models.run.LoadedRun`."""
    dataset = load_data(loaded.cfg)
    return SamplingTarget.from_denoiser(loaded.denoiser), dataset.test, dataset.name
