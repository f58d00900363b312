"""Euler–Maruyama's stability warning: it fires exactly where the exact sampler moments blow up."""

import warnings

import pytest
import torch

from difflab.process.factory import build_process
from difflab.process.oracles import GaussianOracle
from difflab.sampling import SAMPLERS, uniform, uniform_logsnr
from difflab.sampling.moments import sampler_output_moments
from difflab.sampling.sde import MAX_GROWTH_LOG10, em_step_factors, worst_amplification

from .gaussian_cases import PROCESS_COMBOS, SHAPE, gaussian_data, gaussian_process, gaussian_target, moment_errors


def _steep_pca():
    """Autoregressive soft conditioning (softness 0.02, Δγ ≈ 205) on the 16-d Gaussian: narrow windows."""
    process = build_process(
        SHAPE, basis="pca", schedule="soft", softness=0.02, ordering="variance", soft_form="gud_code",
        data=gaussian_data(),
    )  # fmt: skip
    return process, GaussianOracle(process, *gaussian_target())


def _cov_error(process, oracle, steps):
    m, c = sampler_output_moments(SAMPLERS["euler"], oracle, process, uniform(steps), start=oracle.white_marginal(1.0))
    return moment_errors(m, c)[1]


def test_warns_where_euler_maruyama_diverges_and_not_where_it_converges():
    process, oracle = _steep_pca()
    with pytest.warns(UserWarning, match=r"euler: Euler–Maruyama is unstable .* Use about \d+ steps"):
        err = _cov_error(process, oracle, 16)
    assert err > 1e3, f"a warned grid should diverge on the exact oracle, covariance error {err:.3g}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        err = _cov_error(process, oracle, 256)
    assert err < 0.15, f"256 steps: covariance error {err:.3g}"


def test_the_suggested_step_count_is_stable():
    process, _ = _steep_pca()
    with pytest.warns(UserWarning) as record:
        SAMPLERS["euler"](lambda x, t: x, process, torch.zeros(1, *SHAPE), uniform(16))
    need = int(str(record[0].message).split("Use about ")[1].split()[0])
    assert float(em_step_factors(process, uniform(need)).min()) >= -1
    assert worst_amplification(em_step_factors(process, uniform(need))) == 0


@pytest.mark.parametrize("steps", [4, 8, 16])
@pytest.mark.parametrize(("basis", "schedule"), [(b, s) for b, s, _ in PROCESS_COMBOS])
def test_no_warning_for_the_tests_processes_on_short_grids(basis, schedule, steps):
    """Short grids are inaccurate, not divergent: the warning is kept for compounding growth."""
    for prior in ("white", "data"):
        process, _ = gaussian_process(basis, schedule, prior)
        for grid in (uniform(steps), uniform_logsnr(process, steps)):
            assert worst_amplification(em_step_factors(process, grid)) <= MAX_GROWTH_LOG10
