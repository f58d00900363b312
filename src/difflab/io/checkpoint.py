"""Checkpoint folders: safetensors weights, the resolved config, and a meta marker.

Layout of ``<run_dir>/step_000123/``:

- ``model.safetensors`` -- every tensor group flattened as ``<group>.<name>``
  (e.g. ``model.``, ``ema.``, ``optim.``); nothing is ever pickled.
- ``config.yaml`` -- the resolved config, enough to rebuild the model.
- ``meta.json`` -- step, time, groups, and the size and SHA-256 of the other
  files; written last, it marks the checkpoint complete.

The folder is built under a hidden temp name and renamed into place, so a crash
never leaves a folder that looks like a valid checkpoint. Pruning renames a folder to a
hidden name before deleting it, for the same reason; :func:`clean_temporaries` removes
what a killed save or prune left behind. Loading treats the folder as untrusted: only
regular files are read, their sizes are checked against ``meta.json`` before reading,
and ``meta.json``'s fields are type-checked.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import safetensors.torch
import torch

from difflab.config.loader import dump_yaml, parse_yaml
from difflab.errors import DifflabError, DifflabWarning
from difflab.io.atomic import _read_umask, fsync_dir, to_jsonable
from difflab.utils.faults import fault_point

__all__ = [
    "Checkpoint",
    "check_state",
    "clean_temporaries",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "load_latest_checkpoint",
    "save_checkpoint",
]

WEIGHTS, CONFIG, META = "model.safetensors", "config.yaml", "meta.json"
FORMAT = "difflab-checkpoint-v1"
_STEP_DIR = re.compile(r"^step_(\d+)$")
# Hidden names of a save in progress (.tmp_), a replaced folder (.old_) and a prune in progress (.del_).
_TEMP_DIR = re.compile(r"^\.(tmp|old|del)_(step_\d+)_")
MAX_CONFIG_BYTES = 16 << 20  # a checkpoint's config.yaml is a few KB
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
        fault_point("save:weights", path=tmp, step=step)
        _write_synced(tmp / CONFIG, config_text.encode())
        _write_synced(tmp / META, meta_text.encode())  # last: the "complete" marker
        fault_point("save:meta", path=tmp, step=step)
        fsync_dir(tmp)
        fault_point("save:before_rename", path=tmp, step=step)
        _move_into_place(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(run_dir)
    fault_point("save:before_prune", path=final, step=step)
    if keep_last is not None:
        for old in list_checkpoints(run_dir)[:-keep_last]:
            if old != final:
                _remove_atomically(old)
    return final


def clean_temporaries(run_dir: str | Path) -> list[Path]:
    """Remove what a killed save or prune left in ``run_dir``; returns the removed paths.

    ``.tmp_step_*`` (a save in progress) and ``.del_step_*`` (a prune in progress) are
    deleted. ``.old_step_N_*`` is the previous copy of a step saved twice: if the kill
    came between the two renames and ``step_N`` is missing, it is put back instead.
    Call it only while no other process writes ``run_dir`` (the trainer holds the run lock).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    removed = []
    for child in sorted(run_dir.iterdir()):
        match = _TEMP_DIR.match(child.name)
        if not match or not child.is_dir():
            continue
        kind, name = match.groups()
        if kind == "old" and not (run_dir / name).exists() and (child / META).is_file():
            os.rename(child, run_dir / name)
            continue
        shutil.rmtree(child, ignore_errors=True)
        removed.append(child)
    if removed:
        fsync_dir(run_dir)
    return removed


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
    if not (path / META).exists():
        raise DifflabError(f"checkpoint {path} is incomplete or corrupt: {META} is missing (interrupted save?)")
    meta_bytes = _read_checked(path, META, None, limit=MAX_CONFIG_BYTES)
    try:
        meta = json.loads(meta_bytes.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DifflabError(f"checkpoint {path} is corrupt: cannot parse {META} ({reason})") from None
    _check_meta(meta, path)

    files = meta.get("files", {})
    weights = _read_checked(path, WEIGHTS, files.get(WEIGHTS) if verify else None)
    config_bytes = _read_checked(path, CONFIG, files.get(CONFIG) if verify else None, limit=MAX_CONFIG_BYTES)
    try:
        flat = safetensors.torch.load(weights)
    except Exception as exc:  # safetensors raises its own (Rust) error types
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DifflabError(f"checkpoint {path} is corrupt: cannot read {WEIGHTS} ({reason})") from None
    config = parse_yaml(config_bytes, f"checkpoint {path / CONFIG}") or {}
    if not isinstance(config, dict):
        raise DifflabError(f"checkpoint {path} is corrupt: {CONFIG} is not a mapping")

    groups: dict[str, dict[str, torch.Tensor]] = {g: {} for g in meta.get("groups", [])}
    for key in _saved_order(weights, flat):
        tensor = flat[key]
        group, _, name = key.partition(".")
        groups.setdefault(group, {})[name] = tensor.to(device)
    return Checkpoint(tensors=groups, config=config, meta=meta, path=path)


def load_latest_checkpoint(run_dir: str | Path, *, device: str | torch.device = "cpu") -> Checkpoint | None:
    """Load the newest checkpoint in ``run_dir`` that is intact, or ``None`` if there is none.

    A newer folder that fails to load (corrupt, tampered, pruned while listing) is skipped
    with a one-line :class:`~difflab.errors.DifflabWarning` naming it and the reason. If
    every checkpoint fails, the newest one's error is raised.
    """
    first_error: DifflabError | None = None
    tried: set[Path] = set()
    for _ in range(3):  # re-list when a folder vanished (pruned by a writer) between listing and reading
        candidates = [c for c in reversed(list_checkpoints(run_dir)) if c not in tried]
        if not candidates:
            break
        for ckpt in candidates:
            tried.add(ckpt)
            try:
                return load_checkpoint(ckpt, device=device)
            except DifflabError as exc:
                if not ckpt.exists():
                    break  # pruned meanwhile: list again
                first_error = first_error or exc
                warnings.warn(f"skipping {ckpt}: {exc}; falling back to an older checkpoint", DifflabWarning, 2)
        else:
            break
    if first_error is not None:
        raise first_error
    return None


def check_state(expected: dict[str, torch.Tensor], state: dict[str, torch.Tensor], source: str | Path | None) -> None:
    """Refuse weights whose shape or kind differs from the module's before copying any.

    ``expected`` is the module's ``state_dict()`` (it may live on the ``meta`` device, so a
    huge model implied by a tampered config is never allocated). A float parameter must get
    a float tensor (a precision change is fine); integer or bool weights are refused, not cast.
    Missing and unexpected names are left to ``load_state_dict``, which lists them.
    """
    for name, want in expected.items():
        got = state.get(name)
        if got is None:
            continue
        if tuple(got.shape) != tuple(want.shape):
            raise DifflabError(
                f"checkpoint {source} does not match its model: {name!r} has shape {list(got.shape)}, "
                f"the config builds {list(want.shape)}"
            )
        if want.is_floating_point() and not got.is_floating_point():
            raise DifflabError(
                f"checkpoint {source} is corrupt: weight {name!r} has dtype {got.dtype}, expected a float dtype"
            )


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


def _check_meta(meta: Any, path: Path) -> None:
    """Type-check the ``meta.json`` fields the loader relies on (it may come from anyone)."""

    def bad(what: str) -> DifflabError:
        return DifflabError(f"checkpoint {path} is corrupt: {META} {what}")

    if not isinstance(meta, dict):
        raise bad(f"must hold a JSON object, got {type(meta).__name__}")
    step = meta.get("step")
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise bad(f"'step' must be a non-negative integer, got {str(step)[:40]!r}")
    groups = meta.get("groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise bad("'groups' must be a list of names")
    files = meta.get("files", {})
    if not isinstance(files, dict):
        raise bad("'files' must be an object of {name: {bytes, sha256}}")
    for name, digest in files.items():
        ok = (
            isinstance(digest, dict)
            and isinstance(digest.get("bytes"), int)
            and not isinstance(digest.get("bytes"), bool)
            and digest["bytes"] >= 0
            and isinstance(digest.get("sha256"), str)
        )
        if not ok:
            raise bad(f"'files.{str(name)[:40]}' must be {{bytes: int, sha256: str}}")
    if "data" in meta and not isinstance(meta["data"], dict):
        raise bad("'data' must be an object")


def _read_checked(folder: Path, name: str, expected: dict[str, Any] | None, *, limit: int | None = None) -> bytes:
    """Read ``folder/name`` if it is a regular file of the expected size (checked before reading)."""
    path = folder / name
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block the open
    except FileNotFoundError:
        raise DifflabError(f"checkpoint {folder} is corrupt: {name} is missing") from None
    except OSError as exc:
        raise DifflabError(f"checkpoint {folder} is corrupt: cannot open {name} ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise DifflabError(f"checkpoint {folder} is corrupt: {name} is not a regular file")
        if expected is not None and info.st_size != expected.get("bytes"):
            raise DifflabError(
                f"checkpoint {folder} is corrupt: {name} does not match the size recorded in {META} "
                f"({info.st_size} bytes, expected {expected.get('bytes')})"
            )
        if limit is not None and info.st_size > limit:
            raise DifflabError(f"checkpoint {folder} is corrupt: {name} is {info.st_size} bytes (at most {limit})")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(info.st_size + 1)
    except OSError as exc:
        raise DifflabError(f"checkpoint {folder} is corrupt: cannot read {name} ({exc.strerror})") from None
    finally:
        os.close(fd)
    if expected is not None and _digest(data) != expected:
        raise DifflabError(f"checkpoint {folder} is corrupt: {name} does not match the size/SHA-256 recorded in {META}")
    return data


def _remove_atomically(folder: Path) -> None:
    """Rename ``folder`` to a hidden ``.del_`` name, then delete it: it never looks half-deleted."""
    trash = folder.with_name(f".del_{folder.name}_{os.getpid()}_{time.monotonic_ns()}")
    try:
        os.rename(folder, trash)
    except FileNotFoundError:
        return  # already gone (another reader's view was stale)
    fault_point("prune:renamed", path=trash)
    shutil.rmtree(trash, ignore_errors=True)


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
