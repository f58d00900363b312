"""Checkpoint folders: safetensors weights, the resolved config, and a meta marker.

Layout of ``<run_dir>/step_000123/``:

- ``model.safetensors`` -- every tensor group flattened as ``<group>.<name>``
  (e.g. ``model.``, ``ema.``, ``optim.``); nothing is ever pickled.
- ``config.yaml`` -- the resolved config, enough to rebuild the model.
- ``meta.json`` -- step, time, groups, and the size and SHA-256 of the other
  files; written last, it marks the checkpoint complete.

The folder is built under a hidden temp name and renamed into place, so a crash
never leaves a folder that looks like a valid checkpoint.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
import yaml

from difflab.config.loader import dump_yaml
from difflab.errors import DifflabError
from difflab.io.atomic import _read_umask, fsync_dir, to_jsonable

__all__ = ["Checkpoint", "latest_checkpoint", "list_checkpoints", "load_checkpoint", "save_checkpoint"]

WEIGHTS, CONFIG, META = "model.safetensors", "config.yaml", "meta.json"
FORMAT = "difflab-checkpoint-v1"
_STEP_DIR = re.compile(r"^step_(\d+)$")
_DIR_MODE = 0o777 & ~_read_umask()


@dataclasses.dataclass
class Checkpoint:
    """A loaded checkpoint.

    Attributes:
        tensors: ``{group: {name: Tensor}}``, e.g. ``tensors["model"]``.
        config: The resolved config as a plain dict.
        meta: ``meta.json`` contents (``step``, ``time``, user fields, ...).
        path: The checkpoint folder.
    """

    tensors: dict[str, dict[str, torch.Tensor]]
    config: dict[str, Any]
    meta: dict[str, Any]
    path: Path | None = None

    @property
    def step(self) -> int:
        return int(self.meta["step"])


def save_checkpoint(
    run_dir: str | Path,
    tensors: dict[str, dict[str, torch.Tensor]],
    *,
    config: Any,
    meta: dict[str, Any],
    keep_last: int | None = None,
) -> Path:
    """Write ``<run_dir>/step_XXXXXX/`` atomically and return its path.

    Args:
        run_dir: Folder that holds the ``step_*`` checkpoint folders.
        tensors: ``{group: {name: Tensor}}``; group names must not contain dots.
            Use :func:`~difflab.io.flatten_optimizer_state` for optimizer state
            (its tensors as a group, its skeleton inside ``meta``).
        config: Resolved config, a plain dict or a config dataclass.
        meta: JSON-safe metadata; must hold an int ``step``. ``time`` defaults
            to now.
        keep_last: If set, delete all but the newest ``keep_last`` complete
            checkpoints afterwards (never the one just written).

    Returns:
        The checkpoint folder. An existing folder for the same step is replaced.
    """
    step = meta.get("step")
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise DifflabError(f"checkpoint meta needs a non-negative int 'step', got {step!r}")
    if keep_last is not None and keep_last < 1:
        raise DifflabError(f"keep_last must be at least 1, got {keep_last}")

    flat = _flatten(tensors)
    # safetensors stores keys sorted; the metadata keeps the caller's order for load.
    header = {"format": "pt", "difflab": FORMAT, "order": json.dumps(list(flat))}
    weights = safetensors.torch.save(flat, metadata=header)
    config_text = dump_yaml(config)
    full_meta = {"step": step, "time": time.time(), **meta}
    full_meta.update(format=FORMAT, groups=list(tensors), files={WEIGHTS: _digest(weights)})
    full_meta["files"][CONFIG] = _digest(config_text.encode())
    meta_text = json.dumps(full_meta, indent=2, default=to_jsonable) + "\n"  # fail before touching disk

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    final = run_dir / f"step_{step:06d}"
    tmp = Path(tempfile.mkdtemp(dir=run_dir, prefix=f".tmp_{final.name}_"))
    try:
        os.chmod(tmp, _DIR_MODE)
        _write_synced(tmp / WEIGHTS, weights)
        _write_synced(tmp / CONFIG, config_text.encode())
        _write_synced(tmp / META, meta_text.encode())  # last: the "complete" marker
        fsync_dir(tmp)
        _move_into_place(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(run_dir)
    if keep_last is not None:
        for old in list_checkpoints(run_dir)[:-keep_last]:
            if old != final:
                shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(path: str | Path, *, device: str | torch.device = "cpu", verify: bool = True) -> Checkpoint:
    """Load a checkpoint folder written by :func:`save_checkpoint`.

    Args:
        path: The ``step_*`` folder.
        device: Where to put the tensors.
        verify: Check file sizes and SHA-256 sums recorded in ``meta.json``.

    Raises:
        DifflabError: the folder is missing, incomplete or corrupt (the message
            names the file).
    """
    path = Path(path)
    if not path.is_dir():
        raise DifflabError(f"checkpoint folder not found: {path}")
    meta_path = path / META
    if not meta_path.is_file():
        raise DifflabError(f"checkpoint {path} is incomplete or corrupt: {META} is missing (interrupted save?)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or "step" not in meta:
            raise ValueError("no 'step'")
    except (ValueError, UnicodeDecodeError) as exc:
        raise DifflabError(f"checkpoint {path} is corrupt: cannot parse {META} ({exc})") from None

    files = meta.get("files", {})
    weights = _read_checked(path, WEIGHTS, files.get(WEIGHTS) if verify else None)
    config_bytes = _read_checked(path, CONFIG, files.get(CONFIG) if verify else None)
    try:
        flat = safetensors.torch.load(weights)
    except Exception as exc:  # safetensors raises its own (Rust) error types
        raise DifflabError(f"checkpoint {path} is corrupt: cannot read {WEIGHTS} ({exc})") from None
    try:
        config = yaml.safe_load(config_bytes.decode("utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise DifflabError(f"checkpoint {path} is corrupt: cannot parse {CONFIG} ({exc})") from None

    groups: dict[str, dict[str, torch.Tensor]] = {g: {} for g in meta.get("groups", [])}
    for key in _saved_order(weights, flat):
        tensor = flat[key]
        group, _, name = key.partition(".")
        groups.setdefault(group, {})[name] = tensor.to(device)
    return Checkpoint(tensors=groups, config=config, meta=meta, path=path)


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Complete ``step_*`` folders in ``run_dir`` (with ``meta.json``), oldest step first."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    found = []
    for child in run_dir.iterdir():
        match = _STEP_DIR.match(child.name)
        if match and child.is_dir() and (child / META).is_file():
            found.append((int(match.group(1)), child))
    return [p for _, p in sorted(found)]


def nearest_checkpoint(run_dir: str | Path, step: int) -> Path | None:
    """The complete checkpoint in ``run_dir`` whose step is closest to ``step`` (the earlier on a tie), or ``None``."""
    found = list_checkpoints(run_dir)
    return min(found, key=lambda c: abs(int(_STEP_DIR.match(c.name).group(1)) - step)) if found else None


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The complete checkpoint with the highest step in ``run_dir``, or ``None``.

    Temp folders and folders without ``meta.json`` (interrupted saves) are skipped.
    """
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


