"""Config fuzzing: every numeric field has a declared range, out-of-range values and hostile YAML
give one-line errors, and a few hundred seeded random mutations give no traceback, no hang and
no silent acceptance of a value outside a field's range."""

import dataclasses
import math
import random
import typing
from pathlib import Path

import pytest

from difflab.config import config_to_dict, load_config
from difflab.config.schema import RunConfig
from difflab.utils.bounds import range_of
from tests.helpers import ROOT

from ._guards import outcome

BASE = ROOT / "configs" / "digits.yaml"


def numeric_fields(cls=RunConfig, prefix=""):
    """``(dotted key, field, scalar type, is_list)`` for every int/float field of the config tree."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        tp = hints[f.name]
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if typing.get_origin(tp) in (typing.Union, __import__("types").UnionType) and len(args) == 1:
            tp = args[0]
        is_list = typing.get_origin(tp) in (list, tuple)
        scalar = typing.get_args(tp)[0] if is_list else tp
        if dataclasses.is_dataclass(scalar):
            yield from numeric_fields(scalar, key + ".")
        elif scalar in (int, float):
            yield key, f, scalar, is_list


FIELDS = list(numeric_fields())


def _yaml(value) -> str:
    if isinstance(value, float) and math.isnan(value):
        return ".nan"
    if isinstance(value, float) and math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    return repr(value)


def out_of_range(f, scalar):
    rng = range_of(f)
    bad = [float("nan"), float("-inf")] if scalar is float else [1.5, "abc", True]
    if scalar is float and not rng.allow_inf:
        bad.append(float("inf"))
    step = 1 if scalar is int else 1e-9
    if rng.ge is not None:
        bad.append(type(rng.ge)(rng.ge) - step if scalar is int else rng.ge - max(step, abs(rng.ge) * 1e-6))
    if rng.gt is not None:
        bad.append(scalar(rng.gt))
    if rng.le is not None:
        bad.append(int(rng.le) + 1 if scalar is int else rng.le * 2 + 1)
        bad.append(10**30 if scalar is int else 1e300)
    if rng.lt is not None:
        bad.append(scalar(rng.lt))
    return bad


def test_the_walk_finds_the_fields_the_issue_lists():
    keys = {k for k, *_ in FIELDS}
    listed = {
        "seed", "train.keep_last", "train.label_dropout", "train.time_limit", "train.lr", "train.weight_decay",
        "train.grad_clip", "train.warmup_steps", "sample.steps", "sample.n_eval", "sample.batch_size", "sample.eta",
        "sample.churn", "network.dropout", "network.hidden", "network.depth", "process.gamma_min",
        "process.gamma_max", "process.softness", "method.bandwidth", "encoder.tau", "encoder.kl_weight",
        "encoder.penalty_weight",
    }  # fmt: skip
    assert listed <= keys, listed - keys


@pytest.mark.parametrize("key,f,scalar,is_list", FIELDS, ids=[k for k, *_ in FIELDS])
def test_every_numeric_field_declares_a_range_and_refuses_values_outside_it(key, f, scalar, is_list):
    rng = range_of(f)
    assert rng is not None, f"{key} has no declared range: declare it with difflab.utils.bounds.bounded"
    for value in out_of_range(f, scalar):
        text = f"[{_yaml(value)}]" if is_list else _yaml(value) if not isinstance(value, str) else value
        kind, message = outcome(lambda k=key, t=text: load_config(RunConfig, BASE, [f"{k}={t}"]), f"{key}={text}")
        assert kind == "error", f"{key}={text} was accepted"
        assert key in message, message


def test_bounds_themselves_are_accepted():
    """The range is not stricter than it says: each scalar field's closed bounds load."""
    for key, f, scalar, is_list in FIELDS:
        rng = range_of(f)
        for bound in (rng.ge, rng.le):
            if bound is None or is_list or key in ("method.m",):
                continue
            value = scalar(bound)
            cfg = load_config(RunConfig, BASE, [f"{key}={_yaml(value)}"])
            node = cfg
            for part in key.split("."):
                node = getattr(node, part)
            assert node == value


def _in_range(cfg) -> list[str]:
    """Every numeric value of a loaded config that lies outside its field's range (must be none)."""
    bad = []
    for key, f, _, _ in FIELDS:
        node = cfg
        for part in key.split("."):
            node = getattr(node, part)
        values = node if isinstance(node, (list, tuple)) else [node]
        bad += [f"{key}={v}" for v in values if v is not None and not range_of(f).contains(v)]
    return bad


TOKENS = [
    ".nan", "-.inf", ".inf", "-1", "0", "1e400", "1e30", "99999999999999999999999", "[", "]", "{", "}", "&a 1",
    "*a", "!!python/object/apply:os.system ['true']", '"', "'", ": :", "\t", "- x", "null", "~", "yes", "0x10",
    "[1, [2, [3]]]", "{a: 1}", "é", "\x00", "\x7f", "-", "?", "%YAML 1.1", "---",
]  # fmt: skip


