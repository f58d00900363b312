"""Optimizer state without pickle: tensors for safetensors, the rest as JSON.

``torch.optim.Optimizer.state_dict()`` is a nest of dicts (with int keys),
lists, tuples, tensors and numbers. :func:`flatten_optimizer_state` splits it
into a flat ``{name: Tensor}`` dict and a JSON-safe skeleton that records where
each tensor goes; :func:`unflatten_optimizer_state` is its exact inverse.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from difflab.errors import DifflabError

__all__ = ["flatten_optimizer_state", "unflatten_optimizer_state"]

# Markers in the JSON skeleton; plain JSON cannot express tensors, tuples,
# non-string dict keys or non-finite floats.
_TENSOR, _TUPLE, _DICT, _FLOAT = "__tensor__", "__tuple__", "__dict__", "__float__"


def flatten_optimizer_state(state_dict: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer ``state_dict`` into tensors and a JSON-safe skeleton.

    Args:
        state_dict: ``opt.state_dict()``.

    Returns:
        ``(tensors, skeleton)``: ``tensors`` maps names like ``state.0.exp_avg``
        to tensors (store them in safetensors); ``skeleton`` is JSON-safe
        (store it in ``meta.json``).
    """
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _encode(state_dict, "", tensors)
    return tensors, skeleton


def unflatten_optimizer_state(tensors: dict[str, torch.Tensor], skeleton: dict[str, Any]) -> dict[str, Any]:
    """Rebuild the ``state_dict`` that :func:`flatten_optimizer_state` split.

    Raises:
        DifflabError: a tensor named by the skeleton is missing.
    """
    return _decode(skeleton, tensors)


def _encode(obj: Any, path: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        if path in tensors:
            raise DifflabError(f"optimizer state key '{path}' is ambiguous (keys contain dots)")
        tensors[path] = obj
        return {_TENSOR: path}
    if isinstance(obj, dict):
        if all(isinstance(k, str) and not k.startswith("__") for k in obj):
            return {k: _encode(v, _sub(path, k), tensors) for k, v in obj.items()}
        return {_DICT: [[_key(k, path), _encode(v, _sub(path, str(k)), tensors)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {_TUPLE: [_encode(v, _sub(path, str(i)), tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, _sub(path, str(i)), tensors) for i, v in enumerate(obj)]
    if isinstance(obj, float) and not math.isfinite(obj):
        return {_FLOAT: repr(obj)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    kind = type(obj).__name__
    raise DifflabError(f"optimizer state at '{path}' holds a {kind}, which cannot be saved without pickle")


def _key(k: Any, path: str) -> Any:
    if isinstance(k, bool) or not isinstance(k, (int, str)):
        raise DifflabError(f"optimizer state at '{path}' has a {type(k).__name__} key, which cannot be saved")
    return k


def _sub(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _decode(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if _TENSOR in obj:
            name = obj[_TENSOR]
            if name not in tensors:
                raise DifflabError(f"optimizer tensor '{name}' is missing; the checkpoint is corrupt")
            return tensors[name]
        if _TUPLE in obj:
            return tuple(_decode(v, tensors) for v in obj[_TUPLE])
        if _DICT in obj:
            return {k: _decode(v, tensors) for k, v in obj[_DICT]}
        if _FLOAT in obj:
            return float(obj[_FLOAT])
        return {k: _decode(v, tensors) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    return obj
