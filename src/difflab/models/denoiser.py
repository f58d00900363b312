"""Denoisers: every network is wrapped to the one contract ``(x_t, t, **cond) -> x̂₀``.

As in k-diffusion, the wrapper owns the parameterisation. The network sees data
layout ``(B, *shape)`` and time ``t`` in [0, 1]; its output is read as ε, x₀ or
v (regression) or as a *sample* of x₀ (a distributional generator, De Bortoli
et al., arXiv 2502.02483, which also takes generator noise ``xi``). ε and v are
defined in whitened component space and mapped to data layout by the
orthonormal basis alone, so the targets are unit-variance in every basis.
"""

from typing import Literal

import torch
from torch import Tensor, nn

from difflab.process.noise import NoiseLike, standard_normal
from difflab.process.process import Process

Prediction = Literal["eps", "x0", "v"]


class Denoiser(nn.Module):
    """Network + process -> x̂₀ in data layout.

    Args:
        network: ``net(x_t, t, *, labels, z, extra) -> out`` in data layout.
        process: the forward process (basis, prior, schedule).
        prediction: how the network output is read.
        generator_noise: True for a distributional generator: the network takes
            ``xi ~ N(0, I)`` shaped like the data as ``extra`` input.
    """

    def __init__(self, network: nn.Module, process: Process, prediction: Prediction = "v", generator_noise: bool = False):
        super().__init__()
        self.network = network
        self.process = process
        self.prediction = prediction
        self.generator_noise = generator_noise

    def raw(self, x_t: Tensor, t: Tensor, *, labels: Tensor | None = None, z: Tensor | None = None,
            xi: Tensor | None = None, noise: NoiseLike = None) -> Tensor:
        """The network's own output ``(B, *shape)`` (ε, x₀ or v in data layout)."""
        t = torch.as_tensor(t, dtype=x_t.dtype, device=x_t.device).expand(x_t.shape[0])
        extra = None
        if self.generator_noise:
            extra = xi if xi is not None else standard_normal(noise, x_t.shape, dtype=x_t.dtype, device=x_t.device)
        return self.network(x_t, t, labels=labels, z=z, extra=extra)

    def output_to_white_x0(self, out: Tensor, x_t: Tensor, t: Tensor) -> Tensor:
        """Convert a network output to ŵ₀ ``(B, D)`` in whitened components."""
        if self.prediction == "x0":
            return self.process.to_white(out)
        w_t = self.process.to_white(x_t)
        alpha, sigma = self.process.alpha_sigma(torch.as_tensor(t, device=x_t.device).expand(x_t.shape[0]))
        alpha, sigma = alpha.to(w_t.dtype), sigma.to(w_t.dtype)
        e = self.process.data_noise_to_white(out)
        if self.prediction == "eps":
            return Process.eps_to_x0(w_t, e, alpha, sigma)
        return Process.v_to_x0(w_t, e, alpha, sigma)

    def forward(self, x_t: Tensor, t: Tensor, *, labels: Tensor | None = None, z: Tensor | None = None,
                xi: Tensor | None = None, noise: NoiseLike = None) -> Tensor:
        """x̂₀ ``(B, *shape)`` for ``x_t`` ``(B, *shape)`` at times ``t`` ``(B,)``."""
        out = self.raw(x_t, t, labels=labels, z=z, xi=xi, noise=noise)
        if self.prediction == "x0":
            return out
        return self.process.from_white(self.output_to_white_x0(out, x_t, t))