def _mutate(text: bytes, rnd: random.Random) -> bytes:
    if not text:
        return rnd.choice(TOKENS).encode()
    lines = text.split(b"\n")
    kind = rnd.randrange(8)
    i = rnd.randrange(len(lines))
    if kind == 0:  # flip a byte
        b = bytearray(text)
        j = rnd.randrange(len(b))
        b[j] ^= 1 << rnd.randrange(8)
        return bytes(b)
    if kind == 1:  # drop a line
        del lines[i]
    elif kind == 2:  # duplicate a line (duplicate keys)
        lines.insert(i, lines[i])
    elif kind == 3:  # replace a value by a hostile token
        key, sep, _ = lines[i].partition(b":")
        lines[i] = key + b": " + rnd.choice(TOKENS).encode()
    elif kind == 4:  # insert a hostile token line
        lines.insert(i, rnd.choice(TOKENS).encode())
    elif kind == 5:  # random bytes
        lines.insert(i, bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 12))))
    elif kind == 6:  # re-indent
        lines[i] = b" " * rnd.randrange(1, 5) + lines[i]
    else:  # truncate
        return text[: rnd.randrange(len(text))]
    return b"\n".join(lines)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_mutations_give_no_traceback_hang_or_silent_nonsense(seed, tmp_path):
    rnd = random.Random(seed)
    base = BASE.read_bytes()
    counts = {"ok": 0, "error": 0}
    for n in range(120):
        text = base
        for _ in range(rnd.randrange(1, 4)):
            text = _mutate(text, rnd)
        path = tmp_path / f"m{n}.yaml"
        path.write_bytes(text)
        kind, result = outcome(lambda p=path: load_config(RunConfig, p), f"seed {seed} mutation {n}: {text[:80]!r}")
        counts[kind] += 1
        if kind == "ok":
            assert _in_range(result) == [], f"seed {seed} mutation {n} silently accepted {_in_range(result)}"
            assert load_config(RunConfig, config_to_dict(result)) == result  # what loads, reloads the same
    assert counts["error"] > 0 and counts["ok"] > 0, counts  # the fuzzer reaches both outcomes


def test_random_overrides(tmp_path):
    rnd = random.Random(7)
    keys = [k for k, *_ in FIELDS] + ["data.name", "sample.sampler", "process.basis", "network.kind", "x", "train"]
    for _ in range(150):
        item = f"{rnd.choice(keys)}={rnd.choice(TOKENS + ['1', '0.5', '[1,2]', '2'])}"
        kind, result = outcome(lambda i=item: load_config(RunConfig, BASE, [i]), f"override {item!r}")
        if kind == "ok":
            assert _in_range(result) == [], item


ALIAS_BOMB = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 9)
)


@pytest.mark.parametrize(
    "text,needle",
    [
        (b"seed: 0\n# \xff\n", "not UTF-8 text \\(byte 10"),
        (b"seed: 0\nseed: 7\n", "duplicate key 'seed'"),
        (b"train:\n  lr: 1e-3\n  lr: 2e-3\n", "duplicate key 'lr'"),
        (ALIAS_BOMB.encode(), "aliases"),
        (("extra: " + "[" * 5000 + "]" * 5000 + "\n").encode(), "nesting deeper"),
        (b"seed: !!python/object/apply:os.system ['true']\n", "YAML syntax error"),
        (("sample:\n  sampler: " + "x" * 100_000 + "\n").encode(), "sample.sampler"),
    ],
    ids=["non-utf8", "duplicate", "nested-duplicate", "alias-bomb", "deep", "python-tag", "huge-literal"],
)
def test_hostile_yaml_is_one_line(tmp_path, text, needle):
    path = tmp_path / "c.yaml"
    path.write_bytes(text)
    kind, message = outcome(lambda: load_config(RunConfig, path), needle, seconds=5)
    assert kind == "error"
    assert __import__("re").search(needle, message), message


def test_a_config_that_is_not_a_regular_file_is_refused(tmp_path):
    import os

    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)
    kind, message = outcome(lambda: load_config(RunConfig, fifo), "fifo", seconds=5)
    assert kind == "error" and "not a regular file" in message
    link = tmp_path / "zero.yaml"
    link.symlink_to("/dev/zero")
    kind, message = outcome(lambda: load_config(RunConfig, link), "/dev/zero", seconds=5)
    assert kind == "error" and "not a regular file" in message


def test_paths_are_not_required(tmp_path: Path):
    assert load_config(RunConfig, None).seed == 0


def test_random_values_property():
    """Seeded property test: for random values of every numeric field, accepted ⇒ in range, out of range ⇒ refused."""
    rnd = random.Random(3)
    for key, f, scalar, is_list in FIELDS:
        rng = range_of(f)
        for _ in range(8):
            magnitude = 10 ** rnd.uniform(-3, 12)
            value = rnd.choice([-1, 1]) * magnitude
            value = int(value) if scalar is int else value
            text = f"[{_yaml(value)}]" if is_list else _yaml(value)
            kind, result = outcome(lambda k=key, t=text: load_config(RunConfig, BASE, [f"{k}={t}"]), f"{key}={text}")
            if kind == "ok":
                assert rng.contains(value), f"{key}={text} accepted outside {rng.describe()}"
            elif not rng.contains(value):
                assert key in result, result
            if not rng.contains(value):
                assert kind == "error", f"{key}={text}"
