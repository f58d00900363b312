"""A small auxiliary network stored beside a run: ``NAME.safetensors`` + ``NAME.json``.

The JSON holds ``{"model": architecture, "stats": fit statistics}``; the architecture rebuilds the
module before its weights load. Used by the learned code prior and the DMZ code map, so both write
and read the pair the same way (atomically, never pickled).
"""

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from difflab.errors import DifflabError
from difflab.io.atomic import atomic_write_bytes, atomic_write_json


def save_small_model(folder: str | Path, names: tuple[str, str], state: dict, arch: dict, stats: dict) -> None:
    """Write ``state`` to ``folder/names[0]`` and the architecture + statistics to ``folder/names[1]``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in state.items()}
    atomic_write_bytes(folder / names[0], save(tensors))
    atomic_write_json(folder / names[1], {"model": arch, "stats": stats})


def read_small_model(folder: str | Path, names: tuple[str, str], missing: str) -> tuple[dict, dict, dict]:
    """(weights, architecture, statistics) stored in ``folder``; ``missing`` is the error when absent."""
    folder = Path(folder)
    weights, record = folder / names[0], folder / names[1]
    if not weights.exists() or not record.exists():
        raise DifflabError(missing)
    try:
        data = json.loads(record.read_text())
        arch, stats = data["model"], data.get("stats", {})
        state: dict[str, torch.Tensor] = load_file(str(weights))
    except (json.JSONDecodeError, KeyError, TypeError, SafetensorError) as err:
        raise DifflabError(f"{folder}: {names[0]} / {names[1]} are corrupt ({err})") from None
    return state, arch, stats
