"""How often a code source lands on a code the denoiser was trained on (docs/dmz.md, learned forward processes).

For each study run: the distinct hard codes of the training split, and the fraction of 1000 draws (seed 0,
as the study's ``eval`` draws them) from fair bits and from the learned prior that are one of them; also the
fraction of test digits whose code is a training code. Seconds on one core.

Usage::

    python experiments/dmz/coverage.py --root runs/dmz_study [--runs paper_s0,paper_s1,...]

Writes ROOT/../coverage.json.
"""

import argparse
import json
import sys
from pathlib import Path

import torch


def coverage(path: Path, n: int = 1000) -> dict:
    from difflab import dmz
    from difflab.pipeline import load_run
    from difflab.pipeline.run import load_data

    run = load_run(path, device="cpu")
    data = load_data(run.cfg)
    train = {tuple(c) for c in dmz.encode(run, data.train).round().long().tolist()}
    row: dict = {"distinct_train_codes": len(train)}
    for source in ("fair", "prior"):
        z = dmz.sample_codes(run, n, source=source, seed=0).round().long().tolist()
        d = len(z[0])
        row[f"{source}_draws_on_train_codes"] = sum(tuple(c) in train for c in z) / n
    test = dmz.encode(run, data.test).round().long().tolist()
    row["test_codes_on_train_codes"] = sum(tuple(c) in train for c in test) / len(test)
    row["d"], row["cube_share"] = d, len(train) / 2**d
    return row


def main(argv: list[str]) -> None:
    torch.set_num_threads(1)
    p = argparse.ArgumentParser()
    p.add_argument("--root", default="runs/dmz_study")
    p.add_argument("--runs", default="paper_s0,paper_s1,paper_s2,paperd10_s0,paperd10_s1,paperd10_s2")
    args = p.parse_args(argv)
    root = Path(args.root)
    out = {}
    for name in args.runs.split(","):
        if (root / name).exists():
            out[name] = coverage(root / name)
            print(name, json.dumps(out[name]), flush=True)
    (root.parent / "coverage.json").write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
