"""Turn the ``method`` config into the trainer's objective ``(model, x0, labels, generator) -> (B,)``.

The objective draws its own times and noise from the trainer's generator, so a
run is reproducible under a seed.
"""

import torch
from torch import Tensor

from difflab.config.schema import MethodConfig, TrainConfig
from difflab.models.denoiser import Denoiser
from difflab.objectives.registry import OBJECTIVES
from difflab.objectives.regression import stratified_times
from difflab.objectives.weighting import lognormal_times
from difflab.process.noise import randn_like_from


def drop_labels(labels: Tensor | None, p: float, num_classes: int, generator: torch.Generator) -> Tensor | None:
    """Replace each label by the null id ``num_classes`` with probability ``p`` (classifier-free guidance)."""
    if labels is None or p <= 0:
        return labels
    drop = torch.rand(labels.shape[0], generator=generator).to(labels.device) < p
    return torch.where(drop, torch.full_like(labels, num_classes), labels)


def build_objective(
    method: MethodConfig, *, label_dropout: float = 0.0, num_classes: int = 0, train: TrainConfig | None = None
):
    """The per-sample loss for ``method.kind`` (a term from :data:`~difflab.objectives.registry.OBJECTIVES`).

    ``train`` (the run's ``train`` section) chooses how times are drawn (``time_sampling``) and the
    regression loss weight (``loss_weight``); see :mod:`difflab.objectives.weighting`. None: the defaults.

    Every kind shares the first draws: times, forward noise, label dropout, then the model's own
    conditioning and per-sample loss terms through
    :meth:`~difflab.models.denoiser.Denoiser.training_cond` (a coded model encodes x₀ and adds the
    encoder's penalty). The term draws what only its kind needs (a generator's noise ξ) after them.
    """
    train = train or TrainConfig()
    weighting = {"min_snr_gamma": train.min_snr_gamma} if train.loss_weight == "min_snr" else {}
    term = OBJECTIVES[method.kind](method, **weighting)
    lognormal = train.time_sampling == "lognormal"

    def objective(model: Denoiser, x0: Tensor, labels: Tensor | None, generator: torch.Generator) -> Tensor:
        b = x0.shape[0]
        if lognormal:
            t = lognormal_times(model.process, stratified_times(b, generator), train.p_mean, train.p_std)[0]
            t = t.to(x0.device, x0.dtype)
        else:
            t = stratified_times(b, generator, device=x0.device).to(x0.dtype)
        eps = randn_like_from((b, model.process.dim), generator, x0)
        labels = drop_labels(labels, label_dropout, num_classes, generator)
        extra, penalty = model.training_cond(x0, t, generator)
        return term(model, x0, t, eps, {"labels": labels, **extra}, generator) + penalty

    return objective
