"""The distributional loss (one batched pass over m samples) and gated noise injection."""

import pytest
import torch

from difflab.config import load_config
from difflab.config.schema import RunConfig
from difflab.errors import DifflabError
from difflab.models.build import DataInfo, build_denoiser, network_kwargs
from difflab.models.denoiser import Denoiser
from difflab.nn import MLP, UNet
from difflab.objectives.distributional import distributional_loss
from difflab.objectives.regression import regression_loss
from difflab.process.factory import build_process


@pytest.mark.parametrize(("basis", "prior"), [("pixel", "white"), ("dct", "data")])
def test_lambda0_beta2_loss_is_the_mean_over_m_of_the_x0_regression_mse(basis, prior):
    torch.manual_seed(0)
    shape, b, m = (1, 4, 4), 3, 4
    data = torch.randn(256, *shape) * torch.linspace(0.2, 2.0, 16).reshape(shape)
    process = build_process(shape, basis=basis, prior=prior, data=data)
    net = UNet(
        in_channels=1, extra_channels=1, base_channels=8, channel_mults=(1, 2), num_res_blocks=1, attention_levels=()
    )
    model = Denoiser(net, process, prediction="x0", generator_noise=True)
    x0, t = data[:b], torch.tensor([0.2, 0.5, 0.9])
    eps, xi = torch.randn(b, process.dim), torch.randn(b * m, *shape)
    loss = distributional_loss(model, x0, t, eps, xi, m=m, rule="energy", beta=2.0, lam=0.0)
    per_j = [regression_loss(model, x0, t, eps, cond={"xi": xi.reshape(b, m, *shape)[:, j]}) for j in range(m)]
    assert loss.shape == (b,)
    torch.testing.assert_close(loss, torch.stack(per_j, 1).mean(1), rtol=1e-4, atol=1e-5)


def _unet(injection):
    return UNet(
        in_channels=1,
        extra_channels=1,
        base_channels=8,
        channel_mults=(1, 2),
        num_res_blocks=1,
        attention_levels=(1,),
        noise_injection=injection,
    )


@pytest.mark.parametrize(
    "net", [_unet("gated"), MLP(dim=2, hidden=16, depth=4, extra_dim=2, noise_injection="gated")], ids=["unet", "mlp"]
)
def test_gated_injection_output_depends_on_xi_and_gradients_flow(net):
    torch.manual_seed(1)
    x = torch.randn(4, 1, 8, 8) if isinstance(net, UNet) else torch.randn(4, 2)
    t = torch.rand(4)
    xi1, xi2 = torch.randn_like(x), torch.randn_like(x)
    out1, out2 = net(x, t, extra=xi1), net(x, t, extra=xi2)
    assert (out1 - out2).abs().max() > 1e-4
    out1.pow(2).sum().backward()
    for gate in net.noise_gate:
        for p in gate.parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_gated_unet_does_not_concatenate_xi_and_the_gate_depends_on_time():
    net = _unet("gated")
    assert net.in_conv.in_channels == 1 and _unet("concat").in_conv.in_channels == 2
    emb_a, emb_b = net.cond(torch.zeros(1), None, None), net.cond(torch.ones(1), None, None)
    gate = net.noise_gate[0].gate
    assert (gate(emb_a) - gate(emb_b)).abs().max() > 1e-4


def test_bad_noise_injection_is_a_clear_error():
    with pytest.raises(DifflabError, match="noise_injection"):
        UNet(in_channels=1, extra_channels=1, noise_injection="add")
    with pytest.raises(DifflabError, match="noise_injection"):
        MLP(dim=2, extra_dim=2, noise_injection="add")


def test_config_passes_noise_injection_to_generators_only():
    info = DataInfo("toy2d", (2,), 0, {})
    dist = load_config(
        RunConfig, "configs/toy2d-distributional.yaml", ["method.noise_injection=gated", "network.hidden=16"]
    )
    reg = load_config(RunConfig, "configs/toy2d.yaml", [])
    assert network_kwargs(dist, info)["noise_injection"] == "gated"
    assert "noise_injection" not in network_kwargs(reg, info)
    model = build_denoiser(dist, info, torch.randn(64, 2))
    assert model.generator_noise and model.network.noise_gate is not None
