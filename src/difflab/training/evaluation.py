"""The cheap evaluation ``train.eval_every`` runs during training: a sample grid and one distance.

Every ``eval_every`` steps the EMA model draws ``train.eval_n`` samples with the run's sampler
(``sample.sampler``/``sample.grid``, ``train.eval_steps`` steps or ``sample.steps``) from fixed seeds,
so successive evaluations differ only by the weights. The metric is the sliced Wasserstein-1 distance
(:func:`difflab.metrics.sliced.sliced_wasserstein`, 256 fixed directions) between those samples and
at most ``eval_n`` test examples in the model's normalised space: it works on every dataset (images
and vectors) and costs a few milliseconds, unlike a feature-space FD. It is a training monitor, not
the reported quality figure (that is ``difflab evaluate``'s); its noise at small n is what
``tests/training/test_evaluation.py`` bounds. Lower is better; ``train.keep_best`` keeps the
checkpoint with the lowest value.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from difflab.config.schema import RunConfig
from difflab.data.base import Normaliser
from difflab.metrics.sliced import sliced_wasserstein
from difflab.models.build import DataInfo
from difflab.models.generate import generate
from difflab.models.run import LoadedRun

METRIC = "sliced_w1"  # the key in eval_log.jsonl and TensorBoard (eval/sliced_w1)
EVAL_SEED = 12345  # the samples' noise seeds: the same at every evaluation
GRID_N = 64  # at most this many samples in the PNG grid


@dataclass
class Evaluation:
    """One evaluation: ``metrics`` (name -> value, lower is better for :data:`METRIC`) and the grid's images.

    ``images``: ``(k, C, H, W)`` in the data's original units (``value_range``), or ``None`` for vector data.
    """

    metrics: dict[str, float]
    images: Tensor | None
    value_range: tuple[float, float]


Evaluator = Callable[[torch.nn.Module, int], Evaluation]


def make_evaluator(cfg: RunConfig, info: DataInfo, reference: Tensor) -> Evaluator:
    """The function ``(ema_model, step) -> Evaluation`` for a run's config, data info and test split ``reference``."""
    tc = cfg.train
    ref = reference[: tc.eval_n].detach().cpu()
    normaliser = Normaliser.from_dict(info.normaliser)
    steps = tc.eval_steps or cfg.sample.steps

    def evaluate(model: torch.nn.Module, step: int) -> Evaluation:
        run = LoadedRun(cfg=cfg, denoiser=model, info=info, step=step, path=Path("."))
        samples, _ = generate(run, tc.eval_n, steps=steps, seed=EVAL_SEED, batch_size=min(tc.eval_n, 500))
        samples = samples.float().cpu()
        value = sliced_wasserstein(samples.numpy(), ref.numpy(), seed=0)
        images, value_range = None, (-1.0, 1.0)
        if samples.dim() == 4 and samples.shape[1] in (1, 3):  # what an image grid can show
            images = samples[:GRID_N]
            if normaliser.value_range is not None:  # original units, as `difflab sample` saves them
                images, value_range = normaliser.decode(images), normaliser.value_range
        return Evaluation({METRIC: float(value)}, images, value_range)

    return evaluate
