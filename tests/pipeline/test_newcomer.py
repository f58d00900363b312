"""A new user's first hour, scripted: the README's "Your own data" commands, run literally.

The commands are read from README.md (the fenced block under "### Your own data") and run as
written, with only tiny sizes appended (later options and overrides win), in a scratch folder
holding the user's own data: a ring of points in a .npy, a folder of 16×16 grayscale PNGs, and
labelled bar images in an .npz whose test split duplicates training images.
"""

import json
import re
import shlex

import numpy as np
import pytest
from PIL import Image

from difflab.cli.main import main
from difflab.models import load_run
from tests.helpers import ROOT

# Appended to each command of the README, so the whole script runs in seconds.
TINY = {
    "train": [
        "train.steps=4",
        "train.batch_size=32",
        "train.log_every=2",
        "train.checkpoint_every=4",
        "network.base_channels=8",
        "network.attention_levels=[]",
        "network.hidden=32",
        "sample.n_eval=32",
        "--no-progress",
    ],
    "sample": ["--n", "8", "--steps", "2"],
    "evaluate": ["--n", "32", "--steps", "2"],
}
RING_CENTRE = np.array([10.0, -5.0])


def readme_commands(section: str = "### Your own data") -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(re.escape(section) + r".*?```bash\n(.*?)```", text, re.S)
    assert block, f"README.md has no bash block under {section!r}"
    commands = []
    for line in block.group(1).splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("difflab "):
            commands.append(shlex.split(line)[1:])
    return commands


def make_user_data(root):
    rng = np.random.default_rng(0)
    mydata = root / "mydata"
    (mydata / "shapes").mkdir(parents=True)
    angle = rng.uniform(0, 2 * np.pi, 400)
    radius = 3 + 0.1 * rng.standard_normal(400)
    ring = RING_CENTRE + radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], 1)
    np.save(mydata / "ring.npy", ring.astype(np.float32))
    for i in range(40):
        img = np.zeros((16, 16), np.uint8)
        a, b = 2 + i % 5, 9 + i % 6
        img[a:b, a : b + 1] = 255
        Image.fromarray(img, mode="L").save(mydata / "shapes" / f"{i:02d}.png")
    # 12 distinct 8x8 bar images repeated: the test split duplicates training images.
    bars = np.zeros((12, 8, 8), np.float32)
    for k in range(6):
        bars[k, :, k + 1] = 255
        bars[6 + k, k + 1, :] = 255
    x = np.repeat(bars, 20, axis=0)
    y = np.repeat(np.arange(12) // 6, 20)
    np.savez(mydata / "bars.npz", x=x, y=y)


@pytest.fixture
def newcomer(tmp_path, monkeypatch):
    make_user_data(tmp_path)
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_readme_own_data_commands_work_as_written(newcomer, capsys):
    commands = readme_commands()
    assert [c[0] for c in commands].count("train") >= 3, commands
    outputs = {}
    for argv in commands:
        code = main([*argv, *TINY.get(argv[0], [])])
        out, err = capsys.readouterr()
        assert code == 0, (argv, err)
        outputs[" ".join(argv)] = (out, err)

    # Switching toy2d's config to npy dropped toy2d's options; the run kept the data's units.
    ring = load_run("runs/ring")
    assert ring.cfg.data.name == "npy" and ring.cfg.data.options == {"path": "mydata/ring.npy"}
    points = np.load("runs/ring/samples.npy")
    assert points.shape == (8, 2)
    assert np.linalg.norm(points.mean(0) - RING_CENTRE) < np.linalg.norm(RING_CENTRE) / 2  # data units, not normalised
    assert json.loads((newcomer / "runs/ring/eval/metrics.json").read_text())["samplers"]["dpmpp2m"]["2"]["pca_fd"] >= 0

    # The PNG folder: 16x16 grayscale inferred (not 3x32x32), and the user was told.
    shapes = load_run("runs/shapes")
    assert shapes.info.shape == (1, 16, 16)
    train_err = next(err for cmd, (_, err) in outputs.items() if cmd.startswith("train") and "shapes" in cmd)
    assert "inferred size=16, channels=1" in train_err
    assert (newcomer / "runs/shapes/samples.png").is_file()
    sample_out = next(out for cmd, (out, _) in outputs.items() if cmd.startswith("sample") and "shapes" in cmd)
    assert "checkpoint step 4" in sample_out

    # Labelled bars whose test split duplicates training images: memorisation refuses, the rest is written.
    metrics = json.loads((newcomer / "runs/bars/eval/metrics.json").read_text())
    assert "duplicates" in metrics["refused"]["memorisation_ratio"]
    scores = metrics["samplers"]["dpmpp2m"]["2"]
    assert scores["memorisation_ratio"] is None and scores["pca_fd"] is not None and scores["mmd_rbf"] is not None
    eval_out, eval_err = next(v for cmd, v in outputs.items() if cmd.startswith("evaluate") and "bars" in cmd)
    assert "refused" in eval_out and "difflab: warning: memorisation" in eval_err


def test_readme_python_example_and_api_page_example(tiny_run):
    """The README's and docs/api.md's notebook calls work on a run (tiny digits run here)."""
    import torch

    from difflab.models import generate
    from difflab.process import GaussianOracle, build_process  # noqa: F401 (documented import)
    from difflab.sampling import build_grid, get_sampler, uniform

    run = load_run(tiny_run)
    x, nfe = generate(run, 4)  # the run's own sample settings
    assert x.shape == (4, 1, 8, 8) and nfe >= run.cfg.sample.steps
    times = build_grid("edm", run.process, 8)
    assert torch.equal(uniform(run.process, 8), uniform(8))
    x0 = get_sampler("ddim")(run.denoiser, run.process, run.process.prior_sample(4), times)
    assert x0.shape == (4, 1, 8, 8)
    assert build_process((1, 8, 8), basis="dct").basis.name == "dct"
