"""A name -> object table whose names can be listed without importing the objects.

Registries own the names of pluggable parts (samplers, grids, objectives): the config
schema takes its allowed values from them and the CLI lists them in its help. Entries
are ``"module:attribute"`` paths resolved on first use, so listing names (``difflab --help``,
loading a config) imports no torch; :mod:`difflab.data.registry` works the same way.
"""

from collections.abc import Iterator, Mapping
from importlib import import_module
from typing import Any, Literal

from difflab.errors import DifflabError


class Registry(Mapping[str, Any]):
    """Read-only mapping ``name -> object``, imported lazily from ``"module:attribute"``.

    Args:
        kind: what an entry is, for error messages (``"sampler"``).
        entries: ``name -> "module:attribute"``, in the order names are listed.
    """

    def __init__(self, kind: str, entries: dict[str, str]):
        self.kind = kind
        self._paths = dict(entries)
        self._loaded: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._loaded:
            module, attr = self._paths[name].split(":")  # KeyError for an unknown name, as a dict
            self._loaded[name] = getattr(import_module(module), attr)
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self._paths)})"

    def get_or_raise(self, name: str) -> Any:
        """The entry called ``name``.

        Raises:
            DifflabError: for an unknown name, listing the registered ones.
        """
        if name not in self._paths:
            raise DifflabError(f"unknown {self.kind} {name!r}; choose one of {', '.join(self._paths)}")
        return self[name]

    def literal(self) -> Any:
        """``Literal[...]`` of the registered names, for config fields and type hints."""
        return Literal[tuple(self._paths)]  # type: ignore[valid-type]
