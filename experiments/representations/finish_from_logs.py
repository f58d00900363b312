"""Finish the k = 10 studies within the time budget: the full-width attention mixer (256) costs ~1 s per step on
the loaded 2-core machine, so the studies were stopped after single/concat/GRU. This script parses those numbers
(mean ± std) from the progress logs and adds an attention mixer of width 64 (same design otherwise).

Usage: python experiments/representations/finish_from_logs.py NAME LOG SEEDS
"""

import re
import sys
import time
from pathlib import Path

import torch

from difflab.io import atomic_write_json
from difflab.representations import ProbeConfig, load_trajectories, plot_accuracy_vs_t, plot_attention, probe_mixer

OUT = Path("runs/representations")
LINE = re.compile(r"^\s+(single(?:-mlp)?)(?: t=([\d.]+))?: ([\d.]+) ± ([\d.]+)|^\s+(concat|gru): ([\d.]+) ± ([\d.]+)")


def parse(log: str) -> dict:
    res = {"single": {}, "mixers": {}}
    for line in Path(log).read_text().splitlines():
        m = LINE.match(line)
        if m and m.group(1):
            res["single"].setdefault(m.group(1), []).append(
                {"t": float(m.group(2)), "mean": float(m.group(3)), "std": float(m.group(4))}
            )
        elif m:
            res["mixers"][m.group(5)] = {"mean": float(m.group(6)), "std": float(m.group(7))}
    return res


def main():
    name, log, seeds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    torch.set_num_threads(1)
    traj = load_trajectories(OUT / "cache" / name)
    res = parse(log) | {"times": traj.times, "seeds": list(range(5)), "source_log": log}
    t0 = time.time()
    att = probe_mixer(traj, "attention", range(seeds), config=ProbeConfig(epochs=60), width=64)
    res["mixers"]["attention"] = att | {"width": 64, "seeds": seeds, "seconds": time.time() - t0}
    print(f"[{name}] attention(64): {att['mean']:.4f} ± {att['std']:.4f}", flush=True)
    atomic_write_json(OUT / "results" / f"{name}.json", res)
    plot_accuracy_vs_t(res, OUT / "results" / f"{name}_acc_vs_t.png", title=name)
    plot_attention(res, OUT / "results" / f"{name}_attention.png", title=f"{name}: attention over t")


if __name__ == "__main__":
    main()
