"""The notebook path matches the shell: generate's defaults are the run's own sample settings."""

import pytest
import torch

from difflab.models import generate, load_run
from difflab.utils.threads import configure_threads


def test_generate_defaults_to_the_runs_sample_section(tiny_run):
    run = load_run(tiny_run)
    assert run.process is run.denoiser.process
    s = run.cfg.sample
    x, nfe = generate(run, 3)
    y, nfe_y = generate(run, 3, steps=s.steps, sampler=s.sampler, grid=s.grid, sampler_options=s.options_for(s.sampler))
    assert torch.equal(x, y) and nfe == nfe_y
    z, _ = generate(run, 3, steps=2, sampler="ddim")
    assert z.shape == x.shape and not torch.equal(z, x)


def test_thread_count_follows_omp_num_threads(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("OMP_NUM_THREADS", "1")
        assert configure_threads() == 1 and torch.get_num_threads() == 1
        monkeypatch.delenv("OMP_NUM_THREADS")
        torch.set_num_threads(64)
        from difflab.utils.threads import physical_cores

        assert configure_threads() == min(64, physical_cores()) <= 64
    finally:
        torch.set_num_threads(before)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message where there is no CUDA")
def test_load_run_on_cuda_without_cuda_is_one_line(tiny_run):
    from difflab.errors import DifflabError

    with pytest.raises(DifflabError, match="asks for CUDA but no GPU is available"):
        load_run(tiny_run, device="cuda")


def test_training_prints_its_expected_time_and_where_it_resumes(capsys, tmp_path):
    from difflab.pipeline import train_run
    from tests.helpers import tiny_config

    train_run(tiny_config("train.steps=8", "train.checkpoint_every=4"), tmp_path, progress=True)
    out = capsys.readouterr().out
    assert "train: expected about" in out and "for the remaining 2 steps" in out and "torch threads" in out
    train_run(tiny_config("train.steps=16", "train.checkpoint_every=4"), tmp_path, progress=True)
    assert "train: resuming from step 8 of 16" in capsys.readouterr().out


def test_a_misspelt_sampler_option_is_one_line(tiny_run):
    from difflab.errors import DifflabError

    with pytest.raises(DifflabError, match="sampler 'ddim' has no option etaa; its options: eta"):
        generate(load_run(tiny_run), 2, steps=2, sampler="ddim", sampler_options={"etaa": 1.0})
