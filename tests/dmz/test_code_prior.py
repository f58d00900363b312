"""The learned prior over DMZ bits: MADE's autoregressive masks, maximum likelihood, storage, CLI."""

import math

import pytest
import torch

from difflab import dmz
from difflab.cli.main import main as cli_main
from difflab.config import load_config
from difflab.config.schema import RunConfig
from difflab.errors import DifflabError
from difflab.models.code_prior import MADE, empirical_entropy, fit_made, load_prior, save_prior
from difflab.pipeline import generate, load_run, train_run
from difflab.pipeline.run import load_data

TINY = ["train.steps=2", "train.batch_size=16", "network.base_channels=16", "encoder.channels=[8,16]", "encoder.dim=6"]


def _bernoulli_entropy_bits(p: torch.Tensor) -> float:
    return float(-(p * p.log2() + (1 - p) * (1 - p).log2()).sum())


@pytest.mark.parametrize("dim,layers", [(1, 1), (5, 1), (9, 2)])
def test_output_i_depends_only_on_inputs_before_i(dim, layers):
    torch.manual_seed(0)
    made = MADE(dim, hidden=32, layers=layers)
    for p in made.parameters():  # nonzero biases and weights everywhere, so a dependence would show
        torch.nn.init.normal_(p)
    x = torch.rand(4, dim, requires_grad=True)
    for i in range(dim):
        (g,) = torch.autograd.grad(made(x)[:, i].sum(), x)
        assert torch.equal(g[:, i:], torch.zeros_like(g[:, i:])), f"output {i} sees inputs >= {i}"
        if i > 0:
            assert g[:, :i].abs().sum() > 0, f"output {i} sees none of the inputs before it"


def test_product_bernoulli_law_is_learned():
    torch.manual_seed(0)
    p = torch.tensor([0.1, 0.9, 0.5, 0.3, 0.75, 0.2])
    codes = (torch.rand(2000, 6) < p).float()
    made, stats = fit_made(codes, hidden=32, epochs=30, lr=3e-3, batch_size=256)
    truth = _bernoulli_entropy_bits(p)  # 4.35 bits
    # n = 20000 fresh codes: the NLL estimate's own noise is ~0.01 bit.
    fresh = (torch.rand(20000, 6, generator=torch.Generator().manual_seed(9)) < p).float()
    assert truth - 0.02 < made.nll_bits(fresh) < truth + 0.05
    samples = made.sample(torch.rand(8000, 6, generator=torch.Generator().manual_seed(1)))
    assert set(samples.unique().tolist()) <= {0.0, 1.0}
    assert (samples.mean(0) - p).abs().max() < 0.03


def test_a_correlated_law_beats_independent_bits():
    """Four codewords of 8 bits: 2 bits of entropy, while the per-bit marginals spend far more."""
    torch.manual_seed(0)
    words = torch.tensor(
        [[0, 0, 1, 1, 0, 1, 0, 1], [1, 1, 0, 0, 1, 0, 1, 0], [0, 1, 0, 1, 1, 1, 0, 0], [1, 0, 1, 0, 0, 0, 1, 1]]
    )
    codes = words[torch.randint(4, (3000,))].float()
    made, stats = fit_made(codes, hidden=32, epochs=40, lr=1e-2, batch_size=256)
    assert stats["empirical_entropy_bits"] == pytest.approx(2.0, abs=0.01) and stats["unique_codes"] == 4
    assert stats["nll_bits_val"] < 2.1 < _bernoulli_entropy_bits(codes.mean(0)) - 3
    samples = made.sample(torch.rand(500, 8, generator=torch.Generator().manual_seed(2)))
    hits = (samples[:, None, :] == words[None].float()).all(-1).any(-1)
    assert hits.float().mean() > 0.98  # it draws the codewords, not their independent-bit mixtures


def test_empirical_entropy():
    assert empirical_entropy(torch.tensor([[0.0, 1.0]] * 4)) == 0.0
    assert empirical_entropy(torch.eye(8)) == pytest.approx(3.0)


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    codes = (torch.rand(200, 5) < 0.3).float()
    made, stats = fit_made(codes, hidden=16, epochs=2)
    save_prior(tmp_path, made, stats)
    back, stats_back = load_prior(tmp_path)
    assert stats_back == pytest.approx(stats)
    assert torch.equal(back.log_prob(codes), made.log_prob(codes))
    u = torch.rand(50, 5)
    assert torch.equal(back.sample(u), made.sample(u))
    with pytest.raises(DifflabError, match="fit-prior"):
        load_prior(tmp_path / "elsewhere")


def test_fit_prior_cli_sample_and_evaluate_with_codes(tmp_path, capsys):
    cfg = load_config(RunConfig, "configs/digits-dmz-paper.yaml", TINY)
    path = train_run(cfg, tmp_path / "run", progress=False)
    # No prior yet: a one-line error and nothing written.
    out = tmp_path / "s.png"
    assert cli_main(["sample", str(path), "--n", "4", "--steps", "2", "--codes", "prior", "--out", str(out)]) == 2
    assert "fit-prior" in capsys.readouterr().err and not out.exists()
    assert cli_main(["fit-prior", str(path), "--epochs", "3", "--hidden", "16"]) == 0
    assert "NLL bits/code" in capsys.readouterr().out
    run = load_run(path)
    z = dmz.sample_codes(run, 5, source="prior", seed=3)
    assert z.shape == (5, 6) and set(z.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(dmz.sample_codes(run, 7, source="prior", seed=3)[:5], z)  # code i: (seed, i) alone
    train_codes = dmz.encode(run, load_data(cfg).train)
    zd = dmz.sample_codes(run, 5, source="data")
    assert (zd[:, None, :] == train_codes[None]).all(-1).any(-1).all()  # rows of the training codes
    assert cli_main(["sample", str(path), "--n", "4", "--steps", "2", "--codes", "prior", "--out", str(out)]) == 0
    run.denoiser.code_prior = "prior"
    z3 = dmz.sample_codes(run, 3, source="prior")
    assert torch.equal(generate(run, 3, steps=2)[0], generate(run, 3, steps=2, cond={"z": z3})[0])
    from difflab.pipeline.run import export_run

    slim = load_run(export_run(path, tmp_path / "slim"))  # the prior travels with an exported run
    assert torch.equal(dmz.sample_codes(slim, 5, source="prior", seed=3), z)
    ev = tmp_path / "ev"
    argv = ["evaluate", str(path), "--steps", "1", "--n", "8", "--codes", "data", "--out", str(ev)]
    assert cli_main(argv) == 0 and (ev / "metrics.json").exists()


def test_fit_prior_refuses_a_plain_run(tmp_path, capsys):
    cfg = load_config(RunConfig, "configs/digits.yaml", ["train.steps=1", "train.batch_size=8"])
    path = train_run(cfg, tmp_path / "plain", progress=False)
    assert cli_main(["fit-prior", str(path)]) == 2
    assert "not a coded" in capsys.readouterr().err
    assert cli_main(["sample", str(path), "--n", "2", "--steps", "1", "--codes", "fair"]) == 2


def test_nll_bits_is_in_bits():
    made = MADE(3, hidden=4)
    for p in made.parameters():
        torch.nn.init.zeros_(p)  # every logit 0: fair bits, exactly 1 bit each
    assert made.nll_bits(torch.ones(2, 3)) == pytest.approx(3.0)
    assert float(made.log_prob(torch.zeros(1, 3)).detach()) == pytest.approx(-3 * math.log(2))
