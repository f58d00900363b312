"""On-disk cache of extracted trajectories: ``DIR/trajectories.safetensors`` + ``DIR/meta.json``.

Both files are written atomically; the tensors file carries the key in its own
metadata, so a half-updated pair (new meta, old tensors) is never reused.
"""

import json
from pathlib import Path

from safetensors.torch import load_file, safe_open, save

from difflab.errors import DifflabError
from difflab.io import atomic_write_bytes, atomic_write_json
from difflab.representations.extract import Trajectories

TENSORS, META = "trajectories.safetensors", "meta.json"
_SPLITS = ("train", "train_labels", "test", "test_labels")


def _key_text(key: dict) -> str:
    return json.dumps(key, sort_keys=True)


def save_trajectories(out: str | Path, traj: Trajectories, key: dict) -> Path:
    """Write ``traj`` under ``out`` with its cache ``key``; returns the folder."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {name: getattr(traj, name).contiguous() for name in _SPLITS}
    atomic_write_bytes(out / TENSORS, save(tensors, metadata={"key": _key_text(key)}))
    atomic_write_json(
        out / META,
        {"key": key, "times": traj.times, **traj.meta, "shape": {n: list(t.shape) for n, t in tensors.items()}},
    )
    return out


def load_trajectories(folder: str | Path, key: dict | None = None) -> Trajectories | None:
    """The cached trajectories in ``folder``; ``None`` if absent or (when ``key`` is given) stale."""
    folder = Path(folder)
    if not (folder / META).is_file() or not (folder / TENSORS).is_file():
        return None
    meta = json.loads((folder / META).read_text())
    with safe_open(str(folder / TENSORS), "pt") as f:
        stored = (f.metadata() or {}).get("key")
    if stored != _key_text(meta["key"]):
        return None  # tensors and meta come from different writes
    if key is not None and _key_text(meta["key"]) != _key_text(key):
        return None
    t = load_file(str(folder / TENSORS))
    extra = {k: v for k, v in meta.items() if k not in ("times", "shape")}
    return Trajectories(t["train"], t["train_labels"], t["test"], t["test_labels"], list(meta["times"]), extra)


def require_trajectories(folder: str | Path) -> Trajectories:
    """Load a representation folder written by ``difflab represent`` or fail with a clear message."""
    traj = load_trajectories(folder)
    if traj is None:
        raise DifflabError(
            f"{folder} holds no trajectories ({TENSORS} + {META}); write them with `difflab represent RUN --out DIR`"
        )
    return traj
