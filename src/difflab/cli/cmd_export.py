"""Copy a run's EMA weights and config into a fresh folder (inference only), or write it as a diffusers pipeline."""

HELP = "export: difflab export RUN --out DIR [--format diffusers] (inference-only copy, or a DDPMPipeline folder)"


def add_arguments(p):
    p.add_argument("run", help="run directory or checkpoint folder")
    p.add_argument(
        "--out",
        required=True,
        help="new folder (required: an export is a new run); load it like any run (or with diffusers)",
    )
    p.add_argument(
        "--format",
        choices=("difflab", "diffusers"),
        default="difflab",
        help="difflab: a run folder (default); diffusers: a folder DDPMPipeline.from_pretrained loads "
        "(network.kind diffusers, pixel basis, white prior, scalar schedule)",
    )


def run(args) -> None:
    from difflab.pipeline.run import export_run

    saved = export_run(args.run, args.out, format=args.format)
    print(f"exported {saved}")
