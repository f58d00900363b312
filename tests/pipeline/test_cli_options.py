"""One consistent CLI: shared options, defaults in every help text, one-line errors, no silent defaults."""

import argparse
import re

import numpy as np
import pytest
import torch

from difflab import __version__
from difflab.cli.main import build_parser, main
from difflab.data.registry import dataset_names, describe_dataset
from tests.helpers import ROOT

from .test_cli import assert_one_line_error, run_cli

INFERENCE = [
    "sample",
    "evaluate",
    "likelihood",
    "reconstruct",
    "interpolate",
    "represent",
    "ablate",
    "shortcuts",
    "probe",
]


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"difflab {__version__}"


def test_every_option_has_help_and_shows_its_default(capsys):
    for name, p in subparsers().items():
        formatter = p._get_formatter()
        for action in p._actions:
            if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
                continue
            assert action.help, f"{name} {action.option_strings or action.dest} has no help text"
            shown = action.default not in (None, False, [], argparse.SUPPRESS)
            if shown and action.option_strings:
                assert "default" in formatter._get_help_string(action), (name, action.dest)
        assert "(default: " in p.format_help() or name in (
            "datasets",
            "export",
            "import",
        )  # import, like export, only names a new folder, name


def test_shared_options_mean_the_same_everywhere():
    for name in INFERENCE:
        p = subparsers()[name]
        options = {a.dest: a for a in p._actions}
        assert options["device"].default == "auto", name
        if "seed" in options:
            assert options["seed"].type.__name__ == "seed_int", name
        if "out" in options:
            assert not options["out"].required, f"{name}: --out defaults to a path inside the run"
        for dest in ("n", "steps"):
            if dest in options and options[dest].type is not None:
                assert options[dest].type.__name__ in ("positive_int", "int_list"), (name, dest)


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--steps", "0"], "positive integer"),
        (["--n", "0"], "positive integer"),
        (["--seed", str(2**40)], "seed must be in"),
        (["--seed", "-1"], "seed must be in"),
    ],
)
def test_zero_steps_and_bad_seeds_are_refused_not_defaulted(capsys, tiny_run, argv, needle):
    with pytest.raises(SystemExit) as exc:
        main(["sample", str(tiny_run), *argv])
    assert exc.value.code == 2 and needle in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message where there is no CUDA")
@pytest.mark.parametrize("command", INFERENCE)
def test_device_cuda_without_cuda_is_one_line_everywhere(capsys, tiny_run, tmp_path, command):
    extra = {"represent": ["--out", tmp_path / "r"], "shortcuts": ["--out", tmp_path / "s.json"]}.get(command, [])
    code, _, err = run_cli(capsys, command, tiny_run, "--device", "cuda", *extra)
    assert_one_line_error(code, err, "CUDA", "--device cpu")


def test_sample_names_its_checkpoint_and_defaults_its_output_into_the_run(capsys, tiny_run):
    code, out, _ = run_cli(capsys, "sample", tiny_run, "--n", 3, "--steps", 2)
    assert code == 0 and "checkpoint step 12" in out
    assert (tiny_run / "samples.png").is_file()
    (tiny_run / "samples.png").unlink()


def test_train_help_lists_every_dataset_and_its_options(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    assert "per process" in text and "data.options" in text
    for name in dataset_names():
        line = next(line for line in text.splitlines() if line.strip().startswith(name + " "))
        for option in describe_dataset(name)["options"]:
            assert option["name"] + "=" in line, (name, option["name"])


def test_datasets_command_and_readme_document_every_option(capsys):
    code, out, _ = run_cli(capsys, "datasets")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    data_section = readme[readme.index("## Data") : readme.index("### Your own data")]
    assert code == 0
    for name in dataset_names():
        assert out.count(f"\n{name}: ") + out.startswith(f"{name}: ") == 1, name
        assert f"`{name}`" in data_section, f"README's Data table misses {name}"
        for option in describe_dataset(name)["options"]:
            assert f"data.options.{option['name']} (" in out
            assert f"`{option['name']}`" in data_section, f"README misses {name}'s option {option['name']}"


def test_dry_run_validates_dataset_options(capsys, tmp_path):
    from PIL import Image

    for i in range(4):
        Image.fromarray(np.full((6, 6), 40 * i, np.uint8), mode="L").save(tmp_path / f"{i}.png")
    config = str(ROOT / "configs" / "digits.yaml")
    folder = ["data.name=folder", f"data.options.path={tmp_path}"]
    code, _, err = run_cli(capsys, "train", config, *folder, "data.options.channels=2", "--dry-run")
    assert_one_line_error(code, err, "channels")
    code, out, err = run_cli(capsys, "train", config, *folder, "--dry-run")
    assert code == 0 and "of shape (1, 6, 6)" in out and "inferred size=6, channels=1" in err


def test_switching_dataset_drops_the_old_options(capsys, tmp_path):
    np.save(tmp_path / "ring.npy", np.random.default_rng(0).normal(size=(50, 2)).astype(np.float32))
    code, out, err = run_cli(
        capsys,
        "train",
        ROOT / "configs" / "toy2d.yaml",
        "data.name=npy",
        f"data.options.path={tmp_path}/ring.npy",
        "--dry-run",
    )
    assert code == 0, err
    assert "which" not in out and re.search(r"data: npy, \d+ train", out)


def test_evaluate_warns_in_one_line_when_n_is_below_the_feature_dimension(capsys, tiny_run, tmp_path):
    code, out, err = run_cli(capsys, "evaluate", tiny_run, "--n", 16, "--steps", 2, "--out", tmp_path)
    warnings = [line for line in err.splitlines() if "n=16 is below" in line]
    assert code == 0 and len(warnings) == 1 and warnings[0].startswith("difflab: warning: n=16 is below the 128")
    assert "checkpoint step 12" in out
