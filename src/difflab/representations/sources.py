"""Representation sources: what a trained diffusion model says about x₀ at time t.

- ``unet``: pooled activations of named UNet components at x_t, read through
  forward hooks (the component names of :func:`difflab.analysis.component_registry`);
  the forward noise of example i at time index k comes from its own seeded
  generator, so features never depend on the batch.
- ``drl``: the time-conditioned encoder code E(x₀, t) of Diffusion-Based
  Representation Learning (Abstreiter et al.), as used by Mittal et al.,
  *From Points to Functions* (arXiv 2210.13774).
- ``dmz``: the DMZ encoder's code (Proszewska et al., arXiv 2506.00136); it does
  not depend on t, so a trajectory has one time point.

The two encoder sources encode with :func:`encode_codes` (the core's coded model, no import of ``dmz``).
"""

from collections.abc import Sequence
from typing import Literal, Protocol

import torch
from torch import Tensor

from difflab.errors import DifflabError
from difflab.models.coded import encode_batch, require_coded
from difflab.models.run import LoadedRun
from difflab.nn.components import component_registry, resolve
from difflab.process.noise import PerSampleNoise, mixed_seed

SourceKind = Literal["unet", "drl", "dmz"]
Pool = Literal["mean", "max"]


class Source(Protocol):
    """``source(x0, t, index, time_index) -> (B, F)`` features; ``key()`` identifies it in a cache."""

    time_dependent: bool

    def __call__(self, x0: Tensor, t: float, index: Tensor, time_index: int) -> Tensor: ...

    def key(self) -> dict: ...


def example_seeds(seed: int, index: Tensor, time_index: int, stream: int = 0) -> list[int]:
    """One 63-bit seed per example, mixed from (seed, stream, example index, time index).

    Args:
        seed: the base seed.
        index: ``(B,)`` example indices within their split.
        time_index: position of t in the trajectory (fresh noise per time point).
        stream: separates independent uses (e.g. train/test splits, input corruption).
    """
    return [mixed_seed(seed, stream, int(i), time_index) for i in index.tolist()]


def _first_tensor(out) -> Tensor:
    # diffusers blocks may return tuples (hidden, residuals); the first tensor is the block output.
    while isinstance(out, (tuple, list)):
        out = out[0]
    return out


class UNetFeatures:
    """Pooled activations of named components of a denoiser's UNet at x_t.

    Args:
        denoiser: a :class:`difflab.models.denoiser.Denoiser` (its ``network`` is hooked).
        components: component names, e.g. ``["mid.res.1", "down.1.res.0"]``.
        pool: ``("mean",)`` (global average) or ``("mean", "max")``.
        seed: base seed of the forward noise.
    """

    time_dependent = True

    def __init__(self, denoiser, components: Sequence[str], pool: Sequence[Pool] = ("mean",), seed: int = 0):
        if not components:
            raise DifflabError("give at least one UNet component (e.g. --components mid.res.1)")
        bad = [p for p in pool if p not in ("mean", "max")]
        if bad or not pool:
            raise DifflabError(f"pool must be a non-empty subset of mean,max; got {list(pool)}")
        self.denoiser, self.pool, self.seed = denoiser, tuple(pool), seed
        self.modules = resolve(component_registry(denoiser.network), components)
        self.components = list(components)

    def key(self) -> dict:
        return {"source": "unet", "components": self.components, "pool": list(self.pool), "seed": self.seed}

    def _pool(self, h: Tensor) -> Tensor:
        h = h.float().flatten(2) if h.ndim > 2 else h.float()[..., None]
        parts = {"mean": lambda: h.mean(-1), "max": lambda: h.amax(-1)}
        return torch.cat([parts[p]() for p in self.pool], dim=1)

    @torch.no_grad()
    def __call__(self, x0: Tensor, t: float, index: Tensor, time_index: int) -> Tensor:
        """Features ``(B, F)`` of ``x0`` ``(B, *shape)`` at time ``t``; ``index`` ``(B,)`` seeds the noise."""
        noise = PerSampleNoise(example_seeds(self.seed, index, time_index), device=x0.device)
        tt = torch.full((x0.shape[0],), float(t), dtype=x0.dtype, device=x0.device)
        x_t, _ = self.denoiser.process.noise(x0, tt, noise=noise)
        captured: dict[str, Tensor] = {}
        hooks = [
            m.register_forward_hook(lambda _m, _a, out, name=name: captured.__setitem__(name, _first_tensor(out)))
            for name, m in self.modules.items()
        ]
        try:
            self.denoiser.raw(x_t, tt, noise=noise)
        finally:
            for h in hooks:
                h.remove()
        missing = [n for n in self.components if n not in captured]
        if missing:
            raise DifflabError(f"components {missing} did not run in the forward pass; pick others")
        return torch.cat([self._pool(captured[n]) for n in self.components], dim=1)


def encode_codes(run: LoadedRun, x0: Tensor, t: Tensor | None = None, *, hard: bool = True) -> Tensor:
    """Codes ``(B, d)`` of ``x0`` ``(B, *shape)`` under a coded run (as :func:`difflab.dmz.encode`, from the core)."""
    return encode_batch(require_coded(run.denoiser, run.path), x0, t, hard=hard)


class EncoderCode:
    """The code of a trained encoder: DRL's E(x₀, t) or DMZ's time-independent code.

    Args:
        run: a :class:`difflab.models.run.LoadedRun` whose model has an encoder.
        kind: ``"drl"`` (time-conditioned) or ``"dmz"`` (one time point).
        hard: DMZ only: binarised code (True) or its soft relaxation.
    """

    def __init__(self, run: LoadedRun, kind: Literal["drl", "dmz"], hard: bool = True):
        self.run, self.kind, self.hard = run, kind, hard
        self.time_dependent = kind == "drl"

    def key(self) -> dict:
        return {"source": self.kind, "hard": self.hard}

    @torch.no_grad()
    def __call__(self, x0: Tensor, t: float, index: Tensor, time_index: int) -> Tensor:
        """Code ``(B, d)`` of ``x0`` ``(B, *shape)`` (``t`` ignored for DMZ)."""
        if not self.time_dependent:
            return encode_codes(self.run, x0, None, hard=self.hard).float()
        tt = torch.full((x0.shape[0],), float(t), dtype=x0.dtype, device=x0.device)
        return encode_codes(self.run, x0, tt, hard=self.hard).float()


DEFAULT_COMPONENTS = ("mid.res.1",)


def build_source(
    run: LoadedRun,
    kind: SourceKind,
    *,
    components: Sequence[str] | None = None,
    pool: Sequence[Pool] = ("mean",),
    seed: int = 0,
    hard: bool = True,
) -> Source:
    """The source named ``kind`` for a loaded run (``components`` only for ``unet``)."""
    if kind == "unet":
        return UNetFeatures(run.denoiser, list(components or DEFAULT_COMPONENTS), pool, seed)
    if kind in ("drl", "dmz"):
        if components:
            raise DifflabError(f"--components applies to --source unet only, not {kind}")
        return EncoderCode(run, kind, hard)
    raise DifflabError(f"unknown source {kind!r}; choose unet, drl or dmz")
