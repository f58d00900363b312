"""Copy a run's EMA weights and config into a fresh folder, without optimizer state (for sharing or serving)."""

HELP = "export: difflab export RUN --out DIR (inference-only copy, ~1/4 the size)"


def add_arguments(p):
    p.add_argument("run", help="run directory or checkpoint folder")
    p.add_argument("--out", required=True, help="new folder (required: an export is a new run); load it like any run")


def run(args) -> None:
    from difflab.pipeline.run import export_run

    saved = export_run(args.run, args.out)
    print(f"exported {saved}")
