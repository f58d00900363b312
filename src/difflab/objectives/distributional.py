"""Training loss of a distributional denoiser (De Bortoli et al., arXiv 2502.02483).

For each data point one x_t is drawn, the generator produces m samples of x₀
from m independent noises ξ in ONE batched forward pass, and a scoring rule
compares them with the true x₀ in whitened component space.
"""

from collections.abc import Mapping

import torch
from torch import Tensor

from difflab.config.schema import MethodConfig
from difflab.models.denoiser import Denoiser
from difflab.objectives.scoring import scoring_loss
from difflab.process.noise import randn_like_from


def scoring_rule_term(method: MethodConfig):
    """The scoring-rule loss as an objective term ``(model, x0, t, eps, cond, generator) -> (B,)``.

    It draws the generator noise ξ ``(B * m, *shape)`` from the trainer's generator.
    """
    if method.rule == "energy":
        options = dict(beta=method.beta, lam=method.lam)
    else:
        options = dict(kernel=method.kernel, bandwidth=method.bandwidth, lam=method.lam)

    def term(model: Denoiser, x0: Tensor, t: Tensor, eps: Tensor, cond: dict, generator: torch.Generator) -> Tensor:
        xi = randn_like_from((x0.shape[0] * method.m, *x0.shape[1:]), generator, x0)
        return distributional_loss(model, x0, t, eps, xi, m=method.m, rule=method.rule, cond=cond, **options)

    return term


def distributional_loss(
    denoiser: Denoiser,
    x0: Tensor,
    t: Tensor,
    eps: Tensor,
    xi: Tensor,
    *,
    m: int,
    rule: str = "energy",
    cond: Mapping[str, Tensor | None] | None = None,
    **rule_options,
) -> Tensor:
    """Per-sample scoring-rule loss ``(B,)``.

    Args:
        denoiser: a generator denoiser (``generator_noise=True``, x₀ output).
        x0: clean data ``(B, *shape)``.
        t: times ``(B,)``.
        eps: whitened forward noise ``(B, D)``.
        xi: generator noise ``(B * m, *shape)``.
        m: samples per data point.
        rule: ``"energy"`` or ``"kernel"``.
        cond: per-sample conditioning ``(B, ...)`` (labels, z, ...), repeated m times.
        **rule_options: options of the scoring rule (beta, lam, kernel, bandwidth).
    """
    cond = {k: v.repeat_interleave(m, dim=0) for k, v in (cond or {}).items() if v is not None}
    process = denoiser.process
    w0 = process.to_white(x0)  # once: both the noisy input and the score's target need it
    x_t = process.from_white(process.noise_white(w0, t, eps))
    x_t_rep = x_t.repeat_interleave(m, dim=0)
    t_rep = t.repeat_interleave(m, dim=0)
    samples = denoiser(x_t_rep, t_rep, **cond, xi=xi)  # (B*m, *shape) samples of x₀
    w_samples = process.to_white(samples).reshape(x0.shape[0], m, -1)
    return scoring_loss(w_samples.float(), w0.float(), rule=rule, **rule_options)
