"""GUD's design-space study done the paper's way (issue 13 item 5): bits/dim and FD over
softness × basis × prior, with variance ordering, several seeds and enough sampler steps.

Each cell trains a model with soft conditioning (``soft_form=gud_code``: GUD's
``variance_adjusted_schedule``, so softness 1 = standard diffusion; ``center=true``: the
data are mean-subtracted as in GUD; variance ordering l_i = −log Σ_i), then reports

- FD (classifier-FD on digits, PCA-FD on patches) of ``--n`` samples from the reverse SDE
  (Euler–Maruyama, ``--sample-steps`` ≥ 64, GUD's sampler) against the test split;
- bits/dim of ``--bpd-n`` test examples through the probability-flow ODE
  (``difflab.metrics.likelihood.bits_per_dim``: RK45, exact divergence on digits, dequantised).
- the same sample scores against held-out examples of the *training* distribution
  (:func:`train_reference`; keys ``*_train_ref``). Patches' test split is cut from other photographs,
  with more contrast and fine-scale power than the training ones, so a score against it also rewards
  samples that miss the training distribution in the test split's direction; digits' split is random.

Rows are appended to OUT/<dataset>/results.json (resumable), and a summary with mean ± std over
seeds is written to OUT/<dataset>/summary.md. The default is the full study (GPU-sized:
4 bases × 2 priors × 5 softness values × 3 seeds = 120 trainings per dataset, plus the one-γ
standard-diffusion reference). On a CPU use a reduced grid, e.g.:

    python experiments/gud_design_space/study.py --dataset digits --bases dct --priors white \
        --softness 1,0.1 --seeds 0 --steps 300 --channels 16 --sample-steps 64 --n 500 --bpd-n 16
"""

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import torch

from difflab.config import load_config
from difflab.config.schema import RunConfig
from difflab.metrics import classifier_fd, evaluate, pca_fd, spectrum_error
from difflab.metrics.likelihood import bits_per_dim
from difflab.pipeline import generate, load_run, train_run
from difflab.pipeline.evaluate import primary_metric
from difflab.pipeline.run import load_data

ROOT = Path(__file__).resolve().parents[2]
BASE_CONFIG = {"digits": "configs/digits.yaml", "patches": "configs/patches.yaml"}
REFERENCE = ("pixel", "white", "one_gamma")  # softness inf under one_gamma: one γ, standard diffusion


TRAIN_REF_N = 2000  # as many as patches' test split
TRAIN_REF_SEED = 12345


