"""Sampler and time-grid registries: the one place their names are written.

Every sampler shares one signature (see :mod:`difflab.sampling`); its own options are
keyword-only parameters after ``cond`` (e.g. ``eta``, ``churn``), which the CLI reads with
:func:`options_of`. Adding a sampler is a new ``sampling/<name>.py`` plus one line here.
Entries are ``"module:attribute"`` paths loaded on first use (as in :mod:`difflab.data.registry`),
so the CLI's ``--help`` and the config schema list names without importing torch.
"""

import inspect
from collections.abc import Callable, Iterator, Mapping
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


SAMPLERS = Registry(
    "sampler",
    {
        "ddpm": "difflab.sampling.ddim:sample_ddpm",
        "ddim": "difflab.sampling.ddim:sample_ddim",
        "euler": "difflab.sampling.sde:sample_euler_maruyama",
        "heun": "difflab.sampling.heun:sample_heun",
        "dpmpp2m": "difflab.sampling.dpm_solver:sample_dpmpp_2m",
        "distributional": "difflab.sampling.distributional:sample_distributional",
    },
)
SamplerName = SAMPLERS.literal()

# Builders take ``(n, **kw)`` or, when they need the process's log-SNR, ``(process, n, **kw)``.
GRIDS = Registry(
    "time grid",
    {
        "uniform": "difflab.sampling.grids:uniform",
        "uniform_logsnr": "difflab.sampling.grids:uniform_logsnr",
        "edm": "difflab.sampling.grids:edm",
        # diffusers' timestep_spacing on a model's table points t = (k + 1)/T (discrete schedules)
        "leading": "difflab.sampling.timesteps:leading",
        "trailing": "difflab.sampling.timesteps:trailing",
        "linspace": "difflab.sampling.timesteps:linspace",
    },
)
GridName = GRIDS.literal()

# Keyword arguments every sampler takes; anything else keyword-only is the sampler's own option.
COMMON_KEYWORDS = ("noise", "callback", "cond")


def get_sampler(name: SamplerName) -> Callable:
    """The sampler called ``name``.

    Raises:
        DifflabError: for an unknown name, listing the options.
    """
    return SAMPLERS.get_or_raise(name)


def options_of(name: str) -> dict[str, object]:
    """The sampler's own options (keyword-only parameters beyond the common ones) and their defaults."""
    params = inspect.signature(get_sampler(name)).parameters.values()
    return {p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY and p.name not in COMMON_KEYWORDS}


def option_owners() -> dict[str, str]:
    """``option -> sampler`` for every sampler option, read from the samplers' signatures.

    Raises:
        DifflabError: if two samplers declare the same option (a flag could not say whose it is).
    """
    owners: dict[str, str] = {}
    for name in SAMPLERS:
        for option in options_of(name):
            if option in owners:
                raise DifflabError(f"samplers {owners[option]!r} and {name!r} both take option {option!r}")
            owners[option] = name
    return owners
