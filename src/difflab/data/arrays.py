"""A user's own array file (``.npy`` / ``.npz``) as a dataset.

Files are read with ``allow_pickle=False``: nothing is ever unpickled.
"""

from __future__ import annotations

import math
import tokenize
import zipfile
import zlib
from pathlib import Path
from typing import IO

import numpy as np

from difflab.data._common import (
    as_float_tensor,
    as_label_tensor,
    check_fraction,
    check_int,
    check_path,
    split_indices,
)
from difflab.data.base import Dataset, Normaliser
from difflab.data.stream import MemmapImages, StreamedExamples, fit_subset, wants_stream
from difflab.errors import DifflabError

LABEL_KEYS = ("labels", "y")
MAX_CLASSES = 100_000  # a class-conditional network embeds every label up to the largest
# numpy parses a header with ast/tokenize: a damaged one can raise SyntaxError or TokenError
_READ_ERRORS = (
    ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error, KeyError, TypeError, MemoryError,
    OverflowError, SyntaxError, tokenize.TokenError, RecursionError,
)  # fmt: skip


def _check_header(f: IO[bytes], available: int, where: str) -> None:
    """Refuse an ``.npy`` stream whose header claims more data than ``available`` bytes hold."""
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            return  # a newer format: np.load checks it
    except _READ_ERRORS:
        return  # not an .npy stream: np.load says why
    need = math.prod(shape) * dtype.itemsize
    if need > available - f.tell():
        raise DifflabError(
            f"npy: {where} header claims shape {tuple(shape)} of {dtype} ({need} bytes) but only "
            f"{max(available - f.tell(), 0)} bytes follow; the file is truncated or forged"
        )


