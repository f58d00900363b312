"""Wall-clock speed-up and quality of DeepCache-style shortcut schedules on 50-step DDIM.

For a trained run, each nested "deep group" of the UNet (the components below a
given level: the deep path's outputs are reused, shallow layers recomputed) is
reused for every step except each ``period``-th, over the whole trajectory.
Against the unmodified sampler in the same process, with the same seeds:
median wall-clock of alternating runs and the shift of the headline FD
(classifier-FD on digits, PCA-FD elsewhere) against the held-out split.

Usage: python benchmarks/bench_shortcuts.py RUN [--steps 50] [--n 500] [--periods 2,3,4] [--groups 1,2] [--repeats 3]
"""

import argparse
import json

import torch

from difflab.analysis import component_registry
from difflab.analysis.impact import ImpactScorer
from difflab.analysis.search import measure_speedup, sample_with
from difflab.analysis.shortcuts import Shortcut, ShortcutSchedule, deep_groups
from difflab.analysis.target import run_target
from difflab.pipeline import load_run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--n", type=int, default=500)
    p.add_argument("--periods", default="2,3,4")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--groups", default=None, help="indices of the deep groups to try (default: all), e.g. 1,2")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    loaded = load_run(args.run, device=args.device)
    target, heldout, dataset = run_target(loaded)
    groups = deep_groups(component_registry(target.network))
    if args.groups:
        groups = [groups[int(i)] for i in args.groups.split(",")]
    x_T, times = target.start(args.n, 0).float(), target.grid(args.steps)
    base, _ = sample_with(target, None, x_T, times)
    scorer = ImpactScorer(base, heldout, dataset)
    base_fd = scorer.score(base)["fd"]
    rows = []
    where = (
        torch.cuda.get_device_name() if args.device.startswith("cuda") else f"cpu, {torch.get_num_threads()} threads"
    )
    print(f"{dataset}: base FD {base_fd:.3f}, {args.steps}-step DDIM, n = {args.n}, {where}")
    print("| reused group (components) | period | speed-up | FD | FD shift |\n|---|---:|---:|---:|---:|")
    for group in groups:
        for period in (int(x) for x in args.periods.split(",")):
            schedule = ShortcutSchedule(
                [Shortcut(components=list(group), t_lo=0.0, t_hi=1.0, period=period, expected_saving=0.0)], {}
            )
            fd = scorer.score(sample_with(target, schedule, x_T, times)[0])["fd"]
            speed = measure_speedup(target, schedule, n=args.n, steps=args.steps, repeats=args.repeats)
            row = {"group": list(group), "period": period, "fd": fd, "fd_shift": fd / base_fd - 1, **speed}
            rows.append(row)
            print(
                f"| {group[0]} … {group[-1]} ({len(group)}) | {period} | {speed['speedup']:.2f}× | {fd:.2f} | "
                f"{100 * row['fd_shift']:+.1f}% |",
                flush=True,
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"run": args.run, "dataset": dataset, "base_fd": base_fd, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
