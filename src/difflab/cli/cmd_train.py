"""Train a model from a YAML config (runs unchanged under torchrun)."""

from difflab.cli.common import add_config_arguments, check_data_options, print_config, resolve_config

HELP = "train a model: difflab train CONFIG [key=value ...] --out DIR"

EPILOG_TEMPLATE = """\
data: data.name picks the dataset, data.options.KEY=VALUE sets its options; a new data.name
drops the config's options for the old dataset. `difflab datasets` describes each one.
{datasets}
batch size: train.batch_size is per process; under torchrun the effective batch is
batch_size x grad_accum x nproc_per_node."""


def add_arguments(p):
    add_config_arguments(p)
    p.add_argument(
        "--out", required=False, help="run directory, required unless --dry-run (resumes if it holds this run)"
    )
    p.add_argument("--device", help="auto | cpu | cuda | cuda:N (default: the config's train.device)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    # The dataset table is read from the loaders only when --help is shown (it imports them).
    format_help = p.format_help

    def with_datasets() -> str:
        from difflab.cli.common import datasets_summary

        p.epilog = EPILOG_TEMPLATE.format(datasets=datasets_summary())
        return format_help()

    p.format_help = with_datasets


def run(args):
    overrides = list(args.overrides) + ([f"train.device={args.device}"] if args.device else [])
    cfg = resolve_config(args.config, overrides)
    if args.dry_run:
        print_config(cfg)
        print(f"# {check_data_options(cfg)}")
        return
    if not args.out:
        from difflab.errors import DifflabError

        raise DifflabError("--out DIR is required (where checkpoints and logs go)")
    import os

    from difflab.pipeline import train_run

    out = train_run(cfg, args.out, progress=not args.no_progress)
    if int(os.environ.get("RANK", "0")) == 0:  # once under torchrun
        print(f"run written to {out}")
