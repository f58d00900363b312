"""Removal shortcuts (skip schedules), the removal/reuse/both search and its separate report sets."""

import pytest
import torch

from difflab.analysis.ablation import ImpactResult, ablation_units, impact_study, step_windows, time_bounds
from difflab.analysis.search import removal_cells, removal_schedule, report_schedule, sample_with, search_schedule
from difflab.analysis.shortcuts import Shortcut, ShortcutSchedule, load_schedule, shortcut_denoiser
from difflab.analysis.target import SamplingTarget
from difflab.errors import DifflabError
from difflab.models.denoiser import Denoiser
from difflab.nn import UNet
from difflab.process.factory import build_process

STEPS = 8


@pytest.fixture(scope="module")
def target() -> SamplingTarget:
    torch.manual_seed(0)
    net = UNet(
        in_channels=1, base_channels=8, channel_mults=(1, 2), num_res_blocks=1, attention_levels=(1,), heads=2
    ).eval()
    return SamplingTarget.from_denoiser(Denoiser(net, build_process((1, 8, 8)), "v"))


def _impact(target, units: dict[str, list[str]], pixel: dict[str, list[float]], frac: dict[str, float]):
    times, wins = target.grid(STEPS), step_windows(STEPS, 4)
    res = ImpactResult("patches", 4, 0, STEPS, wins, [time_bounds(times, a, b) for a, b in wins], units)
    res.metrics = {u: [{"pixel_change": v} for v in pixel[u]] for u in units}
    res.cost = {u: {"ms_frac": frac[u], "ms": 1.0, "flops": 1.0, "flops_frac": frac[u]} for u in units}
    res.removal = "bypass"
    return res


def test_cells_rank_impact_per_time_saved_and_skip_cheap_units(target):
    units = {"a": ["mid.res.0"], "b": ["up.1.res.0"], "s": ["skip.0.0"]}
    pixel = {"a": [0.4, 0.1, 0.2, 0.3], "b": [0.1, 0.1, 0.1, 0.9], "s": [0.0] * 4}
    res = _impact(target, units, pixel, {"a": 0.1, "b": 0.5, "s": 0.0})
    cells = removal_cells(res)
    assert ("s", 0) not in cells and len(cells) == 8  # a skip saves no time: never a candidate
    assert cells[:3] == [("b", 0), ("b", 1), ("b", 2)]  # 0.1 / 0.5 beats 0.1 / 0.1
    assert removal_cells(res, exclude=["up.1.res.0"]) == [("a", 1), ("a", 2), ("a", 3), ("a", 0)]
    sched = removal_schedule(res, [("b", 0), ("b", 1), ("a", 3)])
    # contiguous windows of one unit merge into one range; expected saving = time share x covered steps
    assert [(s.components, s.mechanism, s.period) for s in sched.shortcuts] == [
        (("up.1.res.0",), "skip", 1),
        (("mid.res.0",), "skip", 1),
    ]
    assert sched.shortcuts[0].t_hi == 1.0 and sched.shortcuts[1].t_lo == 0.0
    assert sched.meta["expected_saving"] == pytest.approx(0.5 * 4 / STEPS + 0.1 * 2 / STEPS)
    sched.validate(target.network.components())


def test_skip_schedule_round_trip_and_counts(tmp_path, target):
    sched = ShortcutSchedule([Shortcut(("up.1.res.0", "mid.attn"), 0.0, 0.5, 1, 0.1, "skip")])
    back = load_schedule(sched.save(tmp_path / "s.json"))
    assert back.shortcuts == sched.shortcuts
    x = target.start(2, 0).float()
    times = target.grid(STEPS)
    with shortcut_denoiser(target.denoiser, back) as d, torch.no_grad():
        from difflab.sampling import sample_ddim

        sample_ddim(d, target.process, x, times)
    inside = sum(1 for t in times[:-1].tolist() if t <= 0.5)
    s = d.sessions[0]
    assert s.skipped["up.1.res.0"] == inside and s.calls["up.1.res.0"] == STEPS - inside
    with pytest.raises(DifflabError, match="period must be 1"):
        Shortcut(("mid.attn",), 0, 1, 2, 0.0, "skip").window()
    with pytest.raises(DifflabError, match="mechanism"):
        Shortcut(("mid.attn",), 0, 1, 2, 0.0, "drop").window()


def test_search_mechanisms_and_separate_report(target):
    heldout = torch.rand(32, 1, 8, 8) * 2 - 1
    units = [u for u in ablation_units(target.network.components(), "bypass") if u.name in ("mid", "up.1.res.0")]
    kw = dict(dataset="patches", heldout=heldout, steps=STEPS, windows=2, n=8, units=units)
    zero = impact_study(target, **kw)
    with pytest.raises(DifflabError, match="bypass impact map"):
        search_schedule(target, zero, heldout, mechanism="removal")
    impact = impact_study(target, removal="bypass", **kw)
    for cost in impact.cost.values():  # measured times depend on the machine's load: fix them
        cost["ms_frac"] = 0.3
    # An untrained net: any removal moves the FD; a huge budget lets the search take every cell.
    sched = search_schedule(target, impact, heldout, budget=1e9, mechanism="removal")
    assert sched.meta["mechanism"] == "removal" and all(s.mechanism == "skip" for s in sched.shortcuts)
    assert {c for s in sched.shortcuts for c in s.components} == {c for u in units for c in u.components}
    assert sched.meta["trials"][-1]["ok"]
    both = search_schedule(target, impact, heldout, budget=1e9, periods=(2,), mechanism="both")
    kinds = {s.mechanism for s in both.shortcuts}
    assert "reuse" in kinds  # the reuse part comes first; removal only adds units outside its group
    reused = {c for s in both.shortcuts if s.mechanism == "reuse" for c in s.components}
    assert not reused & {c for s in both.shortcuts if s.mechanism == "skip" for c in s.components}
    none = search_schedule(target, impact, heldout, budget=0.0, mechanism="removal")
    assert none.shortcuts == [] or none.meta["measured"]["fd_shift"] <= 0.0
    with pytest.raises(DifflabError, match="mechanism"):
        search_schedule(target, impact, heldout, mechanism="drop")

    rep = report_schedule(target, sched, heldout, "patches", n=8, steps=STEPS, seeds=[11, 12, 13])
    assert len(rep["fd_shift"]) == 3 and rep["fd_shift_ci95"] > 0 and len(rep["fd_between_plain_sets"]) == 2
    # The report's per-set shift is the FD of the schedule's samples over the plain samples' FD, same seeds.
    x, times = target.start(8, 12), target.grid(STEPS)
    plain, _ = sample_with(target, None, x, times)
    from difflab.analysis.impact import ImpactScorer

    fast, _ = sample_with(target, sched, x, times)
    assert rep["fd_shift"][1] == pytest.approx(ImpactScorer(plain, heldout, "patches").score(fast)["fd_shift"])
    with pytest.raises(DifflabError, match="at least 2"):
        report_schedule(target, sched, heldout, "patches", n=8, steps=STEPS, seeds=[1])
