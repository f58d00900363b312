"""inpaint, upsample and extend: outputs in the data's range and shape, and one-line errors for bad input."""

import numpy as np
import pytest

from tests.helpers import tiny_config

from .test_cli import assert_one_line_error, run_cli


@pytest.fixture(scope="module")
def column_run(tmp_path_factory):
    from difflab.pipeline import train_run

    out = tmp_path_factory.mktemp("column_run")
    train_run(tiny_config("process.schedule=sequential", "process.softness=0.5"), out, progress=False)
    return out


@pytest.fixture()
def digits(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 17, size=(3, 1, 8, 8)).astype(np.float32)
    mask = np.zeros((8, 8), dtype=np.float32)
    mask[:, :4] = 1
    paths = {"x": tmp_path / "x.npy", "mask": tmp_path / "mask.npy", "low": tmp_path / "low.npy"}
    np.save(paths["x"], x)
    np.save(paths["mask"], mask)
    np.save(paths["low"], x.reshape(3, 1, 4, 2, 4, 2).mean((3, 5)))
    return x, mask, paths


def test_inpaint_keeps_known_pixels_and_data_range(capsys, tiny_run, tmp_path, digits):
    x, mask, paths = digits
    out = tmp_path / "o.npy"
    args = ["inpaint", tiny_run, "--input", paths["x"], "--mask", paths["mask"], "--out", out, "--steps", 3]
    code, stdout, err = run_cli(capsys, *args, "--resample", 1, "--sampler", "ddpm")
    assert code == 0, err
    y = np.load(out)
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 16
    np.testing.assert_array_equal(y[..., :4], x[..., :4])
    assert not np.array_equal(y[..., 4:], x[..., 4:])
    np.save(tmp_path / "one.npy", x[0])
    code, _, err = run_cli(
        capsys,
        "inpaint",
        tiny_run,
        "--input",
        tmp_path / "one.npy",
        "--mask",
        paths["mask"],
        "--out",
        tmp_path / "one_out.npy",
        "--steps",
        2,
    )
    assert code == 0, err
    assert np.load(tmp_path / "one_out.npy").shape == x[0].shape
    code, _, err = run_cli(capsys, *args[:-3], tmp_path / "o.png", "--steps", 2)
    assert code == 0 and (tmp_path / "o.png").stat().st_size > 0, err


def test_upsample_fixes_block_means(capsys, tiny_run, tmp_path, digits):
    x, _, paths = digits
    out = tmp_path / "up.npy"
    code, _, err = run_cli(capsys, "upsample", tiny_run, "--input", paths["low"], "--out", out, "--steps", 3)
    assert code == 0, err
    y = np.load(out)
    assert y.shape == x.shape
    inside = (y > 0).all() and (y < 16).all()  # decode clamps to the range; compare where nothing was clamped
    if inside:
        np.testing.assert_allclose(y.reshape(3, 1, 4, 2, 4, 2).mean((3, 5)), np.load(paths["low"]), atol=1e-4)


def test_extend_slides_the_window(capsys, column_run, tmp_path, digits):
    x, _, paths = digits
    out = tmp_path / "wide.npy"
    code, stdout, err = run_cli(
        capsys, "extend", column_run, "--input", paths["x"], "--width", 14, "--out", out, "--steps", 3
    )
    assert code == 0, err
    y = np.load(out)
    assert y.shape == (3, 1, 8, 14)
    np.testing.assert_array_equal(y[..., :8], x)
    assert "2 windows" in stdout  # columns 4-11, then 6-13 (new columns 8-11, 12-13)


