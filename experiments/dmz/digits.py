"""DMZ on digits (or any dataset): train, then measure generation, reconstruction, probes and bit usage.

Usage (each writes under runs/dmz/NAME/; run stages in the background with nohup)::

    python experiments/dmz/digits.py train NAME CONFIG [key=value ...]
    python experiments/dmz/digits.py eval NAME [--ckpt step_1000] [--steps 2,4,8,16,32,100]

``eval`` writes runs/dmz/NAME/eval[_TAG]/dmz_metrics.json: classifier-FD vs steps
(ddim, dpmpp2m; z from fair bits for a DMZ run), FD from marginal bits and from
encoded test codes, reconstruction MSE vs steps (stochastic and DDIM-inverted),
5-fold linear-probe accuracy of the soft and hard codes, per-bit entropy.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from difflab import dmz
from difflab.config import load_config
from difflab.config.schema import RunConfig
from difflab.dmz.codes import entropy_summary
from difflab.dmz.probe import linear_probe
from difflab.metrics import evaluate
from difflab.pipeline import generate, load_run, train_run
from difflab.pipeline.evaluate import evaluate_run, primary_metric
from difflab.pipeline.run import load_data
from difflab.report import save_image_grid

ROOT = Path("runs/dmz")


def train(name: str, config: str, overrides: list[str]) -> None:
    cfg = load_config(RunConfig, config, overrides)
    t0 = time.time()
    train_run(cfg, ROOT / name, progress=False)
    (ROOT / name / "train_seconds.txt").write_text(f"{time.time() - t0:.1f}\n")


def eval_run(name: str, ckpt: str | None, steps: list[int], n: int, device: str = "cpu") -> None:
    path = ROOT / name / "checkpoints" / ckpt if ckpt else ROOT / name
    run = load_run(path, device=device)
    out = ROOT / name / (f"eval_{ckpt}" if ckpt else "eval")
    data = load_data(run.cfg)
    res = evaluate_run(run, steps=steps, samplers=["ddim", "dpmpp2m"], out_dir=out, n=n)
    metric = primary_metric(data.name)  # classifier-FD on digits, PCA-FD elsewhere (kept under "fd")
    summary = {
        "step": run.step,
        "metric": metric,
        "n": n,
        "fd": {s: {k: v[metric] for k, v in r.items()} for s, r in res["samplers"].items()},
        "floor_fd": res["floor"][metric],
    }
    if isinstance(run.denoiser, dmz.CodedDenoiser):
        test = data.test
        fd_src = {}
        for source in ("marginal", "data"):
            z = (
                dmz.sample_codes(run, n, source="marginal")
                if source == "marginal"
                else dmz.encode(run, test[torch.arange(n) % test.shape[0]])
            )
            x, _ = generate(run, n, steps=8, sampler="ddim", cond={"z": z})
            fd_src[source] = evaluate(x, test, train=data.train, dataset=data.name)[metric]
        summary["fd_at_8_by_source"] = fd_src
        recon = {}
        for mode in ("stochastic", "inverted"):
            recon[mode] = {}
            for k in steps:
                xr = dmz.reconstruct(run, test, steps=k, mode=mode)
                recon[mode][k] = float((xr - test).pow(2).mean())
        summary["recon_mse"] = recon
        if data.train_labels is not None:  # probes need labels (digits; not patches)
            all_x = torch.cat([data.train, data.test])
            all_y = torch.cat([data.train_labels, data.test_labels])
            soft, hard = dmz.encode(run, all_x, hard=False), dmz.encode(run, all_x, hard=True)
            summary["probe_soft"] = linear_probe(soft, all_y)
            summary["probe_hard"] = linear_probe(hard, all_y)
            summary["probe_pixels"] = linear_probe(all_x.flatten(1), all_y)
        ent = dmz.bit_entropy(dmz.encode(run, data.train, hard=True))
        summary["entropy"] = {"per_bit": ent.tolist(), **entropy_summary(ent)}
        # Pictures: reconstructions and interpolation strips.
        x16 = test[:16]
        rows = [x16, dmz.reconstruct(run, x16, steps=8), dmz.reconstruct(run, x16, steps=8, mode="inverted")]
        save_image_grid(torch.cat(rows).clamp(-1, 1), out / "reconstruction.png", nrow=16)
        strips = [dmz.interpolate(run, test[i], test[i + 1], frames=10, steps=16) for i in range(0, 8, 2)]
        save_image_grid(torch.cat(strips).clamp(-1, 1), out / "interpolation_soft.png", nrow=10)
        flips = dmz.interpolate(run, test[0], test[1], steps=16, kind="bitflip")
        save_image_grid(flips.clamp(-1, 1), out / "interpolation_bitflip.png", nrow=flips.shape[0])
    (out / "dmz_metrics.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: v for k, v in summary.items() if k != "entropy"}, indent=1))


def main(argv: list[str]) -> None:
    global ROOT  # --root moves every run of this script
    torch.set_num_threads(1)
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("name")
    t.add_argument("config")
    t.add_argument("overrides", nargs="*")
    e = sub.add_parser("eval")
    e.add_argument("name")
    e.add_argument("--ckpt", default=None)
    e.add_argument("--steps", default="2,4,8,16,32,100")
    e.add_argument("--n", type=int, default=1000)
    e.add_argument("--device", default="cpu")
    e.add_argument("--root", default=str(ROOT), help="folder of the runs")
    t.add_argument("--root", default=str(ROOT), help="folder of the runs")
    args = p.parse_args(argv)
    ROOT = Path(args.root)
    if args.cmd == "train":
        train(args.name, args.config, args.overrides)
    else:
        eval_run(args.name, args.ckpt, [int(s) for s in args.steps.split(",")], args.n, args.device)


if __name__ == "__main__":
    main(sys.argv[1:])
