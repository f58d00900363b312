"""Append-only JSON-lines logs: one JSON object per line, flushed per line.

A crash loses at most the line being written: :func:`read_jsonl` skips a torn
last line, and a new :class:`JsonlLogger` on the same file cuts it before
appending, so a resumed run's log stays valid.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from difflab.errors import DifflabError
from difflab.io.atomic import atomic_write_text, to_jsonable

__all__ = ["JsonlLogger", "read_jsonl", "truncate_jsonl_after"]


class JsonlLogger:
    """Append records to a ``.jsonl`` file.

    Example:
        >>> with JsonlLogger(run_dir / "train.jsonl") as log:  # doctest: +SKIP
        ...     log.log({"step": 10, "loss": 0.5})
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _drop_torn_tail(self.path)
        self._file = open(self.path, "a", encoding="utf-8")

    def log(self, record: Mapping[str, Any] | None = None, **fields: Any) -> None:
        """Append one record (a mapping and/or keyword fields); tensors and numpy scalars become numbers."""
        if self._file.closed:
            raise DifflabError(f"JsonlLogger for {self.path} is closed")
        merged = {**(record or {}), **fields}
        self._file.write(json.dumps(merged, default=to_jsonable) + "\n")
        self._file.flush()

    __call__ = log

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> JsonlLogger:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _drop_torn_tail(path: Path) -> None:
    """Cut an unterminated last line (a killed run) so appended records stay parseable."""
    if not path.is_file():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with open(path, "r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read every record of a JSON-lines file, ignoring a torn (incomplete) last line."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    records = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                break  # the run was killed mid-write
            raise DifflabError(f"{path}: line {i + 1} is not valid JSON") from None
    return records


def truncate_jsonl_after(path: str | Path, step: int, key: str = "step") -> int:
    """Drop the records whose ``key`` is above ``step`` (a resumed run logs them again); returns how many.

    The file is rewritten atomically, so a crash here leaves either the old or the new log.
    A torn last line is dropped too; a missing file is left missing.
    """
    path = Path(path)
    if not path.is_file():
        return 0
    records = read_jsonl(path)
    keep = [r for r in records if not (isinstance(r.get(key), (int, float)) and r[key] > step)]
    torn = not path.read_bytes().endswith(b"\n") and path.stat().st_size > 0
    if len(keep) != len(records) or torn:
        atomic_write_text(path, "".join(json.dumps(r, default=to_jsonable) + "\n" for r in keep))
    return len(records) - len(keep)
