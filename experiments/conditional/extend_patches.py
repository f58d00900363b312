"""Image extension (GUD) on 16x16 patches: `difflab extend` to 2x width, scored by the radial spectrum.

A pixel run with a column (sequential) schedule generates columns left to right; `difflab extend` slides
its 16-column window over a 32-column canvas (each window keeps 8 columns already there and generates
8). The new columns 16-31, taken as 16x16 images, are compared with real test patches by
`difflab.metrics.spectrum.spectrum_error` (mean |log P - log P'| over radial bands), against the same
error for unconditional samples at the training width, and for real patches against real patches
(the floor set by the finite n). Seeds as given (mean ± std).

    PYTHONPATH=src python -m difflab train configs/patches.yaml process.schedule=sequential \\
        process.axis=column process.softness=2.0 process.gamma_max=10.0 network.base_channels=16 \\
        'network.attention_levels=[]' train.steps=3000 train.batch_size=64 train.time_limit=1200 \\
        --out runs/patches-columns
    PYTHONPATH=src python experiments/conditional/extend_patches.py --run runs/patches-columns --n 128 --steps 32

(docs/conditional.md: the time limit stopped that run at 2050 steps on the shared 2-core CPU; training seeds
1 and 2 ran the same command with ``seed=S train.steps=2050 train.time_limit=3000``, so all three have 2050.)
"""

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from difflab.cli.main import main as cli
from difflab.data.registry import load_dataset
from difflab.metrics.spectrum import spectrum_error
from difflab.models import generate, load_run
from difflab.report.image_grid import save_image_grid


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--run", default="runs/patches-columns")
    p.add_argument("--out", default="docs/figures/conditional")
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--steps", type=int, default=32)
    p.add_argument("--sampler", default="dpmpp2m")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--method", choices=("replace", "moment"), default="replace")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    run = load_run(args.run)
    test = load_dataset("patches").test
    inputs, real = test[: args.n], test[1000 : 1000 + max(args.n, 500)]
    c, h, w = run.denoiser.process.shape
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.npy"
        np.save(src, run.normaliser.decode(inputs).numpy())
        for seed in args.seeds:
            dst = Path(tmp) / f"wide{seed}.npy"
            argv = [args.run, "--input", str(src), "--width", str(2 * w), "--out", str(dst)]
            argv += ["--steps", str(args.steps), "--sampler", args.sampler, "--seed", str(seed)]
            code = cli(["extend", *argv, "--method", args.method])
            if code:
                raise SystemExit(code)
            wide = run.normaliser.encode(torch.from_numpy(np.load(dst)))
            plain, _ = generate(run, args.n, steps=args.steps, sampler=args.sampler, seed=seed)
            rows.append(
                {
                    "seed": seed,
                    "new_columns": spectrum_error(wide[..., w:].numpy(), real.numpy()),
                    "seam_window": spectrum_error(wide[..., w // 2 : w // 2 + w].numpy(), real.numpy()),
                    "training_width_samples": spectrum_error(plain.numpy(), real.numpy()),
                    "real_vs_real": spectrum_error(inputs.numpy(), real.numpy()),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
            if seed == args.seeds[0]:
                save_image_grid(wide[:24], out / "extend_patches_2x.png", nrow=6)
    keys = ("new_columns", "seam_window", "training_width_samples", "real_vs_real")
    summary = {
        "n": args.n,
        "n_real": len(real),
        "steps": args.steps,
        "sampler": args.sampler,
        "method": args.method,
        **{k: [float(np.mean([r[k] for r in rows])), float(np.std([r[k] for r in rows]))] for k in keys},
    }
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
