"""Markdown tables of DMZ evaluations: fair-bit FD vs steps, FD by code source, probes, bits, reconstruction.

Usage: python experiments/dmz/table.py runs/gpu/dmz [--runs d8,d16,...]
(reads RUNS_ROOT/<run>/eval/dmz_metrics.json, written by ``experiments/dmz/digits.py eval``).
"""

import argparse
import json
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("root", type=Path)
    p.add_argument("--runs", default=None, help="comma list (default: every run with an eval)")
    args = p.parse_args()
    names = (
        args.runs.split(",")
        if args.runs
        else sorted(d.parent.parent.name for d in args.root.glob("*/eval/dmz_metrics.json"))
    )
    res = {n: json.loads((args.root / n / "eval" / "dmz_metrics.json").read_text()) for n in names}
    steps = sorted(next(iter(res.values()))["fd"]["ddim"], key=int)
    print("| run | train steps | sampler | " + " | ".join(f"FD@{k}" for k in steps) + " |")
    print("|---|---:|---|" + "---:|" * len(steps))
    for n, r in res.items():
        for sampler, curve in r["fd"].items():
            print(f"| {n} | {r['step']} | {sampler} | " + " | ".join(f"{curve[k]:.1f}" for k in steps) + " |")
    first = next(iter(res.values()))
    print(
        f"\n{first.get('metric', 'classifier_fd')}, n = {first.get('n', 1000)}; "
        f"train-vs-test floor {first['floor_fd']:.3g}. "
        "DMZ rows: z from fair bits.\n"
    )
    print(
        "| run | FD@8 z: marginals | FD@8 z: data codes | probe soft | probe hard | bits (entropy / d) | "
        "recon MSE inverted @8 / @32 | stochastic @8 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for n, r in res.items():
        if "recon_mse" not in r:
            continue
        pct = lambda a: f"{100 * a[0]:.1f} ± {100 * a[1]:.1f}" if a else "–"  # noqa: E731
        rec = r["recon_mse"]
        print(
            f"| {n} | {r['fd_at_8_by_source']['marginal']:.1f} | {r['fd_at_8_by_source']['data']:.1f} | "
            f"{pct(r.get('probe_soft'))} | {pct(r.get('probe_hard'))} | {r['entropy']['total_bits']:.1f} / "
            f"{r['entropy']['dim']} | {rec['inverted']['8']:.4f} / {rec['inverted']['32']:.4f} | "
            f"{rec['stochastic']['8']:.3f} |"
        )


if __name__ == "__main__":
    main()
