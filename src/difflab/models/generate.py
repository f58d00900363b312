"""Generate samples from a loaded run with any sampler and time grid.

Sample i of a call with seed S uses the noise stream of seed (S, i) alone
(:func:`difflab.process.noise.sample_seeds`), so it does not depend on the
batch size or on how many samples were asked for.
"""

from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor

from difflab.config.schema import SampleConfig
from difflab.errors import DifflabError
from difflab.models.guidance import GuidedDenoiser, check_guidance, check_labels, random_labels, run_num_classes
from difflab.models.run import LoadedRun
from difflab.process.noise import PerSampleNoise, sample_seeds
from difflab.sampling import build_grid, get_sampler
from difflab.sampling.known import COND_KEY as KNOWN_KEY
from difflab.sampling.known import Known
from difflab.sampling.registry import options_of
from difflab.sampling.x0 import X0Processed


class CountingDenoiser(torch.nn.Module):
    """Counts network evaluations (NFE) of a denoiser."""

    def __init__(self, denoiser: torch.nn.Module):
        super().__init__()
        self.inner = denoiser
        self.calls = 0

    def forward(self, x_t: Tensor, t: Tensor, **cond) -> Tensor:
        self.calls += 1
        return self.inner(x_t, t, **cond)


@torch.no_grad()
def generate(
    run: LoadedRun,
    n: int,
    *,
    steps: int | None = None,
    sampler: str | None = None,
    seed: int = 0,
    grid: str | None = None,
    batch_size: int = 500,
    cond: Mapping[str, Tensor] | None = None,
    sampler_options: dict | None = None,
    denoiser: torch.nn.Module | None = None,
    callback: Callable | None = None,
    x_T: Tensor | None = None,
    seeds: Sequence[int] | None = None,
    guidance: float | None = None,
    guidance_interval: tuple[float, float] | None = None,
    clip_x0: float | None = None,
    dynamic_threshold: float | None = None,
    known: Known | None = None,
) -> tuple[Tensor, int]:
    """Draw ``n`` samples ``(n, *shape)`` in normalised space; returns ``(samples, nfe)``.

    Args:
        run: the loaded model.
        n: number of samples.
        steps: grid intervals (default: the run's ``sample.steps``, like ``difflab sample``).
        sampler: a registered sampler name (default: the run's ``sample.sampler``).
        seed: base seed.
        grid: a registered grid name (``uniform``, ``uniform_logsnr``, ``edm``; default: the
            run's ``sample.grid``).
        batch_size: samples per sampler call (the result does not depend on it).
        cond: per-sample ``(n, ...)`` conditioning for the denoiser, e.g. ``labels`` ``(n,)``
            class labels, ``z`` ``(n, d)`` codes or ``source`` data of a coded run. Keys the
            model needs and the caller left out come from the model's ``default_cond``
            (a coded run draws codes from its configured source, seeded per sample).
        sampler_options: e.g. ``{"churn": 1.0}``; default: the run's ``sample`` options for this
            sampler (``run.cfg.sample.options_for(sampler)``), as the CLI uses them.
        denoiser: override (e.g. with shortcut hooks installed); defaults to ``run.denoiser``.
        callback: passed to the sampler.
        x_T: explicit start states ``(n, *shape)`` (e.g. from DDIM inversion); default: drawn
            from the prior with each sample's noise stream.
        seeds: explicit per-sample noise seeds (``n`` of them), e.g. one seed repeated so that
            every row shares its noise; default ``sample_seeds(seed, n)``.
        guidance: classifier-free guidance weight W for a class-conditional run trained with
            ``label_dropout > 0`` (1 = conditional, 0 = unconditional; see
            :mod:`difflab.models.guidance`); ``None``: the conditional model.
        guidance_interval: ``(t_lo, t_hi)``: guide only at those diffusion times (default all).
        clip_x0: clamp every x̂₀ (after guidance) to ``[-clip_x0, clip_x0]``; default the run's
            ``sample.clip_x0`` (see :mod:`difflab.sampling.x0`).
        dynamic_threshold: Imagen's dynamic thresholding ratio; default the run's
            ``sample.dynamic_threshold`` (its ``threshold_max`` is used too).
        known: observed components to condition on (:class:`~difflab.sampling.known.Known`:
            inpainting, super-resolution, extension); composes with ``cond``. The known noise is
            drawn from each sample's own stream. An empty mask is plain sampling, bit for bit.

    A class-conditional run samples the ``labels`` in ``cond`` (checked against its classes);
    without them each sample gets a uniform random class seeded by ``(seed, i)``.
    """
    sample_cfg = run.cfg.sample if run.cfg is not None else SampleConfig()  # a hand-built run: the schema's defaults
    steps = sample_cfg.steps if steps is None else steps
    sampler = sample_cfg.sampler if sampler is None else sampler
    grid = sample_cfg.grid if grid is None else grid
    if sampler_options is None:
        sampler_options = sample_cfg.options_for(sampler)
    if n < 1 or steps < 1:
        raise DifflabError(f"need n >= 1 and steps >= 1, got n={n}, steps={steps}")
    seeds = sample_seeds(seed, n) if seeds is None else [int(s) for s in seeds]
    if len(seeds) != n or (x_T is not None and x_T.shape[0] != n):
        raise DifflabError(f"seeds and x_T must have one row per sample (n={n})")
    sample_fn = get_sampler(sampler)
    unknown = sorted(set(sampler_options) - set(options_of(sampler)))
    if unknown:
        valid = ", ".join(options_of(sampler)) or "none"
        raise DifflabError(f"sampler {sampler!r} has no option {', '.join(unknown)}; its options: {valid}")
    process = run.denoiser.process
    counter = CountingDenoiser(denoiser if denoiser is not None else run.denoiser)
    times = build_grid(grid, process, steps)
    given = {k: v for k, v in (cond or {}).items() if v is not None}
    num_classes = run_num_classes(run)
    if "labels" in given:
        given["labels"] = check_labels(given["labels"], num_classes)
        if given["labels"].shape[0] != n:
            raise DifflabError(f"got {given['labels'].shape[0]} labels for n={n} samples; give one per sample")
    elif num_classes > 0:
        given["labels"] = random_labels(n, seed, num_classes)
    model = counter  # with guidance, one batched (conditional, null) forward is one call
    if guidance is not None:
        model = GuidedDenoiser(counter, guidance, num_classes, check_guidance(run, guidance, guidance_interval))
    defaults = sample_cfg
    clip = defaults.clip_x0 if clip_x0 is None else clip_x0
    threshold = defaults.dynamic_threshold if dynamic_threshold is None else dynamic_threshold
    if clip is not None or threshold is not None:
        model = X0Processed(model, clip, threshold, defaults.threshold_max)
    per_sample = {**run.denoiser.default_cond(n, seed, given), **given}
    known = None if known is None or known.empty else known.batched(process, n)
    out = []
    device = process.scale.device
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        noise = PerSampleNoise(seeds[start:stop], device=device)
        x_start = process.prior_sample(stop - start, noise) if x_T is None else x_T[start:stop].to(device)
        batch_cond = {k: v[start:stop].to(device) for k, v in per_sample.items()}
        if known is not None:
            batch_cond[KNOWN_KEY] = known.rows(start, stop)
        out.append(
            sample_fn(
                model,
                process,
                x_start,
                times,
                noise=noise,
                cond=batch_cond,
                callback=callback,
                **(sampler_options or {}),
            )
            .float()
            .cpu()
        )
    batches = -(-n // batch_size)
    samples = torch.cat(out)
    if known is not None and known.basis is None and float(times[-1]) == 0.0:
        # A pixel mask: the known pixels are the observation itself (not its float64 round trip).
        samples = torch.where(known.mask.bool(), known.values.to(samples.dtype), samples)
    return samples, counter.calls // batches
