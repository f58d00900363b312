"""The PF-ODE likelihood against the exact Gaussian log-density, every basis × prior × schedule.

Prints the markdown table of docs/likelihood.md: the largest |error| in bits/dim over 8 samples of
the Gaussian target of ``tests/sampling/gaussian_cases.py`` (D = 16), with the exact divergence, and
the Hutchinson estimate (8 Rademacher probes) with its mean standard error.

Usage:
    python experiments/gud_design_space/likelihood_validation.py
"""

import math

import torch
from tests.sampling.gaussian_cases import PRIORS, PROCESS_COMBOS, SHAPE, D, gaussian_process, gaussian_target

from difflab.metrics.likelihood import ode_log_likelihood


def main() -> None:
    mean, cov = gaussian_target()
    g = torch.Generator().manual_seed(3)
    x = (mean + torch.randn(8, D, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(cov).T).reshape(8, *SHAPE)
    bpd = D * math.log(2)
    print("| basis | schedule | prior | exact: max err (bits/dim) | NFE | Hutchinson: max err | mean s.e. |")
    print("|---|---|---|---|---|---|---|")
    for basis, sched, opts in PROCESS_COMBOS:
        for prior in PRIORS:
            process, oracle = gaussian_process(basis, sched, prior)
            prior1 = torch.distributions.MultivariateNormal(*oracle.white_marginal(1.0)).log_prob
            exact = torch.distributions.MultivariateNormal(*oracle.white_marginal(0.0)).log_prob(process.to_white(x))
            exact = exact - process.scale.log().sum()
            cells = []
            for div in ("exact", "hutchinson"):
                r = ode_log_likelihood(
                    oracle, process, x, dtype=torch.float64, prior_logpdf=prior1, divergence=div, probes=8
                )
                cells.append((float((r.log_px - exact).abs().max() / bpd), r.nfe, float(r.probe_se.mean() / bpd)))
            name = sched + (f" ({', '.join(f'{k}={v}' for k, v in opts.items())})" if opts else "")
            print(
                f"| {basis} | {name} | {prior} | {cells[0][0]:.1e} | {cells[0][1]} | "
                f"{cells[1][0]:.3f} | {cells[1][2]:.3f} |"
            )


if __name__ == "__main__":
    main()
