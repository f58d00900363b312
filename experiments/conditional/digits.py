"""Conditional generation on digits with a plain pixel DDPM-style run (not trained for it).

Figures (inpainting of the right half, 2x super-resolution) and the quality numbers: the shipped digits
classifier's label agreement between a completion of the right half and the original image, against the
agreement of two independent completions, on the 360 test images, for 3 seeds (mean ± std).

    PYTHONPATH=src python experiments/conditional/digits.py --run runs/demo --out docs/figures/conditional
    PYTHONPATH=src python experiments/conditional/digits.py --run runs/demo --method moment --seeds 0 --no-figures
    PYTHONPATH=src python experiments/conditional/digits.py --run runs/demo --unconditional --no-figures

``--unconditional`` scores plain (unconditional) samples the same way: the chance level of both agreements.
``--run`` may be any run ``load_run`` reads, e.g. an imported diffusers folder (``--prefix`` names its figures).
Each seed's line carries its wall time in seconds (``seconds``: both completions of that seed) and the
network calls per completion (``nfe``; with ``--resample N``: steps + N·(steps − 1), as RePaint rounds
skip the last step).
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from difflab.data.digits import load_digits
from difflab.metrics.digits_classifier import load_digits_classifier
from difflab.models import generate, load_run
from difflab.report.image_grid import save_image_grid
from difflab.sampling.known import Known, coarse_known


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--run", default="runs/demo")
    p.add_argument("--out", default="docs/figures/conditional")
    p.add_argument("--steps", type=int, default=32)
    p.add_argument("--sampler", default="ddpm")
    p.add_argument("--resample", type=int, default=0)
    p.add_argument("--method", choices=("replace", "moment"), default="replace")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--n", type=int, default=None, help="use n test images (default: all 360)")
    p.add_argument("--start", type=int, default=0, help="index of the first test image used (for chunked runs)")
    p.add_argument("--no-figures", action="store_true", help="only the agreement numbers")
    p.add_argument("--unconditional", action="store_true", help="score plain samples (chance reference)")
    p.add_argument("--prefix", default="", help="prefix of the figure file names")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    run = load_run(args.run)
    test = load_digits().test
    test = test[args.start :] if args.n is None else test[args.start : args.start + args.n]
    clf = load_digits_classifier()
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :4] = 1
    known = Known(test, mask, resample=args.resample, method=args.method)
    tag = "" if args.method == "replace" else f"_{args.method}"
    # The chance reference: the same two agreements for samples that never saw the known half.
    cond = {} if args.unconditional else {"known": known}
    kw = {"steps": args.steps, "sampler": args.sampler}
    truth = clf.predict(test.numpy())
    rows, labels = [], []
    for seed in args.seeds:
        t0 = time.perf_counter()
        a, nfe = generate(run, len(test), seed=seed, **cond, **kw)
        b, _ = generate(run, len(test), seed=seed + 1000, **cond, **kw)
        seconds = time.perf_counter() - t0
        la, lb = clf.predict(a.numpy()), clf.predict(b.numpy())
        rows.append(
            {
                "seed": seed,
                "completion_vs_original": float((la == truth).float().mean()),
                "completion_vs_completion": float((la == lb).float().mean()),
                "seconds": round(seconds, 1),
                "nfe": nfe,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
        labels.append({"seed": seed, "a": la.tolist(), "b": lb.tolist()})
        if seed == args.seeds[0] and not args.no_figures and not args.unconditional:
            show = torch.cat([test[:12], (test[:12] * mask) - (1 - mask), a[:12], b[:12]])
            save_image_grid(show, out / f"{args.prefix}inpaint_right_half{tag}.png", nrow=12)
            low = test[:12].reshape(12, 1, 4, 2, 4, 2).mean((3, 5))
            up_known = coarse_known(run.denoiser.process, low, method=args.method)
            up, _ = generate(run, 12, known=up_known, seed=seed, **kw)
            show = torch.cat([test[:12], low.repeat_interleave(2, 2).repeat_interleave(2, 3), up])
            save_image_grid(show, out / f"{args.prefix}upsample_2x{tag}.png", nrow=12)
    summary = {
        "n": len(test),
        "start": args.start,
        "steps": args.steps,
        "sampler": args.sampler,
        "resample": args.resample,
        "method": "unconditional" if args.unconditional else args.method,
        "per_seed": rows,
        **{
            k: [float(np.mean([r[k] for r in rows])), float(np.std([r[k] for r in rows]))]
            for k in ("completion_vs_original", "completion_vs_completion")
        },
    }
    print(json.dumps(summary, indent=1))
    # Per-image labels, one line: chunks can be pooled and methods compared image by image.
    print(json.dumps({"labels": {"truth": truth.tolist(), "per_seed": labels}}))


if __name__ == "__main__":
    main()
