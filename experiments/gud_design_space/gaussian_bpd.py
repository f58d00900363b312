"""Gaussian references on the study's measures: bits/dim in closed form, and (``--samples``) FD and spectrum error.

The same first ``--n`` test examples as ``study.py``'s bits/dim column: digits with the same centred
uniform dequantisation (seed 0) and the same 60 active dimensions (the 4 constant border pixels
pinned); patches continuous, all 256 dimensions.

- ``diag``: independent components N(μ_i, Σ_i) in ``--basis`` (default pixels): what
  ``process.gaussian_residual`` gives an untrained network in that basis;
- ``full``: N(μ, C) with the training mean and covariance (the best linear model; what the residual
  gives an untrained network in the PCA basis, whose components are uncorrelated);
- ``N(μ, I)``: the model of a network that outputs v ≡ 0 under the white prior without the residual.

With ``--samples N`` each of ``diag`` and ``full`` also draws N samples per seed (``--seeds``) and scores
them as the study scores a model's samples (classifier-FD on digits, PCA-FD on patches; spectrum
error; against the test split and against held-out training examples): what a model learns beyond a
Gaussian must show up as a score below these. ``real``: N training examples outside the train-ref set,
scored the same way, the floor a perfect model reaches.

    python experiments/gud_design_space/gaussian_bpd.py --n 16
    python experiments/gud_design_space/gaussian_bpd.py --dataset patches --n 16 --samples 500 --seeds 0,1,2
"""

import argparse
import json
import math
import statistics
from pathlib import Path

import torch
from study import score_train_ref, train_reference  # this folder is on sys.path when the script runs

from difflab.data import load_dataset
from difflab.metrics import evaluate
from difflab.metrics.likelihood import DEQUANT_OFFSET, active_normaliser_log_det
from difflab.pipeline.evaluate import primary_metric
from difflab.process.factory import build_process
from difflab.process.noise import PerSampleNoise, sample_seeds

OPTIONS = {"digits": {}, "patches": {"size": 16}}  # as configs/<dataset>.yaml


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="digits", choices=sorted(OPTIONS))
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--basis", default="pixel", help="the basis of diag's independent components (as study.py)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--samples", type=int, default=0, help="also score this many samples of diag and full")
    ap.add_argument("--seeds", default="0,1,2", help="sample draws of --samples")
    ap.add_argument("--json", default=None, help="write {reference: {measure: mean}} here (plot_grid --baselines)")
    args = ap.parse_args()
    ds = load_dataset(args.dataset, **OPTIONS[args.dataset])
    p = build_process(
        ds.train.shape[1:],
        basis=args.basis,
        **({"levels": 2 if args.dataset == "patches" else 1} if args.basis == "haar" else {}),
        schedule="soft",
        softness=math.inf,
        soft_form="one_gamma",
        ordering="variance",
        center=True,
        deterministic_tol=1e-6,
        data=ds.train,
    )
    x = ds.test[: args.n].double()
    quantum = ds.meta.get("quantum")
    if quantum is not None:  # discrete: the study's dequantisation
        raw = ds.normaliser.decode(x, clamp=False)
        gens = PerSampleNoise(sample_seeds(args.seed, args.n, offset=DEQUANT_OFFSET)).generators
        u = torch.stack([torch.rand(x.shape[1:], generator=g, dtype=torch.float64) for g in gens])
        x = ds.normaliser.encode(raw + quantum * (u - 0.5))
    live = p.active if p.active is not None else torch.ones(p.dim, dtype=torch.bool)
    d = int(live.sum())
    offset = active_normaliser_log_det(ds.normaliser, p) - (d * math.log(quantum) if quantum is not None else 0.0)
    w = p.to_white(x)[:, live]
    wt = p.to_white(ds.train.double())[:, live]
    cov = torch.cov(wt.T, correction=0)
    dists = {
        "diag": torch.distributions.Normal(torch.zeros(d, dtype=torch.float64), cov.diagonal().sqrt()),
        "full": torch.distributions.MultivariateNormal(torch.zeros(d, dtype=torch.float64), cov),
        "N(μ, I)": torch.distributions.Normal(0.0, 1.0),
    }
    table: dict[str, dict[str, float]] = {}
    for name, dist in dists.items():
        logp = dist.log_prob(w)
        bpd = -((logp.sum(1) if logp.dim() == 2 else logp) - offset) / (d * math.log(2))
        se = float(bpd.std() / math.sqrt(args.n))
        print(f"{name}: {float(bpd.mean()):.3f} ± {se:.3f} bits/dim (n = {args.n}, {d} dims)")
        table.setdefault(name, {})["bits_per_dim"] = float(bpd.mean())
    if args.samples:
        table = score_samples(args, ds, p, live, dists, table)
    if args.json:
        Path(args.json).write_text(json.dumps({k: v for k, v in table.items() if k != "N(μ, I)"}, indent=1))


def score_samples(args, ds, p, live, dists, table: dict) -> dict:
    """Score ``--samples`` draws of the diag and full Gaussians and of real held-out training examples."""
    fd_key = primary_metric(args.dataset, tuple(ds.shape))
    keys = [fd_key, *(["spectrum_error"] if ds.is_image else [])]
    _, rest = train_reference(ds.train)  # training examples outside the train-ref set: the real-data floor
    for name in ("diag", "full", "real"):
        scores: dict[str, list[float]] = {}
        for seed in map(int, args.seeds.split(",")):
            torch.manual_seed(seed)
            if name == "real":
                x = rest[torch.randperm(len(rest))[: args.samples]]
            else:
                white = torch.zeros(args.samples, p.dim, dtype=torch.float64)
                white[:, live] = dists[name].sample((args.samples,))
                x = p.from_white(white).float()
            metrics = evaluate(x, ds.test, train=ds.train, dataset=args.dataset)
            scored = {k: metrics[k] for k in keys} | score_train_ref(x, ds.train, args.dataset)
            for k, v in scored.items():
                scores.setdefault(k, []).append(v)
        text = ", ".join(f"{k} {statistics.mean(v):.3f} ± {statistics.stdev(v):.3f}" for k, v in scores.items())
        print(f"{name} samples (n = {args.samples}, {len(scores[fd_key])} draws): {text}")
        row = table.setdefault(name, {})
        row.update({("fd" if k == fd_key else k): statistics.mean(v) for k, v in scores.items()})
    return table


if __name__ == "__main__":
    main()
