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


REDUCTIONS = ("sum", "mean")
AUTO_REDUCTION = "sum"  # what method.loss_reduction "auto" means (eps_gud: always "mean", GUD's ε-MSE)


def loss_reduction(prediction: str, reduction: str = "auto") -> str:
    """The reduction over components, ``"sum"`` or ``"mean"``, that ``method.loss_reduction`` means.

    ``"auto"`` is ``"mean"`` for ``eps_gud`` (GUD's ε-MSE) and :data:`AUTO_REDUCTION` otherwise.
    """
    if reduction == "auto":
        return "mean" if prediction == "eps_gud" else AUTO_REDUCTION
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown loss reduction {reduction!r}")
    return reduction


def regression_loss(
    denoiser: Denoiser,
    x0: Tensor,
    t: Tensor,
    eps: Tensor,
    *,
    cond: Mapping[str, Tensor | None] | None = None,
    reduction: str = "auto",
    min_snr_gamma: float | None = None,
) -> Tensor:
    """Per-sample squared error ``(B,)``, summed or averaged over the ``D`` whitened components.

    The two differ by the constant ``D``, which Adam ignores, but gradient clipping does not: with
    ``"sum"`` the gradient norm is ``D`` times larger, so ``train.grad_clip = 1`` rescales nearly every
    step to unit norm (a normalised-gradient Adam), while with ``"mean"`` it clips only outliers.

    With ``min_snr_gamma`` each component's squared error is weighted by Min-SNR-γ
    (:func:`difflab.objectives.weighting.min_snr_weight`).

    Args:
        denoiser: wraps the network and the process.
        x0: clean data ``(B, *shape)``.
        t: times ``(B,)``.
        eps: whitened noise ``(B, D)``.
        cond: conditioning mapping (labels, z, ...) passed to the denoiser.
        reduction: ``"sum"``, ``"mean"`` or ``"auto"`` (:func:`loss_reduction`).
        min_snr_gamma: γ of the Min-SNR-γ weighting, or None for none.
    """
    process = denoiser.process
    w0 = process.to_white(x0)  # once: both the noisy input and the target need it
    w_t = process.noise_white(w0, t, eps)
    x_t = process.from_white(w_t)
    out = denoiser.raw(x_t, t, **(cond or {}))
    alpha, sigma = (a.to(w0.dtype) for a in process.alpha_sigma(t))
    target = regression_target(denoiser.prediction, w0, eps, alpha, sigma)
    pred = denoiser.output_to_white(out, w_t, t)
    sq = (pred.float() - target.float()).pow(2)
    if min_snr_gamma is not None:
        sq = sq * min_snr_weight(denoiser.prediction, alpha, sigma, min_snr_gamma).to(sq.dtype)
    active = process.active
    if active is not None:  # deterministic components are pinned at sampling: nothing to learn there
        sq = sq * active.to(device=sq.device, dtype=sq.dtype)
    total = sq.sum(dim=1)
    return total / process.active_dim if loss_reduction(denoiser.prediction, reduction) == "mean" else total


def regression_term(method: MethodConfig, *, min_snr_gamma: float | None = None):
    """The regression loss as an objective term ``(model, x0, t, eps, cond, generator) -> (B,)``."""
    reduction = method.loss_reduction

    def term(model: Denoiser, x0: Tensor, t: Tensor, eps: Tensor, cond: dict, generator: torch.Generator) -> Tensor:
        return regression_loss(model, x0, t, eps, cond=cond, reduction=reduction, min_snr_gamma=min_snr_gamma)

    return term


def stratified_times(batch: int, generator: torch.Generator | None = None, device=None) -> Tensor:
    """Stratified uniform times in [0, 1): one draw per stratum, lower variance than i.i.d."""
    u = torch.rand(batch, generator=generator, device="cpu")
    return ((torch.arange(batch) + u) / batch).to(device)
