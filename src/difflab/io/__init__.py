"""Files that matter: atomic writes, safetensors checkpoints, JSON-lines logs."""

from difflab.io.atomic import atomic_open, atomic_write_bytes, atomic_write_json, atomic_write_text
from difflab.io.checkpoint import (
    Checkpoint,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    nearest_checkpoint,
    save_checkpoint,
)
from difflab.io.jsonl import JsonlLogger, read_jsonl
from difflab.io.optim_state import flatten_optimizer_state, unflatten_optimizer_state

__all__ = [
    "Checkpoint",
    "JsonlLogger",
    "atomic_open",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "flatten_optimizer_state",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "nearest_checkpoint",
    "read_jsonl",
    "save_checkpoint",
    "unflatten_optimizer_state",
]
