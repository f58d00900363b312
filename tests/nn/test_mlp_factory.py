"""MLP shapes, components and conditioning; build_network and count_parameters."""

import pytest
import torch

from difflab.errors import DifflabError
from difflab.nn import MLP, UNet, build_network, count_parameters


def test_mlp_shape_components_and_hooks():
    net = MLP(dim=3, hidden=16, depth=3).eval()
    comps = net.components()
    assert list(comps) == ["in", "block.0", "block.1", "block.2", "out"]
    assert all(net.get_submodule(n) is m for n, m in comps.items())
    x, t = torch.randn(5, 3), torch.rand(5)
    with torch.no_grad():
        ref = net(x, t)
        assert ref.shape == (5, 3)
        for name, module in comps.items():
            h = module.register_forward_hook(lambda m, i, o: torch.zeros_like(o))
            assert not torch.allclose(net(x, t), ref), name
            h.remove()


def test_mlp_depends_on_every_input():
    net = MLP(dim=2, hidden=16, depth=2, num_classes=3, extra_dim=2, z_dim=4).eval()
    x, t, lab = torch.randn(4, 2), torch.rand(4), torch.tensor([0, 1, 2, 3])
    z, e = torch.randn(4, 4), torch.randn(4, 2)
    with torch.no_grad():
        ref = net(x, t, labels=lab, z=z, extra=e)
        variants = {
            "x": net(x + 1, t, labels=lab, z=z, extra=e),
            "t": net(x, 1 - t, labels=lab, z=z, extra=e),
            "labels": net(x, t, labels=(lab + 1) % 3, z=z, extra=e),
            "z": net(x, t, labels=lab, z=-z, extra=e),
            "extra": net(x, t, labels=lab, z=z, extra=-e),
        }
    for name, out in variants.items():
        assert not torch.allclose(out, ref), name


def test_mlp_gradients_reach_every_parameter():
    net = MLP(dim=2, hidden=8, depth=2, num_classes=2, extra_dim=1, z_dim=3)
    out = net(
        torch.randn(3, 2), torch.rand(3), labels=torch.tensor([0, 1, 2]), z=torch.randn(3, 3), extra=torch.randn(3, 1)
    )
    out.square().mean().backward()
    assert [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0] == []


def test_mlp_errors():
    net = MLP(dim=2, hidden=8, depth=1, extra_dim=1)
    with pytest.raises(DifflabError, match="shape"):
        net(torch.randn(3, 4), torch.rand(3), extra=torch.randn(3, 1))
    with pytest.raises(DifflabError, match="extra"):
        net(torch.randn(3, 2), torch.rand(3))
    with pytest.raises(DifflabError, match="t must"):
        net(torch.randn(3, 2), torch.rand(2), extra=torch.randn(3, 1))
    with pytest.raises(DifflabError):
        MLP(dim=0)


def test_build_network_kinds():
    unet = build_network("unet", (3, 16, 16), base_channels=8, channel_mults=(1, 2), num_res_blocks=1, norm_groups=4)
    assert isinstance(unet, UNet) and unet.in_channels == 3
    mlp = build_network("mlp", (2,), hidden=8, depth=1)
    assert isinstance(mlp, MLP) and mlp(torch.randn(4, 2), torch.rand(4)).shape == (4, 2)


@pytest.mark.parametrize(
    ("kind", "shape", "kw", "match"),
    [
        ("transformer", (2,), {}, "unknown network kind"),
        ("unet", (2,), {}, "kind='mlp'"),
        ("mlp", (1, 8, 8), {}, "kind='unet'"),
        ("mlp", (2,), {"hiden": 8}, "hiden"),
        ("unet", (1, 8, 8), {"in_channels": 3}, "conflicts"),
        ("unet", (1, 12, 12), {"channel_mults": (1, 2, 2, 2)}, "12x12.*divisible by 8"),
    ],
)
def test_build_network_errors(kind, shape, kw, match):
    with pytest.raises(DifflabError, match=match):
        build_network(kind, shape, **kw)


def test_count_parameters():
    lin = torch.nn.Linear(3, 4)
    assert count_parameters(lin) == 16
    lin.bias.requires_grad_(False)
    assert count_parameters(lin, trainable_only=True) == 12
    shared = torch.nn.Sequential(lin, lin)  # shared parameters counted once
    assert count_parameters(shared) == 16
