"""Train a model from a YAML config (runs unchanged under torchrun)."""

from difflab.cli.common import add_config_arguments, print_config, resolve_config

HELP = "train a model: difflab train CONFIG [key=value ...] --out DIR"


def add_arguments(p):
    add_config_arguments(p)
    p.add_argument("--out", required=False, help="run directory (resumes if it holds this run)")
    p.add_argument("--device", help="cpu | cuda | cuda:N (overrides train.device)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args):
    overrides = list(args.overrides) + ([f"train.device={args.device}"] if args.device else [])
    cfg = resolve_config(args.config, overrides)
    if args.dry_run:
        print_config(cfg)
        return
    if not args.out:
        from difflab.errors import DifflabError

        raise DifflabError("--out DIR is required (where checkpoints and logs go)")
    from difflab.pipeline import train_run

    out = train_run(cfg, args.out, progress=not args.no_progress)
    print(f"run written to {out}")
