"""Strict, dataclass-driven config loading (a small, strict OmegaConf).

A config is a tree of dataclasses. :func:`load_config` reads a YAML file or a
dict, applies dotted ``key=value`` overrides, converts every value to the type
its field declares and fails with a :class:`~difflab.errors.DifflabError` that
names the full dotted key. Dataclasses may define ``validate(self) -> None`` for
cross-field checks; it is called bottom-up after loading.

Supported field types: ``int``, ``float`` (ints and numeric strings such as
``1e-3`` are accepted, since YAML 1.1 reads ``1e-3`` as a string), ``bool``,
``str``, ``Path``, ``Literal[...]``, ``list[T]``, ``tuple[T, ...]``,
``tuple[A, B]``, ``dict[str, T]``, ``X | None``, ``Any`` and nested dataclasses.

Values are range-checked generically: a field declared with :func:`difflab.utils.bounds.bounded`
carries its allowed range in its metadata, and every float anywhere in the tree must be finite
unless its field allows infinity. YAML is parsed by a hardened safe loader
(:func:`parse_yaml`): no aliases, bounded nesting, no duplicate keys, UTF-8 with a clear error.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import stat
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

from difflab.errors import DifflabError
from difflab.utils.bounds import RANGE_KEY, Range

T = TypeVar("T")

__all__ = ["apply_overrides", "config_to_dict", "dump_yaml", "load_config", "parse_yaml", "read_yaml"]

MAX_YAML_BYTES = 16 << 20  # configs are a few KB
MAX_YAML_DEPTH = 32  # the run config is 3 levels deep


class _StrictLoader(yaml.SafeLoader):
    """``safe_load`` without aliases (a "billion laughs" bomb), deep nesting or duplicate keys."""

    def compose_node(self, parent, index):  # noqa: D102
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases (*name) are not allowed in a config; write the value out", event.start_mark
            )
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nesting deeper than {MAX_YAML_DEPTH} levels", self.peek_event().start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):  # noqa: D102
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: SafeLoader reports it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {str(key)[:40]!r}", key_node.start_mark
                )
        return super().construct_mapping(node, deep=deep)


def parse_yaml(data: bytes | str, source: str) -> Any:
    """Parse YAML from an untrusted source into plain values, or raise one line naming ``source``.

    Bytes must be UTF-8; aliases, nesting deeper than ``MAX_YAML_DEPTH`` and duplicate keys are
    refused (a config never needs them, and an alias bomb would otherwise hang).
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DifflabError(
                f"{source} is not UTF-8 text (byte {exc.start} is 0x{data[exc.start]:02x}); save it as UTF-8"
            ) from None
    try:
        return yaml.load(data, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise DifflabError(f"YAML syntax error in {source}{where}: {' '.join(str(problem).split())[:200]}") from None
    except RecursionError:
        raise DifflabError(f"YAML syntax error in {source}: nested too deeply") from None


def _read_limited(path: Path, what: str, limit: int) -> bytes:
    """Bytes of a regular file of at most ``limit`` bytes (a FIFO or /dev/zero is refused, not read)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise DifflabError(f"{what} not found: {path}") from None
    except OSError as exc:
        raise DifflabError(f"cannot read {what} {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise DifflabError(f"{what} {path} is not a regular file")
        if info.st_size > limit:
            raise DifflabError(f"{what} {path} is {info.st_size} bytes; a config is at most {limit}")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(limit + 1)
    except OSError as exc:
        raise DifflabError(f"cannot read {what} {path}: {exc.strerror}") from None
    finally:
        os.close(fd)


def load_config(
    cls: type[T],
    source: str | Path | Mapping[str, Any] | None = None,
    overrides: Sequence[str] = (),
) -> T:
    """Build a validated config of type ``cls``.

    Args:
        cls: The root dataclass.
        source: A YAML file, a mapping, an instance of ``cls`` or ``None``
            (all defaults).
        overrides: Dotted ``key=value`` strings applied after ``source``; values
            are parsed like YAML (``train.lr=1e-3``, ``net.mults=[1,2,2]``).

    Returns:
        An instance of ``cls`` with every field converted and validated.

    Raises:
        DifflabError: unknown key, wrong type, missing required field, malformed
            override, unreadable YAML, or a failed ``validate()``.
    """
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"load_config needs a dataclass type, got {cls!r}")
    if source is None:
        data: dict[str, Any] = {}
    elif isinstance(source, (str, Path)):
        data = read_yaml(source)
    elif dataclasses.is_dataclass(source) and not isinstance(source, type):
        data = config_to_dict(source)
    elif isinstance(source, Mapping):
        data = _plain_copy(source)
    else:
        raise DifflabError(f"config source must be a YAML path or a mapping, got {type(source).__name__}")
    data = apply_overrides(_reset_changed(cls, data, overrides), overrides)
    cfg = _build(cls, data, "")
    _validate_tree(cfg, "")
    return cfg


def _reset_changed(cls: type, data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Drop the sections ``cls.RESET_ON_CHANGE`` ties to a key whose value an override changes.

    E.g. ``RunConfig.RESET_ON_CHANGE = {"data.name": "data.options"}``: switching the dataset on
    the command line discards the options the file gave the old one.
    """
    resets = getattr(cls, "RESET_ON_CHANGE", {})
    if not resets or isinstance(overrides, str):
        return data
    given = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if sep:
            try:
                given[key.strip()] = yaml.safe_load(raw) if raw.strip() else None
            except yaml.YAMLError:
                continue  # apply_overrides reports it
    out = data
    for key, dependent in resets.items():
        if key not in given:
            continue
        old: Any = data
        for part in key.split("."):
            old = old.get(part) if isinstance(old, Mapping) else None
        if old is None or old == given[key]:
            continue
        *parents, last = dependent.split(".")
        node = out = _plain_copy(out)
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(last, None)
    return out


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML file whose top level is a mapping (an empty file gives ``{}``)."""
    path = Path(path)
    data = parse_yaml(_read_limited(path, "config file", MAX_YAML_BYTES), f"config file {path}")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise DifflabError(f"config file {path} must contain a mapping at the top level, got {type(data).__name__}")
    return data


def apply_overrides(data: Mapping[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with dotted ``key=value`` overrides applied.

    Intermediate mappings are created as needed; whether the keys exist is
    checked later, against the dataclass, so the error names the dotted key.
    """
    if isinstance(overrides, str):
        overrides = [overrides]
    out = _plain_copy(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep:
            raise DifflabError(f"malformed override {item!r}: no '='; write it as key=value, e.g. train.lr=1e-3")
        parts = key.split(".")
        if not key or any(not p for p in parts):
            raise DifflabError(f"malformed override {item!r}: empty key part; write it as section.key=value")
        try:
            value = parse_yaml(raw, "override") if raw.strip() else None
        except DifflabError:
            raise DifflabError(
                f"override {_short(item)}: cannot parse the value as YAML (no aliases or duplicate keys); quote it"
            ) from None
        node = out
        for depth, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict):
                prefix = ".".join(parts[: depth + 1])
                raise DifflabError(f"override {item!r}: '{prefix}' is a value, not a section")
            node = child
        node[parts[-1]] = value
    return out


def config_to_dict(cfg: Any) -> Any:
    """Convert a config (dataclass tree) to plain YAML-safe types.

    Tuples become lists and paths become strings; :func:`load_config` turns them
    back, so ``load_config(type(cfg), config_to_dict(cfg)) == cfg``.
    """
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return {f.name: config_to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg) if f.init}
    if isinstance(cfg, Mapping):
        return {str(k): config_to_dict(v) for k, v in cfg.items()}
    if isinstance(cfg, (list, tuple)):
        return [config_to_dict(v) for v in cfg]
    if isinstance(cfg, Path):
        return str(cfg)
    if cfg is None or isinstance(cfg, (bool, int, float, str)):
        return cfg
    raise DifflabError(f"cannot convert a {type(cfg).__name__} to a plain config value")


