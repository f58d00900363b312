"""Shortcut caches follow the sampler's step: computed and served block counts under every sampler and guidance.

Schedule: one deep group, period 2, all of t. With 6 steps the key steps are 0, 2, 4: every network
call in a key step computes the group, every other call is served from the cache (unless the
cached input shape differs, e.g. where a guidance interval doubles the batch).
"""

import pytest
import torch

from difflab.analysis.shortcuts import Shortcut, ShortcutSchedule, deep_groups, shortcut_denoiser
from difflab.models.denoiser import Denoiser
from difflab.models.guidance import GuidedDenoiser
from difflab.nn import UNet
from difflab.process.factory import build_process
from difflab.process.noise import PerSampleNoise
from difflab.sampling import SAMPLERS, uniform

STEPS = 6
# (computed, served) per block for 6 steps, period 2: one call per step, or Heun's two (one on the last).
EXPECTED = {name: (3, 3) for name in SAMPLERS}
EXPECTED["heun"] = (6, 5)


def _denoiser(generator: bool = False, num_classes: int = 0) -> Denoiser:
    torch.manual_seed(0)
    net = UNet(
        in_channels=1,
        base_channels=8,
        channel_mults=(1, 2),
        num_res_blocks=1,
        attention_levels=(1,),
        heads=2,
        extra_channels=1 if generator else 0,
        num_classes=num_classes,
    ).eval()
    return Denoiser(net, build_process((1, 8, 8)), "v", generator_noise=generator)


def _schedule(den: Denoiser) -> ShortcutSchedule:
    return ShortcutSchedule([Shortcut(deep_groups(den.network.components())[-1], 0.0, 1.0, 2)])


def _run(sampler, den, wrap=lambda d: d, cond=None):
    sched = _schedule(den)
    group = sched.shortcuts[0].components
    x = den.process.prior_sample(3, PerSampleNoise([0, 1, 2]))
    with shortcut_denoiser(den, sched) as d, torch.no_grad():
        SAMPLERS[sampler](wrap(d), den.process, x, uniform(STEPS), noise=PerSampleNoise([5, 6, 7]), cond=cond)
    assert len(d.sessions) == 1, "one sampling run must be one cache session"
    (session,) = d.sessions
    counts = {(session.calls[c], session.served[c]) for c in group}
    assert len(counts) == 1
    return counts.pop()


@pytest.mark.parametrize("sampler", list(SAMPLERS))
def test_every_sampler_reuses_by_step(sampler):
    den = _denoiser(generator=sampler == "distributional")
    assert _run(sampler, den) == EXPECTED[sampler]


def test_heun_with_churn_keeps_one_session():
    # Churn moves t back up before a step; the step, not t, drives the cache.
    den = _denoiser()
    sched = _schedule(den)
    x = den.process.prior_sample(2, PerSampleNoise([0, 1]))
    with shortcut_denoiser(den, sched) as d, torch.no_grad():
        SAMPLERS["heun"](d, den.process, x, uniform(STEPS), noise=PerSampleNoise([3, 4]), s_churn=3.0)
        SAMPLERS["heun"](d, den.process, x, uniform(STEPS), noise=PerSampleNoise([3, 4]))
    assert len(d.sessions) == 2
    group = sched.shortcuts[0].components
    assert all((s.calls[c], s.served[c]) == EXPECTED["heun"] for s in d.sessions for c in group)


@pytest.mark.parametrize(
    "interval,expected",
    [
        ((0.0, 1.0), (3, 3)),  # every step is one batched (conditional, null) call: reuse as without guidance
        # Steps 1-3 (t = 5/6, 4/6, 3/6) are guided, 2B rows: step 1 cannot use step 0's B-row cache,
        # so it computes; steps 3 (2B) and 5 (B) are served.
        ((0.4, 0.9), (4, 2)),
    ],
)
def test_guidance_pairs_reuse(interval, expected):
    den = _denoiser(num_classes=10)
    labels = torch.tensor([1, 2, 3])
    got = _run("ddim", den, lambda d: GuidedDenoiser(d, 3.0, 10, interval), cond={"labels": labels})
    assert got == expected
