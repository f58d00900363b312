"""Super-resolution: a low-resolution image fixes the coarse band, the model generates the detail.

Eligible runs: Haar (levels >= log2 of the factor) or DCT, with any schedule and prior; or any run with one
schedule and one prior scale for every component (e.g. a plain pixel DDPM), where the f x f block means are fixed.
"""

HELP = "upsample: difflab upsample RUN --input LOWRES.npy|.png --out OUT [--resample N] [--method replace|moment]"


def add_arguments(p):
    from difflab.cli.conditional import add_common_arguments

    add_common_arguments(p)
    p.add_argument("--input", required=True, help="low-res images in the data's range: (N, C, H/f, W/f) or one")


def run(args):
    from difflab.cli.conditional import load_images, output_path, sample_settings, write_output

    out = output_path(args, "upsample")
    from difflab.pipeline import generate, load_run
    from difflab.sampling.known import coarse_known

    loaded = load_run(args.run, device=args.device)
    process = loaded.denoiser.process
    c = process.shape[0] if len(process.shape) == 3 else None
    low, single = load_images(loaded, args.input, "--input", (c, None, None))
    known = coarse_known(process, low, resample=args.resample, method=args.method)
    settings = sample_settings(args, loaded)
    samples, nfe = generate(loaded, low.shape[0], known=known, **settings)
    write_output(loaded, samples, out, single)
    print(
        f"{low.shape[0]} upsampled {tuple(low.shape[2:])} -> {tuple(samples.shape[2:])} ({settings['sampler']}, "
        f"{settings['steps']} steps, {args.method}, {nfe} network calls each batch) written to {out}"
    )
