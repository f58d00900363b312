"""Report saved schedules on separate sample sets at a given n (the selection set's n, to compare like with like).

The FD is biased upwards at small n, so a relative FD shift measured at n = 256 is not comparable
with one measured at n = 128 on the selection set; this reports at the selection set's n too.

    nice -n 10 python experiments/temporal/report_n.py runs/digits SCHEDULE.json ... --n 128
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from difflab.analysis.search import report_schedule
from difflab.analysis.shortcuts import load_schedule
from difflab.analysis.target import run_target
from difflab.pipeline import load_run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run")
    p.add_argument("schedules", nargs="+")
    p.add_argument("--n", type=int, default=128)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--seeds", default="1000,1001,1002")
    p.add_argument("--out", default="runs/temporal_removal/report_n128.json")
    args = p.parse_args()
    torch.set_num_threads(1)
    loaded = load_run(args.run, device="cpu")
    target, heldout, name = run_target(loaded)
    seeds = [int(s) for s in args.seeds.split(",")]
    results = {}
    for path in args.schedules:
        sched = load_schedule(path)
        rep = report_schedule(
            target, sched, heldout, name, n=args.n, steps=args.steps, seeds=seeds, grid=loaded.cfg.sample.grid
        )
        results[Path(path).name] = rep
        print(
            f"{Path(path).name} at n={args.n}: FD shift {rep['fd_shift_mean']:+.2%} ± {rep['fd_shift_ci95']:.2%} "
            f"(sets {[round(x, 4) for x in rep['fd_shift']]}), plain FD {[round(x, 1) for x in rep['fd_plain']]}, "
            f"FD between plain sets {[round(x, 1) for x in rep['fd_between_plain_sets']]}",
            flush=True,
        )
        Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
