"""Component registries for difflab's UNet and diffusers' UNet2DModel."""

import pytest
import torch
from torch import nn

from difflab.analysis import SkipSlot, component_registry, measure_component_cost, resolve, route_skips
from difflab.errors import DifflabError


def test_our_registry_is_components(unet):
    reg = component_registry(unet)
    assert list(reg) == list(unet.components())
    assert all(reg[n] is unet.get_submodule(n) for n in reg)


def test_diffusers_registry_finds_every_block(dunet):
    reg = component_registry(dunet)
    blocks = [("down", i, b) for i, b in enumerate(dunet.down_blocks)] + [
        ("up", i, b) for i, b in enumerate(dunet.up_blocks)
    ]
    for side, i, block in blocks:
        assert reg[f"{side}.{i}"] is block
        for attr in ("resnets", "attentions", "downsamplers", "upsamplers"):
            for j, mod in enumerate(getattr(block, attr, None) or ()):
                assert reg[f"{side}.{i}.{attr}.{j}"] is mod
    assert reg["mid"] is dunet.mid_block
    assert reg["mid.attentions.0"] is dunet.mid_block.attentions[0]
    assert reg["in_conv"] is dunet.conv_in and reg["out"] is dunet.conv_out


def test_diffusers_skips_are_the_residual_stack(dunet, x):
    # Oracle: the residual stack as the down path builds it (conv_in output, then each block's res_samples).
    stack: list[torch.Tensor] = []
    handles = [dunet.conv_in.register_forward_hook(lambda m, a, o: stack.append(o))]
    handles += [b.register_forward_hook(lambda m, a, o: stack.extend(o[1])) for b in dunet.down_blocks]
    reg = component_registry(dunet)
    slots = {n: m for n, m in reg.items() if isinstance(m, SkipSlot)}
    seen: dict[str, torch.Tensor] = {}
    handles += [m.register_forward_hook(lambda m, a, o, n=n: seen.__setitem__(n, o)) for n, m in slots.items()]
    with route_skips(reg), torch.no_grad():
        dunet(x, torch.tensor(10))
    for h in handles:
        h.remove()
    assert len(stack) == 4 and len(slots) == len(stack)
    assert sorted(slots) == [f"skip.{k}" for k in range(len(stack))]
    for k, tensor in enumerate(stack):
        assert seen[f"skip.{k}"] is tensor


def test_unknown_name_lists_close_names(unet):
    with pytest.raises(DifflabError, match="down.0.res.0"):
        resolve(component_registry(unet), ["down.0.rse.0"])


def test_unsupported_model_raises():
    with pytest.raises(DifflabError, match="no component registry"):
        component_registry(nn.Linear(2, 2))


def test_component_cost(unet, dunet, x):
    cost = measure_component_cost(unet, (x, torch.full((2,), 0.5)), repeats=1, warmup=0)
    assert list(cost) == list(unet.components())
    # Conv2d(1 -> 8, 3x3) on (2, 1, 8, 8): 2 FLOPs per multiply-add, bias not counted.
    assert cost["in_conv"]["flops"] == 2 * 2 * 8 * 8 * 8 * 1 * 9
    assert cost["skip.0.0"]["flops"] == 0 and all(v["ms"] >= 0 for v in cost.values())
    dcost = measure_component_cost(dunet, {"sample": x, "timestep": torch.tensor(3)}, repeats=1, warmup=0)
    assert dcost["down.1"]["flops"] == dcost["down.1.resnets.0"]["flops"] + dcost["down.1.attentions.0"]["flops"]
    assert dcost["skip.2"]["flops"] == 0 and dcost["mid"]["flops"] > 0
