"""GroupNorm with an optional per-sample scale/shift, and a faster no-grad path for NHWC CPU tensors.

``GroupNorm(x, scale, shift)`` is ``group_norm(x) * (1 + scale) + shift`` (ADM's scale/shift norm).
Without autograd (sampling), on the CPU, for a channels-last (NHWC) fp32 input, it runs as one
``addcmul`` whose per-(sample, channel) factors fold in the group statistics, the affine weight and
the scale/shift: PyTorch's NHWC GroupNorm kernel is 2-5x slower than its NCHW one when a group holds
few channels (BENCHMARKS.md), and folding the scale/shift saves two passes over the features. With
autograd on, the native kernel's backward is faster than one written with tensor ops, so training
keeps ``F.group_norm`` followed by the scale/shift.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Channels per group up to which the folded path beats the native NHWC kernel without a scale/shift.
FOLD_MAX_GROUP_CHANNELS = 4


def folded_group_norm(x: Tensor, groups: int, a: Tensor, b: Tensor, eps: float) -> Tensor:
    """``(x - mean_g) * rstd_g * a + b`` for ``x (N, C, H, W)`` and per-(sample, channel) ``a, b (N, C)``.

    One-pass statistics (E[x²] - E[x]², as PyTorch's NHWC kernel), summed per channel first: on NHWC
    that reduction runs along the contiguous channel axis. The output keeps x's memory format.
    """
    n, c, h, w = x.shape
    per = c // groups
    count = h * w * per
    mean = x.sum((2, 3)).view(n, groups, per).sum(-1, keepdim=True) / count
    sq = (x * x).sum((2, 3)).view(n, groups, per).sum(-1, keepdim=True) / count
    rstd = torch.rsqrt((sq - mean * mean).clamp_(min=0) + eps)  # (N, G, 1)
    mul = a.view(n, groups, per) * rstd
    add = b.view(n, groups, per) - mean * mul
    return torch.addcmul(add.view(n, c, 1, 1), x, mul.view(n, c, 1, 1))


def _nhwc_cpu_fp32(x: Tensor) -> bool:
    return (
        x.device.type == "cpu"
        and x.dtype == torch.float32
        and x.ndim == 4
        and x.is_contiguous(memory_format=torch.channels_last)
        and not x.is_contiguous()  # both layouts at once (1x1 maps, one channel): the native kernel is fine
        and not torch.is_autocast_enabled("cpu")
    )


class GroupNorm(nn.GroupNorm):
    """``nn.GroupNorm`` (same parameters and state-dict names) whose forward also takes a scale/shift.

    ``forward(x, scale, shift)`` returns ``group_norm(x) * (1 + scale) + shift``; ``scale`` and
    ``shift`` are ``(B, C, 1, 1)`` or None (none applied). Set the class attribute
    ``fold_cpu_nhwc = False`` to always use the native kernel (the folded path is the same function
    to float rounding).
    """

    # Not a config field: an implementation choice that does not change the function or the parameters.
    fold_cpu_nhwc: bool = True

    def _fold(self, x: Tensor, modulated: bool) -> bool:
        if not self.fold_cpu_nhwc or torch.is_grad_enabled() or not self.affine or not _nhwc_cpu_fp32(x):
            return False
        return modulated or self.num_channels // self.num_groups <= FOLD_MAX_GROUP_CHANNELS

    def forward(self, x: Tensor, scale: Tensor | None = None, shift: Tensor | None = None) -> Tensor:
        if not self._fold(x, scale is not None or shift is not None):
            if self.affine and self.weight.requires_grad and not x.requires_grad and _nhwc_cpu_fp32(x):
                # torch 2.13's NHWC CPU backward crashes (segfault) when only the weight needs a gradient
                # (e.g. frozen layers below): give it the NCHW tensor.
                x = x.contiguous()
            h = F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)
            if scale is not None:
                h = h * (1 + scale)
            return h if shift is None else h + shift
        n = x.shape[0]
        a, b = self.weight.expand(n, -1), self.bias.expand(n, -1)
        if scale is not None:
            s = 1 + scale.reshape(n, -1)
            a, b = a * s, b * s
        if shift is not None:
            b = b + shift.reshape(n, -1)
        return folded_group_norm(x, self.num_groups, a, b, self.eps)
