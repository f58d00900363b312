"""The denoiser extension points: the objective, generate and DDIM inversion use them without knowing the model."""

import pytest
import torch
from torch import nn

from difflab.config.schema import MethodConfig
from difflab.errors import DifflabError
from difflab.models.denoiser import Denoiser
from difflab.models.generate import generate
from difflab.models.run import LoadedRun
from difflab.objectives.build import build_objective
from difflab.process.factory import build_process
from difflab.process.noise import derive_seed, sample_seeds
from difflab.sampling import build_grid
from difflab.sampling.inversion import ddim_invert


class ZNet(nn.Module):
    """x̂ = x · 0 + z broadcast: the output is the code, so the test can see which z reached the network."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(()))

    def forward(self, x, t, *, labels=None, z=None, extra=None):
        return x * 0 + self.w * (0 if z is None else z)


class Hooked(Denoiser):
    """A capability's model: its own training conditioning, default sampling conditioning."""

    def training_cond(self, x0, t, generator):
        return {"z": torch.full_like(x0, 2.0)}, torch.full((x0.shape[0],), 5.0)

    def default_cond(self, n, seed, given=None):
        return {} if given and "z" in given else {"z": torch.full((n, 3), float(seed))}


def _model(cls=Hooked):
    process = build_process((3,), basis="pixel", schedule="cosine", data=torch.randn(64, 3))
    return cls(ZNet(), process, prediction="x0")


def test_objective_takes_training_cond_and_penalty_from_the_model():
    objective = build_objective(MethodConfig(kind="regression", prediction="x0"))
    x0 = torch.full((4, 3), 2.0)
    # The network outputs z = 2 = x0, so the MSE is 0 and only the model's penalty of 5 remains.
    loss = objective(_model(), x0, None, torch.Generator().manual_seed(0))
    assert torch.equal(loss, torch.full((4,), 5.0))
    plain_model = _model(Denoiser)
    plain = objective(plain_model, x0, None, torch.Generator().manual_seed(0))
    # No hook: z is None, the output is 0 and the loss is the whitened target's squared norm.
    assert torch.allclose(plain, plain_model.process.to_white(x0).pow(2).sum(1))


def test_generate_fills_default_cond_unless_the_caller_gives_it():
    run = LoadedRun(cfg=None, denoiser=_model(), info=None, step=0, path=None)
    x, _ = generate(run, 2, steps=2, seed=3)
    assert torch.allclose(x, torch.full((2, 3), 3.0))
    y, _ = generate(run, 2, steps=2, seed=3, cond={"z": torch.ones(2, 3)})
    assert torch.allclose(y, torch.ones(2, 3))


def test_plain_denoiser_rejects_conditioning_it_does_not_understand():
    with pytest.raises(DifflabError, match="not understood"):
        _model(Denoiser)(torch.zeros(2, 3), torch.full((2,), 0.5), source=torch.zeros(2, 3))


def test_inversion_uses_the_samplers_checks():
    model = _model(Denoiser)
    bad = lambda x, t, **cond: torch.full_like(x, float("nan"))  # noqa: E731
    with pytest.raises(DifflabError, match="NaN"):
        ddim_invert(bad, model.process, torch.zeros(2, 3), build_grid("uniform", model.process, 2))


def test_one_seed_formula():
    assert derive_seed(2, 5) == 2 * 1_000_003 + 5
    assert sample_seeds(1, 3, offset=7) == [7 + 1_000_003, 8 + 1_000_003, 9 + 1_000_003]
