"""The demo: its built-in config is configs/digits.yaml, and it writes a complete, linked report."""

import re

from difflab.config import config_to_dict, load_config
from difflab.config.schema import RunConfig
from difflab.pipeline.demo import demo_config, run_demo
from tests.helpers import ROOT


def test_demo_config_matches_the_shipped_yaml():
    assert config_to_dict(demo_config()) == config_to_dict(load_config(RunConfig, ROOT / "configs" / "digits.yaml"))


def test_demo_writes_a_report_whose_links_exist(tmp_path):
    overrides = [
        "train.steps=4",
        "train.batch_size=16",
        "train.checkpoint_every=4",
        "train.log_every=2",
        "sample.n_eval=32",
    ]
    report = run_demo(tmp_path, overrides=overrides, steps=[2, 3], samplers=["ddim", "dpmpp2m"], progress=False)
    text = report.read_text()
    links = re.findall(r"\]\(([^)]+)\)", text)
    assert {
        "config.yaml",
        "quality_vs_steps.png",
        "metrics.json",
        "samples_ddim_2.png",
        "samples_dpmpp2m_3.png",
        "loss.png",
    } <= set(links)
    for link in links:
        assert (tmp_path / link).is_file(), link
    assert "classifier_fd" in text and "floor" in text
