"""Impact study: windowed removal changes only steps inside the window; exact replay; the impact map."""

import pytest
import torch

from difflab.analysis import Remove, StepWindow, intervene
from difflab.analysis.ablation import ablation_units, impact_study, step_windows, time_bounds
from difflab.analysis.target import SamplingTarget, ddim_sample, ddim_trajectory
from difflab.models.denoiser import Denoiser
from difflab.nn import DiffusersAdapter, UNet
from difflab.process.factory import build_process

STEPS = 12


@pytest.fixture(scope="module")
def target() -> SamplingTarget:
    torch.manual_seed(0)
    net = UNet(
        in_channels=1, base_channels=8, channel_mults=(1, 2), num_res_blocks=1, attention_levels=(1,), heads=2
    ).eval()
    return SamplingTarget.from_denoiser(Denoiser(net, build_process((1, 8, 8)), "v"))


def _record(target, x, times, interventions=()):
    states = []
    with intervene(target.network, list(interventions)):
        out = ddim_sample(target, x, times, callback=lambda i, t, s, xt, x0: states.append(x0.clone()))
    return out, states


def test_remove_in_window_changes_only_steps_inside(target):
    times, x = target.grid(STEPS), target.start(4, seed=3)
    _, base = _record(target, x, times)
    _, abl = _record(target, x, times, [(Remove("up.1.res.0"), time_bounds(times, 4, 8))])
    changed = [not torch.equal(a, b) for a, b in zip(abl, base, strict=True)]
    assert changed[:4] == [False] * 4  # before the window: bit-identical x̂₀
    assert all(changed[4:8])  # inside: the removed block changes x̂₀
    # after the window the state differs, so x̂₀ does too (the effect propagates)
    assert all(changed[8:])


def test_replay_from_cached_state_matches_full_run(target):
    times, x = target.grid(STEPS), target.start(4, seed=1)
    full, states = ddim_trajectory(target, x, times)
    assert len(states) == STEPS and torch.equal(states[0], x)
    replay = ddim_sample(target, states[6], times[6:])
    torch.testing.assert_close(replay, full, atol=1e-5, rtol=0)
    # ablated replay == ablated full run whose window starts at the same step
    with intervene(target.network, [(Remove("mid.attn"), StepWindow(6, 9))]):
        ablated_full = ddim_sample(target, x, times)
    with intervene(target.network, [(Remove("mid.attn"), StepWindow(0, 3))]):
        ablated_replay = ddim_sample(target, states[6], times[6:])
    torch.testing.assert_close(ablated_replay, ablated_full, atol=1e-5, rtol=0)
    assert (ablated_full - full).abs().max() > 1e-3


def test_windows_and_time_bounds_partition_the_grid(target):
    wins = step_windows(50, 10)
    assert wins[0] == (0, 5) and wins[-1] == (45, 50) and all(b == c for (_, b), (c, _) in zip(wins, wins[1:]))
    times = target.grid(50).tolist()
    for i, t in enumerate(times[:-1]):
        inside = [lo <= t <= hi for lo, hi in (time_bounds(torch.tensor(times), a, b) for a, b in wins)]
        assert sum(inside) == 1 and inside[next(j for j, (a, b) in enumerate(wins) if a <= i < b)]


def test_units_group_mid_and_skip_io(target):
    names = [u.name for u in ablation_units(target.network.components())]
    assert "mid" in names and "in_conv" not in names and "out" not in names and "skip.0.1" in names
    assert not any(n.startswith("mid.") for n in names)


def test_impact_study_map(target):
    heldout = torch.rand(64, 1, 8, 8) * 2 - 1
    res = impact_study(
        target,
        dataset="patches",
        heldout=heldout,
        steps=6,
        windows=3,
        n=16,
        units=[u for u in ablation_units(target.network.components()) if u.name in ("mid", "skip.0.1")],
    )
    pix = res.matrix("pixel_change")
    assert pix.shape == (2, 3) and (pix > 0).all()
    assert set(res.metrics["mid"][0]) >= {"mse", "psnr", "ssim", "fd_shift"}
    assert 0 < res.cost["mid"]["flops_frac"] < 1 and res.cost["mid"]["ms"] > 0


def test_diffusers_adapter_target(dunet):
    target = SamplingTarget(Denoiser(DiffusersAdapter(dunet), build_process((1, 8, 8)), "eps"), None, None)
    target = SamplingTarget.from_denoiser(target.denoiser)
    times, x = target.grid(4), target.start(2)
    _, base = _record(target, x, times)
    _, abl = _record(target, x, times, [(Remove("mid"), time_bounds(times, 2, 4))])
    assert [torch.equal(a, b) for a, b in zip(abl, base)] == [True, True, False, False]


def test_bypass_units_leave_out_resamplers_and_expand_diffusers_blocks(target, dunet):
    zero = {u.name: u.components for u in ablation_units(target.network.components())}
    bypass = {u.name: u.components for u in ablation_units(target.network.components(), "bypass")}
    assert "down.0.downsample" in zero and "down.0.downsample" not in bypass and "up.1.upsample" not in bypass
    assert {k: v for k, v in zero.items() if k in bypass} == bypass
    from difflab.analysis import component_registry

    dbypass = {u.name: u.components for u in ablation_units(component_registry(dunet), "bypass")}
    assert dbypass["down.1"] == ("down.1.resnets.0", "down.1.attentions.0")
    assert dbypass["mid"] == ("mid.resnets.0", "mid.attentions.0", "mid.resnets.1") and dbypass["skip.0"] == ("skip.0",)


def test_ddpm_impact_is_paired(target):
    from difflab.analysis.target import ddpm_sample

    times, x = target.grid(STEPS), target.start(4, seed=2)
    a = ddpm_sample(target, x, times, seed=2)
    assert torch.equal(a, ddpm_sample(target, x, times, seed=2))  # same noise streams: a rerun is identical
    assert not torch.equal(a, ddpm_sample(target, x, times, seed=3))
    res = impact_study(
        target,
        dataset="patches",
        heldout=torch.rand(64, 1, 8, 8) * 2 - 1,
        steps=6,
        windows=3,
        n=8,
        units=[u for u in ablation_units(target.network.components(), "bypass") if u.name == "mid"],
        removal="bypass",
        sampler="ddpm",
    )
    assert res.sampler == "ddpm" and res.removal == "bypass" and (res.matrix("pixel_change") > 0).all()
    with pytest.raises(Exception, match="sampler must be"):
        impact_study(target, dataset="patches", heldout=torch.zeros(4, 1, 8, 8), steps=2, windows=1, n=2, sampler="x")


def test_bypass_impact_on_a_diffusers_unet(dunet):
    target = SamplingTarget.from_denoiser(Denoiser(DiffusersAdapter(dunet), build_process((1, 8, 8)), "eps"))
    units = [u for u in ablation_units(target.network.components(), "bypass") if u.name in ("mid", "up.0")]
    res = impact_study(
        target,
        dataset="patches",
        heldout=torch.rand(32, 1, 8, 8) * 2 - 1,
        steps=4,
        windows=2,
        n=4,
        units=units,
        removal="bypass",
    )
    assert res.units["mid"] == ["mid.resnets.0", "mid.attentions.0", "mid.resnets.1"]
