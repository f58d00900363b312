"""Atomic file writes: temp file in the same folder, fsync, ``os.replace``.

A reader (or a crash) never sees a half-written file under the final name: the
old file stays intact until the new one is complete, and the temp file is
removed if anything fails on the way.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal

__all__ = [
    "atomic_dir",
    "atomic_open",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "fsync_dir",
    "to_jsonable",
]


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates 0600 files (mkdtemp 0700 folders); final ones should get the usual umask-based mode.
_FILE_MODE = 0o666 & ~_read_umask()
_DIR_MODE = 0o777 & ~_read_umask()


def fsync_dir(path: str | Path) -> None:
    """Flush a directory entry to disk (best effort; a no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # e.g. Windows or some network file systems
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: Literal["wb", "w"] = "wb", encoding: str | None = None) -> Iterator[IO[Any]]:
    """Open a temp file that replaces ``path`` only when the block exits cleanly.

    Use this for writers that stream into a file object (Pillow, matplotlib).

    Args:
        path: Final file name; its parent folder is created if missing.
        mode: ``"wb"`` for bytes or ``"w"`` for text.
        encoding: Text encoding for ``"w"`` (default UTF-8).

    Yields:
        The open temp file.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open mode must be 'wb' or 'w', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, _FILE_MODE)
        kwargs = {"encoding": encoding or "utf-8", "newline": ""} if mode == "w" else {}
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """A temp folder next to ``path`` that becomes ``path`` only when the block exits cleanly.

    ``path`` must not exist or be an empty folder (a rename cannot merge into a non-empty one);
    the files written into the yielded folder appear under ``path`` all at once, and the temp
    folder is removed if anything fails on the way.

    Yields:
        The temp folder to fill.

    Raises:
        FileExistsError: ``path`` exists and is not an empty folder.
    """
    path = Path(path)
    if path.exists() and not (path.is_dir() and not any(path.iterdir())):
        raise FileExistsError(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        os.chmod(tmp, _DIR_MODE)
        yield tmp
        for child in tmp.iterdir():
            with open(child, "rb") as f:
                os.fsync(f.fileno())
        fsync_dir(tmp)
        os.replace(tmp, path)  # POSIX rename replaces an empty folder
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Atomically write ``data`` to ``path``."""
    with atomic_open(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    """Atomically write ``text`` to ``path``."""
    atomic_write_bytes(path, text.encode(encoding))


def to_jsonable(obj: Any) -> Any:
    """``json`` fallback: 0-d tensors/numpy scalars to numbers, arrays to lists, paths to strings."""
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist"):  # torch.Tensor, numpy arrays and scalars
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"object of type {type(obj).__name__} is not JSON serialisable")


def atomic_write_json(path: str | Path, obj: Any, *, indent: int | None = 2) -> None:
    """Atomically write ``obj`` as JSON; serialisation happens before the file is touched."""
    text = json.dumps(obj, indent=indent, default=to_jsonable, allow_nan=True)
    atomic_write_text(path, text + "\n")