# ---------------------------------------------------------------- internals


def _flatten(tensors: dict[str, dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    flat: dict[str, torch.Tensor] = {}
    for group, named in tensors.items():
        if not group or "." in group:
            raise DifflabError(f"checkpoint group name {group!r} must be non-empty and contain no '.'")
        for name, tensor in named.items():
            if not isinstance(tensor, torch.Tensor):
                raise DifflabError(f"checkpoint entry '{group}.{name}' is a {type(tensor).__name__}, not a tensor")
            # Copy to contiguous CPU memory: safetensors rejects tensors that share storage.
            flat[f"{group}.{name}"] = tensor.detach().to("cpu", copy=True).contiguous()
    return flat


def _saved_order(weights: bytes, flat: dict[str, torch.Tensor]) -> list[str]:
    """Key order recorded at save time (safetensors header metadata), else the file's order."""
    try:
        size = int.from_bytes(weights[:8], "little")
        order = json.loads(json.loads(weights[8 : 8 + size])["__metadata__"]["order"])
    except (ValueError, KeyError, TypeError):
        return list(flat)
    return order if isinstance(order, list) and sorted(order) == sorted(flat) else list(flat)


def _digest(data: bytes) -> dict[str, Any]:
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(path, _DIR_MODE & 0o666)


def _read_checked(folder: Path, name: str, expected: dict[str, Any] | None) -> bytes:
    try:
        data = (folder / name).read_bytes()
    except FileNotFoundError:
        raise DifflabError(f"checkpoint {folder} is corrupt: {name} is missing") from None
    if expected is not None and _digest(data) != expected:
        raise DifflabError(f"checkpoint {folder} is corrupt: {name} does not match the size/SHA-256 recorded in {META}")
    return data


def _move_into_place(tmp: Path, final: Path) -> None:
    if not final.exists():
        os.rename(tmp, final)
        return
    # Same step saved again: swap, so a valid folder exists at every moment but one rename.
    trash = final.with_name(f".old_{final.name}_{os.getpid()}_{time.monotonic_ns()}")
    os.rename(final, trash)
    try:
        os.rename(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.rename(trash, final)
        raise
    shutil.rmtree(trash, ignore_errors=True)
