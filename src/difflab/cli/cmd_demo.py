"""The main job on the bundled digits, from the CLI.

Train a few minutes, sample with several samplers at several step counts, evaluate, and write a run
directory with a report.
"""

from difflab.cli.common import int_list, str_list

HELP = "train, sample and evaluate on the bundled digits; writes a report"


def add_arguments(p):
    p.add_argument("overrides", nargs="*", metavar="key=value", help="dotted overrides of the demo config")
    p.add_argument("--out", default="runs/demo", help="run directory (resumes if it holds this run)")
    p.add_argument("--steps", type=int_list, default=None, help="step counts to evaluate (default: 4,8,16,32)")
    p.add_argument("--sampler", type=str_list, default=None, help="samplers (default: ddim,heun,dpmpp2m)")
    p.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (the expected time is not printed)")


def run(args):
    from difflab.cli.common import print_config
    from difflab.pipeline.demo import demo_config, run_demo

    if args.dry_run:
        from difflab.cli.common import check_data_options

        cfg = demo_config(args.overrides)
        print_config(cfg)
        print(f"# {check_data_options(cfg)}")
        return
    report = run_demo(
        args.out, overrides=args.overrides, steps=args.steps, samplers=args.sampler, progress=not args.no_progress
    )
    out = report.parent
    print(
        f"\ndemo finished. Open {report}\n  samples: {out}/samples_*.png\n  metrics: {out}/metrics.json\n"
        f"  curve:   {out}/quality_vs_steps.png"
    )
