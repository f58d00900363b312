"""Impact maps under DDIM and DDPM, with both notions of removal (issue 16, items 4 and 6).

For one trained run: the component x window impact map for every combination of
sampler (``ddim`` deterministic with replay, ``ddpm`` ancestral with paired noise)
and removal (``zero``: the whole output zeroed; ``bypass``: the component skipped
for its shortcut). Per map it prints the per-window means (over units) of the
label change and the pixel change, and where they peak: the composition and
detail phases, and whether the boundaries move between samplers.

    nice -n 10 python experiments/temporal/impact_maps.py runs/digits --n 256 --out runs/temporal_removal
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from difflab.analysis.ablation import impact_study
from difflab.analysis.plots import write_impact_report
from difflab.analysis.target import run_target
from difflab.pipeline import load_run


def phases(res) -> dict:
    """Per-window means over units (t high -> low) and the window centres where they peak."""
    centre = [(lo + hi) / 2 for lo, hi in res.time]
    out = {"t_centre": centre}
    for metric in ("label_change", "pixel_change", "fd_shift"):
        m = res.matrix(metric)
        if np.isnan(m).all():
            continue
        mean = np.nanmean(m, axis=0)
        out[metric] = mean.tolist()
        out[f"{metric}_peak_t"] = centre[int(np.nanargmax(mean))]
    lc = out.get("label_change")
    if lc is not None:  # composition boundary: last window (towards t=0) where label flips are >= half the peak
        peak = max(lc)
        out["composition_last_t"] = min(c for c, v in zip(centre, lc) if v >= peak / 2)
        out["composition_first_t"] = max(c for c, v in zip(centre, lc) if v >= peak / 2)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run")
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--windows", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--samplers", default="ddim,ddpm")
    p.add_argument("--removals", default="bypass,zero")
    p.add_argument("--out", default="runs/temporal_removal")
    args = p.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    loaded = load_run(args.run, device="cpu")
    target, heldout, name = run_target(loaded)
    summary = {}
    for sampler in args.samplers.split(","):
        for removal in args.removals.split(","):
            key = f"{sampler}_{removal}"
            print(f"== {key}", flush=True)
            res = impact_study(
                target,
                dataset=name,
                heldout=heldout,
                steps=args.steps,
                windows=args.windows,
                n=args.n,
                seed=args.seed,
                grid=loaded.cfg.sample.grid,
                progress=lambda s: print("  " + s, flush=True),
                removal=removal,
                sampler=sampler,
            )
            res.save(out / f"impact_{key}.json")
            write_impact_report(res, out / key)
            summary[key] = {"reference_fd": res.reference["fd"], **phases(res)}
            print(json.dumps({k: v for k, v in summary[key].items() if "peak" in k or "composition" in k}), flush=True)
    (out / "phases.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
