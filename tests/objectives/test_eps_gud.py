"""GUD's ε parameterisation (review G5): ε̂ = S⁻¹ U net(x_t) + w_t, ε-MSE averaged over components."""

import torch
from torch import nn

from difflab.models.denoiser import Denoiser
from difflab.objectives.regression import regression_loss
from difflab.process.factory import build_process
from tests.sampling.gaussian_cases import SHAPE, gaussian_data


class Fixed(nn.Module):
    """A 'network' that returns a preset output (data layout)."""

    def __init__(self):
        super().__init__()
        self.out = None

    def forward(self, x_t, t, *, labels=None, z=None, extra=None):
        return torch.zeros_like(x_t) if self.out is None else self.out


def _process():
    return build_process(SHAPE, basis="pca", prior="data", schedule="soft", softness=0.5, data=gaussian_data())


def test_zero_network_predicts_the_gaussian_default():
    p = _process()
    den = Denoiser(Fixed(), p, prediction="eps_gud")
    x_t = gaussian_data()[:4].double()
    t = torch.full((4,), 0.6, dtype=torch.float64)
    w_t = p.to_white(x_t)
    a, s = p.alpha_sigma(t)
    assert torch.allclose(den(x_t, t), p.from_white((w_t - s * w_t) / a))


def test_loss_is_zero_for_the_true_eps_and_averaged_over_components():
    p = _process()
    net = Fixed()
    den = Denoiser(net, p, prediction="eps_gud")
    g = torch.Generator().manual_seed(0)
    x0 = gaussian_data()[:8].double()
    t = torch.rand(8, generator=g, dtype=torch.float64)
    eps = torch.randn(8, p.dim, generator=g, dtype=torch.float64)
    w_t = p.noise_white(p.to_white(x0), t, eps)
    # the output in data layout whose whitened image S⁻¹ U out is ε − w_t
    net.out = p.white_noise_to_data((eps - w_t) * p.scale)
    assert float(regression_loss(den, x0, t, eps).abs().max()) < 1e-10
    net.out = None  # zero network: loss = mean_i (w_t − ε)_i², not the sum
    expect = ((w_t - eps) ** 2).mean(1)
    assert torch.allclose(regression_loss(den, x0, t, eps).double(), expect, rtol=1e-5)
