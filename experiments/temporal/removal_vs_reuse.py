"""Removal vs reuse vs both shortcut schedules, chosen on one sample set and reported on others (issue 16, items 4-5).

Needs a bypass impact map of the run (``experiments/temporal/impact_maps.py``): its n fixed-seed
samples (seed 0) are the *selection* set. For each budget:

- ``removal`` (Prasad et al.'s mechanism: blocks skipped for their bypass in low-impact windows),
- ``both`` (the best reuse schedule, then removal of the other units); the reuse-only winner
  (DeepCache-style) is read off the same search's reuse trials, so reuse is not searched twice,

then each winner's wall-clock speed-up (median of alternating runs against the unmodified sampler)
and its FD shift on ``--report-sets`` separate sample sets (seeds 1000..), with the FD noise
(the plain model's FD spread between sets, and FD between two plain sets).

    nice -n 10 python experiments/temporal/removal_vs_reuse.py runs/digits \
        --impact runs/temporal_removal/impact_ddim_bypass.json --out runs/temporal_removal/compare
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from difflab.analysis.ablation import ImpactResult
from difflab.analysis.search import build_schedule, measure_speedup, report_schedule, search_schedule, time_shares
from difflab.analysis.shortcuts import ShortcutSchedule
from difflab.analysis.target import run_target
from difflab.pipeline import load_run


def reuse_winner(schedule: ShortcutSchedule, impact: ImpactResult, shares: dict) -> ShortcutSchedule | None:
    """The best in-budget reuse trial of a ``both`` search, rebuilt as a schedule."""
    ok = [t for t in schedule.meta["trials"] if t.get("mechanism") == "reuse" and t["ok"] and t["windows"]]
    if not ok:
        return None
    t = max(ok, key=lambda t: t["expected_saving"])
    frac = min(1.0, sum(shares[c] for c in t["group"]))
    sched = build_schedule(impact, t["group"], t["windows"], t["period"], frac)
    sched.meta.update(mechanism="reuse", measured={k: t[k] for k in ("fd", "fd_shift", "ssim") if k in t})
    return sched


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run")
    p.add_argument("--impact", required=True)
    p.add_argument("--budgets", default="0.05")
    p.add_argument("--periods", default="2,3")
    p.add_argument("--report-sets", type=int, default=3)
    p.add_argument("--report-n", type=int, default=0, help="samples per report set (default: the impact map's n)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default="runs/temporal_removal/compare")
    args = p.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    loaded = load_run(args.run, device="cpu")
    target, heldout, name = run_target(loaded)
    impact = ImpactResult.load(args.impact)
    grid = loaded.cfg.sample.grid
    periods = [int(x) for x in args.periods.split(",")]
    seeds = [impact.seed + 1000 + i for i in range(args.report_sets)]
    n_rep = args.report_n or impact.n
    shares = time_shares(target, impact.n)
    rows = []
    for budget in (float(b) for b in args.budgets.split(",")):
        found = {}
        for mech in ("removal", "both"):
            print(f"== budget {budget:.1%}: {mech}", flush=True)
            found[mech] = search_schedule(
                target,
                impact,
                heldout,
                budget=budget,
                periods=periods,
                grid=grid,
                progress=lambda s: print("  " + s, flush=True),
                mechanism=mech,
            )
            found[mech].save(out / f"schedule_{mech}_{budget:g}.json")
        reuse = reuse_winner(found["both"], impact, shares)
        if reuse is not None:
            found["reuse"] = reuse
        for mech, sched in found.items():
            if not sched.shortcuts:
                rows.append({"budget": budget, "mechanism": mech, "empty": True})
                continue
            speed = measure_speedup(
                target, sched, n=impact.n, steps=impact.steps, seed=impact.seed, repeats=args.repeats, grid=grid
            )
            rep = report_schedule(target, sched, heldout, name, n=n_rep, steps=impact.steps, seeds=seeds, grid=grid)
            row = {
                "budget": budget,
                "mechanism": mech,
                "shortcuts": [
                    {"components": list(s.components), "t_lo": s.t_lo, "t_hi": s.t_hi, "mechanism": s.mechanism}
                    for s in sched.shortcuts
                ],
                "expected_saving": sched.meta["expected_saving"],
                "selection": {k: sched.meta["measured"].get(k) for k in ("fd", "fd_shift", "ssim", "label_change")},
                **speed,
                "report": rep,
            }
            rows.append(row)
            print(
                f"{mech} @ {budget:.0%}: saving {row['expected_saving']:.1%}, speed-up {speed['speedup']:.2f}x, "
                f"selection FD shift {row['selection']['fd_shift']:+.2%}, report {rep['fd_shift_mean']:+.2%} "
                f"± {rep['fd_shift_ci95']:.2%} (sets {[round(x, 4) for x in rep['fd_shift']]}), "
                f"plain FD rel. std {rep['fd_plain_rel_std']:.1%}",
                flush=True,
            )
            (out / "summary.json").write_text(json.dumps(rows, indent=1))
        trials = {m: s.meta["trials"] for m, s in found.items() if m != "reuse"}
        (out / f"trials_{budget:g}.json").write_text(json.dumps(trials, indent=1))


if __name__ == "__main__":
    main()