def train_reference(train: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed reference set of ``TRAIN_REF_N`` training examples, and the rest (for a real-data floor).

    A model trained for a few hundred steps on 20,000 patches (digits: 1437 images) is scored against
    its own training distribution without the test split's shift; memorisation is checked separately.
    """
    perm = torch.randperm(len(train), generator=torch.Generator().manual_seed(TRAIN_REF_SEED))
    n = min(TRAIN_REF_N, len(train) // 2)
    return train[perm[:n]], train[perm[n:]]


def score_train_ref(samples: torch.Tensor, train: torch.Tensor, dataset: str) -> dict[str, float]:
    """The headline FD and the spectrum error of ``samples`` against :func:`train_reference`."""
    ref, _ = train_reference(train)
    # the same features as the headline score: PCA fitted on the whole training split, or the classifier
    classifier = primary_metric(dataset) == "classifier_fd"
    fd = classifier_fd(samples, ref) if classifier else pca_fd(samples, ref, fit_on=train)
    out = {"fd_train_ref": float(fd)}
    if samples.dim() == 4:
        out["spectrum_error_train_ref"] = spectrum_error(samples, ref)
    return out


def cell_overrides(basis: str, prior: str, softness: float, form: str, dataset: str, args) -> list[str]:
    out = [
        f"process.basis={basis}",
        f"process.prior={prior}",
        "process.schedule=soft",
        f"process.softness={'.inf' if math.isinf(softness) else softness}",
        f"process.soft_form={form}",
        "process.ordering=variance",
        "process.center=true",
        f"process.deterministic_tol={args.deterministic_tol}",
        f"train.steps={args.steps}",
        f"train.checkpoint_every={args.steps}",
        "train.log_every=100",
        f"network.base_channels={args.channels}",
    ]
    if basis == "haar":
        out.append("process.levels=2" if dataset == "patches" else "process.levels=1")
    if args.prediction:
        out.append(f"method.prediction={args.prediction}")
    if args.network_input != "data":
        out.append(f"process.network_input={args.network_input}")
    if args.loss_weight != "none":
        out.append(f"train.loss_weight={args.loss_weight}")
    if args.gaussian_residual:
        out.append("process.gaussian_residual=true")
    if args.dequantise:
        out.append("data.dequantise=true")
    return out


def cell_tag(row: dict) -> str:
    """A cell's run directory name under OUT/<dataset>/, from its results row (or the same keys)."""
    return f"{row['basis']}-{row['prior']}-{row['soft_form']}-s{row['softness']:g}-seed{row['seed']}"


def run_cell(dataset: str, basis: str, prior: str, softness: float, form: str, seed: int, args) -> dict:
    tag = cell_tag({"basis": basis, "prior": prior, "soft_form": form, "softness": softness, "seed": seed})
    out = Path(args.out) / dataset / tag
    cfg = load_config(
        RunConfig,
        ROOT / BASE_CONFIG[dataset],
        [*cell_overrides(basis, prior, softness, form, dataset, args), f"seed={seed}"],
    )
    t0 = time.perf_counter()
    train_run(cfg, out, progress=False)
    train_s = time.perf_counter() - t0
    run = load_run(out, device=args.device)
    data = load_data(cfg)
    t0 = time.perf_counter()
    samples, _ = generate(run, args.n, steps=args.sample_steps, sampler=args.sampler, seed=seed)
    metrics = evaluate(samples, data.test, train=data.train, dataset=dataset)
    metrics.update(score_train_ref(samples, data.train, dataset))
    sample_s = time.perf_counter() - t0
    fd_repeat = None
    if args.fd_noise and seed == args.fd_noise_seed:  # the metric's own noise: a second sample set, same model
        again, _ = generate(run, args.n, steps=args.sample_steps, sampler=args.sampler, seed=seed + 1000)
        fd_repeat = evaluate(again, data.test, train=data.train, dataset=dataset)[primary_metric(dataset)]
    t0 = time.perf_counter()
    lik = bits_per_dim(
        run.denoiser,
        run.denoiser.process,
        data.test[: args.bpd_n].to(args.device),
        data.normaliser,
        quantum=data.meta.get("quantum"),
        seed=args.bpd_seed,  # the same dequantisation (and probes) for every cell: a fixed held-out set
        batch_size=args.bpd_batch,
        divergence=args.bpd_divergence,
        probes=args.bpd_probes,
        rtol=args.bpd_rtol,
        atol=args.bpd_rtol,
    )
    row = {
        "basis": basis,
        "prior": prior,
        "softness": softness,
        "soft_form": form,
        "seed": seed,
        "network_input": args.network_input,
        "loss_weight": args.loss_weight,
        "gaussian_residual": args.gaussian_residual,
        "dequantise": args.dequantise,
        "prediction": args.prediction or "v",
        "sampler": args.sampler,
        "sample_steps": args.sample_steps,
        "train_seconds": train_s,
        "sample_eval_seconds": sample_s,
        "bpd_seconds": time.perf_counter() - t0,
        "bits_per_dim": lik["bits_per_dim"],
        "bits_per_dim_se": lik["bits_per_dim_se"],
        "bpd_per_sample": lik["per_sample"],
        "bpd_nfe": lik["nfe"],
        "bpd_dims": lik.get("dims"),
        "bpd_off_support": lik.get("off_support"),
        "bpd_divergence": lik["divergence"],
        "fd": metrics[primary_metric(dataset)],
        "fd_repeat": fd_repeat,
        **metrics,
    }
    print(json.dumps({k: row[k] for k in ("basis", "prior", "softness", "seed", "fd", "bits_per_dim")}), flush=True)
    return row


def summary(rows: list[dict], dataset: str) -> str:
    cells: dict[tuple, list[dict]] = {}
    for r in rows:
        cells.setdefault((r["basis"], r["prior"], r["soft_form"], r["softness"]), []).append(r)

    def ms(vals):
        return f"{statistics.mean(vals):.3f} ± {statistics.stdev(vals):.3f}" if len(vals) > 1 else f"{vals[0]:.3f}"

    fd = primary_metric(dataset)
    lines = [
        f"| basis | prior | form | softness | seeds | {fd} (mean ± std) | {fd} of a 2nd sample set (same model) "
        "| bits/dim (mean ± std over seeds) | bits/dim dims | PF-ODE NFE |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (b, p, f, s), rs in sorted(cells.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2], -kv[0][3])):
        rep = [f"{r['fd']:.1f} → {r['fd_repeat']:.1f}" for r in rs if r.get("fd_repeat") is not None]
        lines.append(
            f"| {b} | {p} | {f} | {s:g} | {len(rs)} | {ms([r['fd'] for r in rs])} | {'; '.join(rep) or '—'} | "
            f"{ms([r['bits_per_dim'] for r in rs])} | {rs[0].get('bpd_dims', '—')} | "
            f"{statistics.mean(r.get('bpd_nfe', float('nan')) for r in rs):.0f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=list(BASE_CONFIG), default="digits")
    p.add_argument("--bases", default="pixel,dct,haar,pca")
    p.add_argument("--priors", default="white,data")
    p.add_argument("--softness", default="inf,1,0.3,0.1,0.05")
    p.add_argument("--soft-form", default="gud_code", choices=["true_snr", "gud_code", "one_gamma"])
    p.add_argument("--no-reference", action="store_true", help="skip the one-γ standard-diffusion reference")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--prediction", default=None, help="method.prediction (e.g. eps_gud for GUD's recipe)")
    p.add_argument(
        "--network-input",
        default="data",
        choices=["data", "unit"],
        help="process.network_input: unit = each component scaled to unit variance at its noise level",
    )
    p.add_argument(
        "--gaussian-residual",
        action="store_true",
        help="process.gaussian_residual: the network predicts the residual from independent per-component Gaussians",
    )
    p.add_argument(
        "--dequantise",
        action="store_true",
        help="data.dequantise: train on uniformly dequantised data, the density bits/dim scores (digits)",
    )
    p.add_argument("--loss-weight", default="none", choices=["none", "min_snr"], help="train.loss_weight")
    p.add_argument("--sampler", default="euler", help="euler = Euler–Maruyama reverse SDE, GUD's sampler")
    p.add_argument("--sample-steps", type=int, default=100)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--bpd-n", type=int, default=256)
    p.add_argument("--bpd-batch", type=int, default=64)
    p.add_argument("--bpd-divergence", default="auto", choices=["auto", "exact", "hutchinson"])
    p.add_argument("--bpd-probes", type=int, default=4)
    p.add_argument("--bpd-rtol", type=float, default=1e-5)
    p.add_argument("--bpd-seed", type=int, default=0, help="dequantisation/probe seed, the same for every cell")
    p.add_argument(
        "--deterministic-tol",
        type=float,
        default=1e-6,
        help="process.deterministic_tol: pin zero-variance components (digits' constant border); 0 = off",
    )
    p.add_argument("--fd-noise", action="store_true", help="a second sample set for one seed: FD's own noise")
    p.add_argument("--fd-noise-seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", default="runs/gud_design_space")
    p.add_argument("--summary-only", action="store_true", help="rewrite summary.md from results.json, run nothing")
    args = p.parse_args()
    if args.sample_steps < 64:
        p.error("--sample-steps must be >= 64 so that the sampler is not the bottleneck (review G6)")
    out = Path(args.out) / args.dataset
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.json"
    rows = json.loads(results.read_text())["rows"] if results.exists() else []
    done = {(r["basis"], r["prior"], r["soft_form"], float(r["softness"]), r["seed"]) for r in rows}
    if args.summary_only:
        (out / "summary.md").write_text(summary(rows, args.dataset))
        print(summary(rows, args.dataset))
        return
    seeds = [int(s) for s in args.seeds.split(",")]
    cells = [
        (b, pr, float(s), args.soft_form)
        for b in args.bases.split(",")
        for pr in args.priors.split(",")
        for s in args.softness.split(",")
    ]
    if not args.no_reference:
        cells.append((REFERENCE[0], REFERENCE[1], math.inf, REFERENCE[2]))
    for seed in seeds:  # seeds outermost, so partial results cover every cell
        for b, pr, s, form in cells:
            if (b, pr, form, s, seed) in done:
                continue
            rows.append(run_cell(args.dataset, b, pr, s, form, seed, args))
            results.write_text(json.dumps({"args": vars(args), "rows": rows}, indent=2, default=str))
            (out / "summary.md").write_text(summary(rows, args.dataset))
    print(summary(rows, args.dataset))


if __name__ == "__main__":
    main()
