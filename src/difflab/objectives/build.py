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

    For a coded model (``difflab.dmz.CodedDenoiser``) the objective also encodes x₀
    and adds the encoder's per-sample penalty (zero for binary codes).
    """

    def objective(model: Denoiser, x0: Tensor, labels: Tensor | None, generator: torch.Generator) -> Tensor:
        b = x0.shape[0]
        t = stratified_times(b, generator, device=x0.device).to(x0.dtype)
        eps = _randn((b, model.process.dim), generator, x0)
        labels = drop_labels(labels, label_dropout, num_classes, generator)
        cond, penalty = dict(labels=labels), 0.0
        if hasattr(model, "train_code"):  # difflab.dmz.CodedDenoiser: encode x₀ (at t), train end to end
            cond["z"], penalty = model.train_code(x0, t, generator)
            model = model.denoiser
        if method.kind == "regression":
            return regression_loss(model, x0, t, eps, **cond) + penalty
        xi = _randn((b * method.m, *x0.shape[1:]), generator, x0)
        options = dict(beta=method.beta, lam=method.lam) if method.rule == "energy" else dict(
            kernel=method.kernel, bandwidth=method.bandwidth, lam=method.lam)
        return distributional_loss(model, x0, t, eps, xi, m=method.m, rule=method.rule, **cond, **options) + penalty

    return objective
