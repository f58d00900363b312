"""Generate samples from a loaded run with any sampler and time grid.

Sample i of a call with seed S uses the noise stream of seed (S, i) alone, so
it does not depend on the batch size or on how many samples were asked for.
"""

from collections.abc import Callable

import torch
from torch import Tensor

from difflab.errors import DifflabError
from difflab.pipeline.run import LoadedRun
from difflab.process.noise import PerSampleNoise
from difflab.sampling import build_grid, get_sampler

SEED_STRIDE = 1_000_003


class CountingDenoiser(torch.nn.Module):
    """Counts network evaluations (NFE) of a denoiser."""

    def __init__(self, denoiser: torch.nn.Module):
        super().__init__()
        self.inner = denoiser
        self.calls = 0

    def forward(self, x_t: Tensor, t: Tensor, **cond) -> Tensor:
        self.calls += 1
        return self.inner(x_t, t, **cond)


def sample_seeds(seed: int, n: int) -> list[int]:
    return [seed * SEED_STRIDE + i for i in range(n)]


@torch.no_grad()
def generate(run: LoadedRun, n: int, *, steps: int, sampler: str = "ddim", seed: int = 0, grid: str = "uniform",
             batch_size: int = 500, labels: Tensor | None = None, sampler_options: dict | None = None,
             denoiser: torch.nn.Module | None = None, callback: Callable | None = None,
             z: Tensor | None = None, cond: dict[str, Tensor] | None = None) -> tuple[Tensor, int]:
    """Draw ``n`` samples ``(n, *shape)`` in normalised space; returns ``(samples, nfe)``.

    Args:
        run: the loaded model.
        n: number of samples; steps: grid intervals; sampler: a registered sampler name.
        seed: base seed; grid: ``uniform`` | ``uniform_logsnr`` | ``edm``.
        labels: ``(n,)`` class labels for a class-conditional model.
        sampler_options: e.g. ``{"eta": 0.5}`` or ``{"churn": 1.0}``.
        denoiser: override (e.g. with shortcut hooks installed); defaults to ``run.denoiser``.
        z: ``(n, d)`` codes for a coded (DMZ) run; default: drawn per sample from the run's code
            prior (fair bits), see :func:`difflab.dmz.sample_codes`.
        cond: further per-sample ``(n, ...)`` conditioning passed to the denoiser (e.g. ``source``).
    """
    if n < 1 or steps < 1:
        raise DifflabError(f"need n >= 1 and steps >= 1, got n={n}, steps={steps}")
    sample_fn = get_sampler(sampler)
    process = run.denoiser.process
    counter = CountingDenoiser(denoiser if denoiser is not None else run.denoiser)
    times = build_grid(grid, process, steps)
    seeds = sample_seeds(seed, n)
    per_sample = dict(cond or {})
    if labels is not None:
        per_sample["labels"] = labels
    if z is not None:
        per_sample["z"] = z
    elif hasattr(run.denoiser, "encoder") and "source" not in per_sample:
        from difflab.dmz.codes import sample_codes  # lazy: dmz imports the pipeline

        per_sample["z"] = sample_codes(run, n, seed=seed)
    out = []
    device = process.scale.device
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        noise = PerSampleNoise(seeds[start:stop], device=device)
        x_T = process.prior_sample(stop - start, noise)
        cond = {k: v[start:stop].to(device) for k, v in per_sample.items()}
        out.append(sample_fn(counter, process, x_T, times, noise=noise, cond=cond, callback=callback,
                             **(sampler_options or {})).float().cpu())
    batches = -(-n // batch_size)
    return torch.cat(out), counter.calls // batches
