"""Bits/dim of two Gaussian references on the study's fixed held-out set, in closed form.

The same first ``--n`` digits test images, the same centred uniform dequantisation (seed 0) and the same
60 active dimensions (the 4 constant border pixels pinned) as ``study.py``'s bits/dim column:

- ``diag``: independent components N(μ_i, Σ_i) (what ``process.gaussian_residual`` gives an untrained network);
- ``full``: N(μ, C) with the training mean and covariance (the best linear model);
- ``N(μ, I)``: the model of a network that outputs v ≡ 0 under the white prior without the residual.

    python experiments/gud_design_space/gaussian_bpd.py --n 16
"""

import argparse
import math

import torch

from difflab.data import load_dataset
from difflab.metrics.likelihood import DEQUANT_OFFSET, active_normaliser_log_det
from difflab.process.factory import build_process
from difflab.process.noise import PerSampleNoise, sample_seeds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    ds = load_dataset("digits")
    p = build_process(
        ds.train.shape[1:],
        basis="pixel",
        schedule="soft",
        softness=math.inf,
        soft_form="one_gamma",
        ordering="variance",
        center=True,
        deterministic_tol=1e-6,
        data=ds.train,
    )
    x = ds.test[: args.n].double()
    raw = ds.normaliser.decode(x, clamp=False)
    gens = PerSampleNoise(sample_seeds(args.seed, args.n, offset=DEQUANT_OFFSET)).generators
    u = torch.stack([torch.rand(x.shape[1:], generator=g, dtype=torch.float64) for g in gens])
    x = ds.normaliser.encode(raw + ds.meta["quantum"] * (u - 0.5))
    live = p.active
    d = int(live.sum())
    offset = active_normaliser_log_det(ds.normaliser, p) - d * math.log(ds.meta["quantum"])
    w = p.to_white(x)[:, live]
    wt = p.to_white(ds.train.double())[:, live]
    cov = torch.cov(wt.T, correction=0)
    models = {
        "diag": torch.distributions.Normal(0.0, cov.diagonal().sqrt()).log_prob(w).sum(1),
        "full": torch.distributions.MultivariateNormal(torch.zeros(d, dtype=torch.float64), cov).log_prob(w),
        "N(μ, I)": torch.distributions.Normal(0.0, 1.0).log_prob(w).sum(1),
    }
    for name, logp in models.items():
        bpd = -(logp - offset) / (d * math.log(2))
        se = float(bpd.std() / math.sqrt(args.n))
        print(f"{name}: {float(bpd.mean()):.3f} ± {se:.3f} bits/dim (n = {args.n}, {d} dims)")


if __name__ == "__main__":
    main()
