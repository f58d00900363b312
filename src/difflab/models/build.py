"""Build a model from the run config, and rebuild it from a checkpoint with no other input.

The data-dependent parts of the process (PCA matrix, prior scale, soft-
conditioning variances) are fitted from the training data at build time and
live in buffers, so a checkpoint's state_dict restores them.
"""

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from difflab.config.schema import RunConfig
from difflab.data import Normaliser
from difflab.errors import DifflabError
from difflab.io import check_state
from difflab.models.coded import CodedDenoiser
from difflab.models.denoiser import Denoiser
from difflab.models.encoders import build_encoder
from difflab.nn import build_network
from difflab.process.factory import build_process, empty_process

MAX_EXAMPLE_NUMEL = 1 << 22  # values per example (e.g. 4 x 1024 x 1024) a checkpoint may claim
MAX_CLASSES = 100_000


@dataclass
class DataInfo:
    """What a checkpoint needs to know about its data to rebuild and decode."""

    name: str
    shape: tuple[int, ...]
    num_classes: int
    normaliser: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "num_classes": self.num_classes,
            "normaliser": self.normaliser,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DataInfo":
        """Read it back from an untrusted ``meta.json``: types and plausible sizes are checked."""
        try:
            shape = d["shape"]
            num_classes = d["num_classes"]
            ints = isinstance(shape, list) and all(isinstance(s, int) and not isinstance(s, bool) for s in shape)
            if not ints or not isinstance(num_classes, int) or isinstance(num_classes, bool):
                raise TypeError("shape must be a list of ints and num_classes an int")
            info = cls(
                name=str(d["name"]), shape=tuple(shape), num_classes=num_classes, normaliser=dict(d["normaliser"])
            )
            Normaliser.from_dict(info.normaliser)
            for key in ("shift", "scale"):
                values = np.asarray(info.normaliser.get(key, 0.0), dtype=np.float64)
                if not np.all(np.isfinite(values)):
                    raise ValueError(f"normaliser.{key} is not finite")
            value_range = info.normaliser.get("value_range")
            if value_range is not None and np.asarray(value_range, dtype=np.float64).shape != (2,):
                raise ValueError("normaliser.value_range must be [low, high]")
        except (KeyError, TypeError, ValueError, DifflabError) as exc:
            raise DifflabError(
                f"checkpoint data info is missing or malformed ({str(exc)[:80]}); the checkpoint is corrupt"
            ) from None
        if not 1 <= len(shape) <= 3 or min(shape) < 1 or math.prod(shape) > MAX_EXAMPLE_NUMEL:
            raise DifflabError(
                f"checkpoint data shape {list(shape)[:4]} is implausible (1-3 positive dims, at most "
                f"{MAX_EXAMPLE_NUMEL} values per example); the checkpoint is corrupt"
            )
        if not 0 <= num_classes <= MAX_CLASSES:
            raise DifflabError(f"checkpoint num_classes {num_classes} is outside [0, {MAX_CLASSES}]; it is corrupt")
        return info


def network_kwargs(cfg: RunConfig, info: DataInfo) -> dict[str, Any]:
    """Constructor arguments of the network for this config and data."""
    net = cfg.network
    num_classes = info.num_classes if net.class_conditional else 0
    generator = cfg.method.kind == "distributional"
    # How a generator's noise ξ enters the network (only generators take the argument).
    injection = dict(noise_injection=cfg.method.noise_injection) if generator else {}
    enc = cfg.encoder
    coded = enc.kind != "none"  # a code z (models.coded) conditions the network
    if net.kind == "diffusers":
        if generator or coded:
            raise DifflabError(
                "network.kind 'diffusers' is a plain regression UNet2DModel: it takes no generator noise "
                "(method.kind distributional) and no code (encoder.kind)"
            )
        return dict(
            base_channels=net.base_channels,
            channel_mults=tuple(net.channel_mults),
            num_res_blocks=net.num_res_blocks,
            attention_levels=tuple(net.attention_levels),
            num_classes=num_classes,
            num_train_timesteps=cfg.process.num_train_timesteps,
            diffusers=dict(net.diffusers),
        )
    if net.kind == "unet":
        code = (
            dict(
                z_dim=enc.dim,
                z_mode=enc.z_mode,
                z_levels=None if enc.z_levels is None else tuple(enc.z_levels),
                z_null_token=enc.null_token,
            )
            if coded
            else {}
        )
        return dict(
            base_channels=net.base_channels,
            channel_mults=tuple(net.channel_mults),
            num_res_blocks=net.num_res_blocks,
            attention_levels=tuple(net.attention_levels),
            dropout=net.dropout,
            num_classes=num_classes,
            extra_channels=info.shape[0] if generator else 0,
            **injection,
            **code,
        )
    return dict(
        hidden=net.hidden,
        depth=net.depth,
        dropout=net.dropout,
        num_classes=num_classes,
        extra_dim=info.shape[0] if generator else 0,
        **injection,
        **(dict(z_dim=enc.dim) if coded else {}),
    )  # the MLP adds z to its embedding


def build_denoiser(cfg: RunConfig, info: DataInfo, train_data: Tensor | None) -> Denoiser:
    """A fresh denoiser; ``train_data`` fits the process (``None``: unfitted, for loading weights).

    With ``cfg.encoder.kind != "none"`` it is a :class:`CodedDenoiser` (encoder + denoiser).
    """
    if train_data is None:
        process = empty_process(info.shape, cfg.process)
    else:
        process = build_process(info.shape, cfg.process, data=train_data)
    network = build_network(cfg.network.kind, info.shape, **network_kwargs(cfg, info))
    generator = cfg.method.kind == "distributional"
    prediction = "x0" if generator else cfg.method.prediction
    denoiser = Denoiser(network, process, prediction=prediction, generator_noise=generator)
    if cfg.encoder.kind == "none":
        return denoiser
    return CodedDenoiser(build_encoder(cfg.encoder, info.shape), denoiser, code_prior=cfg.encoder.prior)


def check_model_size(cfg: RunConfig, info: DataInfo, state: dict[str, Tensor], source: str) -> None:
    """Refuse a config that builds a bigger model than the checkpoint's weights, before allocating it.

    The network (and encoder) are built on the ``meta`` device, which allocates nothing, and
    their parameter count is compared with the number of values in ``state``: a tampered
    ``config.yaml`` (say ``base_channels: 100000``) cannot make a load allocate 100+ GB.
    """
    with torch.device("meta"):
        parts = [build_network(cfg.network.kind, info.shape, **network_kwargs(cfg, info))]
        if cfg.encoder.kind != "none":
            parts.append(build_encoder(cfg.encoder, info.shape))
    need = sum(p.numel() for m in parts for p in m.parameters())
    have = sum(t.numel() for t in state.values())
    if need > have:
        raise DifflabError(
            f"checkpoint {source} does not match its config: the config builds {need:,} parameters "
            f"but the weights hold {have:,} values"
        )


def load_weights(denoiser: Denoiser, state: dict[str, Tensor], source: str) -> None:
    """Load a state_dict, turning a mismatch into one clear line; shapes and dtypes are checked first."""
    check_state(denoiser.state_dict(), state, source)
    try:
        denoiser.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0:2]
        raise DifflabError(f"checkpoint {source} does not match its config ({' '.join(first)})") from None


def seeded_init(seed: int) -> None:
    """Seed the global RNG before building, so initial weights depend only on the seed."""
    torch.manual_seed(seed)