class _ConfigDumper(yaml.SafeDumper):
    """Block-style sections, but short scalar lists inline (``channel_mults: [1, 2, 2]``)."""


def _represent_list(dumper: yaml.SafeDumper, data: list) -> yaml.Node:
    flow = all(x is None or isinstance(x, (bool, int, float, str)) for x in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_ConfigDumper.add_representer(list, _represent_list)


def dump_yaml(cfg: Any) -> str:
    """Serialise a config (dataclass or mapping) as YAML, keeping field order."""
    plain = config_to_dict(cfg)
    return yaml.dump(plain, Dumper=_ConfigDumper, sort_keys=False, default_flow_style=False, allow_unicode=True)


# ---------------------------------------------------------------- internals


def _plain_copy(data: Any) -> Any:
    """Deep-copy nested mappings/lists so overrides never mutate the caller's dict."""
    if isinstance(data, Mapping):
        return {k: _plain_copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_plain_copy(v) for v in data]
    return data


def _merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _build(cls: type, data: Any, prefix: str) -> Any:
    where = f"'{prefix}'" if prefix else "the config"
    if not isinstance(data, Mapping):
        raise DifflabError(f"{where} must be a mapping of {cls.__name__} fields, got {_describe(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if not isinstance(key, str) or key not in fields:
            full = _join(prefix, str(key))
            candidates = [_join(prefix, name) for name in fields]
            close = difflib.get_close_matches(full, candidates, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else f"; valid keys: {', '.join(candidates)}"
            raise DifflabError(f"unknown config key '{full}'{hint}")
    try:
        hints = typing.get_type_hints(cls)
    except NameError as exc:  # e.g. a dataclass defined inside a function under postponed annotations
        raise TypeError(f"cannot resolve the field types of {cls.__name__}: {exc}") from None
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        key = _join(prefix, name)
        if name in data:
            value = data[name]
            default = _default_of(f)
            # A partial section merges onto the field's default instance, so a
            # default_factory's non-class defaults survive a partial override.
            if isinstance(value, Mapping) and dataclasses.is_dataclass(default):
                value = _merge(config_to_dict(default), value)
            kwargs[name] = _convert(hints[name], value, key)
            _check_range(f, kwargs[name], key)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise DifflabError(f"missing required config key '{key}'")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise DifflabError(f"invalid {where}: {exc}") from None


def _check_range(f: dataclasses.Field, value: Any, key: str) -> None:
    """The field's declared :class:`Range` (on the value, or on each item of a list), and finite floats."""
    rng: Range | None = f.metadata.get(RANGE_KEY)
    if rng is None:
        rng = Range()  # undeclared: floats must still be finite
    items = value if isinstance(value, (list, tuple)) else [value]
    for i, item in enumerate(items):
        where = f"{key}[{i}]" if isinstance(value, (list, tuple)) else key
        rng.check(item, where)


def _default_of(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{type(value).__name__} {text}"


def _type_name(tp: Any) -> str:
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _convert(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return _convert(options[0], value, key)
        for option in options:
            try:
                return _convert(option, value, key)
            except DifflabError:
                continue
        raise DifflabError(f"config key '{key}' expects {_type_name(tp)}, got {_describe(value)}")
    if origin is Literal:
        for allowed in args:
            if type(allowed) is type(value) and allowed == value:
                return value
        choices = ", ".join(repr(a) for a in args)
        close = []
        if isinstance(value, str) and len(value) < 200:
            close = difflib.get_close_matches(value, [str(a) for a in args], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise DifflabError(f"config key '{key}' must be one of {choices}; got {_short(value)}{hint}")
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return _build(tp, value, key)
    if tp in (list, tuple, dict):
        origin, args = tp, ()
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise DifflabError(f"config key '{key}' expects a list ({_type_name(tp)}), got {_describe(value)}")
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                raise DifflabError(f"config key '{key}' expects {len(args)} items ({_type_name(tp)}), got {len(value)}")
            return tuple(_convert(a, v, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
        item_tp = args[0] if args else Any
        items = [_convert(item_tp, v, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, Mapping):
            raise DifflabError(f"config key '{key}' expects a mapping ({_type_name(tp)}), got {_describe(value)}")
        key_tp, val_tp = args if args else (Any, Any)
        return {
            _convert(key_tp, k, f"{key} (key {k!r})"): _convert(val_tp, v, _join(key, str(k))) for k, v in value.items()
        }
    return _convert_scalar(tp, value, key)


def _convert_scalar(tp: Any, value: Any, key: str) -> Any:
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise DifflabError(f"config key '{key}' expects a bool (true/false), got {_describe(value)}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise DifflabError(f"config key '{key}' expects an int, got {_describe(value)}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)  # YAML 1.1 reads '1e-3' as a string
            except ValueError:
                pass
        raise DifflabError(f"config key '{key}' expects a float, got {_describe(value)}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise DifflabError(f"config key '{key}' expects a string, got {_describe(value)}; quote it in YAML")
    if tp is Path:
        if isinstance(value, (str, Path)):
            return Path(value)
        raise DifflabError(f"config key '{key}' expects a path string, got {_describe(value)}")
    raise TypeError(f"config key '{key}': unsupported field type {_type_name(tp)}")


def _validate_tree(cfg: Any, prefix: str) -> None:
    """Call ``validate()`` on every dataclass in the tree, children first."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        for f in dataclasses.fields(cfg):
            _validate_tree(getattr(cfg, f.name), _join(prefix, f.name))
        check = getattr(cfg, "validate", None)
        if callable(check):
            try:
                check()
            except ValueError as exc:
                where = f"'{prefix}'" if prefix else "config"
                raise DifflabError(f"invalid {where}: {exc}") from None
    elif isinstance(cfg, (list, tuple)):
        for i, v in enumerate(cfg):
            _validate_tree(v, f"{prefix}[{i}]")
    elif isinstance(cfg, dict):
        for k, v in cfg.items():
            _validate_tree(v, _join(prefix, str(k)))
