"""Name -> loader table; ``load_dataset`` validates options before calling a loader.

Loaders are imported lazily (by dotted path) so that, e.g., loading ``digits``
never imports scikit-image.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from difflab.data.base import Dataset
from difflab.errors import DifflabError

DEFAULT_DATASET = "digits"

# name -> "module:function"; every loader takes keyword-only options.
_LOADERS: dict[str, str] = {
    "digits": "difflab.data.digits:load_digits",
    "patches": "difflab.data.patches:load_patches",
    "patches-rgb": "difflab.data.patches:load_patches_rgb",
    "toy2d": "difflab.data.toy2d:load_toy2d",
    "gmm": "difflab.data.gmm:load_gmm",
    "npy": "difflab.data.arrays:load_npy",
    "folder": "difflab.data.folder:load_folder",
    "mnist": "difflab.data.idx:load_mnist",
    "fashion-mnist": "difflab.data.idx:load_fashion_mnist",
    "cifar10": "difflab.data.cifar:load_cifar10",
    "mnist5k": "difflab.data.mnist5k:load_mnist5k",
    "digits-attr": "difflab.data.digits_attr:load_digits_attr",
}


# Keywords a streaming-capable loader takes from the data section (data.stream, data.stream_above_mb),
# not from data.options: hidden from the option listing, refused as options.
STREAM_KEYWORDS = ("stream", "stream_above_mb")


def dataset_names() -> list[str]:
    """All registered dataset names, default first."""
    return list(_LOADERS)


def check_dataset_name(name: str) -> str:
    """The registered key for ``name`` (case-insensitive, ``_`` == ``-``).

    Raises:
        DifflabError: for an unknown name, listing the registered datasets.
    """
    key = name.lower().replace("_", "-") if isinstance(name, str) else name
    if key not in _LOADERS:
        raise DifflabError(f"unknown dataset {name!r}; valid datasets: {', '.join(_LOADERS)}")
    return key


def _loader(name: str) -> Callable[..., Dataset]:
    module, func = _LOADERS[check_dataset_name(name)].split(":")
    return getattr(importlib.import_module(module), func)


def dataset_options(name: str) -> dict[str, Any]:
    """Options a dataset accepts, mapped to their defaults (``inspect.Parameter.empty`` if required)."""
    params = inspect.signature(_loader(name)).parameters.values()
    return {p.name: p.default for p in params if p.name not in STREAM_KEYWORDS}


def can_stream(name: str) -> bool:
    """Whether a dataset's loader has a streaming path (:mod:`difflab.data.stream`): ``folder`` and ``npy``."""
    return "stream" in inspect.signature(_loader(name)).parameters


def _option_docs(doc: str) -> dict[str, str]:
    """``option -> description`` from the ``Args:`` section of a Google-style docstring."""
    out: dict[str, str] = {}
    lines = inspect.cleandoc(doc or "").splitlines()
    inside, current, indent = False, None, None
    for line in lines:
        stripped = line.strip()
        if stripped == "Args:":
            inside = True
            continue
        if not inside:
            continue
        if not stripped or (not line.startswith(" ") and stripped.endswith(":")):
            if stripped:
                break
            continue
        this_indent = len(line) - len(line.lstrip())
        key, sep, text = stripped.partition(":")
        if sep and " " not in key and (indent is None or this_indent <= indent):
            indent, current = this_indent, key
            out[key] = text.strip()
        elif current is not None:
            out[current] = f"{out[current]} {stripped}"
    return out


def describe_dataset(name: str) -> dict[str, Any]:
    """What a dataset is and which options it takes, read from its loader (signature + docstring).

    Returns:
        ``{"name", "summary", "options": [{"name", "default", "required", "help"}, ...]}``.
    """
    loader = _loader(name)
    doc = inspect.getdoc(loader) or ""
    helps = _option_docs(doc)
    options = [
        {
            "name": key,
            "default": None if default is inspect.Parameter.empty else default,
            "required": default is inspect.Parameter.empty,
            "help": helps.get(key, ""),
        }
        for key, default in dataset_options(name).items()
    ]
    return {"name": check_dataset_name(name), "summary": doc.splitlines()[0] if doc else "", "options": options}


def load_dataset(
    name: str = DEFAULT_DATASET, *, stream: str = "never", stream_above_mb: float = float("inf"), **options: Any
) -> Dataset:
    """Build a dataset by name.

    Args:
        name: One of :func:`dataset_names` (case-insensitive, ``_`` == ``-``).
        stream: ``never``, ``always`` or ``auto``: read the training split example by example
            (``Dataset.train_stream``) always, or when its float32 size is over ``stream_above_mb`` MiB.
            Datasets without a streaming path (see :func:`can_stream`) load whole under ``auto``.
        stream_above_mb: The ``auto`` threshold in MiB.
        **options: Dataset-specific options (see each loader's docstring).

    Returns:
        A :class:`Dataset` with normalised float32 ``(N, *shape)`` tensors.

    Raises:
        DifflabError: Unknown name, unknown or missing option, or bad data.
    """
    loader = _loader(name)
    valid = dataset_options(name)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        listed = ", ".join(valid) if valid else "(none)"
        raise DifflabError(f"dataset {name!r} has no option {', '.join(unknown)}; valid options: {listed}")
    missing = [k for k, v in valid.items() if v is inspect.Parameter.empty and k not in options]
    if missing:
        raise DifflabError(f"dataset {name!r} needs option {', '.join(missing)} (e.g. {missing[0]}=...)")
    if stream not in ("never", "auto", "always"):
        raise DifflabError(f"data.stream must be never, auto or always, got {stream!r}")
    if not can_stream(name):
        if stream == "always":
            streamers = ", ".join(n for n in _LOADERS if can_stream(n))
            raise DifflabError(f"data.stream=always: dataset {name!r} has no streaming path (only {streamers})")
        return loader(**options)
    return loader(**options, stream=stream, stream_above_mb=stream_above_mb)
