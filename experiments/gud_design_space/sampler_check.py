"""Is the sampler the bottleneck? Exact sampler error on a Gaussian fitted to digits, per study process.

For each process of the study (centred, variance ordering, ``deterministic_tol``), the Gaussian with the
digits training mean and covariance has an exact denoiser (``GaussianOracle``); the sampler's output
mean and covariance are computed exactly (``sampler_output_moments``, no Monte-Carlo noise) from the
exact marginal at t = 1, so the numbers measure the sampler alone at the study's step count.

Usage:
    python experiments/gud_design_space/sampler_check.py --samplers euler,ddim,heun --steps 64,256
"""

import argparse
import math

import torch

from difflab.data import load_dataset
from difflab.process.factory import build_process
from difflab.process.oracles import GaussianOracle
from difflab.sampling import SAMPLERS, uniform
from difflab.sampling.moments import sampler_output_moments

DETERMINISTIC = ("ddim", "heun", "dpmpp2m")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", default="pixel:0.1:gud_code,pca:0.1:gud_code,pixel:inf:one_gamma")
    ap.add_argument("--samplers", default="euler")
    ap.add_argument("--steps", default="64,256")
    ap.add_argument("--deterministic-tol", type=float, default=1e-6)
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = load_dataset("digits").train.double()
    x = data.flatten(1)
    mean, cov = x.mean(0), torch.cov(x.T, correction=0)
    print("| basis | softness | form | Δγ | sampler | steps | rel. covariance error | rel. mean error |")
    print("|---|---|---|---|---|---|---|---|")
    for cell in args.cells.split(","):
        basis, soft, form = cell.split(":")
        p = build_process(
            data.shape[1:],
            basis=basis,
            schedule="soft",
            softness=float(soft),
            soft_form=form,
            ordering="variance",
            center=True,
            deterministic_tol=args.deterministic_tol,
            data=data,
        )
        oracle = GaussianOracle(p, mean, cov)
        for sampler in args.samplers.split(","):
            for steps in map(int, args.steps.split(",")):
                m, c = sampler_output_moments(
                    SAMPLERS[sampler],
                    oracle,
                    p,
                    uniform(steps),
                    noise_draws=0 if sampler in DETERMINISTIC else None,
                    start=oracle.white_marginal(1.0),
                )
                cov_err = float((c - cov).norm() / cov.norm())
                mean_err = float((m - mean).norm() / math.sqrt(float(cov.trace())))
                print(
                    f"| {basis} | {soft} | {form} | {float(p.schedule.delta):.1f} | {sampler} | {steps} | "
                    f"{cov_err:.4f} | {mean_err:.4f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
