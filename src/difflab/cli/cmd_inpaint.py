"""Fill in the unknown pixels of images from the model's conditional: the known pixels (mask 1) stay fixed.

Works with any run whose known pixels are components of its process: a pixel-basis run (any schedule, prior),
or any basis with one schedule and one prior scale for every component (a plain DDPM, an imported checkpoint).
"""

HELP = "inpaint: difflab inpaint RUN --input X.npy|X.png --mask M.npy|M.png --out OUT [--method replace|moment]"


def add_arguments(p):
    from difflab.cli.conditional import add_common_arguments

    add_common_arguments(p)
    p.add_argument("--input", required=True, help="images in the data's own range: (N, C, H, W) or one (C, H, W)")
    p.add_argument("--mask", required=True, help="1 where known, 0 elsewhere; broadcast over N and C")


def run(args):
    from difflab.cli.conditional import load_images, output_path, read_array, sample_settings, write_output
    from difflab.errors import DifflabError

    out = output_path(args, "inpaint")
    import torch

    from difflab.pipeline import generate, load_run
    from difflab.sampling.known import Known

    loaded = load_run(args.run, device=args.device)
    shape = tuple(loaded.denoiser.process.shape)
    x, single = load_images(loaded, args.input, "--input", shape)
    mask, is_png = read_array(args.mask, "--mask")
    if is_png:
        mask = (mask > 0.5) * 1.0 if ((mask == 0) | (mask == 1)).all() else mask
    if not ((mask == 0) | (mask == 1)).all():
        raise DifflabError("--mask must hold only 0 (unknown) and 1 (known)")
    mask = torch.as_tensor(mask, dtype=torch.float32)
    try:
        mask = torch.broadcast_to(mask, x.shape)
    except RuntimeError:
        raise DifflabError(
            f"--mask shaped {tuple(mask.shape)} does not broadcast to the input {tuple(x.shape)}; give (H, W), "
            "(C, H, W), (1, C, H, W) or (N, C, H, W)"
        ) from None
    settings = sample_settings(args, loaded)
    known = Known(x, mask, resample=args.resample, method=args.method)
    samples, nfe = generate(loaded, x.shape[0], known=known, **settings)
    write_output(loaded, samples, out, single)
    print(
        f"{x.shape[0]} inpainted ({int(mask[0].sum())} of {mask[0].numel()} values known, {settings['sampler']}, "
        f"{settings['steps']} steps, {args.method}, resample {args.resample}, {nfe} network calls each batch) "
        f"written to {out}"
    )
