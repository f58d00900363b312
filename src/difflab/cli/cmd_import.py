"""Import a pretrained diffusers checkpoint (UNet2DModel + its scheduler config) as a difflab run."""

HELP = "import: difflab import DIR --out RUN [--data NAME] (a diffusers folder -> a difflab run)"


def add_arguments(p):
    p.add_argument("folder", help="diffusers pipeline folder (model_index.json, unet/, scheduler/) or model folder")
    p.add_argument("--out", required=True, help="new run directory")
    p.add_argument(
        "--data",
        default=None,
        help="dataset whose normaliser decodes samples (and evaluate compares with); default: the model's [-1, 1]",
    )


def run(args) -> None:
    from difflab.pipeline.run import import_diffusers

    saved = import_diffusers(args.folder, args.out, data=args.data)
    print(f"imported {saved}")
