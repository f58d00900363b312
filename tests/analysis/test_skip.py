"""Skip: the removal that does not run the component and returns its bypass."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from difflab.analysis import Clock, Remove, Skip, component_registry, intervene, measure_component_cost
from difflab.errors import DifflabError

TIMES = (0.9, 0.7, 0.5, 0.3, 0.1)


def _oracle(model, name, replace, x, times, registry=None):
    """Outputs with ``name``'s output replaced by ``replace(module, inputs)`` through a plain forward hook."""
    mod = (registry or component_registry(model))[name]
    handle = mod.register_forward_hook(lambda m, a, o: replace(m, a))
    try:
        with torch.no_grad():
            return [model(x, torch.full((x.shape[0],), t)) for t in times]
    finally:
        handle.remove()


def _inner_calls(module) -> tuple[list, list]:
    calls: list = []
    handles = [m.register_forward_hook(lambda *a: calls.append(1)) for m in module.modules() if m is not module]
    return calls, handles


@pytest.mark.parametrize("name", ["mid.res.0", "up.1.res.0", "down.0.res.0"])
def test_skip_of_a_residual_block_is_its_shortcut_exactly(unet, x, run, name):
    block = unet.get_submodule(name)
    oracle = _oracle(unet, name, lambda m, a: m.shortcut(a[0]), x, TIMES)
    with intervene(unet, [(Skip(name), None)]) as s:
        out = run(unet, x)
    assert all(torch.equal(o, r) for o, r in zip(out, oracle, strict=True))
    assert s.calls[name] == 0 and s.skipped[name] == len(TIMES)
    # The bypass is not the zero removal: the shortcut keeps the feature stream.
    with intervene(unet, [(Remove(name), None)]):
        zeroed = run(unet, x)
    assert not torch.equal(zeroed[0], out[0])
    assert isinstance(block.shortcut, torch.nn.Conv2d) == (name == "up.1.res.0")


def test_skipped_forward_is_never_called_and_windows_hold_per_step(unet, x, run):
    name = "up.1.res.0"
    calls, handles = _inner_calls(unet.get_submodule(name))
    with intervene(unet, [(Skip(name), (0.2, 0.6))]) as s:
        out = run(unet, x)
    for h in handles:
        h.remove()
    inside = [0.2 <= t <= 0.6 for t in TIMES]
    assert s.calls[name] == inside.count(False) and s.skipped[name] == inside.count(True)
    # Only the shortcut conv runs inside the window; conv1, conv2, norms and emb_proj never do.
    block = unet.get_submodule(name)
    per_call = sum(1 for m in block.modules() if m is not block)
    assert len(calls) == inside.count(False) * per_call + inside.count(True) * 1  # 1 = the shortcut conv
    base = run(unet, x)
    for o, b, hit in zip(out, base, inside, strict=True):
        assert torch.equal(o, b) != hit


def test_skip_attention_is_identity_and_skip_connection_is_zero(unet, x, run):
    oracle = _oracle(unet, "mid.attn", lambda m, a: a[0], x, TIMES)
    with intervene(unet, [(Skip("mid.attn"), None)]) as s:
        out = run(unet, x)
    assert all(torch.equal(o, r) for o, r in zip(out, oracle, strict=True)) and s.calls["mid.attn"] == 0
    with intervene(unet, [(Remove("skip.0.0"), None)]):
        zeroed = run(unet, x)
    with intervene(unet, [(Skip("skip.0.0"), None)]):
        skipped = run(unet, x)
    assert all(torch.equal(a, b) for a, b in zip(zeroed, skipped, strict=True))


@pytest.mark.parametrize("name", ["in_conv", "out", "down.0.downsample", "up.1.upsample"])
def test_components_without_a_bypass_are_refused(unet, name):
    with pytest.raises(DifflabError, match="no bypass"), intervene(unet, [(Skip(name), None)]):
        pass


def test_flops_drop_by_the_skipped_work(unet):
    x, t = torch.zeros(4, 1, 8, 8), torch.full((4,), 0.5)
    cost = measure_component_cost(unet, (x, t), repeats=1)

    def flops(plan) -> float:
        with intervene(unet, plan), FlopCounterMode(display=False) as c, torch.no_grad():
            unet(x, t)
        return float(c.get_total_flops())

    plain = flops([])
    assert flops([(Skip("mid.res.0"), None)]) == plain - cost["mid.res.0"]["flops"]  # identity shortcut
    block = unet.get_submodule("up.1.res.0")
    h = 4  # level 1 of an 8x8 input
    shortcut = 2 * 4 * h * h * block.in_ch * block.out_ch  # the 1x1 projection still runs
    assert flops([(Skip("up.1.res.0"), None)]) == plain - cost["up.1.res.0"]["flops"] + shortcut


def test_skip_on_diffusers(dunet, x, run_diffusers):
    pytest.importorskip("diffusers")
    reg = component_registry(dunet)
    clock = lambda: Clock(time_fn=lambda ts: ts / 1000)  # noqa: E731
    ts = (900, 500, 100)

    def oracle(name, replace):
        handle = reg[name].register_forward_hook(lambda m, a, o: replace(m, a))
        try:
            return run_diffusers(dunet, x, ts)
        finally:
            handle.remove()

    res = "up.0.resnets.0"  # concatenated input: a 1x1 conv_shortcut
    want = oracle(res, lambda m, a: m.conv_shortcut(a[0]) / m.output_scale_factor)
    calls, handles = _inner_calls(reg[res])
    with intervene(dunet, [(Skip(res), (0.0, 1.0))], clock()) as s:
        got = run_diffusers(dunet, x, ts)
    for h in handles:
        h.remove()
    assert all(torch.equal(a, b) for a, b in zip(got, want, strict=True))
    assert s.calls[res] == 0 and len(calls) == len(ts)  # only conv_shortcut ran
    attn = "down.1.attentions.0"
    want = oracle(attn, lambda m, a: a[0] / m.rescale_output_factor)
    with intervene(dunet, [(Skip(attn), (0.4, 1.0))], clock()) as s:
        got = run_diffusers(dunet, x, ts)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1]) and s.calls[attn] == 1
    with intervene(dunet, [(Skip("skip.1"), None)]):
        skipped = run_diffusers(dunet, x, ts)
    with intervene(dunet, [(Remove("skip.1"), None)]):
        zeroed = run_diffusers(dunet, x, ts)
    assert all(torch.equal(a, b) for a, b in zip(skipped, zeroed, strict=True))
    for name in ("down.0", "mid", "down.0.downsamplers.0"):
        with pytest.raises(DifflabError, match="no bypass"), intervene(dunet, [(Skip(name), None)]):
            pass
