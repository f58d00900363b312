"""Re-score the study's trained cells with more sampler steps (or another sampler): is the sampler the bottleneck?

For every cell directory under OUT/<dataset>/ whose row in results.json passes ``--max-softness``
(and ``--bases``/``--priors``), draws ``--n`` samples with ``--sampler`` at each of ``--steps`` (seed =
the cell's seed, as study.py) and scores them like study.py. Rows go to OUT/<dataset>/rescore.json
(resumable, keyed by cell, sampler and steps); a mean ± std table over seeds is printed. ``--steps own``
re-draws each cell's own samples (its study step count and seed: the FD reproduces the study's); with
``--train-ref`` the rows also score against held-out training examples (``study.score_train_ref``), for
cells scored before the study recorded that.

    python experiments/gud_design_space/rescore.py --out runs/gud_design_space --steps 256 --max-softness 0.1
"""

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from study import cell_tag, score_train_ref  # this folder is on sys.path when the script runs

from difflab.metrics import evaluate
from difflab.pipeline import generate, load_run
from difflab.pipeline.evaluate import primary_metric
from difflab.pipeline.run import load_data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--out", default="runs/gud_design_space")
    ap.add_argument("--sampler", default="euler")
    ap.add_argument("--steps", default="256", help="comma list, or 'own': each cell's study step count")
    ap.add_argument("--train-ref", action="store_true", help="also score against held-out training examples")
    ap.add_argument("--save-samples", action="store_true", help="keep them: CELL/samples_<sampler>_<steps>.npy")
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--max-softness", type=float, default=math.inf)
    ap.add_argument("--bases", default=None, help="comma list; default: all")
    ap.add_argument("--priors", default=None, help="comma list; default: all")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    root = Path(args.out) / args.dataset
    cells = json.loads((root / "results.json").read_text())["rows"]
    path = root / "rescore.json"
    rows = json.loads(path.read_text()) if path.exists() else []
    done = {(r["tag"], r["sampler"], r["steps"]) for r in rows if not args.train_ref or "fd_train_ref" in r}
    keep = [
        r
        for r in cells
        if r["softness"] <= args.max_softness
        and (args.bases is None or r["basis"] in args.bases.split(","))
        and (args.priors is None or r["prior"] in args.priors.split(","))
    ]
    data = None
    for steps_arg in args.steps.split(","):
        for r in sorted(keep, key=lambda r: r["seed"]):  # seeds outermost: partial results cover every cell
            tag = cell_tag(r)
            steps = r.get("sample_steps", 64) if steps_arg == "own" else int(steps_arg)  # rows before the key: 64
            if (tag, args.sampler, steps) in done:
                continue
            run = load_run(root / tag, device=args.device)
            if data is None:  # every cell of a dataset has the same splits: load them once
                data = load_data(run.cfg)
            t0 = time.perf_counter()
            x, _ = generate(run, args.n, steps=steps, sampler=args.sampler, seed=r["seed"])
            fd = evaluate(x, data.test, train=data.train, dataset=args.dataset)[primary_metric(args.dataset)]
            row = {"tag": tag, "sampler": args.sampler, "steps": steps, "fd": fd, "seconds": time.perf_counter() - t0}
            if args.train_ref:
                row.update(score_train_ref(x, data.train, args.dataset))
            if args.save_samples:  # normalised units, for diagnostics (e.g. per-band spectra)
                np.save(root / tag / f"samples_{args.sampler}_{steps}.npy", x.numpy())
            rows = [old for old in rows if (old["tag"], old["sampler"], old["steps"]) != (tag, args.sampler, steps)]
            row.update({k: r[k] for k in ("basis", "prior", "soft_form", "softness", "seed")})
            rows.append(row)
            path.write_text(json.dumps(rows, indent=2))
            print(json.dumps({k: v for k, v in row.items() if k not in ("soft_form", "seconds")}), flush=True)
    groups: dict[tuple, list[float]] = {}
    for r in rows:
        groups.setdefault((r["basis"], r["prior"], r["softness"], r["sampler"], r["steps"]), []).append(r["fd"])
    print("| basis | prior | softness | sampler | steps | seeds | FD (mean ± std) |\n|---|---|---|---|---|---|---|")
    for (b, p, s, sa, st), v in sorted(groups.items()):
        sd = f" ± {statistics.stdev(v):.1f}" if len(v) > 1 else ""
        print(f"| {b} | {p} | {s:g} | {sa} | {st} | {len(v)} | {statistics.mean(v):.1f}{sd} |")


if __name__ == "__main__":
    main()
