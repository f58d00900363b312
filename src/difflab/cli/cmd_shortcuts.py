"""Find a shortcut schedule (skip blocks, reuse cached deep features, or both) under an FD budget; save it as JSON.

The search selects on the impact map's sample set; the saved schedule's ``meta.report`` holds its FD shift on
``--report-sets`` separate sample sets (mean, std, 95 % interval) and the FD's own noise between sets.
"""

from pathlib import Path

from difflab.cli.common import (
    add_device_argument,
    add_seed_argument,
    int_list,
    non_negative_int,
    positive_int,
    run_output,
)

HELP = "shortcuts: difflab shortcuts RUN --budget 0.05 [--mechanism reuse|removal|both] [--out FILE]"
REPORT_SEED_OFFSET = 1000  # report sets use seeds SEED+1000, SEED+1001, ...: never the selection set's


def add_arguments(p):
    p.add_argument("run", help="run directory or checkpoint folder")
    p.add_argument("--budget", type=float, default=0.05, help="allowed relative FD increase")
    p.add_argument("--out", default=None, help="schedule .json (default: RUN/shortcuts.json)")
    p.add_argument("--impact", default=None, help="impact.json from `difflab ablate` (default: computed here)")
    p.add_argument("--steps", type=positive_int, default=50, help="DDIM steps (when the impact map is computed here)")
    p.add_argument("--windows", type=positive_int, default=10, help="equal time windows (idem)")
    p.add_argument("--n", type=positive_int, default=256, help="samples scored per trial (idem)")
    add_seed_argument(p)
    p.add_argument("--periods", type=int_list, default=[2, 3, 4, 5], help="refresh periods to try")
    p.add_argument("--repeats", type=positive_int, default=5, help="timed repeats for the speed-up")
    p.add_argument(
        "--mechanism",
        choices=["reuse", "removal", "both"],
        default="reuse",
        help="reuse: serve cached deep-group outputs (DeepCache); removal: skip blocks for their bypass in "
        "low-impact windows (Prasad et al.); both: reuse, then removal of the other units",
    )
    p.add_argument(
        "--report-sets",
        type=non_negative_int,
        default=3,
        help="separate sample sets (seeds SEED+1000..) the chosen schedule is reported on; 0 = none, else >= 2",
    )
    add_device_argument(p)


def run(args):
    from difflab.analysis.ablation import ImpactResult, impact_study
    from difflab.analysis.search import measure_speedup, report_schedule, search_schedule
    from difflab.analysis.target import run_target
    from difflab.errors import DifflabError
    from difflab.pipeline import load_run

    out = Path(args.out) if args.out else run_output(args.run, "shortcuts.json")
    if out.suffix != ".json":
        raise DifflabError(f"--out must end in .json, got {out.name}")
    if args.report_sets == 1:
        raise DifflabError("--report-sets must be 0 or at least 2 (the FD noise needs two sets)")
    loaded = load_run(args.run, device=args.device)
    target, heldout, name = run_target(loaded)
    grid = loaded.cfg.sample.grid  # the run's own grid, as `difflab ablate` uses (imported: the scheduler's spacing)
    if args.impact:
        if not Path(args.impact).is_file():
            raise DifflabError(f"impact file not found: {args.impact}")
        impact = ImpactResult.load(args.impact)
    else:
        impact = impact_study(
            target,
            dataset=name,
            heldout=heldout,
            steps=args.steps,
            windows=args.windows,
            n=args.n,
            seed=args.seed,
            grid=grid,
            removal="zero" if args.mechanism == "reuse" else "bypass",
        )
    schedule = search_schedule(
        target,
        impact,
        heldout,
        budget=args.budget,
        periods=args.periods,
        grid=grid,
        progress=print,
        mechanism=args.mechanism,
    )
    schedule.meta["run"] = str(args.run)
    if schedule.shortcuts:
        schedule.meta["measured"].update(
            measure_speedup(
                target, schedule, n=impact.n, steps=impact.steps, seed=impact.seed, repeats=args.repeats, grid=grid
            )
        )
        if args.report_sets:
            seeds = [impact.seed + REPORT_SEED_OFFSET + i for i in range(args.report_sets)]
            schedule.meta["report"] = report_schedule(
                target, schedule, heldout, name, n=impact.n, steps=impact.steps, seeds=seeds, grid=grid
            )
    schedule.save(out)
    m = schedule.meta["measured"]
    if not schedule.shortcuts:
        print(f"no shortcut keeps the FD increase within {args.budget:.1%}; wrote an empty schedule to {out}")
    else:
        print(
            f"schedule written to {out}: expected saving {schedule.meta['expected_saving']:.1%} of network time, "
            f"FD shift {m['fd_shift']:+.2%} on the selection set, wall-clock speed-up {m['speedup']:.2f}x "
            f"(median of {args.repeats})"
        )
        if "report" in schedule.meta:
            r = schedule.meta["report"]
            print(
                f"on {len(r['seeds'])} separate sets of n={r['n']}: FD shift {r['fd_shift_mean']:+.2%} "
                f"± {r['fd_shift_ci95']:.2%} (95% interval); "
                f"plain FD varies by {r['fd_plain_rel_std']:.1%} between sets"
            )
