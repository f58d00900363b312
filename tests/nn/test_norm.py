"""GroupNorm with scale/shift: the folded no-grad NHWC path is F.group_norm's function, taken only there."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import difflab.nn.norm as norm
from difflab.nn import UNet
from difflab.nn.norm import GroupNorm, folded_group_norm

TINY = dict(base_channels=8, channel_mults=(1, 2, 2), num_res_blocks=1, norm_groups=4, heads=2, attention_levels=(1,))


def _nhwc(*shape, mean=0.0, std=1.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (mean + std * torch.randn(*shape, generator=g)).contiguous(memory_format=torch.channels_last)


@pytest.fixture
def calls(monkeypatch):
    """Counts the folded path's calls."""
    seen = []

    def counting(*args):
        seen.append(args[0].shape)
        return folded_group_norm(*args)

    monkeypatch.setattr(norm, "folded_group_norm", counting)
    return seen


@pytest.mark.parametrize(("c", "groups", "mean"), [(8, 4, 0.0), (12, 3, 3.0), (32, 8, -2.0)])
def test_folded_matches_group_norm_with_scale_shift(c, groups, mean):
    x = _nhwc(3, c, 5, 6, mean=mean, std=0.7)
    w, b = torch.randn(c), torch.randn(c)
    scale, shift = torch.randn(3, c, 1, 1), torch.randn(3, c, 1, 1)
    want = F.group_norm(x, groups, w, b, 1e-5) * (1 + scale) + shift
    got = folded_group_norm(x, groups, w * (1 + scale.view(3, c)), b * (1 + scale.view(3, c)) + shift.view(3, c), 1e-5)
    torch.testing.assert_close(got, want, atol=2e-5, rtol=1e-5)
    assert got.is_contiguous(memory_format=torch.channels_last)


def test_module_takes_the_folded_path_only_without_grad_on_nhwc(calls):
    gn = GroupNorm(4, 16)
    nn.init.normal_(gn.weight)
    nn.init.normal_(gn.bias)
    x = _nhwc(2, 16, 4, 4, mean=1.0)
    scale, shift = torch.randn(2, 16, 1, 1), torch.randn(2, 16, 1, 1)
    with torch.no_grad():
        folded = gn(x, scale, shift)
        plain = gn(x)
        gn(x.contiguous())  # NCHW: native kernel
    assert len(calls) == 2
    ref = F.group_norm(x, 4, gn.weight, gn.bias, gn.eps)
    torch.testing.assert_close(folded, ref * (1 + scale) + shift, atol=2e-5, rtol=1e-5)
    torch.testing.assert_close(plain, ref, atol=2e-5, rtol=1e-5)
    gn(x.requires_grad_(), scale, shift).sum().backward()  # grad enabled: native kernel, faster backward
    assert len(calls) == 2


def test_group_channels_limit_for_the_unmodulated_norm(calls):
    wide = GroupNorm(2, 4 * norm.FOLD_MAX_GROUP_CHANNELS)  # 2x the limit per group
    with torch.no_grad():
        wide(_nhwc(2, wide.num_channels, 4, 4))
        assert not calls
        wide(_nhwc(2, wide.num_channels, 4, 4), torch.zeros(2, wide.num_channels, 1, 1))
    assert len(calls) == 1


def test_state_dict_names_are_group_norm_names():
    gn = GroupNorm(4, 16)
    assert isinstance(gn, nn.GroupNorm)
    GroupNorm(4, 16).load_state_dict(nn.GroupNorm(4, 16).state_dict())  # strict: raises on any name change
    assert list(gn.state_dict()) == ["weight", "bias"]


@pytest.mark.parametrize(
    "kw",
    [
        dict(in_channels=1, num_classes=3),
        dict(in_channels=3, z_dim=4, z_mode="adagn"),
        dict(in_channels=1, z_dim=4, z_mode="time_bottleneck"),
    ],
)
def test_unet_sampling_forward_is_the_same_function(kw, calls, monkeypatch):
    torch.manual_seed(0)
    net = UNet(**kw, **TINY)
    x = torch.randn(3, net.in_channels, 8, 8)
    cond = dict(z=torch.randn(3, 4) if net.z_dim else None, labels=torch.tensor([0, 1, 2]) if net.num_classes else None)
    outs = []
    for fold in (False, True):
        monkeypatch.setattr(GroupNorm, "fold_cpu_nhwc", fold)
        with torch.no_grad():
            outs.append(net(x, torch.rand(3, generator=torch.Generator().manual_seed(1)), **cond))
    assert calls  # the folded path really ran (every norm of TINY has 2 channels per group)
    torch.testing.assert_close(outs[1], outs[0], atol=1e-5, rtol=1e-5)


def test_weight_only_gradient_on_nhwc_does_not_crash():
    """torch 2.13's NHWC GroupNorm backward segfaults when the input needs no gradient (frozen layers below)."""
    gn = GroupNorm(4, 16)
    x = _nhwc(2, 16, 4, 4, mean=1.0)
    (grad,) = torch.autograd.grad(gn(x).square().sum(), [gn.weight])
    ref = torch.nn.GroupNorm(4, 16)
    (want,) = torch.autograd.grad(ref(x.contiguous()).square().sum(), [ref.weight])
    torch.testing.assert_close(grad, want)
