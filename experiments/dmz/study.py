"""DMZ study on the shared CPU (issue 15, item 3): the paper's recipe with fair bits, per-bit
marginals, a learned MADE prior and data codes, against an unconditional model of the same UNet,
at matched training steps, 3 seeds.

Usage (outputs under runs/dmz_study/; run in the background with nohup, one core)::

    python experiments/dmz/study.py train  [--seeds 0,1,2] [--steps 600] [--batch 64]
    python experiments/dmz/study.py prior  [--seeds 0,1,2]       # difflab fit-prior on each DMZ run
    python experiments/dmz/study.py eval   [--seeds 0,1,2] [--n 1000] [--steps 1,2,4,8,16,32]
    python experiments/dmz/study.py table                         # markdown tables from the JSONs
    python experiments/dmz/study.py figure --seeds 0              # docs/figures/dmz_paper_codes_by_source.png

``eval`` writes runs/dmz_study/NAME/study_eval.json: classifier-FD (DPM-Solver++) per step count
and code source, a second sample set at 8 steps (the metric's own noise), and the prior's NLL.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path("runs/dmz_study")
MODELS = {  # name -> (config, extra overrides)
    "paper": ("configs/digits-dmz-paper.yaml", []),
    "uncond": ("configs/digits.yaml", ["network.base_channels=32"]),  # the DMZ UNet's width
    "paperd10": ("configs/digits-dmz-paper.yaml", ["encoder.dim=10"]),  # d ≈ log2(1437 training digits)
    "ours": ("configs/digits-dmz.yaml", []),  # GroupNorm, null token, flip 0.2
    # the target domain of experiments/dmz/transfer.py: the same digits with ink and paper swapped
    "paperinv": ("configs/digits-dmz-paper.yaml", ["data.options.view=inverted"]),
}


def train(seeds: list[int], steps: int, batch: int, models: list[str], every: int | None = None) -> None:
    from difflab.config import load_config
    from difflab.config.schema import RunConfig
    from difflab.pipeline import train_run

    for seed in seeds:
        for name in models:
            config, extra = MODELS[name]
            out = ROOT / f"{name}_s{seed}"
            if (out / "train_seconds.txt").exists():
                continue
            over = [f"seed={seed}", f"train.steps={steps}", f"train.batch_size={batch}"]
            # --checkpoint-every 600 on a longer run keeps its step-600 checkpoint (constant lr after warm-up,
            # so it is the 600-step model): equal steps and equal wall-clock from one run
            over += [f"train.checkpoint_every={every or steps}", "train.keep_last=100", "train.log_every=100", *extra]
            cfg = load_config(RunConfig, config, over)
            t0, c0 = time.time(), time.process_time()
            train_run(cfg, out, progress=False)
            (out / "train_cpu_seconds.txt").write_text(f"{time.process_time() - c0:.1f}\n")  # one thread: core-seconds
            (out / "train_seconds.txt").write_text(f"{time.time() - t0:.1f}\n")
            print(f"trained {out} in {time.time() - t0:.0f} s", flush=True)


def fit_priors(seeds: list[int]) -> None:
    from difflab.dmz.prior import fit_code_prior
    from difflab.pipeline import load_run

    for seed in seeds:
        run = load_run(ROOT / f"paper_s{seed}", device="cpu")
        stats = fit_code_prior(run, seed=seed)
        print(f"paper_s{seed}: {json.dumps(stats)}", flush=True)


def steps_to_within(fd: dict[int, float], frac: float = 0.05) -> int:
    """Fewest steps whose FD is within ``frac`` of the FD at the most steps run (the model's own converged FD)."""
    last = fd[max(fd)]
    return min(k for k, v in fd.items() if v <= (1 + frac) * last)


def evaluate_model(
    name: str,
    steps: list[int],
    n: int,
    sources: list[str],
    noise_steps: int = 8,
    second_set: bool = True,
    tag: str = "",
    ckpt: str = "",
) -> dict:
    """classifier-FD (DPM-Solver++) vs steps per code source, plus a second sample set at ``noise_steps``."""
    from difflab import dmz
    from difflab.metrics import classifier_fd
    from difflab.models.code_prior import load_prior
    from difflab.pipeline import generate, load_run
    from difflab.pipeline.run import load_data

    run = load_run(ROOT / name / "checkpoints" / ckpt if ckpt else ROOT / name, device="cpu")
    data = load_data(run.cfg)
    coded = isinstance(run.denoiser, dmz.CodedDenoiser)
    if coded and not (run.path / "code_prior.json").exists():
        from difflab.dmz.prior import fit_code_prior

        print(f"{name} prior: {fit_code_prior(run, seed=run.cfg.seed)}", flush=True)
    out = {"name": name, "step": run.step, "n": n, "sampler": "dpmpp2m", "fd": {}, "fd_second_set": {}}
    out["floor_fd"] = classifier_fd(data.train[:n], data.test)
    for source in sources if coded else ["none"]:
        t0 = time.time()
        fd = {}
        for k in steps:
            z = {"z": dmz.sample_codes(run, n, source=source, seed=0)} if coded else None
            x, _ = generate(run, n, steps=k, sampler="dpmpp2m", seed=0, cond=z, batch_size=n)
            fd[k] = classifier_fd(x, data.test)
        out["fd"][source] = fd
        if second_set:  # the metric's own noise: new codes and new x_T (seed 1), same model
            z = {"z": dmz.sample_codes(run, n, source=source, seed=1)} if coded else None
            x, _ = generate(run, n, steps=noise_steps, sampler="dpmpp2m", seed=1, cond=z, batch_size=n)
            out["fd_second_set"][source] = {noise_steps: classifier_fd(x, data.test)}
        out.setdefault("steps_to_5pct", {})[source] = steps_to_within(fd)
        second = out["fd_second_set"].get(source)
        print(f"{name} {source}: {fd} second set {second} ({time.time() - t0:.0f} s)", flush=True)
    if coded:
        bits = dmz.encode(run, data.train)
        out["entropy"] = dmz.codes.entropy_summary(dmz.bit_entropy(bits))
        out["prior"] = load_prior(run.path)[1]
    train_s = ROOT / name / "train_seconds.txt"
    out["train_seconds"] = float(train_s.read_text()) if train_s.exists() else None
    (ROOT / name / f"study_eval{tag}.json").write_text(json.dumps(out, indent=1))
    return out


LABELS = {  # model name -> row label prefix
    "paper": "DMZ paper recipe",
    "paperd10": "DMZ paper recipe d = 10",
    "ours": "DMZ ours (GroupNorm, null token, flip 0.2)",
}


def load_evals() -> dict[str, list[dict]]:
    """Row label -> one result per seed (FD per source and step count, merged over a run's JSONs)."""
    rows: dict[str, list[dict]] = {}
    for run in sorted(p for p in ROOT.glob("*_s*") if p.is_dir()):
        # the main evaluation, then more steps or sources of the same model (same codes and x_T, seed 0);
        # a run evaluated only in pieces (study_eval_fd32*.json) is shown with what it has
        parts = sorted(run.glob("study_eval_fd32*.json"))
        if (run / "study_eval.json").exists():
            parts.insert(0, run / "study_eval.json")
        if not parts:
            continue
        path, res = parts[0], json.loads(parts[0].read_text())
        for extra in parts[1:]:
            for source, fd in json.loads(extra.read_text())["fd"].items():
                res["fd"].setdefault(source, {}).update({k: v for k, v in fd.items() if k not in res["fd"][source]})
        model = path.parent.name.rsplit("_s", 1)[0]
        for source in res["fd"]:
            label = f"unconditional ({res['step']} steps)" if source == "none" else f"{LABELS[model]}, z: {source}"
            rows.setdefault(label, []).append({**res, "this": source})
    for path in sorted(ROOT.glob("uncond_s*/study_eval_wc.json")):  # the unconditional model at equal CPU cost
        res = json.loads(path.read_text())
        rows.setdefault(f"unconditional, equal CPU cost ({res['step']} steps)", []).append({**res, "this": "none"})
    return rows


def ms(values) -> str:
    import numpy as np

    v = np.asarray(values, dtype=float)
    return f"{v.mean():.1f}" if len(v) == 1 else f"{v.mean():.1f} ± {v.std(ddof=1):.1f}"


def table() -> str:
    """Markdown: FD mean ± std over the seeds found, per model and code source; prior NLL vs entropy."""
    rows = load_evals()
    steps = sorted({int(k) for r in rows.values() for res in r for k in res["fd"][res["this"]]})
    head = "| model | seeds | " + " | ".join(f"FD@{k}" for k in steps)
    head += " | FD@8, 2nd set | steps to ≤ 5 % of own FD@32 (per seed) |"
    out = [head, "|---|---:|" + "---:|" * (len(steps) + 2)]
    for label, res in rows.items():
        src = [r["this"] for r in res]
        cells = []
        for k in steps:
            v = [r["fd"][s][str(k)] for r, s in zip(res, src) if str(k) in r["fd"][s]]
            cells.append(ms(v) + (f" ({len(v)} of {len(res)} seeds)" if 0 < len(v) < len(res) else "") if v else "–")
        second = [r["fd_second_set"][s]["8"] for r, s in zip(res, src) if s in r["fd_second_set"]]
        reach = [steps_to_within({int(k): v for k, v in r["fd"][s].items()}) for r, s in zip(res, src)]
        reach_text = ", ".join(map(str, reach)) if all("32" in r["fd"][s] for r, s in zip(res, src)) else "–"
        seeds = ",".join(r["name"].rsplit("_s", 1)[1] for r in res)
        part = f" ({len(second)} of {len(res)} seeds)" if len(second) < len(res) else ""
        second_text = ms(second) + part if second else ""
        out.append(f"| {label} | {seeds} | {' | '.join(cells)} | {second_text if second else '–'} | {reach_text} |")
    floors = [r["floor_fd"] for res in rows.values() for r in res]
    n = next(iter(rows.values()))[0]["n"] if rows else 0
    out.append(f"\nclassifier-FD, DPM-Solver++, n = {n}; floor (1000 training digits vs test) {floors[0]:.1f}.\n")
    out.append(
        "| run | distinct training codes | plug-in entropy (bits) | MADE NLL held-out train | MADE NLL test "
        "| per-bit entropy sum | fair bits |"
    )
    out.append("|---|---:|---:|---:|---:|---:|---:|")
    for path in sorted(ROOT.glob("paper*_s*/study_eval.json")):
        r = json.loads(path.read_text())
        p, e = r["prior"], r["entropy"]
        out.append(
            f"| {r['name']} | {p['unique_codes']} | {p['empirical_entropy_bits']:.2f} | {p['nll_bits_val']:.2f} "
            f"| {p['nll_bits_test']:.2f} | {e['total_bits']:.2f} | {p['fair_bits']} |"
        )
    return "\n".join(out)


def figure(name: str, out: Path, steps: int = 8, per_row: int = 16) -> None:
    """One row of samples per code source (fair, marginal, prior, data) at ``steps`` DPM-Solver++ steps."""
    from difflab import dmz
    from difflab.pipeline import generate, load_run
    from difflab.report import save_image_grid

    run = load_run(ROOT / name, device="cpu")
    rows = []
    for source in ("fair", "marginal", "prior", "data"):
        z = dmz.sample_codes(run, per_row, source=source, seed=0)
        rows.append(generate(run, per_row, steps=steps, sampler="dpmpp2m", seed=0, cond={"z": z})[0])
    out.parent.mkdir(parents=True, exist_ok=True)
    save_image_grid(torch.cat(rows).clamp(-1, 1), out, nrow=per_row)


def main(argv: list[str]) -> None:
    global ROOT
    torch.set_num_threads(1)
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["train", "prior", "eval", "table", "figure"])
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--models", default="paper,uncond")
    p.add_argument("--steps", default=None, help="train: training steps (600); eval: sampler steps")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--sources", default="fair,prior,data", help="code sources of a DMZ run")
    p.add_argument("--marginal-seeds", default="0", help="seeds whose DMZ run is also scored with marginal bits")
    p.add_argument("--second-seeds", default="0,1,2", help="seeds scored again with a second sample set")
    p.add_argument("--tag", default="", help="eval: suffix of the JSON (study_eval{TAG}.json), for extra sources")
    p.add_argument("--root", default=str(ROOT))
    p.add_argument("--ckpt", default="", help="eval: a checkpoint folder (step_000600) instead of the newest")
    p.add_argument("--checkpoint-every", type=int, default=None, help="train: checkpoint interval (default: the end)")
    args = p.parse_args(argv)
    ROOT = Path(args.root)
    seeds = [int(s) for s in args.seeds.split(",")]
    models = args.models.split(",")
    if args.cmd == "train":
        train(seeds, int(args.steps or 600), args.batch, models, args.checkpoint_every)
    elif args.cmd == "figure":  # rows: fair, marginal, prior, data codes; same x_T per column
        figure(f"paper_s{seeds[0]}", Path("docs/figures/dmz_paper_codes_by_source.png"))
    elif args.cmd == "table":
        print(table())
    elif args.cmd == "prior":
        fit_priors(seeds)
    elif args.cmd == "eval":
        steps = [int(k) for k in (args.steps or "1,2,4,8,16,32").split(",")]
        marginal_seeds = [int(v) for v in args.marginal_seeds.split(",") if v]
        second_seeds = [int(v) for v in args.second_seeds.split(",") if v]
        for seed in seeds:
            for name in models:
                run = ROOT / f"{name}_s{seed}"
                while not (run / "train_seconds.txt").exists():  # trained by a `train` running beside us
                    time.sleep(30)
                if not (run / f"study_eval{args.tag}.json").exists():
                    sources = args.sources.split(",") + (["marginal"] if seed in marginal_seeds else [])
                    second = seed in second_seeds
                    evaluate_model(run.name, steps, args.n, sources, second_set=second, tag=args.tag, ckpt=args.ckpt)


if __name__ == "__main__":
    main(sys.argv[1:])
