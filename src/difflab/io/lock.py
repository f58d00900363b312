"""An exclusive lock on a run folder, so two writers never train into one ``--out``.

``RUN/.lock`` is locked with ``fcntl.flock`` for as long as training runs and holds the
holder's PID. The kernel drops the lock when the process exits, however it dies, so a
lock file left by a killed run is stale, not held: the next run takes it over (and says
so). The file itself stays; only the lock and the PID inside it are released.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

from difflab.errors import DifflabError, DifflabWarning

__all__ = ["LOCK_NAME", "run_lock"]

LOCK_NAME = ".lock"


@contextlib.contextmanager
def run_lock(run_dir: str | Path) -> Iterator[Path]:
    """Hold an exclusive lock on ``run_dir`` (created if missing) for the block.

    Raises:
        DifflabError: another live process holds it (the message names its PID).
    """
    try:
        import fcntl
    except ImportError:  # not POSIX: no locking, as before
        yield Path(run_dir) / LOCK_NAME
        return
    run_dir = Path(run_dir)
    path = run_dir / LOCK_NAME
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o666)
    except OSError as exc:
        raise DifflabError(f"cannot lock run folder {run_dir}: {exc.strerror}; use another --out") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            who = f"pid {holder}" if holder else "another process"
            raise DifflabError(
                f"{run_dir} is being written by {who} (lock {path}); wait for it to finish or use another --out"
            ) from None
        stale = _read_pid(fd)
        if stale and stale != os.getpid():
            warnings.warn(f"{path}: taking over a stale lock of pid {stale}, which has exited", DifflabWarning, 3)
        _write_pid(fd, str(os.getpid()))
        try:
            yield path
        finally:
            _write_pid(fd, "")
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _read_pid(fd: int) -> int | None:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 64).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


def _write_pid(fd: int, text: str) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, text.encode())
