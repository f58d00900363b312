"""UNet: shapes, named components, hooks, conditioning dependence, gradients, errors."""

import pytest
import torch

from difflab.errors import DifflabError
from difflab.nn import UNet

TINY = dict(base_channels=8, channel_mults=(1, 2), num_res_blocks=1, norm_groups=4, heads=2)


def _inputs(net: UNet, b: int = 2, size: int = 8, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, net.in_channels, size, size, generator=g)
    return x, torch.rand(b, generator=g)


@pytest.mark.parametrize(
    ("c", "size", "kw"),
    [
        (1, 8, dict(TINY)),
        (3, 8, dict(TINY, out_channels=6)),
        (1, 16, dict(TINY, channel_mults=(1, 2, 2), attention_levels=(1, 2))),
        (3, 16, dict(TINY, num_res_blocks=2, attention_levels=())),
        (3, 32, dict(TINY, channel_mults=(1, 1, 2, 2), attention_levels=(2,))),
    ],
)
def test_output_shape(c, size, kw):
    net = UNet(in_channels=c, **kw)
    x, t = _inputs(net, size=size)
    y = net(x, t)
    assert y.shape == (2, kw.get("out_channels", c), size, size)
    assert torch.isfinite(y).all()


def test_scalar_time_broadcasts():
    net = UNet(in_channels=1, **TINY).eval()
    x, _ = _inputs(net)
    assert torch.equal(net(x, 0.3), net(x, torch.full((2,), 0.3)))


def _expected_names(levels: int, nrb: int, attn: set[int]) -> list[str]:
    names = ["in_conv"]
    for lvl in range(levels):
        for i in range(nrb):
            names += [f"down.{lvl}.res.{i}"] + ([f"down.{lvl}.attn.{i}"] if lvl in attn else [])
        if lvl < levels - 1:
            names.append(f"down.{lvl}.downsample")
    names += ["mid.res.0", "mid.attn", "mid.res.1"]
    for lvl in reversed(range(levels)):
        for i in range(nrb + 1):
            names += [f"skip.{lvl}.{i}", f"up.{lvl}.res.{i}"] + ([f"up.{lvl}.attn.{i}"] if lvl in attn else [])
        if lvl > 0:
            names.append(f"up.{lvl}.upsample")
    return names + ["out"]


@pytest.mark.parametrize(("mults", "nrb", "attn"), [((1, 2), 1, (1,)), ((1, 2, 2), 2, (0, 2))])
def test_components_names_and_modules(mults, nrb, attn):
    net = UNet(in_channels=3, **dict(TINY, channel_mults=mults, num_res_blocks=nrb, attention_levels=attn))
    comps = net.components()
    assert list(comps) == _expected_names(len(mults), nrb, set(attn))
    modules = set(net.modules())
    assert all(m in modules for m in comps.values())
    assert len({id(m) for m in comps.values()}) == len(comps)  # distinct modules, not aliases
    assert all(net.get_submodule(name) is m for name, m in comps.items())


def test_every_component_is_on_the_path():
    """Zeroing any component's output changes the result: each output is really used next."""
    net = UNet(in_channels=1, **TINY).eval()
    x, t = _inputs(net)
    with torch.no_grad():
        ref = net(x, t)
        for name, module in net.components().items():
            handle = module.register_forward_hook(lambda m, i, o: torch.zeros_like(o))
            out = net(x, t)
            handle.remove()
            assert not torch.allclose(out, ref), name


def test_skip_hook_zero_changes_identity_keeps():
    net = UNet(in_channels=1, **TINY).eval()
    x, t = _inputs(net)
    skip = net.components()["skip.0.0"]
    with torch.no_grad():
        ref = net(x, t)
        h = skip.register_forward_hook(lambda m, i, o: o)
        same = net(x, t)
        h.remove()
        h = skip.register_forward_hook(lambda m, i, o: torch.zeros_like(o))
        zeroed = net(x, t)
        h.remove()
        again = net(x, t)
    assert torch.equal(same, ref) and torch.equal(again, ref)
    assert (zeroed - ref).abs().max() > 1e-4


def test_depends_on_labels_and_null_label_is_default():
    net = UNet(in_channels=1, num_classes=3, **TINY).eval()
    x, t = _inputs(net)
    with torch.no_grad():
        a = net(x, t, labels=torch.tensor([0, 1]))
        b = net(x, t, labels=torch.tensor([2, 1]))
        null = net(x, t, labels=torch.tensor([3, 3]))
        none = net(x, t)
    assert not torch.allclose(a[0], b[0]) and torch.equal(a[1], b[1])  # per-sample, no batch leakage
    assert torch.equal(null, none)


def test_depends_on_extra():
    net = UNet(in_channels=1, extra_channels=1, **TINY).eval()
    x, t = _inputs(net)
    with torch.no_grad():
        a = net(x, t, extra=torch.zeros_like(x))
        b = net(x, t, extra=torch.randn_like(x))
    assert not torch.allclose(a, b)
    with pytest.raises(DifflabError, match="extra"):
        net(x, t)


@pytest.mark.parametrize("mode", ["cross_attn", "adagn", "time"])
def test_depends_on_z(mode):
    net = UNet(in_channels=1, z_dim=4, z_mode=mode, **TINY).eval()
    x, t = _inputs(net)
    z = torch.randn(2, 4)
    z2 = z.clone()
    z2[0] = -z2[0]
    with torch.no_grad():
        a, b = net(x, t, z=z), net(x, t, z=z2)
    assert not torch.allclose(a[0], b[0]) and torch.equal(a[1], b[1])


