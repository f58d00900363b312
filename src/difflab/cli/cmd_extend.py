"""Image extension (GUD): generate columns beyond the training width by sliding the model's window.

Needs a pixel-basis run with a column-wise sequential schedule (``process.schedule: sequential``,
``axis: column``, finite softness): its columns are generated left to right, so each window is sampled
conditioned on the columns already there (the left part of the window, fixed as known pixels).
"""

HELP = "extend: difflab extend RUN --input X.npy|X.png --width W --out OUT [--new-columns K]"


def add_arguments(p):
    from difflab.cli.conditional import add_common_arguments

    add_common_arguments(p)
    p.add_argument("--input", required=True, help="images in the data's range: (N, C, H, w) or one (C, H, w)")
    p.add_argument("--width", type=int, required=True, help="output width W (> the input's width)")
    p.add_argument(
        "--new-columns", type=int, default=None, help="columns generated per window (default: half the run's width)"
    )


def check_extendable(process) -> None:
    """Raise unless ``process`` generates columns in order (pixel basis, sequential column schedule)."""
    import math

    from difflab.errors import DifflabError

    o = process.options
    if o is None or o.schedule != "sequential" or o.axis != "column" or math.isinf(o.softness):
        what = "unknown" if o is None else f"schedule {o.schedule!r}" + (f", axis {o.axis!r}" if o else "")
        raise DifflabError(
            f"extend needs a run trained with a column schedule (process.schedule=sequential, axis=column, finite "
            f"softness); this run has {what}"
        )
    if o.basis != "pixel":
        raise DifflabError(f"extend needs the pixel basis (columns are pixels); this run uses {o.basis!r}")


def run(args):
    from difflab.cli.conditional import load_images, output_path, sample_settings, write_output
    from difflab.errors import DifflabError

    out = output_path(args, "extend")
    import torch

    from difflab.pipeline import generate, load_run
    from difflab.sampling.known import Known

    loaded = load_run(args.run, device=args.device)
    process = loaded.denoiser.process
    check_extendable(process)
    c, h, w = process.shape
    x, single = load_images(loaded, args.input, "--input", (c, h, None))
    have = x.shape[-1]
    new = args.new_columns or max(1, w // 2)
    if not 1 <= new <= w - 1:
        raise DifflabError(f"--new-columns must be in [1, {w - 1}], got {new}")
    if args.width <= have:
        raise DifflabError(f"--width must exceed the input's width {have}, got {args.width}")
    settings = sample_settings(args, loaded)
    canvas = torch.zeros(x.shape[0], c, h, args.width)
    canvas[..., :have] = x
    window = 0
    while have < args.width:
        start = max(0, min(have - (w - new), args.width - w))
        mask = torch.zeros(1, c, h, w)
        mask[..., : have - start] = 1
        known = Known(canvas[..., start : start + w], mask, resample=args.resample, method=args.method)
        samples, _ = generate(loaded, x.shape[0], known=known, **{**settings, "seed": settings["seed"] + window})
        canvas[..., start : start + w] = samples
        have, window = start + w, window + 1
    write_output(loaded, canvas, out, single)
    print(f"{x.shape[0]} extended to width {args.width} in {window} windows of {w} columns, written to {out}")
