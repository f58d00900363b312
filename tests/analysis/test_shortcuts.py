"""Shortcut schedules: JSON round trip, validation, empty = bit-identical, reuse saves calls as planned."""

import json

import pytest
import torch

from difflab.analysis.shortcuts import (
    KeyedTimeWindow,
    Shortcut,
    ShortcutSchedule,
    deep_groups,
    load_schedule,
    shortcut_denoiser,
)
from difflab.analysis.target import SamplingTarget
from difflab.errors import DifflabError
from difflab.models.denoiser import Denoiser
from difflab.nn import UNet
from difflab.process.factory import build_process
from difflab.sampling import sample_ddim

STEPS = 12


@pytest.fixture(scope="module")
def target() -> SamplingTarget:
    torch.manual_seed(0)
    net = UNet(
        in_channels=1, base_channels=8, channel_mults=(1, 2), num_res_blocks=1, attention_levels=(1,), heads=2
    ).eval()
    return SamplingTarget.from_denoiser(Denoiser(net, build_process((1, 8, 8)), "v"))


def _sample(denoiser, target, seed=0):
    x = target.start(3, seed).float()
    with torch.no_grad():
        return sample_ddim(denoiser, target.process, x, target.grid(STEPS))


def test_json_round_trip(tmp_path):
    s = ShortcutSchedule([Shortcut(("mid.attn", "mid.res.1"), 0.1, 0.8, 3, 0.25)], {"budget": 0.05})
    path = s.save(tmp_path / "s.json")
    back = load_schedule(path)
    assert back.shortcuts == s.shortcuts and back.meta == {"budget": 0.05}
    assert json.loads(path.read_text())["shortcuts"][0]["components"] == ["mid.attn", "mid.res.1"]


def test_bad_schedules_raise(tmp_path, target):
    with pytest.raises(DifflabError, match="unknown component 'mid.atn'"):
        with shortcut_denoiser(target.denoiser, ShortcutSchedule([Shortcut(("mid.atn",), 0, 1, 2)])):
            pass
    with pytest.raises(DifflabError, match="overlap"):
        ShortcutSchedule([Shortcut(("mid.attn",), 0, 0.5, 2), Shortcut(("mid.attn",), 0.4, 1, 2)]).validate(
            target.network.components()
        )
    (tmp_path / "bad.json").write_text('{"version": 1, "shortcuts": [{"components": ["x"]}]}')
    with pytest.raises(DifflabError, match="malformed"):
        load_schedule(tmp_path / "bad.json")
    with pytest.raises(DifflabError, match="period"):
        KeyedTimeWindow(0.0, 1.0, 1)
    with pytest.raises(DifflabError, match="not found"):
        load_schedule(tmp_path / "missing.json")


def test_empty_schedule_is_bit_identical(target):
    base = _sample(target.denoiser, target)
    with shortcut_denoiser(target.denoiser, ShortcutSchedule()) as d:
        assert d is target.denoiser and torch.equal(_sample(d, target), base)
    # A schedule whose window never contains a grid time is installed but inert.
    inert = ShortcutSchedule([Shortcut(("mid.attn",), 0.001, 0.002, 2)])
    with shortcut_denoiser(target.denoiser, inert) as d:
        assert torch.equal(_sample(d, target), base) and d.sessions[0].calls["mid.attn"] == STEPS


def test_reuse_reduces_calls_as_planned(target):
    group = deep_groups(target.network.components())[-1]
    sched = ShortcutSchedule([Shortcut(group, 0.0, 1.0, 3)])
    base = _sample(target.denoiser, target)
    with shortcut_denoiser(target.denoiser, sched) as d:
        out = _sample(d, target)
        out2 = _sample(d, target, seed=1)  # a second run restarts clock and caches
    assert len(d.sessions) == 2
    for s in d.sessions:
        # key calls 0, 3, 6, 9 compute; the other 8 of 12 are served from the cache
        assert all(s.calls[c] == 4 for c in group) and all(s.served[c] == 8 for c in group)
    assert not torch.equal(out, base) and torch.isfinite(out2).all()
    # The shallow path still runs every step.
    assert d.sessions[0].calls.get("up.0.res.1", 0) == 0  # not targeted, so not counted


def test_deep_groups_are_nested_and_skip_free(target):
    groups = deep_groups(target.network.components())
    assert len(groups) == 3 and all(set(a) < set(b) for a, b in zip(groups, groups[1:]))
    assert not any(c.startswith("skip.") or c in ("in_conv", "out", "up.0.res.1") for g in groups for c in g)
    assert "mid.attn" in groups[0] and "up.0.res.0" in groups[-1]


def test_measure_speedup_times_the_plain_sampler_without_hooks(target, monkeypatch):
    """The baseline of a speed-up must compute every block; only the shortcut runs may reuse."""
    import difflab.analysis.search as search

    conv = (
        target.network.get_submodule("mid.res.0").conv1
        if hasattr(target.network.get_submodule("mid.res.0"), "conv1")
        else next(m for m in target.network.get_submodule("mid.res.0").modules() if isinstance(m, torch.nn.Conv2d))
    )
    computed = []
    handle = conv.register_forward_hook(lambda *_: computed.append(1))
    runs = []
    real = search.sample_ddim

    def counting(*args, **kwargs):
        before = len(computed)
        out = real(*args, **kwargs)
        runs.append(len(computed) - before)
        return out

    monkeypatch.setattr(search, "sample_ddim", counting)
    group = deep_groups(target.network.components())[0]
    schedule = ShortcutSchedule([Shortcut(tuple(group), 0.0, 1.0, 2, 0.0)], {})
    try:
        search.measure_speedup(target, schedule, n=2, steps=STEPS, repeats=2)
    finally:
        handle.remove()
    base, fast = runs[0::2], runs[1::2]
    assert all(b == STEPS for b in base), runs
    assert all(f < STEPS for f in fast), runs
