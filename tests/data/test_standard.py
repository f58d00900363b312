"""MNIST / Fashion-MNIST IDX and CIFAR-10 binary parsers, missing files, download (network mocked)."""

import gzip
import hashlib
import io
import struct
import tarfile
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch

from difflab.data import download, load_dataset
from difflab.data.download import CIFAR_DIR, CIFAR_FILES, RESOURCES
from difflab.data.idx import read_idx
from difflab.errors import DifflabError


def _idx_bytes(array: np.ndarray) -> bytes:
    code = {np.uint8: 0x08, np.int32: 0x0C}[array.dtype.type]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _write_idx_set(directory, n_train=5, n_test=3, compress=False):
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for name, arr in arrays.items():
        data = _idx_bytes(arr)
        if compress:
            (directory / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (directory / name).write_bytes(data)
    return arrays


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_idx_loader(tmp_path, name, compress):
    arrays = _write_idx_set(tmp_path, compress=compress)
    ds = load_dataset(name, data_dir=str(tmp_path))
    assert ds.shape == (1, 28, 28) and (len(ds.train), len(ds.test)) == (5, 3) and ds.num_classes == 10
    raw = ds.normaliser.decode(ds.train) * 255
    assert torch.allclose(raw[:, 0], torch.from_numpy(arrays["train-images-idx3-ubyte"]).float(), atol=1e-3)
    assert torch.equal(ds.test_labels, torch.from_numpy(arrays["t10k-labels-idx1-ubyte"]).long())


def test_read_idx_multibyte_and_errors(tmp_path):
    arr = np.arange(-6, 6, dtype=np.int32).reshape(3, 4)
    (tmp_path / "a").write_bytes(_idx_bytes(arr))
    out = read_idx(tmp_path / "a")
    assert np.array_equal(out, arr) and out.dtype.isnative
    (tmp_path / "b").write_bytes(b"\x01\x02\x08\x01" + b"\0" * 8)
    with pytest.raises(DifflabError, match="bad magic"):
        read_idx(tmp_path / "b")
    (tmp_path / "c").write_bytes(_idx_bytes(arr)[:-3])
    with pytest.raises(DifflabError, match="truncated"):
        read_idx(tmp_path / "c")
    (tmp_path / "d.gz").write_bytes(b"not gzip")
    with pytest.raises(DifflabError, match="cannot read IDX"):
        read_idx(tmp_path / "d.gz")


def test_idx_missing_files_say_what_and_how(tmp_path):
    _write_idx_set(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DifflabError) as err:
        load_dataset("mnist", data_dir=str(tmp_path))
    msg = str(err.value)
    assert "t10k-labels-idx1-ubyte[.gz]" in msg and "train-images" not in msg.split(" in ")[0]
    assert str(tmp_path) in msg and "difflab.data.download('mnist'" in msg
    assert "ossci-datasets.s3.amazonaws.com/mnist/" in msg and "\n" not in msg


def _cifar_bytes(labels, images):
    return b"".join(bytes([lab]) + img.tobytes() for lab, img in zip(labels, images))


def _write_cifar(directory, n=2):
    rng = np.random.default_rng(1)
    (directory / CIFAR_DIR).mkdir(parents=True)
    content = {}
    for f in CIFAR_FILES:
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        (directory / CIFAR_DIR / f).write_bytes(_cifar_bytes(labels, images))
        content[f] = (labels, images)
    return content


def test_cifar_binary_parser(tmp_path):
    content = _write_cifar(tmp_path)
    for data_dir in (tmp_path, tmp_path / CIFAR_DIR):
        ds = load_dataset("cifar10", data_dir=str(data_dir))
        assert ds.shape == (3, 32, 32) and (len(ds.train), len(ds.test)) == (10, 2)
        labels, images = content["data_batch_2.bin"]
        assert torch.equal(ds.train_labels[2:4], torch.from_numpy(labels))
        raw = ds.normaliser.decode(ds.train[2:4]) * 255
        assert torch.allclose(raw, torch.from_numpy(images).float(), atol=1e-3)  # R, G, B planes in order
        assert ds.train.min() >= -1 and ds.train.max() <= 1


def test_cifar_errors(tmp_path):
    with pytest.raises(
        DifflabError, match=r"cifar-10-batches-bin/data_batch_1\.bin.*test_batch\.bin.*cifar-10-binary\.tar\.gz"
    ):
        load_dataset("cifar10", data_dir=str(tmp_path))
    _write_cifar(tmp_path)
    (tmp_path / CIFAR_DIR / "test_batch.bin").write_bytes(b"\0" * 100)
    with pytest.raises(DifflabError, match="not a CIFAR-10 binary batch"):
        load_dataset("cifar10", data_dir=str(tmp_path))


def test_download_offline_error(tmp_path, monkeypatch):
    urls = []

    def offline(url, *args, **kwargs):
        urls.append(url)
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    for name in ("mnist", "fashion-mnist", "cifar10"):
        with pytest.raises(DifflabError, match=f"could not download {name} .*no network.*network connection"):
            download(name, tmp_path / name)
    assert urls == [
        "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/train-images-idx3-ubyte.gz",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/train-images-idx3-ubyte.gz",
        "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
    ]
    with pytest.raises(DifflabError, match="downloadable datasets: mnist, fashion-mnist, cifar10"):
        download("digits", tmp_path)


class _FakeResponse(io.BytesIO):
    headers: dict = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def test_download_verifies_and_extracts_cifar(tmp_path, monkeypatch):
    src = tmp_path / "src"
    _write_cifar(src)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(src / CIFAR_DIR, arcname=CIFAR_DIR)
    archive = buf.getvalue()
    name, _, mirrors = RESOURCES["cifar10"][0]
    monkeypatch.setitem(RESOURCES, "cifar10", [(name, hashlib.md5(archive).hexdigest(), mirrors)])
    urls = []
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: urls.append(url) or _FakeResponse(archive))
    out = download("cifar10", tmp_path / "dst")
    assert urls == ["https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"]
    assert load_dataset("cifar10", data_dir=str(out)).train.shape == (10, 3, 32, 32)
    assert not (out / name).exists()
    # a wrong checksum is refused and leaves nothing behind
    monkeypatch.setitem(RESOURCES, "cifar10", [(name, "0" * 32, mirrors)])
    with pytest.raises(DifflabError, match="MD5 mismatch"):
        download("cifar10", tmp_path / "other")
    assert not any((tmp_path / "other").iterdir())
