"""Turn the ``method`` config into the trainer's objective ``(model, x0, labels, generator) -> (B,)``.

The objective draws its own times and noise from the trainer's generator, so a
run is reproducible under a seed.
"""

import torch
from torch import Tensor

from difflab.config.schema import MethodConfig
from difflab.models.denoiser import Denoiser
from difflab.objectives.distributional import distributional_loss
from difflab.objectives.regression import regression_loss, stratified_times


def _randn(shape, generator: torch.Generator, like: Tensor) -> Tensor:
    return torch.randn(shape, generator=generator).to(device=like.device, dtype=like.dtype)


def drop_labels(labels: Tensor | None, p: float, num_classes: int, generator: torch.Generator) -> Tensor | None:
    """Replace each label by the null id ``num_classes`` with probability ``p`` (classifier-free guidance)."""
    if labels is None or p <= 0:
        return labels
    drop = torch.rand(labels.shape[0], generator=generator).to(labels.device) < p
    return torch.where(drop, torch.full_like(labels, num_classes), labels)


def build_objective(method: MethodConfig, *, label_dropout: float = 0.0, num_classes: int = 0):
    """The per-sample loss for ``method.kind`` (regression MSE or a scoring rule).

    The model adds its own conditioning and per-sample loss terms through
    :meth:`~difflab.models.denoiser.Denoiser.training_cond` (a coded model encodes x₀
    and adds the encoder's penalty), drawn after the times, noise and label dropout.
    """

    def objective(model: Denoiser, x0: Tensor, labels: Tensor | None, generator: torch.Generator) -> Tensor:
        b = x0.shape[0]
        t = stratified_times(b, generator, device=x0.device).to(x0.dtype)
        eps = _randn((b, model.process.dim), generator, x0)
        labels = drop_labels(labels, label_dropout, num_classes, generator)
        extra, penalty = model.training_cond(x0, t, generator)
        cond = {"labels": labels, **extra}
        if method.kind == "regression":
            return regression_loss(model, x0, t, eps, cond=cond) + penalty
        xi = _randn((b * method.m, *x0.shape[1:]), generator, x0)
        options = (
            dict(beta=method.beta, lam=method.lam)
            if method.rule == "energy"
            else dict(kernel=method.kernel, bandwidth=method.bandwidth, lam=method.lam)
        )
        return distributional_loss(model, x0, t, eps, xi, m=method.m, rule=method.rule, cond=cond, **options) + penalty

    return objective
