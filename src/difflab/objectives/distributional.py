"""Training loss of a distributional denoiser (De Bortoli et al., arXiv 2502.02483).

For each data point one x_t is drawn, the generator produces m samples of x₀
from m independent noises ξ in ONE batched forward pass, and a scoring rule
compares them with the true x₀ in whitened component space.
"""

from collections.abc import Mapping

from torch import Tensor

from difflab.models.denoiser import Denoiser
from difflab.objectives.scoring import scoring_loss


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
