"""`difflab sample RUN --out DIR/`: numbered PNGs equal to the .npy samples of the same seed, 8-bit."""

import numpy as np
from PIL import Image

from difflab.cli.main import main


def test_sample_to_a_folder_matches_the_npy(capsys, tmp_path, tiny_run):
    common = ["sample", str(tiny_run), "--n", "5", "--steps", "2", "--seed", "3", "--device", "cpu"]
    assert main([*common, "--out", f"{tmp_path / 'pngs'}/"]) == 0
    out = capsys.readouterr().out
    assert "000000.png … 000004.png" in out
    assert main([*common, "--out", str(tmp_path / "x.npy")]) == 0
    data = np.load(tmp_path / "x.npy")  # (5, 1, 8, 8) in digits' units 0…16
    names = sorted(p.name for p in (tmp_path / "pngs").iterdir())
    assert names == [f"{i:06d}.png" for i in range(5)]
    pngs = np.stack([np.asarray(Image.open(tmp_path / "pngs" / n)) for n in names])
    expect = np.round(np.clip(data[:, 0].astype(np.float64) / 16, 0, 1) * 255)
    assert pngs.dtype == np.uint8 and pngs.shape == (5, 8, 8)
    assert np.abs(pngs.astype(int) - expect).max() <= 1  # float32 .npy vs float64 decode: at most a rounding tie
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_non_empty_folder_is_refused_before_sampling(capsys, tmp_path, tiny_run):
    (tmp_path / "pngs").mkdir()
    (tmp_path / "pngs" / "old.png").write_bytes(b"x")
    code = main(["sample", str(tiny_run), "--n", "2", "--steps", "1", "--out", f"{tmp_path / 'pngs'}/"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "not an empty folder" in err[0]
    assert [p.name for p in (tmp_path / "pngs").iterdir()] == ["old.png"]
