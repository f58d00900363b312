"""Time-windowed Remove / Reuse / Identity interventions and their clean-up."""

import pytest
import torch

from difflab.analysis import Clock, Identity, Remove, Reuse, StepWindow, component_registry, intervene
from difflab.errors import DifflabError

TIMES = (0.9, 0.7, 0.5, 0.3, 0.1)


def _same(a, b) -> bool:
    return all(torch.equal(u, v) for u, v in zip(a, b, strict=True))


def test_noop_is_bit_identical(unet, dunet, x, run, run_diffusers):
    base = run(unet, x)
    with intervene(unet, []):
        assert _same(run(unet, x), base)
    with intervene(unet, [(Identity(n), None) for n in unet.components()]) as s:
        assert _same(run(unet, x), base)
    assert all(s.calls[n] == len(TIMES) for n in unet.components())
    dbase = run_diffusers(dunet, x)
    with intervene(dunet, [(Identity(n), None) for n in component_registry(dunet)]):
        assert _same(run_diffusers(dunet, x), dbase)


def test_remove_only_inside_time_window(unet, x, run):
    base = run(unet, x)
    with intervene(unet, [(Remove("mid.attn"), (0.4, 0.8))]):
        out = run(unet, x)
    inside = [0.4 <= t <= 0.8 for t in TIMES]
    for o, b, hit in zip(out, base, inside, strict=True):
        assert torch.equal(o, b) != hit


def test_remove_skip_equals_zeroing_it(unet, x, run):
    handle = unet.skip[0][0].register_forward_hook(lambda m, a, o: torch.zeros_like(o))
    oracle = run(unet, x, (0.5,))
    handle.remove()
    with intervene(unet, [(Remove("skip.0.0"), None)]):
        out = run(unet, x, (0.5,))
    assert torch.equal(out[0], oracle[0]) and not torch.equal(out[0], run(unet, x, (0.5,))[0])


def test_reuse_serves_cache_without_computing(unet, x, run):
    attn = unet.get_submodule("mid.attn")
    inner = next(m for m in attn.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.Linear))
    inner_calls, seen = [], []
    h1 = inner.register_forward_hook(lambda *a: inner_calls.append(1))
    h2 = attn.register_forward_hook(lambda m, a, o: seen.append(o))
    with intervene(unet, [(Reuse("mid.attn"), (0.0, 0.6))]) as s:
        out = run(unet, x)
    h1.remove(), h2.remove()
    # t = 0.9, 0.7 compute (refreshing the cache); 0.5, 0.3, 0.1 are served the t = 0.7 output.
    assert s.calls["mid.attn"] == 2 and s.served["mid.attn"] == 3 and len(inner_calls) == 2
    # The served tensor is the (detached) t = 0.7 output itself, not a recomputation.
    assert seen[2] is seen[3] is seen[4] and seen[2].data_ptr() == seen[1].data_ptr()
    # Oracle: the whole model at t = 0.5 with mid.attn's output replaced by the cached tensor.
    cached = seen[1]
    h = attn.register_forward_hook(lambda m, a, o: cached)
    oracle = run(unet, x, (0.5,))[0]
    h.remove()
    assert torch.equal(out[2], oracle) and not torch.equal(out[2], run(unet, x, (0.5,))[0])


def test_reuse_by_step_window_on_diffusers_block(dunet, x, run_diffusers):
    base = run_diffusers(dunet, x, (900, 500, 100, 50))
    with intervene(dunet, [(Reuse("down.1"), range(1, 3))], count=["down.1.resnets.0"]) as s:
        out = run_diffusers(dunet, x, (900, 500, 100, 50))
    assert s.calls["down.1"] == 2 and s.calls["down.1.resnets.0"] == 2 and s.served["down.1"] == 2
    assert torch.equal(out[0], base[0]) and torch.equal(out[3], base[3])
    assert not torch.equal(out[1], base[1])


def test_reuse_without_cache_computes(unet, x, run):
    with intervene(unet, [(Reuse("mid.res.0"), StepWindow(0, 2))]) as s:
        run(unet, x, (0.9, 0.8))
    assert s.calls["mid.res.0"] == 1 and s.served["mid.res.0"] == 1


def test_remove_diffusers_skip_with_time_fn(dunet, x, run_diffusers):
    base = run_diffusers(dunet, x)
    with intervene(dunet, [(Remove("skip.0"), (0.4, 1.0))], Clock(time_fn=lambda ts: ts / 1000)) as s:
        out = run_diffusers(dunet, x)
    assert not torch.equal(out[0], base[0]) and not torch.equal(out[1], base[1])
    assert torch.equal(out[2], base[2]) and s.calls["skip.0"] == 3
    with pytest.raises(DifflabError, match="time_fn"), intervene(dunet, [(Remove("skip.0"), (0.4, 1.0))]):
        run_diffusers(dunet, x)


def test_hooks_gone_after_exit_even_on_error(unet, dunet, x, run, run_diffusers, hook_state):
    for model, go in ((unet, lambda: run(unet, x)), (dunet, lambda: run_diffusers(dunet, x))):
        before, base = hook_state(model), go()
        names = list(component_registry(model))
        plan = [(Reuse(names[1]), (0.0, 0.5)), (Remove(names[-2]), range(1, 2))]
        with pytest.raises(RuntimeError, match="boom"), intervene(model, plan, Clock(lambda t: min(t, 1.0))):
            go()
            raise RuntimeError("boom")
        assert hook_state(model) == before and _same(go(), base)


def test_user_errors(unet, x, run):
    with pytest.raises(DifflabError, match="close names"), intervene(unet, [(Remove("mid.atn"), None)]):
        pass
    with (
        pytest.raises(DifflabError, match="disjoint"),
        intervene(unet, [(Remove("mid.attn"), (0.0, 0.6)), (Reuse("mid.attn"), range(0, 9))]),
    ):
        run(unet, x, (0.5,))
    with pytest.raises(DifflabError, match="shared t"), intervene(unet, [(Remove("mid.attn"), (0.0, 0.6))]):
        unet(x, torch.tensor([0.2, 0.4]))
    with pytest.raises(DifflabError, match="t_lo"):
        intervene(unet, [(Remove("mid.attn"), (0.7, 0.2))]).__enter__()
