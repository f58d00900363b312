"""Files that matter: atomic writes, safetensors checkpoints, JSON-lines logs, run-folder locks."""

from difflab.io.atomic import atomic_open, atomic_write_bytes, atomic_write_json, atomic_write_text
from difflab.io.checkpoint import (
    Checkpoint,
    check_state,
    clean_temporaries,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    load_latest_checkpoint,
    nearest_checkpoint,
    save_checkpoint,
)
from difflab.io.jsonl import JsonlLogger, read_jsonl, truncate_jsonl_after
from difflab.io.lock import run_lock
from difflab.io.optim_state import flatten_optimizer_state, unflatten_optimizer_state

__all__ = [
    "Checkpoint",
    "JsonlLogger",
    "check_state",
    "atomic_open",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "clean_temporaries",
    "flatten_optimizer_state",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "load_latest_checkpoint",
    "nearest_checkpoint",
    "read_jsonl",
    "run_lock",
    "save_checkpoint",
    "truncate_jsonl_after",
    "unflatten_optimizer_state",
]