@pytest.mark.parametrize(("mode", "z_reaches_first_block"), [("cross_attn", False), ("adagn", True), ("time", True)])
def test_z_route(mode, z_reaches_first_block):
    """cross_attn leaves the time embedding (and so attention-free level 0) untouched."""
    net = UNet(in_channels=1, z_dim=4, z_mode=mode, **TINY).eval()
    x, t = _inputs(net)
    seen = []
    net.components()["down.0.res.0"].register_forward_hook(lambda m, i, o: seen.append(o))
    with torch.no_grad():
        net(x, t, z=torch.randn(2, 4))
        net(x, t, z=torch.randn(2, 4))
    assert torch.equal(seen[0], seen[1]) != z_reaches_first_block


def test_z_levels_restrict_cross_attention():
    net = UNet(in_channels=1, z_dim=4, **dict(TINY, attention_levels=(0, 1)), z_levels=(1,))
    comps = net.components()
    assert comps["down.0.attn.0"].cross is None and comps["up.0.attn.0"].cross is None
    assert comps["down.1.attn.0"].cross is not None and comps["mid.attn"].cross is not None
    with pytest.raises(DifflabError, match="z_levels"):
        UNet(in_channels=1, z_dim=4, **TINY, z_levels=(0,))


@pytest.mark.parametrize("mode", ["cross_attn", "adagn", "time"])
def test_gradients_reach_every_parameter(mode):
    net = UNet(in_channels=1, num_classes=2, extra_channels=1, z_dim=4, z_mode=mode, **TINY)
    x, t = _inputs(net, b=3)
    y = net(x, t, labels=torch.tensor([0, 1, 2]), z=torch.randn(3, 4), extra=torch.randn_like(x))
    y.square().mean().backward()
    missing = [n for n, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_divisibility_error_names_size_and_divisor():
    net = UNet(in_channels=1, **dict(TINY, channel_mults=(1, 2, 2)))
    with pytest.raises(DifflabError, match=r"10x10.*divisible by 4"):
        net(torch.randn(1, 1, 10, 10), torch.rand(1))
    net.check_input_size(12, 12)


@pytest.mark.parametrize(
    "kw",
    [dict(attention_levels=(2,)), dict(norm_groups=3), dict(heads=3), dict(z_mode="concat", z_dim=2)],
)
def test_bad_config_raises(kw):
    with pytest.raises(DifflabError):
        UNet(in_channels=1, **{**TINY, **kw})


def test_bad_call_raises():
    net = UNet(in_channels=1, **TINY)
    x, t = _inputs(net)
    with pytest.raises(DifflabError, match="labels"):
        net(x, t, labels=torch.tensor([0, 1]))
    with pytest.raises(DifflabError, match="z"):
        net(x, t, z=torch.randn(2, 3))
    with pytest.raises(DifflabError, match="shape"):
        net(torch.randn(2, 3, 8, 8), t)


def test_dtype_agnostic_float64_and_bf16_autocast():
    net = UNet(in_channels=1, z_dim=4, **TINY).eval()
    x, t = _inputs(net)
    z = torch.randn(2, 4)
    with torch.no_grad():
        ref = net(x, t, z=z)
        y64 = net.double()(x, t, z=z)  # float32 inputs are cast to the parameters' dtype
        assert y64.dtype == torch.float64
        torch.testing.assert_close(y64.float(), ref, atol=1e-4, rtol=1e-4)
        net.float()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            yb = net(x, t, z=z)
    assert torch.isfinite(yb).all()
    assert (yb.float() - ref).abs().max() < 0.1 * ref.abs().max()


@pytest.mark.parametrize(
    "kw",
    [
        dict(in_channels=1, num_classes=2, z_dim=4, z_mode="time_bottleneck"),
        dict(in_channels=3, extra_channels=3, noise_injection="gated", z_dim=4, z_mode="adagn"),
    ],
)
def test_cpu_channels_last_is_the_same_function(kw):
    """The CPU's NHWC layout (a speed lever) gives the NCHW outputs and gradients to float rounding."""
    torch.manual_seed(0)
    net = UNet(**kw, **dict(TINY, channel_mults=(1, 2, 2), attention_levels=(1,)))
    x = torch.randn(3, net.in_channels, 8, 8)
    cond = dict(z=torch.randn(3, 4), labels=torch.tensor([0, 1, 2]) if net.num_classes else None)
    cond["extra"] = torch.randn_like(x) if net.extra_channels else None
    layouts = []
    net.get_submodule("down.0.res.0").register_forward_hook(
        lambda m, i, o: layouts.append(o.is_contiguous(memory_format=torch.channels_last) and not o.is_contiguous())
    )
    runs = []
    for channels_last in (False, True):
        net.cpu_channels_last = channels_last
        net.zero_grad()
        y = net(x, torch.rand(3, generator=torch.Generator().manual_seed(1)), **cond)
        y.square().mean().backward()
        assert y.is_contiguous()
        runs.append((y.detach(), [p.grad.clone() for p in net.parameters()]))
    assert layouts == [False, True]
    torch.testing.assert_close(runs[1][0], runs[0][0], atol=1e-5, rtol=1e-5)
    for g1, g0 in zip(runs[1][1], runs[0][1]):
        torch.testing.assert_close(g1, g0, atol=1e-5, rtol=1e-4)
