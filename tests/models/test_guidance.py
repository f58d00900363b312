"""Classifier-free guidance and class labels in ``generate`` and ``difflab sample``.

W = 1 must be the conditional model and W = 0 the null-label model, bit for bit; other W
combine both predictions of one batched forward on x̂₀.
"""

import dataclasses

import pytest
import torch
from torch import nn

from difflab.cli.main import main as cli_main
from difflab.errors import DifflabError
from difflab.models import generate, load_run
from difflab.models.guidance import GuidedDenoiser
from difflab.pipeline import train_run
from tests.helpers import tiny_config

COND = ["network.class_conditional=true", "train.label_dropout=0.2", "train.steps=4", "train.checkpoint_every=4"]


@pytest.fixture(scope="module")
def cond_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cond_run")
    train_run(tiny_config(*COND), out, progress=False)
    return out


class Recorder(nn.Module):
    """Records the labels of every call; replaces them with the null label when ``null`` is set."""

    def __init__(self, inner, null=None):
        super().__init__()
        self.inner, self.null, self.calls = inner, null, []

    def forward(self, x_t, t, labels, **cond):
        self.calls.append(labels.clone())
        if self.null is not None:
            labels = torch.full_like(labels, self.null)
        return self.inner(x_t, t, labels=labels, **cond)


def _gen(run, **kw):
    kw = {"steps": 4, "sampler": "ddim", "seed": 3, **kw}
    return generate(run, 6, **kw)[0]


def test_guidance_ends_are_bit_exact(cond_run):
    run = load_run(cond_run)
    y = torch.tensor([0, 1, 2, 3, 4, 5])
    conditional = _gen(run, cond={"labels": y})
    assert torch.equal(_gen(run, cond={"labels": y}, guidance=1.0), conditional)
    null = _gen(run, cond={"labels": y}, denoiser=Recorder(run.denoiser, null=10))
    assert torch.equal(_gen(run, cond={"labels": y}, guidance=0.0), null)
    assert not torch.equal(null, conditional)


def test_one_batched_forward_combines_on_x0(cond_run):
    run = load_run(cond_run)
    rec = Recorder(run.denoiser)
    guided = GuidedDenoiser(rec, 3.0, null_label=10)
    x = torch.randn(5, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    t = torch.full((5,), 0.6, dtype=torch.float64)
    y = torch.tensor([1, 2, 3, 4, 5])
    out = guided(x, t, labels=y)
    assert len(rec.calls) == 1 and torch.equal(rec.calls[0], torch.cat([y, torch.full_like(y, 10)]))
    c, u = run.denoiser(x, t, labels=y), run.denoiser(x, t, labels=torch.full_like(y, 10))
    assert torch.allclose(out, u + 3.0 * (c - u), atol=1e-5)


def test_guidance_interval(cond_run):
    run = load_run(cond_run)
    y = torch.tensor([7] * 6)
    # An interval no grid time falls in: the conditional model, bit for bit.
    assert torch.equal(
        _gen(run, cond={"labels": y}, guidance=4.0, guidance_interval=(0.1, 0.2)), _gen(run, cond={"labels": y})
    )
    rec = Recorder(run.denoiser)
    _gen(run, cond={"labels": y}, guidance=4.0, guidance_interval=(0.3, 0.8), denoiser=rec)
    # Grid 1, .75, .5, .25 (0): only t = .75 and .5 are guided (2B rows).
    assert [len(c) for c in rec.calls] == [6, 12, 12, 6]


def test_refusals_are_one_line(cond_run):
    run = load_run(cond_run)
    y = torch.tensor([0, 1, 2, 3, 4, 5])
    no_dropout = dataclasses.replace(
        run, cfg=dataclasses.replace(run.cfg, train=dataclasses.replace(run.cfg.train, label_dropout=0.0))
    )
    with pytest.raises(DifflabError, match="label_dropout = 0, so its null label was never trained"):
        _gen(no_dropout, cond={"labels": y}, guidance=2.0)
    with pytest.raises(DifflabError, match=r"label 10 is out of range: this run has classes 0\.\.9"):
        _gen(run, cond={"labels": torch.tensor([0, 1, 2, 3, 4, 10])})
    with pytest.raises(DifflabError, match="label -1 is out of range"):
        _gen(run, cond={"labels": torch.tensor([0, 1, 2, 3, 4, -1])})
    with pytest.raises(DifflabError, match="got 2 labels for n=6"):
        _gen(run, cond={"labels": torch.tensor([0, 1])})
    with pytest.raises(DifflabError, match="guidance W must be"):
        _gen(run, cond={"labels": y}, guidance=-1.0)
    with pytest.raises(DifflabError, match="interval"):
        _gen(run, cond={"labels": y}, guidance=2.0, guidance_interval=(0.8, 0.2))


def test_no_labels_draws_a_seeded_class_per_sample(cond_run):
    run = load_run(cond_run)
    rec_a, rec_b = Recorder(run.denoiser), Recorder(run.denoiser)
    a = generate(run, 6, steps=2, seed=1, denoiser=rec_a, batch_size=6)[0]
    b = generate(run, 6, steps=2, seed=1, denoiser=rec_b, batch_size=4)[0]
    labels = rec_a.calls[0]
    assert torch.equal(torch.cat(rec_b.calls[:1] + rec_b.calls[2:3]), labels)  # sample i's class: its seed only
    assert torch.allclose(a, b, atol=1e-5)
    assert labels.min() >= 0 and labels.max() <= 9 and len(set(labels.tolist())) > 1


def test_cli_labels_and_guidance(cond_run, tmp_path, capsys):
    out = tmp_path / "g.npy"
    assert (
        cli_main(["sample", str(cond_run), "--labels", "3,3,7", "--guidance", "2", "--steps", "2", "--out", str(out)])
        == 0
    )
    assert "3 samples" in capsys.readouterr().out and out.is_file()
    assert cli_main(["sample", str(cond_run), "--n", "2", "--steps", "2", "--out", str(tmp_path / "r.npy")]) == 0
    assert "uniform random class per sample" in capsys.readouterr().out
    bad = tmp_path / "bad.npy"
    assert cli_main(["sample", str(cond_run), "--labels", "3,11", "--out", str(bad)]) != 0
    err = capsys.readouterr().err.strip()
    assert err == "difflab: error: label 11 is out of range: this run has classes 0..9" and not bad.exists()


def test_range_warning_for_diverged_samples():
    from difflab.data.base import Normaliser
    from difflab.models.range_check import out_of_range_fraction, range_warning

    norm = Normaliser(shift=8.0, scale=8.0, value_range=(0.0, 16.0))  # the digits normaliser: [-1, 1]
    fine = torch.linspace(-1.15, 1.15, 100).reshape(1, 1, 10, 10)
    assert out_of_range_fraction(fine, norm) == 0.0 and range_warning(fine, norm) is None
    diverged = fine * 10
    msg = range_warning(diverged, norm)
    assert msg.startswith("warning: 90% of") and "\n" not in msg
    assert out_of_range_fraction(diverged, Normaliser()) is None  # unbounded data: no check


def test_cli_evaluate_takes_guidance_and_clipping(cond_run, tmp_path, capsys):
    args = ["evaluate", str(cond_run), "--steps", "2", "--n", "20", "--out", str(tmp_path / "ev")]
    assert cli_main([*args, "--guidance", "2", "--clip-x0", "1"]) == 0
    assert (tmp_path / "ev" / "metrics.json").is_file()
    assert cli_main([*args, "--guidance", "-1"]) != 0
    assert "guidance W must be" in capsys.readouterr().err
