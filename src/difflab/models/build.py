"""Build a model from the run config, and rebuild it from a checkpoint with no other input.

The data-dependent parts of the process (PCA matrix, prior scale, soft-
conditioning variances) are fitted from the training data at build time and
live in buffers, so a checkpoint's state_dict restores them.
"""

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from difflab.config.schema import RunConfig
from difflab.errors import DifflabError
from difflab.models.coded import CodedDenoiser
from difflab.models.denoiser import Denoiser
from difflab.models.encoders import build_encoder
from difflab.nn import build_network
from difflab.process.factory import build_process, empty_process


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
        try:
            return cls(
                name=str(d["name"]),
                shape=tuple(int(s) for s in d["shape"]),
                num_classes=int(d["num_classes"]),
                normaliser=dict(d["normaliser"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DifflabError(
                f"checkpoint data info is missing or malformed ({exc}); the checkpoint is corrupt"
            ) from None


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
            dict(z_dim=enc.dim, z_mode=enc.z_mode, z_levels=None if enc.z_levels is None else tuple(enc.z_levels))
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


def load_weights(denoiser: Denoiser, state: dict[str, Tensor], source: str) -> None:
    """Load a state_dict, turning a mismatch into one clear line."""
    try:
        denoiser.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0:2]
        raise DifflabError(f"checkpoint {source} does not match its config ({' '.join(first)})") from None


def seeded_init(seed: int) -> None:
    """Seed the global RNG before building, so initial weights depend only on the seed."""
    torch.manual_seed(seed)
