"""Official download locations of the standard image datasets, and the downloader.

Loading never downloads (no network at run time); :func:`download` is called
explicitly by a user. Every file is checked against the official MD5 and
written atomically (temporary name, then rename).
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Literal

from tqdm import tqdm

from difflab.errors import DifflabError

Downloadable = Literal["mnist", "fashion-mnist", "cifar10"]

IDX_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
CIFAR_DIR = "cifar-10-batches-bin"
CIFAR_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6)) + ("test_batch.bin",)

# name -> list of (file name, md5, mirror URLs tried in order).
_MNIST = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_FASHION = (
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
)
_MD5 = {
    "mnist": (
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "d53e105ee54ea40749a09fcbcd1e9432",
        "9fb629c4189551a2d022fa330f9573f3",
        "ec29112dd5afa0611ce80d1b7f02629c",
    ),
    "fashion-mnist": (
        "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "25c81989df183df01b3e8a0aad5dffbe",
        "bef4ecab320f06d8554ea6380940ec79",
        "bb300cfdad3c16e7a12a480ee83cd310",
    ),
}
RESOURCES: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    "mnist": [(f + ".gz", md5, (_MNIST,)) for f, md5 in zip(IDX_FILES, _MD5["mnist"])],
    "fashion-mnist": [(f + ".gz", md5, _FASHION) for f, md5 in zip(IDX_FILES, _MD5["fashion-mnist"])],
    "cifar10": [("cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530", ("https://www.cs.toronto.edu/~kriz/",))],
}


def default_data_dir(name: str) -> Path:
    """``$DIFFLAB_DATA_DIR/<name>``, or ``~/.cache/difflab/data/<name>``."""
    root = os.environ.get("DIFFLAB_DATA_DIR", "~/.cache/difflab/data")
    return Path(root).expanduser() / name


def missing_files_error(name: str, data_dir: Path, missing: list[str]) -> DifflabError:
    """The one-line error for a dataset whose files are not on disk.

    Args:
        name: Dataset name (a key of :data:`RESOURCES`).
        data_dir: The folder that was searched.
        missing: Expected paths relative to ``data_dir``.
    """
    urls = ", ".join(mirrors[0] + f for f, _, mirrors in RESOURCES[name])
    return DifflabError(
        f"{name}: expected {', '.join(missing)} in {data_dir}; get them with "
        f"difflab.data.download({name!r}, {str(data_dir)!r}) or manually from {urls}"
    )


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch(url: str, target: Path, md5: str) -> None:
    """Download ``url`` to ``target`` atomically, verifying its MD5."""
    tmp = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, tmp.open("wb") as out:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=target.name, leave=False) as bar:
                for block in iter(lambda: resp.read(1 << 20), b""):
                    out.write(block)
                    bar.update(len(block))
        if _md5(tmp) != md5:
            raise DifflabError(f"download of {url} is corrupt (MD5 mismatch); try again")
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def _extract_cifar(archive: Path, directory: Path) -> None:
    """Extract only the six expected regular .bin members (no arbitrary paths)."""
    wanted = {f"{CIFAR_DIR}/{f}" for f in CIFAR_FILES}
    with tarfile.open(archive, "r:gz") as tar:
        members = [m for m in tar.getmembers() if m.name in wanted and m.isfile()]
        if len(members) != len(wanted):
            raise DifflabError(f"{archive} does not contain the expected {CIFAR_DIR}/*.bin files")
        tar.extractall(directory, members=members, filter="data")


def download(name: Downloadable, data_dir: str | Path | None = None) -> Path:
    """Download a standard dataset's official files into ``data_dir``.

    Args:
        name: ``"mnist"``, ``"fashion-mnist"`` or ``"cifar10"``.
        data_dir: Target folder (created); defaults to :func:`default_data_dir`.

    Returns:
        The folder to pass as the dataset's ``data_dir`` option.

    Raises:
        DifflabError: Unknown name, network failure (offline) or bad checksum.
    """
    if name not in RESOURCES:
        raise DifflabError(f"cannot download {name!r}; downloadable datasets: {', '.join(RESOURCES)}")
    directory = Path(data_dir).expanduser() if data_dir is not None else default_data_dir(name)
    if name == "cifar10" and all((directory / CIFAR_DIR / f).is_file() for f in CIFAR_FILES):
        return directory  # already extracted; the archive itself is not kept
    directory.mkdir(parents=True, exist_ok=True)
    for filename, md5, mirrors in RESOURCES[name]:
        target = directory / filename
        if target.is_file() and _md5(target) == md5:
            continue
        errors = []
        for base in mirrors:
            try:
                _fetch(base + filename, target, md5)
                break
            except (urllib.error.URLError, OSError) as err:
                errors.append(f"{base + filename}: {getattr(err, 'reason', err)}")
        else:
            raise DifflabError(
                f"could not download {name} ({'; '.join(errors)}); check your network connection or "
                f"place the files in {directory} by hand"
            )
    if name == "cifar10":
        archive = directory / RESOURCES[name][0][0]
        _extract_cifar(archive, directory)
        archive.unlink()
    return directory
