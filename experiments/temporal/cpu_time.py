"""CPU-time speed-up of saved shortcut schedules: robust to other jobs on a shared machine.

Wall-clock on a loaded 2-core machine swings by tens of percent between runs; the CPU time of
a single-threaded process (``time.process_time``, 1 torch thread) counts only its own work.
Plain and shortcut runs alternate (same seeds), medians of ``--repeats``; also the FLOP
saving (``torch.utils.flop_counter``: matmuls and convolutions) of the whole sampling run.

    nice -n 10 python experiments/temporal/cpu_time.py runs/digits runs/temporal_removal/compare/schedule_*.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from difflab.analysis.shortcuts import load_schedule, shortcut_denoiser
from difflab.analysis.target import run_target
from difflab.pipeline import load_run
from difflab.sampling import sample_ddim


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run")
    p.add_argument("schedules", nargs="+")
    p.add_argument("--n", type=int, default=128)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", default="runs/temporal_removal/cpu_time.json")
    args = p.parse_args()
    torch.set_num_threads(1)
    loaded = load_run(args.run, device="cpu")
    target, _, _ = run_target(loaded)
    x_T, times = target.start(args.n, 0).float(), target.grid(args.steps, loaded.cfg.sample.grid)

    def run(schedule, counter=None) -> float:
        with torch.no_grad(), shortcut_denoiser(target.denoiser, schedule, target.network) as d:
            t0 = time.process_time()
            if counter is None:
                sample_ddim(d, target.process, x_T, times)
            else:
                with counter:
                    sample_ddim(d, target.process, x_T, times)
            return time.process_time() - t0

    results = {}
    for path in args.schedules:
        sched = load_schedule(path)
        if not sched.shortcuts:
            continue
        plain_c, fast_c = FlopCounterMode(display=False), FlopCounterMode(display=False)
        run(None, plain_c), run(sched, fast_c)  # also the warm-up
        base, fast = [], []
        for _ in range(args.repeats):
            base.append(run(None))
            fast.append(run(sched))
        b, f = statistics.median(base), statistics.median(fast)
        flops = 1 - fast_c.get_total_flops() / plain_c.get_total_flops()
        results[Path(path).name] = {
            "cpu_s_plain": b,
            "cpu_s_shortcut": f,
            "cpu_speedup": b / f,
            "cpu_time_saved": 1 - f / b,
            "flops_saved": flops,
            "expected_saving": sched.meta.get("expected_saving"),
            "plain_runs": base,
            "shortcut_runs": fast,
        }
        print(
            f"{Path(path).name}: CPU-time speed-up {b / f:.2f}x ({1 - f / b:.1%} saved), FLOPs saved {flops:.1%}, "
            f"expected (component time) {sched.meta.get('expected_saving', 0):.1%}",
            flush=True,
        )
        Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
