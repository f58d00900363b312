"""DMZ domain transfer on the shared CPU (issue 15, item 4): digits -> inverted digits.

Two DMZ runs of the paper's recipe per seed, trained by ``experiments/dmz/study.py train
--models paper,paperinv`` (600 steps, batch 64): ``paper_s{seed}`` on the digits and
``paperinv_s{seed}`` on the same digits with ink and paper swapped (``data.options.view=
inverted``). ``eval`` fits the code map (``difflab.dmz.transfer.fit_transfer``: the MLP size
and epoch chosen on 20 % of the training pairs), transfers the codes of the 360 *test* digits,
decodes each 3 times (n = 1080) with the target run, and scores the samples after undoing the
inversion: the shipped classifier's label agreement with the source digit's label, and
classifier-FD against the test split. Rows: the transferred codes; the source codes fed to the
target run unmapped; fair bits (chance); the target run's own codes of the paired test images
(the ceiling a perfect map would reach).

Usage (outputs beside the runs, in runs/dmz_study/transfer_s{seed}/)::

    python experiments/dmz/study.py train --seeds 0,1,2 --models paper,paperinv
    python experiments/dmz/transfer.py eval --seeds 0,1,2 [--steps 8] [--reps 3]
    python experiments/dmz/transfer.py table
    python experiments/dmz/transfer.py figure --seeds 0    # docs/figures/dmz_transfer_inverted.png
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path("runs/dmz_study")
SOURCE, TARGET = "paper", "paperinv"


def evaluate(seed: int, steps: int, reps: int) -> dict:
    from difflab import dmz
    from difflab.data.digits import undo_view
    from difflab.dmz.transfer import code_agreement, fit_transfer, save_code_map
    from difflab.metrics import classifier_fd, load_digits_classifier
    from difflab.pipeline import load_run
    from difflab.pipeline.run import load_data

    src = load_run(ROOT / f"{SOURCE}_s{seed}", device="cpu")
    tgt = load_run(ROOT / f"{TARGET}_s{seed}", device="cpu")
    view = tgt.cfg.data.options.get("view", "plain")
    t0 = time.time()
    code_map, stats = fit_transfer(src, tgt, seed=seed)
    out_dir = ROOT / f"transfer_s{seed}"
    save_code_map(out_dir, code_map, stats)
    fit_s = time.time() - t0
    a, b = load_data(src.cfg), load_data(tgt.cfg)
    z_src, z_tgt = dmz.encode(src, a.test), dmz.encode(tgt, b.test)
    z_map = code_map.transfer(z_src)
    n = reps * len(a.test)
    labels = a.test_labels.repeat(reps)
    reference = undo_view(b.test, view)  # the plain test digits: the classifier's own domain
    clf = load_digits_classifier()
    codes = {
        "transfer": z_map.repeat(reps, 1),
        "source codes, no map": z_src.repeat(reps, 1),  # the two runs' bits are not aligned by themselves
        "fair": dmz.sample_codes(tgt, n, source="fair", seed=0),
        "target data codes": z_tgt.repeat(reps, 1),
    }
    res = {
        "seed": seed,
        "n": n,
        "reps": reps,
        "steps": steps,
        "sampler": "dpmpp2m",
        "view": view,
        "map": stats,
        "map_fit_seconds": fit_s,
        "test_code_agreement": code_agreement(z_map, z_tgt),
        "classifier_accuracy_real_test": float((clf.predict(reference) == a.test_labels).float().mean()),
        "floor_fd": classifier_fd(undo_view(b.train[:n], view), reference),
        "rows": {},
    }
    for name, z in codes.items():
        t1 = time.time()
        x = dmz.decode(tgt, z, steps=steps, sampler="dpmpp2m", seed=0)
        plain = undo_view(x.clamp(-1, 1), view)
        row = {
            "label_agreement": float((clf.predict(plain) == labels).float().mean()),
            "fd": classifier_fd(plain, reference),
        }
        if name == "transfer":  # the metric's own noise: the same codes, fresh x_T (seed 1)
            x2 = undo_view(dmz.decode(tgt, z, steps=steps, sampler="dpmpp2m", seed=1).clamp(-1, 1), view)
            row["label_agreement_2nd"] = float((clf.predict(x2) == labels).float().mean())
            row["fd_2nd"] = classifier_fd(x2, reference)
        row["seconds"] = time.time() - t1
        res["rows"][name] = row
        print(f"s{seed} {name}: {row}", flush=True)
    (out_dir / "transfer_eval.json").write_text(json.dumps(res, indent=1))
    return res


def table() -> str:
    """Markdown: label agreement and FD per row, mean ± std over the seeds found; the map's fit."""
    import numpy as np

    res = [json.loads(p.read_text()) for p in sorted(ROOT.glob("transfer_s*/transfer_eval.json"))]
    if not res:
        return "no transfer_eval.json under " + str(ROOT)

    def ms(values, scale=1.0) -> str:
        v = np.asarray(values, dtype=float) * scale
        return f"{v.mean():.1f}" if len(v) == 1 else f"{v.mean():.1f} ± {v.std(ddof=1):.1f}"

    seeds = ",".join(str(r["seed"]) for r in res)
    r0 = res[0]
    out = [
        f"| z of the target run | seeds | label agreement (%) | FD@{r0['steps']} | 2nd sample set: agreement / FD |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in r0["rows"]:
        rows = [r["rows"][name] for r in res]
        second = "–"
        if "fd_2nd" in rows[0]:
            second = f"{ms([x['label_agreement_2nd'] for x in rows], 100)} / {ms([x['fd_2nd'] for x in rows])}"
        agree, fd = ms([x["label_agreement"] for x in rows], 100), ms([x["fd"] for x in rows])
        out.append(f"| {name} | {seeds} | {agree} | {fd} | {second} |")
    out.append(
        f"\nn = {r0['n']} ({r0['reps']} decodes of each of the {r0['n'] // r0['reps']} test digits), "
        f"DPM-Solver++ {r0['steps']} steps; floor (training vs test digits, n = {r0['n']}) "
        f"{ms([r['floor_fd'] for r in res])}; the classifier on the real test digits: "
        f"{ms([r['classifier_accuracy_real_test'] for r in res], 100)} %.\n"
    )
    out.append(
        "| seed | MLP chosen (hidden) | epoch | val BCE (nats/code) per candidate | val bit / code accuracy "
        "| test bit / code accuracy |"
    )
    out.append("|---:|---|---:|---|---:|---:|")
    for r in res:
        m, t = r["map"], r["test_code_agreement"]
        cands = "; ".join(f"{c['hidden'] or 'linear'}: {c['bce_val']:.2f}" for c in m["candidates"])
        out.append(
            f"| {r['seed']} | {m['hidden'] or 'linear'} | {m['epoch']} | {cands} "
            f"| {100 * m['bit_accuracy_val']:.1f} / {100 * m['code_accuracy_val']:.1f} "
            f"| {100 * t['bit_accuracy']:.1f} / {100 * t['code_accuracy']:.1f} |"
        )
    return "\n".join(out)


def figure(seed: int, out: Path, steps: int = 8, per_row: int = 16) -> None:
    """Rows: source test digits; their transfers (target domain); the paired target test digits."""
    from difflab.dmz.transfer import load_code_map, transfer
    from difflab.pipeline import load_run
    from difflab.pipeline.run import load_data
    from difflab.report import save_image_grid

    src = load_run(ROOT / f"{SOURCE}_s{seed}", device="cpu")
    tgt = load_run(ROOT / f"{TARGET}_s{seed}", device="cpu")
    code_map, _ = load_code_map(ROOT / f"transfer_s{seed}")
    x_src, x_tgt = load_data(src.cfg).test[:per_row], load_data(tgt.cfg).test[:per_row]
    x = transfer(src, tgt, code_map, x_src, steps=steps, sampler="dpmpp2m", seed=0)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_image_grid(torch.cat([x_src, x.clamp(-1, 1), x_tgt]), out, nrow=per_row)


def main(argv: list[str]) -> None:
    global ROOT
    torch.set_num_threads(1)
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["eval", "table", "figure"])
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--steps", type=int, default=8, help="DPM-Solver++ steps of the target run's decoder")
    p.add_argument("--reps", type=int, default=3, help="decodes (fresh x_T) per test digit")
    p.add_argument("--root", default=str(ROOT))
    args = p.parse_args(argv)
    ROOT = Path(args.root)
    if args.cmd == "table":
        print(table())
        return
    if args.cmd == "figure":  # docs/figures/dmz_transfer_inverted.png from the first seed given
        figure(int(args.seeds.split(",")[0]), Path("docs/figures/dmz_transfer_inverted.png"), args.steps)
        return
    for seed in (int(s) for s in args.seeds.split(",")):
        if not (ROOT / f"transfer_s{seed}" / "transfer_eval.json").exists():
            evaluate(seed, args.steps, args.reps)


if __name__ == "__main__":
    main(sys.argv[1:])
