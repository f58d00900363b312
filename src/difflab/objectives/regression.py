"""Mean-squared-error objectives for regression denoisers (ε, x₀ or v target).

The loss is taken in whitened component space, where every component has unit
prior variance, so the weighting does not depend on the basis. Returns the
unreduced per-sample loss ``(B,)``; the trainer reduces it.
"""

from collections.abc import Mapping

import torch
from torch import Tensor

from difflab.config.schema import MethodConfig
from difflab.models.denoiser import Denoiser
from difflab.objectives.weighting import min_snr_weight
from difflab.process.process import Process


def regression_target(prediction: str, w0: Tensor, eps: Tensor, alpha: Tensor, sigma: Tensor) -> Tensor:
    """The whitened target ``(B, D)`` for an ε (``eps``, ``eps_gud``), x₀ or v network."""
    if prediction in ("eps", "eps_gud"):
        return eps
    if prediction == "x0":
        return w0
    return Process.v_target(w0, eps, alpha, sigma)


def regression_loss(
    denoiser: Denoiser,
    x0: Tensor,
    t: Tensor,
    eps: Tensor,
    *,
    cond: Mapping[str, Tensor | None] | None = None,
    min_snr_gamma: float | None = None,
) -> Tensor:
    """Per-sample MSE ``(B,)``: summed over components, or averaged for ``eps_gud`` (GUD's ε-MSE).

    With ``min_snr_gamma`` each component's squared error is weighted by Min-SNR-γ
    (:func:`difflab.objectives.weighting.min_snr_weight`).

    Args:
        denoiser: wraps the network and the process.
        x0: clean data ``(B, *shape)``.
        t: times ``(B,)``.
        eps: whitened noise ``(B, D)``.
        cond: conditioning mapping (labels, z, ...) passed to the denoiser.
        min_snr_gamma: γ of the Min-SNR-γ weighting, or None for none.
    """
    process = denoiser.process
    w0 = process.to_white(x0)  # once: both the noisy input and the target need it
    w_t = process.noise_white(w0, t, eps)
    x_t = process.from_white(w_t)
    out = denoiser.raw(x_t, t, **(cond or {}))
    alpha, sigma = (a.to(w0.dtype) for a in process.alpha_sigma(t))
    target = regression_target(denoiser.prediction, w0, eps, alpha, sigma)
    pred = denoiser.output_to_white(out, w_t)
    sq = (pred.float() - target.float()).pow(2)
    if min_snr_gamma is not None:
        sq = sq * min_snr_weight(denoiser.prediction, alpha, sigma, min_snr_gamma).to(sq.dtype)
    return sq.mean(dim=1) if denoiser.prediction == "eps_gud" else sq.sum(dim=1)


def regression_term(method: MethodConfig, *, min_snr_gamma: float | None = None):
    """The regression loss as an objective term ``(model, x0, t, eps, cond, generator) -> (B,)``."""

    def term(model: Denoiser, x0: Tensor, t: Tensor, eps: Tensor, cond: dict, generator: torch.Generator) -> Tensor:
        return regression_loss(model, x0, t, eps, cond=cond, min_snr_gamma=min_snr_gamma)

    return term


def stratified_times(batch: int, generator: torch.Generator | None = None, device=None) -> Tensor:
    """Stratified uniform times in [0, 1): one draw per stratum, lower variance than i.i.d."""
    u = torch.rand(batch, generator=generator, device="cpu")
    return ((torch.arange(batch) + u) / batch).to(device)
