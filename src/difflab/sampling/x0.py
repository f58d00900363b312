"""x̂₀ post-processing for pretrained DDPMs: static clipping and dynamic thresholding.

Both act on the denoiser's x̂₀ in data layout (the model's own range, e.g. [-1, 1]) before
the sampler's step, so they work with every sampler and basis; the step then uses the x_t
form of the bridge (x_s = c_t x_t + c_0 x̂₀), i.e. ε is re-derived from the processed x̂₀.
That is diffusers' ``DDPMScheduler`` and ``DDIMScheduler(use_clipped_model_output=True)``
(GLIDE); ``DDIMScheduler``'s default keeps the unclipped ε̂ and differs.

- ``clip_x0 = r``: x̂₀ ← clamp(x̂₀, −r, r) (diffusers' ``clip_sample`` with ``clip_sample_range = r``).
- ``dynamic_threshold = p``: Imagen's dynamic thresholding (Saharia et al. 2022, §2.3) with
  diffusers' percentile convention: per sample, s = the p-quantile of |x̂₀| over all its
  values (``torch.quantile``, linear interpolation), clamped to [1, ``threshold_max``];
  x̂₀ ← clamp(x̂₀, −s, s) / s (diffusers' ``dynamic_thresholding_ratio`` and ``sample_max_value``).
"""

import torch
from torch import Tensor, nn

from difflab.errors import DifflabError


def clip_x0(x0: Tensor, bound: float) -> Tensor:
    """``clamp(x0, -bound, bound)``."""
    return x0.clamp(-bound, bound)


def dynamic_threshold(x0: Tensor, ratio: float, max_value: float = 1.0) -> Tensor:
    """Imagen's dynamic thresholding of ``x0`` ``(B, *shape)``, per sample (diffusers' ``_threshold_sample``)."""
    flat = x0.reshape(x0.shape[0], -1)
    work = flat if flat.dtype in (torch.float32, torch.float64) else flat.float()
    s = torch.quantile(work.abs(), ratio, dim=1).clamp(min=1.0, max=max_value).unsqueeze(1)
    return (torch.clamp(work, -s, s) / s).to(x0.dtype).reshape(x0.shape)


def check_x0_options(clip: float | None, threshold: float | None, threshold_max: float) -> None:
    """Raise DifflabError for an invalid clip bound or threshold setting."""
    if clip is not None and not clip > 0:
        raise DifflabError(f"clip_x0 must be a positive bound (e.g. 1.0 for [-1, 1]; inf = off), got {clip}")
    if threshold is not None and not 0.0 < threshold <= 1.0:
        raise DifflabError(f"dynamic_threshold is a percentile ratio in (0, 1] (Imagen: 0.995), got {threshold}")
    if not threshold_max >= 1.0:
        raise DifflabError(f"threshold_max must be >= 1, got {threshold_max}")
    if clip is not None and threshold is not None:
        raise DifflabError("give clip_x0 or dynamic_threshold, not both (thresholding already clips)")


class X0Processed(nn.Module):
    """``denoiser`` whose x̂₀ is clipped to ``[-clip, clip]`` or dynamically thresholded.

    Args:
        denoiser: ``(x_t, t, **cond) -> x̂₀``.
        clip: the bound r, or None.
        threshold: the percentile ratio p, or None.
        threshold_max: the largest s of dynamic thresholding.
    """

    def __init__(
        self, denoiser: nn.Module, clip: float | None = None, threshold: float | None = None, threshold_max: float = 1.0
    ):
        super().__init__()
        check_x0_options(clip, threshold, threshold_max)
        self.inner, self.clip, self.threshold, self.threshold_max = denoiser, clip, threshold, threshold_max

    def forward(self, x_t: Tensor, t: Tensor, **cond) -> Tensor:
        x0 = self.inner(x_t, t, **cond)
        if self.threshold is not None:
            return dynamic_threshold(x0, self.threshold, self.threshold_max)
        return clip_x0(x0, self.clip) if self.clip is not None else x0
