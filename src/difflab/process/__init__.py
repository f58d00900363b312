"""The unified forward process (GUD): bases, priors, schedules, process, oracles.

The names a notebook needs are exported here (loaded on first access, so importing
``difflab.process.options`` from the config schema stays cheap)::

    from difflab.process import build_process, GaussianOracle
    process = build_process((1, 8, 8), basis="dct", schedule="cosine")   # or run.process of a loaded run
"""

from importlib import import_module

_LAZY = {
    "Process": "difflab.process.process",
    "ProcessOptions": "difflab.process.options",
    "build_process": "difflab.process.factory",
    "empty_process": "difflab.process.factory",
    "empty_process_like": "difflab.process.factory",
    "GaussianOracle": "difflab.process.oracles",
    "GMMOracle": "difflab.process.oracles",
    "PerSampleNoise": "difflab.process.noise",
    "sample_seeds": "difflab.process.noise",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'difflab.process' has no attribute {name!r}")


__all__ = sorted(_LAZY)
