"""Training loss of a distributional denoiser (De Bortoli et al., arXiv 2502.02483).

For each data point one x_t is drawn, the generator produces m samples of x₀
from m independent noises ξ in ONE batched forward pass, and a scoring rule
compares them with the true x₀ (``objectives/scoring.py``). Options:

* ``loss_form``: the paper's conditional score, or the joint / marginal energy scores that pair
  draws across the batch (the conditioning of the joint form is c = (w_t, t));
* ``energy_space``: norms in whitened components w = S⁻¹Ux (default) or in data layout, the
  paper's. Under a data prior the whitened norm weights a component by 1/S_i, so the two differ;
* ``time_weight``: w(t) per example; ``snr_plus_one`` is (SNR + 1), SNR = α²/σ² (for a
  component-wise schedule the geometric mean over components), the weight that turns the x₀
  MSE into the v-MSE: with λ = 0, β = 2 the loss is then the v-prediction regression loss.
"""

from collections.abc import Mapping

import torch
from torch import Tensor

from difflab.config.schema import MethodConfig
from difflab.errors import DifflabError
from difflab.models.denoiser import Denoiser
from difflab.objectives.scoring import joint_energy_score, marginal_energy_score, scoring_loss
from difflab.process.noise import randn_like_from


def scoring_rule_term(method: MethodConfig):
    """The scoring-rule loss as an objective term ``(model, x0, t, eps, cond, generator) -> (B,)``.

    It draws the generator noise ξ ``(B * m, *shape)`` from the trainer's generator.
    """
    if method.rule == "energy":
        options = dict(beta=method.beta, lam=method.lam)
    else:
        options = dict(kernel=method.kernel, bandwidth=method.bandwidth, lam=method.lam)
    shared = dict(form=method.loss_form, space=method.energy_space, time_weight=method.time_weight)

    def term(model: Denoiser, x0: Tensor, t: Tensor, eps: Tensor, cond: dict, generator: torch.Generator) -> Tensor:
        xi = randn_like_from((x0.shape[0] * method.m, *x0.shape[1:]), generator, x0)
        return distributional_loss(model, x0, t, eps, xi, m=method.m, rule=method.rule, cond=cond, **shared, **options)

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
    form: str = "conditional",
    space: str = "white",
    time_weight: str = "none",
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
        form: ``"conditional"`` (the paper's), ``"joint"`` or ``"marginal"`` (energy only).
        space: ``"white"`` (whitened components) or ``"data"`` (data layout, flattened).
        time_weight: ``"none"`` or ``"snr_plus_one"``.
        **rule_options: options of the scoring rule (beta, lam, kernel, bandwidth).
    """
    if form not in ("conditional", "joint", "marginal"):
        raise DifflabError(f"unknown loss form {form!r}; choose 'conditional', 'joint' or 'marginal'")
    if space not in ("white", "data"):
        raise DifflabError(f"unknown energy space {space!r}; choose 'white' or 'data'")
    if time_weight not in ("none", "snr_plus_one"):
        raise DifflabError(f"unknown time weight {time_weight!r}; choose 'none' or 'snr_plus_one'")
    if form != "conditional" and rule != "energy":
        raise DifflabError(f"the {form} form is an energy loss; use rule='energy'")
    cond = {k: v.repeat_interleave(m, dim=0) for k, v in (cond or {}).items() if v is not None}
    process = denoiser.process
    w0 = process.to_white(x0)  # once: both the noisy input and the score's target need it
    x_t = process.from_white(process.noise_white(w0, t, eps))
    x_t_rep = x_t.repeat_interleave(m, dim=0)
    t_rep = t.repeat_interleave(m, dim=0)
    samples = denoiser(x_t_rep, t_rep, **cond, xi=xi)  # (B*m, *shape) samples of x₀
    b = x0.shape[0]
    if space == "white":
        s, y = process.to_white(samples).reshape(b, m, -1).float(), w0.float()
    else:
        s, y = samples.reshape(b, m, -1).float(), x0.reshape(b, -1).float()
    if form == "conditional":
        loss = scoring_loss(s, y, rule=rule, **rule_options)
    elif form == "joint":
        c = torch.cat([process.to_white(x_t).reshape(b, -1), t.reshape(b, 1)], dim=1).float()
        loss = joint_energy_score(s, y, c, **rule_options)
    else:
        loss = marginal_energy_score(s, y, **rule_options)
    if time_weight == "snr_plus_one":
        loss = loss * (snr(process, t) + 1).to(loss)
    return loss


def snr(process, t: Tensor) -> Tensor:
    """Per-example SNR α²/σ² ``(B,)`` float64: exp of the mean log-SNR over components (exact for a scalar schedule)."""
    return process.logsnr(t.detach().double()).mean(-1).exp()