def _check_headers(path: Path) -> None:
    """Compare every array header with the bytes that hold it, before numpy allocates anything."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.filename.endswith(".npy"):
                    with zf.open(info) as f:
                        _check_header(f, info.file_size, f"{path} member {info.filename}")
    else:
        with open(path, "rb") as f:
            _check_header(f, path.stat().st_size, str(path))


def _read(path: Path, what: str) -> np.ndarray | dict[str, np.ndarray]:
    """Load a .npy array or all arrays of a .npz (in file order), as one-line errors."""
    if not path.is_file():
        raise DifflabError(f"npy: {what} file not found: {path}")
    try:
        _check_headers(path)
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                arrays = {key: loaded[key] for key in loaded.files}
            bad = [k for k, v in arrays.items() if not isinstance(v, np.ndarray)]
            if bad:
                raise DifflabError(
                    f"npy: {what} file {path} member {bad[0]!r} is not a numpy array; save it with numpy.savez"
                )
            return arrays
        if not isinstance(loaded, np.ndarray):
            raise DifflabError(f"npy: {what} file {path} is not a numpy array; save it with numpy.save")
        return loaded
    except _READ_ERRORS as err:
        reason = str(err).splitlines()[0][:120] if str(err) else type(err).__name__
        raise DifflabError(
            f"npy: cannot read {what} file {path} ({reason}); save it with numpy.save / numpy.savez"
        ) from None


def _split_npz(arrays: dict[str, np.ndarray], path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    data_keys = [k for k in arrays if k not in LABEL_KEYS]
    if not data_keys:
        raise DifflabError(f"npy: {path} holds no data array (only {', '.join(arrays) or 'nothing'})")
    labels = next((arrays[k] for k in LABEL_KEYS if k in arrays), None)
    return arrays[data_keys[0]], labels


def _read_labels(spec: str, npz: dict[str, np.ndarray] | None) -> np.ndarray:
    """Labels from a key of the data .npz, or from a separate .npy/.npz file."""
    if npz is not None and spec in npz:
        return npz[spec]
    file = Path(spec).expanduser()
    if npz is not None and not file.is_file():
        raise DifflabError(f"npy: labels={spec!r} is neither a key of the data file ({', '.join(npz)}) nor a file")
    loaded = _read(file, "labels")
    if not isinstance(loaded, dict):
        return loaded
    key = next((k for k in LABEL_KEYS if k in loaded), next(iter(loaded), None))
    if key is None:
        raise DifflabError(f"npy: labels file {file} holds no arrays")
    return loaded[key]


def _check_labels(labels: np.ndarray, n: int) -> np.ndarray:
    labels = np.asarray(labels).reshape(-1) if np.ndim(labels) == 2 and np.shape(labels)[1] == 1 else labels
    if labels.ndim != 1 or len(labels) != n:
        raise DifflabError(f"npy: label count mismatch: {n} examples but labels have shape {labels.shape}")
    if labels.dtype.kind not in "biu" and not (
        labels.dtype.kind == "f" and np.all(np.isfinite(labels)) and np.all(labels == np.round(labels))
    ):
        raise DifflabError(f"npy: labels must be integers, got dtype {labels.dtype}")
    if labels.dtype.kind == "u" and labels.max() > np.iinfo(np.int64).max:
        raise DifflabError(f"npy: label {labels.max()} is too large; number the classes 0, 1, 2, ...")
    if labels.min() < 0:
        raise DifflabError(f"npy: labels must be >= 0, found {labels.min()}")
    if labels.max() >= MAX_CLASSES:
        raise DifflabError(
            f"npy: label {int(labels.max())} implies more than {MAX_CLASSES} classes; number the classes 0, 1, 2, ..."
        )
    return labels.astype(np.int64)


def _check_data(data: np.ndarray, path: Path) -> np.ndarray:
    """Validate and bring to ``(N, D)`` or ``(N, C, H, W)`` float64."""
    if data.dtype.kind not in "biuf":
        raise DifflabError(f"npy: {path} has non-numeric dtype {data.dtype}; need ints or floats")
    if data.ndim not in (2, 3, 4):
        raise DifflabError(
            f"npy: {path} has shape {data.shape}; expected (N, D), (N, H, W) or (N, C, H, W) with C <= 4"
        )
    if data.size == 0:
        raise DifflabError(f"npy: {path} is empty (shape {data.shape})")
    if data.ndim == 4 and data.shape[1] > 4:
        if data.shape[3] > 4:
            raise DifflabError(f"npy: {path} has shape {data.shape}; images need (N, C, H, W) with C <= 4")
        data = data.transpose(0, 3, 1, 2)  # channels-last (N, H, W, C) -> (N, C, H, W)
    data = data.astype(np.float64)
    bad = ~np.isfinite(data)
    if bad.any():
        n_nan = int(np.isnan(data).sum())
        raise DifflabError(
            f"npy: {path} contains {int(bad.sum())} non-finite values ({n_nan} NaN, "
            f"{int(bad.sum()) - n_nan} Inf); remove or replace them"
        )
    return data[:, None] if data.ndim == 3 else data


CHUNK_BYTES = 64 << 20  # a memory-mapped array is checked and scanned in row blocks of about this size


def _mapped_images(file: Path) -> np.ndarray | None:
    """A plain ``.npy`` image array ``(N, H, W)`` / ``(N, C, H, W)`` memory-mapped, else ``None`` (read it whole)."""
    if not file.is_file() or zipfile.is_zipfile(file):
        return None
    try:
        _check_headers(file)
        data = np.load(file, mmap_mode="r", allow_pickle=False)
    except _READ_ERRORS:
        return None  # the whole-file path gives the one-line reason
    return data if isinstance(data, np.ndarray) and data.ndim in (3, 4) and data.size else None


def _scan_range(data: np.ndarray, path: Path) -> tuple[float, float]:
    """``(min, max)`` of a memory-mapped array, checked finite, one row block at a time."""
    if data.dtype.kind not in "biuf":
        raise DifflabError(f"npy: {path} has non-numeric dtype {data.dtype}; need ints or floats")
    rows = max(1, CHUNK_BYTES // max(1, data[0].nbytes))
    low, high = math.inf, -math.inf
    for start in range(0, len(data), rows):
        block = np.asarray(data[start : start + rows], dtype=np.float64)
        if not np.isfinite(block).all():
            raise DifflabError(f"npy: {path} contains non-finite values (rows {start}..); remove or replace them")
        low, high = min(low, float(block.min())), max(high, float(block.max()))
    return low, high


def _stream_images(data: np.ndarray, file: Path, labels: str | None, test_fraction: float, seed: int) -> Dataset:
    """The ``load_npy`` image dataset with its training split read from the memory-mapped file per example."""
    channels_last = data.ndim == 4 and data.shape[1] > 4
    if channels_last and data.shape[3] > 4:
        raise DifflabError(f"npy: {file} has shape {data.shape}; images need (N, C, H, W) with C <= 4")
    low, high = _scan_range(data, file)
    if high == low:
        raise DifflabError(f"npy: {file} is constant ({low}); nothing to learn")
    y = None if labels is None else _check_labels(np.asarray(_read_labels(str(labels), None)), len(data))
    tr, te = split_indices("npy", len(data), test_fraction, seed)
    norm = Normaliser(shift=(low + high) / 2, scale=(high - low) / 2, value_range=(low, high))
    streamed = StreamedExamples(MemmapImages(file, channels_last), tr, None if y is None else y[tr], norm)
    keep = fit_subset(len(tr), seed)
    test = StreamedExamples(MemmapImages(file, channels_last), te, None, norm)
    return Dataset(
        name="npy",
        train=streamed.stack(keep),
        test=test.stack(np.arange(len(te))),
        train_labels=as_label_tensor(None if y is None else y[tr][keep]),
        test_labels=as_label_tensor(None if y is None else y[te]),
        num_classes=0 if y is None else int(y.max()) + 1,
        normaliser=norm,
        meta={"path": str(file)},
        train_stream=streamed,
    )


def load_npy(
    *,
    path: str,
    labels: str | None = None,
    test_fraction: float = 0.1,
    seed: int = 0,
    stream: str = "never",
    stream_above_mb: float = float("inf"),
) -> Dataset:
    """Examples from ``path`` split randomly into train/test.

    Shapes ``(N, D)`` give vectors standardised per feature (train statistics);
    ``(N, H, W)`` and ``(N, C, H, W)`` (``C <= 4``; channels-last is transposed)
    give images whose min/max range maps to [-1, 1].

    Args:
        path: ``.npy`` file, or ``.npz`` whose first array is the data and whose
            ``labels`` or ``y`` array (if any) holds integer labels.
        labels: Key in the ``.npz`` or path to a ``.npy``/``.npz`` of ``(N,)`` labels.
        test_fraction: Share of examples held out for test.
        seed: Seed of the train/test split.
        stream: ``never``, ``auto`` or ``always`` stream the training split (``data.stream``, not an option).
        stream_above_mb: The ``auto`` threshold in MiB (``data.stream_above_mb``).
    """
    test_fraction = check_fraction("npy", "test_fraction", test_fraction)
    seed = check_int("npy", "seed", seed, minimum=0)
    check_path("npy", "path", path)
    if labels is not None:
        check_path("npy", "labels", labels)
    file = Path(path).expanduser()
    mapped = _mapped_images(file) if stream != "never" else None
    if mapped is None and stream == "always":
        _read(file, "data")  # a broken file: its own one-line reason first
        raise DifflabError(
            f"npy: data.stream=always reads a plain .npy image array (N, H, W) or (N, C, H, W); {file} is not "
            "one (.npz and vectors load whole: set data.stream=auto)"
        )
    if mapped is not None:
        n_train = len(mapped) - len(split_indices("npy", len(mapped), test_fraction, seed)[1])
        shape = mapped.shape[1:] if mapped.ndim == 4 else (1, *mapped.shape[1:])
        if wants_stream(stream, n_train, shape, stream_above_mb):
            return _stream_images(mapped, file, labels, test_fraction, seed)
    loaded = _read(file, "data")
    npz = loaded if isinstance(loaded, dict) else None
    data, y = _split_npz(loaded, file) if npz is not None else (loaded, None)
    data = _check_data(data, file)
    if labels is not None:
        y = _read_labels(str(labels), npz)
    y = None if y is None else _check_labels(np.asarray(y), len(data))
    tr, te = split_indices("npy", len(data), test_fraction, seed)
    if data.ndim == 4:
        low, high = float(data.min()), float(data.max())
        if high == low:
            raise DifflabError(f"npy: {file} is constant ({low}); nothing to learn")
        norm = Normaliser(shift=(low + high) / 2, scale=(high - low) / 2, value_range=(low, high))
    else:
        std = data[tr].std(axis=0)
        if not np.any(std > 0):
            raise DifflabError(f"npy: {file} is constant across the training examples; nothing to learn")
        norm = Normaliser(shift=data[tr].mean(axis=0), scale=np.where(std > 0, std, 1.0))
    return Dataset(
        name="npy",
        train=as_float_tensor(norm.encode(data[tr])),
        test=as_float_tensor(norm.encode(data[te])),
        train_labels=as_label_tensor(None if y is None else y[tr]),
        test_labels=as_label_tensor(None if y is None else y[te]),
        num_classes=0 if y is None else int(y.max()) + 1,
        normaliser=norm,
        meta={"path": str(file)},
    )
