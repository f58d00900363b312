"""Data-file fuzzing (npy/npz and image folders): each case loads or gives one line; 16-bit PNGs convert correctly."""

import io
import random
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from difflab.data import load_dataset

from ._guards import outcome


def _check_loaded(ds, case):
    """What a loader accepts must be trainable: finite, non-empty, not constant."""
    assert len(ds.train) > 0, case
    assert torch.isfinite(ds.train).all() and torch.isfinite(ds.test).all(), case
    assert ds.train.std() > 0, case


def _npz_bytes(**members) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **members)
    return buf.getvalue()


def _npy_bytes(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def _fake_npy(shape: str, descr: str = "<f8", body: bytes = bytes(96)) -> bytes:
    """An .npy file with a hand-written header (which may lie about the data that follows)."""
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}".ljust(117) + "\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + body


def _handmade_cases(tmp_path):
    rng = np.random.default_rng(0)
    good = rng.normal(size=(40, 3))
    cases = {}
    cases["good"] = _npy_bytes(good)
    cases["lying-header"] = _fake_npy("(400, 3)")  # 96 bytes of data for 9600 claimed
    cases["huge-claim"] = _fake_npy("(10000000000000, 3)")
    cases["huge-claim-in-npz"] = _zip({"x.npy": _fake_npy("(10000000000000, 3)")})
    cases["npz-torch-member"] = _zip({"x.npy": b"PK\x03\x04 not an array at all" * 4})
    cases["npz-text-member"] = _zip({"x.npy": b"hello", "labels.npy": _npy_bytes(np.zeros(4))})
    cases["npz-pickle-member"] = _zip({"x.npy": b"\x80\x04\x95" + bytes(30)})
    compressed = io.BytesIO()
    np.savez_compressed(compressed, x=good)
    raw = bytearray(compressed.getvalue())
    raw[len(raw) // 3 : len(raw) // 3 + 20] = bytes(20)  # damage the deflate stream
    cases["corrupt-deflate"] = bytes(raw)
    cases["truncated"] = _npy_bytes(good)[:-50]
    cases["object-array"] = _fake_npy("(2,)", descr="|O", body=b"\x80\x04N.")
    cases["empty-file"] = b""
    cases["constant-vectors"] = _npy_bytes(np.ones((30, 4)))
    cases["huge-labels"] = _npz_bytes(x=good, labels=np.arange(40) * 10**8)
    cases["uint64-max-label"] = _npz_bytes(x=good, labels=np.full(40, 2**64 - 1, dtype=np.uint64))
    cases["labels-only"] = _npz_bytes(labels=np.arange(40))
    return cases


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _random_npy(rnd: random.Random) -> bytes:
    dtype = rnd.choice(["f4", "f8", "i1", "u1", "i8", "u8", "f2", "c8", "b1", "M8[s]", "U3", "i2"])
    ndim = rnd.choice([0, 1, 2, 2, 3, 4, 4, 5])
    shape = tuple(rnd.choice([0, 1, 2, 3, 5, 8]) for _ in range(ndim))
    arr = np.random.default_rng(rnd.randrange(1000)).normal(size=shape) * rnd.choice([1, 1e3, 1e30])
    try:
        arr = arr.astype(dtype)
    except (TypeError, ValueError):
        arr = arr.astype("f8")
    if arr.dtype.kind == "f" and arr.size and rnd.random() < 0.2:
        arr.flat[0] = rnd.choice([np.nan, np.inf])
    data = _npz_bytes(x=arr) if rnd.random() < 0.3 else _npy_bytes(arr)
    if rnd.random() < 0.4:  # damage it
        b = bytearray(data)
        for _ in range(rnd.randrange(1, 4)):
            b[rnd.randrange(len(b))] = rnd.randrange(256)
        data = bytes(b) if rnd.random() < 0.7 else bytes(b[: rnd.randrange(len(b))])
    return data


def test_npy_fuzz(tmp_path):
    cases = _handmade_cases(tmp_path)
    rnd = random.Random(0)
    for n in range(150):
        cases[f"random-{n}"] = _random_npy(rnd)
    outcomes = {}
    for name, data in cases.items():
        path = tmp_path / f"{name}.npy"
        path.write_bytes(data)
        kind, result = outcome(lambda p=path: load_dataset("npy", path=str(p)), f"npy case {name}")
        outcomes[name] = kind
        if kind == "ok":
            _check_loaded(result, name)
    refused = [k for k in _handmade_cases(tmp_path) if k != "good"]
    assert outcomes["good"] == "ok"
    assert all(outcomes[k] == "error" for k in refused), {k: outcomes[k] for k in refused}
    assert sum(v == "ok" for v in outcomes.values()) > 1


def test_npy_bad_option_types(tmp_path):
    for options in ({"path": 5}, {"path": None}, {"path": str(tmp_path / "x.npy"), "labels": 3}):
        kind, message = outcome(lambda o=options: load_dataset("npy", **o), str(options))
        assert kind == "error" and "npy" in message


def _png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _random_image(rnd: random.Random) -> bytes:
    mode = rnd.choice(["1", "L", "LA", "P", "RGB", "RGBA", "I;16", "I", "F", "CMYK"])
    w, h = rnd.randrange(1, 40), rnd.randrange(1, 40)
    arr = np.random.default_rng(rnd.randrange(1000)).integers(0, 255, size=(h, w, 4), dtype=np.uint8)
    img = Image.fromarray(arr, "RGBA").convert(mode if mode not in ("I;16", "I", "F") else "L")
    if mode in ("I;16", "I"):
        img = Image.fromarray(np.asarray(img).astype(np.uint16) * 257)
    fmt = rnd.choice(["PNG", "JPEG"]) if img.mode in ("L", "RGB", "CMYK") else "PNG"
    buf = io.BytesIO()
    try:
        img.save(buf, format=fmt)
    except OSError:
        img.convert("RGB").save(buf, format="PNG")
    data = buf.getvalue()
    if rnd.random() < 0.3:
        b = bytearray(data)
        b[rnd.randrange(len(b))] ^= 0xFF
        data = bytes(b) if rnd.random() < 0.5 else bytes(b[: rnd.randrange(1, len(b))])
    return data


def test_folder_fuzz(tmp_path):
    rnd = random.Random(1)
    ok = 0
    for n in range(40):
        folder = tmp_path / f"case{n}"
        folder.mkdir()
        for i in range(rnd.randrange(1, 5)):
            ext = rnd.choice([".png", ".jpg"])
            (folder / f"{i}{ext}").write_bytes(_random_image(rnd))
        options = {"path": str(folder), "size": rnd.choice([2, 4, 8]), "channels": rnd.choice([1, 3])}
        kind, result = outcome(lambda o=options: load_dataset("folder", **o), f"folder case {n}")
        if kind == "ok":
            ok += 1
            _check_loaded(result, n)
    assert ok > 0


def test_decompression_bomb_and_huge_size_are_refused(tmp_path):
    bomb = Image.new("1", (20000, 20000))  # a few KB as PNG, 400 M pixels decoded
    (tmp_path / "bomb.png").write_bytes(_png_bytes(bomb))
    Image.new("L", (8, 8), 100).save(tmp_path / "ok.png")
    kind, message = outcome(lambda: load_dataset("folder", path=str(tmp_path), size=8), "bomb", seconds=30)
    assert kind == "error" and "too large" in message and "bomb.png" in message
    kind, message = outcome(lambda: load_dataset("folder", path=str(tmp_path), size=100_000), "size")
    assert kind == "error" and "size" in message


@pytest.mark.parametrize("channels", [1, 3])
def test_16_bit_pngs_keep_their_range(tmp_path, channels):
    rng = np.random.default_rng(0)
    raws = [(rng.random((8, 8)) * 65535).astype(np.uint16) for _ in range(6)]
    for i, raw in enumerate(raws):
        Image.fromarray(raw).save(tmp_path / f"{i}.png")
    assert Image.open(tmp_path / "0.png").mode.startswith("I")  # really a 16-bit file
    ds = load_dataset("folder", path=str(tmp_path), size=8, channels=channels, test_fraction=0.2)
    both = torch.cat([ds.train, ds.test]).double()
    saturated = float((both >= 1 - 1e-6).double().mean())
    assert saturated < 0.01  # the clipped conversion made 99.6 % of pixels white
    expected = torch.from_numpy(np.stack(raws).astype(np.float64) / 65535 * 2 - 1)
    # same images, same order up to the split: compare sorted pixel values per image
    got = sorted(both[:, 0].reshape(len(both), -1).sort(dim=1).values.tolist())
    want = sorted(expected.reshape(len(expected), -1).sort(dim=1).values.tolist())
    assert np.allclose(got, want, atol=1e-6)
    if channels == 3:
        assert torch.equal(both[:, 0], both[:, 1]) and torch.equal(both[:, 0], both[:, 2])
