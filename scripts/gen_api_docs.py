"""Generate docs/api.md, the public Python API, from the packages' ``__all__`` and docstrings.

Every name a package exports (``__all__``) gets its signature and the first paragraph of its
docstring; classes list their public methods and properties. ``tests/test_api_docs.py`` fails
when docs/api.md is out of date.

Usage: python scripts/gen_api_docs.py [--out docs/api.md] [--check]
"""

import argparse
import importlib
import inspect
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "api.md"

# Package -> one line on what it is for; in the order a notebook meets them.
PACKAGES = {
    "difflab.models": "load a trained run and sample from it (`load_run`, `generate`, `LoadedRun`)",
    "difflab.sampling": "samplers (`get_sampler(name)` or `sample_<name>`) and time grids (`build_grid`, ...)",
    "difflab.process": "the forward process (`build_process`) and the exact Gaussian oracles",
    "difflab.data": "datasets by name (`load_dataset`) and their normalisers",
    "difflab.metrics": "sample-quality metrics (`evaluate` computes every applicable one)",
    "difflab.pipeline": "train, evaluate and export runs (what the CLI calls)",
    "difflab.config": "the strict YAML + `key=value` config loader",
    "difflab.report": "figures and markdown reports",
    "difflab.io": "atomic files and safetensors checkpoints",
    "difflab.dmz": "capability: DMZ binary codes (encode, sample codes, reconstruct, interpolate)",
    "difflab.representations": "capability: trajectory representations and probes",
    "difflab.analysis": "capability: ablation over time, impact maps, shortcut schedules",
}

INTRO = """# Public Python API

Generated from the docstrings by `python scripts/gen_api_docs.py` (do not edit by hand;
`tests/test_api_docs.py` checks it is current). Each section lists what a package exports
(`__all__`): the signature and the first paragraph of the docstring; `help(name)` has the rest.

A notebook session, end to end:

```python
from difflab.models import load_run, generate
from difflab.sampling import get_sampler, build_grid
from difflab.process import build_process, GaussianOracle

run = load_run("runs/demo")                  # newest complete checkpoint; run.step says which
x, nfe = generate(run, 64)                   # steps, sampler, grid: the run's own sample settings
x, nfe = generate(run, 64, steps=8, sampler="ddim")
x_data = run.normaliser.decode(x)            # back to the data's units
times = build_grid("edm", run.process, 8)    # every grid: (process, n); uniform(n) also works
ddim = get_sampler("ddim")                   # the function; difflab.sampling.ddim is its module
x0 = ddim(run.denoiser, run.process, run.process.prior_sample(4), times)
```
"""


def _clean(text: str) -> str:
    """Object addresses out of reprs, so the file does not change between runs."""
    return re.sub(r" at 0x[0-9a-f]+", "", text)


def _first_paragraph(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.split("\n\n")[0].strip() if doc else "(no docstring)"


def _signature(obj) -> str:
    try:
        return _clean(str(inspect.signature(obj)))
    except (TypeError, ValueError):
        return ""


def _members(cls) -> list[str]:
    lines = []
    for name, member in sorted(vars(cls).items()):
        if name.startswith("_"):
            continue
        if isinstance(member, property):
            lines.append(f"  - `.{name}` (property): {_first_paragraph(member).splitlines()[0]}")
        elif inspect.isfunction(member) or isinstance(member, (classmethod, staticmethod)):
            func = member.__func__ if isinstance(member, (classmethod, staticmethod)) else member
            summary = (_first_paragraph(func).splitlines() or [""])[0]
            lines.append(f"  - `.{name}{_signature(func)}`: {summary}")
    return lines


def describe(module_name: str, name: str) -> list[str]:
    obj = getattr(importlib.import_module(module_name), name)
    if inspect.ismodule(obj):
        return [f"- **`{name}`** (module): {_first_paragraph(obj)}"]
    if inspect.isclass(obj):
        head = f"- **`{name}{_signature(obj)}`** (class): {_first_paragraph(obj)}"
        return [head, *_members(obj)]
    if callable(obj):
        return [f"- **`{name}{_signature(obj)}`**: {_first_paragraph(obj)}"]
    text = _clean(repr(obj))
    if len(text) > 100:
        text = text[:97] + "..."
    return [f"- **`{name}`** = `{text}`"]


def render() -> str:
    parts = [INTRO]
    for module_name, purpose in PACKAGES.items():
        module = importlib.import_module(module_name)
        parts.append(f"## `{module_name}`\n\n{purpose[0].upper() + purpose[1:]}.\n")
        for name in sorted(getattr(module, "__all__", []), key=str.lower):
            parts.append("\n".join(describe(module_name, name)).replace("\n\n", "\n"))
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(OUT), help="output markdown file")
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is out of date instead of writing")
    args = parser.parse_args(argv)
    text = render()
    out = Path(args.out)
    if args.check:
        current = out.read_text(encoding="utf-8") if out.exists() else ""
        if current != text:
            print(f"{out} is out of date: run python scripts/gen_api_docs.py", file=sys.stderr)
            return 1
        return 0
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
