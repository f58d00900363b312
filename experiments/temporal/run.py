"""UNet temporal dynamics (Prasad et al., arXiv 2312.14965) on digits, patches and a diffusers UNet2DModel.

For each model: the impact map (remove each unit inside each of W windows of a
50-step DDIM run), the phase plot, a shortcut schedule found under an FD budget,
and the measured wall-clock speed-up vs FD increase of every deep-cache
candidate, all against the unmodified sampler in the same process.

    python experiments/temporal/run.py --digits-run runs/temporal/digits --patches-run runs/temporal/patches

Runs are trained first if missing (scaled down for a shared 2-core CPU: see
docs/temporal.md). Results go to --out (runs/temporal/results); a summary
JSON and the figures are copied to docs/figures/ with --docs.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch

from difflab.analysis.ablation import impact_study
from difflab.analysis.impact import ImpactScorer
from difflab.analysis.plots import speedup_quality, write_impact_report
from difflab.analysis.search import build_schedule, candidate_groups, measure_speedup, sample_with, search_schedule
from difflab.analysis.target import SamplingTarget, run_target
from difflab.config import load_config
from difflab.config.schema import RunConfig
from difflab.data import load_dataset
from difflab.models.denoiser import Denoiser
from difflab.nn.adapters import DiffusersAdapter
from difflab.objectives.regression import regression_loss, stratified_times
from difflab.pipeline import load_run, train_run
from difflab.process.factory import build_process


def ensure_run(path: Path, config: str, overrides: list[str]) -> Path:
    if not (path / "checkpoints").is_dir() or not any((path / "checkpoints").iterdir()):
        train_run(load_config(RunConfig, config, overrides), path, progress=False)
    return path


def train_diffusers(steps: int, seed: int = 0) -> tuple[SamplingTarget, torch.Tensor]:
    """A tiny diffusers.UNet2DModel on digits (v-prediction through difflab's Denoiser), trained here."""
    import diffusers

    torch.manual_seed(seed)
    data = load_dataset("digits")
    unet = diffusers.UNet2DModel(
        sample_size=8,
        in_channels=1,
        out_channels=1,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        norm_num_groups=8,
    )
    den = Denoiser(DiffusersAdapter(unet), build_process((1, 8, 8)), "v")
    opt = torch.optim.AdamW(unet.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, data.train.shape[0], (128,), generator=gen)
        x0 = data.train[idx]
        t = stratified_times(128, gen)
        eps = torch.randn(128, den.process.dim, generator=gen)
        loss = regression_loss(den, x0, t, eps).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    unet.eval()
    return SamplingTarget.from_denoiser(den), data.test


def analyse(name: str, target: SamplingTarget, heldout: torch.Tensor, dataset: str, args, out: Path) -> dict:
    print(f"== {name}: impact study", flush=True)
    res = impact_study(
        target,
        dataset=dataset,
        heldout=heldout,
        steps=args.steps,
        windows=args.windows,
        n=args.n,
        seed=0,
        progress=lambda s: print("  " + s, flush=True),
    )
    write_impact_report(res, out / name, title=f"Impact of removing UNet components: {name}")
    print(f"== {name}: shortcut search (budget {args.budget:.0%})", flush=True)
    sched = search_schedule(
        target, res, heldout, budget=args.budget, periods=args.periods, progress=lambda s: print("  " + s, flush=True)
    )
    points = []
    if sched.shortcuts:
        sched.meta["measured"].update(measure_speedup(target, sched, n=args.n, steps=args.steps, repeats=args.repeats))
        points.append({**sched.meta["measured"], "label": "chosen"})
    sched.save(out / name / "schedule.json")
    # The curve: every deep group x period over all windows, sampled and timed against the plain sampler.
    times, x_T = target.grid(args.steps), target.start(args.n, 0)
    scorer = ImpactScorer(sample_with(target, None, x_T, times)[0], heldout, dataset)
    for gi, group in enumerate(candidate_groups(target.network)):
        for p in args.periods:
            cand = build_schedule(res, group, range(len(res.windows)), p, 0.0)
            q = scorer.score(sample_with(target, cand, x_T, times)[0])
            sp = measure_speedup(target, cand, n=args.n, steps=args.steps, repeats=args.repeats)
            points.append({**q, **sp, "label": f"g{gi} p{p}"})
            print(
                f"  group {gi} ({len(group)} comps) p={p}: speed-up {sp['speedup']:.2f}x fd_shift {q['fd_shift']:+.3f}",
                flush=True,
            )
    speedup_quality(points, out / name / "speedup_quality.png", args.budget, title=f"{name}: shortcut schedules")
    summary = {
        "fd_reference": scorer.fd_reference,
        "n": args.n,
        "steps": args.steps,
        "budget": args.budget,
        "chosen": {
            "shortcuts": [s.__dict__ | {"components": list(s.components)} for s in sched.shortcuts],
            "expected_saving": sched.meta["expected_saving"],
            **sched.meta["measured"],
        },
        "curve": points,
        "network_ms": res.reference["network_ms"],
    }
    (out / name / "summary.json").write_text(json.dumps(summary, indent=1, default=float))
    return summary


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--digits-run", type=Path, default=Path("runs/temporal/digits"))
    p.add_argument("--patches-run", type=Path, default=Path("runs/temporal/patches"))
    p.add_argument("--only", nargs="*", default=["digits", "patches", "diffusers"])
    p.add_argument("--n", type=int, default=128)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--windows", type=int, default=10)
    p.add_argument("--budget", type=float, default=0.05)
    p.add_argument("--periods", type=int, nargs="+", default=[2, 3, 4])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--diffusers-steps", type=int, default=300)
    p.add_argument("--out", type=Path, default=Path("runs/temporal/results"))
    p.add_argument("--docs", action="store_true", help="copy figures and summaries to docs/figures/")
    args = p.parse_args()
    torch.set_num_threads(1)
    out = args.out
    results = {}
    for name in args.only:
        if name == "diffusers":
            target, heldout = train_diffusers(args.diffusers_steps)
            dataset = "digits"
        else:
            run = args.digits_run if name == "digits" else args.patches_run
            cfg = f"configs/{name}.yaml"
            ensure_run(
                run,
                cfg,
                ["train.steps=500"]
                if name == "digits"
                else ["train.steps=300", "train.batch_size=64", "network.base_channels=16"],
            )
            target, heldout, dataset = run_target(load_run(run))
        results[name] = analyse(name, target, heldout, dataset, args, out)
        if args.docs:
            docs = Path("docs/figures")
            docs.mkdir(parents=True, exist_ok=True)
            for f in ("heatmap.png", "phase.png", "speedup_quality.png", "heatmap_labels.png"):
                if (out / name / f).is_file():
                    shutil.copy(out / name / f, docs / f"temporal_{name}_{f}")
            shutil.copy(out / name / "summary.json", docs / f"temporal_{name}_summary.json")


if __name__ == "__main__":
    main()