def test_method_moment_on_every_command(capsys, tiny_run, column_run, tmp_path, digits):
    """--method moment conditions x̂₀ too: known values kept, other values differ from replace's (same seed)."""
    x, _, paths = digits
    outs = {}
    for method in ("replace", "moment"):
        out = tmp_path / f"in_{method}.npy"
        code, stdout, err = run_cli(
            capsys,
            *("inpaint", tiny_run, "--input", paths["x"], "--mask", paths["mask"], "--out", out),
            *("--steps", 3, "--method", method),
        )
        assert code == 0 and method in stdout, err
        outs[method] = np.load(out)
        np.testing.assert_array_equal(outs[method][..., :4], x[..., :4])
    assert not np.allclose(outs["replace"][..., 4:], outs["moment"][..., 4:])
    out = tmp_path / "up.npy"
    code, _, err = run_cli(
        capsys, "upsample", tiny_run, "--input", paths["low"], "--out", out, "--steps", 2, "--method", "moment"
    )
    assert code == 0, err
    y = np.load(out)
    if (y > 0).all() and (y < 16).all():
        np.testing.assert_allclose(y.reshape(3, 1, 4, 2, 4, 2).mean((3, 5)), np.load(paths["low"]), atol=1e-4)
    out = tmp_path / "wide.npy"
    code, stdout, err = run_cli(
        capsys,
        *("extend", column_run, "--input", paths["x"], "--width", 12, "--out", out, "--steps", 2),
        *("--method", "moment"),
    )
    assert code == 0, err
    y = np.load(out)
    assert y.shape == (3, 1, 8, 12)
    np.testing.assert_array_equal(y[..., :8], x)
    from difflab.cli.main import main

    with pytest.raises(SystemExit) as exc:  # an unknown method is refused by argparse, nothing written
        main(["upsample", str(tiny_run), "--input", str(paths["low"]), "--out", str(tmp_path / "n.npy"), "--method=?"])
    assert exc.value.code == 2 and "invalid choice" in capsys.readouterr().err
    assert not (tmp_path / "n.npy").exists()


@pytest.mark.parametrize(
    "argv,needles",
    [
        (["inpaint", "{run}", "--input", "{x}", "--mask", "{tmp}/m_shape.npy", "--out", "{tmp}/o.npy"], ["broadcast"]),
        (["inpaint", "{run}", "--input", "{x}", "--mask", "{tmp}/m_half.npy", "--out", "{tmp}/o.npy"], ["only 0"]),
        (["inpaint", "{run}", "--input", "{tmp}/big.npy", "--mask", "{mask}", "--out", "{tmp}/o.npy"], ["data range"]),
        (["inpaint", "{run}", "--input", "{x}", "--mask", "{mask}", "--out", "{tmp}/o.txt"], [".npy or .png"]),
        (["inpaint", "{run}", "--input", "{tmp}/none.npy", "--mask", "{mask}", "--out", "{tmp}/o.npy"], ["exist"]),
        (["extend", "{run}", "--input", "{x}", "--width", "12", "--out", "{tmp}/o.npy"], ["column schedule"]),
        (["upsample", "{run}", "--input", "{tmp}/low3.npy", "--out", "{tmp}/o.npy"], ["divided by an integer"]),
        (["upsample", "{datarun}", "--input", "{low}", "--out", "{tmp}/o.npy"], ["upsampling needs"]),
        (
            ["inpaint", "{run}", "--input", "{x}", "--mask", "{mask}", "--out", "{tmp}/o.npy"]
            + ["--method", "moment", "--resample", "1"],
            ["resample", "moment"],
        ),
    ],
)
def test_bad_conditional_input_is_one_clear_line(capsys, tmp_path, tiny_run, data_prior_run, digits, argv, needles):
    x, mask, paths = digits
    np.save(tmp_path / "m_shape.npy", np.ones((7, 8)))
    np.save(tmp_path / "m_half.npy", mask * 0.5)
    np.save(tmp_path / "big.npy", x * 2 + 1)
    np.save(tmp_path / "low3.npy", np.zeros((1, 1, 3, 3)))
    fmt = {
        "run": tiny_run,
        "datarun": data_prior_run,
        "tmp": tmp_path,
        "x": paths["x"],
        "mask": paths["mask"],
        "low": paths["low"],
    }
    code, _, err = run_cli(capsys, *[a.format(**fmt) for a in argv])
    assert_one_line_error(code, err, *needles)
    assert not (tmp_path / "o.npy").exists()


@pytest.fixture(scope="module")
def data_prior_run(tmp_path_factory):
    """A pixel run with the data prior and a DCT-free process: not eligible for a coarse band."""
    from difflab.pipeline import train_run

    out = tmp_path_factory.mktemp("data_prior_run")
    train_run(tiny_config("process.prior=data", "train.steps=2", "train.checkpoint_every=2"), out, progress=False)
    return out
