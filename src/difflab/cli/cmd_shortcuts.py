"""Find a shortcut schedule (reuse cached deep features) under an FD budget; verify and save it as JSON."""

from pathlib import Path

from difflab.cli.common import add_device_argument, add_seed_argument, int_list, positive_int, run_output

HELP = "shortcuts: difflab shortcuts RUN --budget 0.05 [--out FILE] [--impact impact.json]"


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
    add_device_argument(p)


def run(args):
    from difflab.analysis.ablation import ImpactResult, impact_study
    from difflab.analysis.search import measure_speedup, search_schedule
    from difflab.analysis.target import run_target
    from difflab.errors import DifflabError
    from difflab.pipeline import load_run

    out = Path(args.out) if args.out else run_output(args.run, "shortcuts.json")
    if out.suffix != ".json":
        raise DifflabError(f"--out must end in .json, got {out.name}")
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
        )
    schedule = search_schedule(
        target, impact, heldout, budget=args.budget, periods=args.periods, grid=grid, progress=print
    )
    schedule.meta["run"] = str(args.run)
    if schedule.shortcuts:
        schedule.meta["measured"].update(
            measure_speedup(
                target, schedule, n=impact.n, steps=impact.steps, seed=impact.seed, repeats=args.repeats, grid=grid
            )
        )
    schedule.save(out)
    m = schedule.meta["measured"]
    if not schedule.shortcuts:
        print(f"no shortcut keeps the FD increase within {args.budget:.1%}; wrote an empty schedule to {out}")
    else:
        print(
            f"schedule written to {out}: expected saving {schedule.meta['expected_saving']:.1%} of network time, "
            f"FD shift {m['fd_shift']:+.2%}, wall-clock speed-up {m['speedup']:.2f}x (median of {args.repeats})"
        )
