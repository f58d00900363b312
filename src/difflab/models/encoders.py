"""Encoders x₀ → z for coded denoisers.

DMZ (Proszewska, Malkin, Siddharth, *On Designing Diffusion Autoencoders for
Efficient Generation and Representation Learning*, arXiv 2506.00136): a
stride-2 Conv → Norm → LeakyReLU stack, a Linear layer to 2d logits reshaped
``(B, d, 2)``, and a Gumbel-softmax (τ = 1) that is relaxed in training and a
hard one-hot at evaluation. The network receives the d "bit = 1"
probabilities ``(B, d)`` — the pairs sum to one, so this carries the same
information as the flattened pairs with half the inputs.

Alternatives: a reparameterised Gaussian code with a KL term (the comparison in
the issue), and the time-conditioned encoder E(x₀, t) of Diffusion-Based
Representation Learning (Abstreiter, Mittal et al.) with an L1 (λ = 1e-5) or
KL penalty.

Normalisation: GroupNorm by default. The paper's BatchNorm makes a code depend
on the other samples of the training batch (no per-sample determinism) and
keeps per-rank running statistics under DDP; GroupNorm is per-sample, has no
running statistics and behaves identically in train and eval mode. ``norm:
batch`` restores the paper's choice.

Time conditioning of the DRL encoder (``time_conditioning``): ``film`` scales
and shifts the trunk's output once, then mixes it with one nonlinear layer;
``blocks`` (Mittal et al., arXiv 2210.13774, after the WideResNet of their
code) adds the time embedding inside every residual block of a time-aware
trunk (:class:`TimeResTrunk`), so t shapes every level's features.

Every encoder draws its noise (Gumbel or Gaussian) from the trainer's
generator, so a run stays deterministic under its seed.
"""

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from difflab.config.schema import EncoderConfig
from difflab.errors import DifflabError
from difflab.nn.blocks import ResBlock
from difflab.nn.embeddings import sinusoidal_embedding
from difflab.process.noise import randn_like_from

Norm = Literal["group", "batch"]
TimeConditioning = Literal["film", "blocks"]


def _norm(kind: Norm, ch: int) -> nn.Module:
    return nn.BatchNorm2d(ch) if kind == "batch" else nn.GroupNorm(math.gcd(8, ch), ch)


class Trunk(nn.Module):
    """Feature extractor: stride-2 convs for ``(C, H, W)`` data, a Linear stack for ``(D,)`` vectors.

    Args:
        shape: one sample's shape.
        channels: output channels (or widths) of each layer.
        norm: ``group`` or ``batch`` normalisation (images only; vectors use LayerNorm).
    """

    def __init__(self, shape: tuple[int, ...], channels: list[int], norm: Norm = "group"):
        super().__init__()
        layers: list[nn.Module] = []
        if len(shape) == 3:
            c, h, w = shape
            for ch in channels:
                layers += [nn.Conv2d(c, ch, 3, stride=2, padding=1), _norm(norm, ch), nn.LeakyReLU(0.2)]
                c, h, w = ch, (h + 1) // 2, (w + 1) // 2
            self.out_dim = c * h * w
        elif len(shape) == 1:
            d = shape[0]
            for ch in channels:
                layers += [nn.Linear(d, ch), nn.LayerNorm(ch), nn.LeakyReLU(0.2)]
                d = ch
            self.out_dim = d
        else:
            raise DifflabError(f"the encoder needs (C, H, W) images or (D,) vectors, got shape {tuple(shape)}")
        self.net = nn.Sequential(*layers, nn.Flatten())

    def forward(self, x0: Tensor) -> Tensor:
        """``(B, *shape)`` -> ``(B, out_dim)``."""
        return self.net(x0)


class TimeResTrunk(nn.Module):
    """Time-aware trunk for images: per level a ResBlock that adds the time embedding, then a stride-2 conv.

    ``(B, C, H, W), (B,) -> (B, out_dim)``. Each :class:`~difflab.nn.blocks.ResBlock` takes the
    embedding as a scale/shift of its second norm (ADM style), the analogue of the time embedding
    added inside every block of the paper's WideResNet.

    Args:
        shape: one image's ``(C, H, W)``.
        channels: output channels of each level.
        emb_dim: width of the time embedding.
    """

    def __init__(self, shape: tuple[int, ...], channels: list[int], emb_dim: int = 128):
        super().__init__()
        if len(shape) != 3:
            raise DifflabError(f"encoder.time_conditioning=blocks needs (C, H, W) images, got shape {tuple(shape)}")
        c, h, w = shape
        self.t_dim = 64
        self.time_mlp = nn.Sequential(nn.Linear(self.t_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.in_conv = nn.Conv2d(c, channels[0], 3, padding=1)
        ch, blocks, downs = channels[0], [], []
        for out in channels:
            blocks.append(ResBlock(ch, out, emb_dim, groups=math.gcd(8, ch, out)))
            downs.append(nn.Conv2d(out, out, 3, stride=2, padding=1))
            ch, h, w = out, (h + 1) // 2, (w + 1) // 2
        self.blocks, self.downs = nn.ModuleList(blocks), nn.ModuleList(downs)
        self.out_dim = ch * h * w

    def forward(self, x0: Tensor, t: Tensor) -> Tensor:
        emb = self.time_mlp(sinusoidal_embedding(t, self.t_dim).to(x0.dtype))
        h = self.in_conv(x0)
        for block, down in zip(self.blocks, self.downs, strict=True):
            h = F.leaky_relu(down(block(h, emb)), 0.2)
        return h.flatten(1)


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(μ, σ²) ‖ N(0, I)) per sample ``(B,)`` for ``mu, logvar (B, d)``."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)


class CodeEncoder(nn.Module):
    """Base: trunk (+ time embedding for a time-conditioned encoder) and a Linear head.

    Subclasses define :meth:`sample` (training: relaxed/reparameterised code and
    per-sample penalty), :meth:`code` (evaluation: deterministic code) and
    :meth:`prior` (codes for generation).
    """

    kind = "base"
    time_conditioned = False

    def __init__(
        self,
        shape: tuple[int, ...],
        dim: int,
        head_out: int,
        channels: list[int],
        norm: Norm,
        time_conditioning: TimeConditioning = "film",
    ):
        super().__init__()
        self.dim = dim
        self.time_blocks = self.time_conditioned and time_conditioning == "blocks"
        self.trunk = TimeResTrunk(tuple(shape), channels) if self.time_blocks else Trunk(tuple(shape), channels, norm)
        feat = self.trunk.out_dim
        if self.time_conditioned and not self.time_blocks:
            # FiLM: t scales and shifts the trunk features and a nonlinear layer mixes them, so the
            # code is a real function of (x₀, t); concatenating a time embedding before a linear
            # head would make it f(x₀) + g(t), the same representation at every t.
            self.t_dim = 64
            self.time_mlp = nn.Sequential(nn.Linear(self.t_dim, 128), nn.SiLU(), nn.Linear(128, 2 * feat))
            self.mix = nn.Sequential(nn.Linear(feat, feat), nn.LeakyReLU(0.2))
        self.head = nn.Linear(feat, head_out)

    def params(self, x0: Tensor, t: Tensor | None = None) -> Tensor:
        """Head output ``(B, head_out)``; ``t`` ``(B,)`` is required iff the encoder is time-conditioned."""
        if not self.time_conditioned:
            return self.head(self.trunk(x0))
        if t is None:
            raise DifflabError("this encoder is time-conditioned (drl): pass t, e.g. encode(run, x0, t=0.5)")
        t = torch.as_tensor(t, device=x0.device, dtype=torch.float32).expand(x0.shape[0])
        if self.time_blocks:
            return self.head(self.trunk(x0, t))
        h = self.trunk(x0)  # FiLM on the trunk output
        scale, shift = self.time_mlp(sinusoidal_embedding(t, self.t_dim).to(h.dtype)).chunk(2, dim=1)
        return self.head(self.mix(h * (1 + scale) + shift))

    def sample(self, x0: Tensor, t: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def code(self, x0: Tensor, t: Tensor | None = None, *, hard: bool = True) -> Tensor:
        raise NotImplementedError

    def prior(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` codes ``(n, dim)`` from N(0, I) (continuous encoders)."""
        return torch.randn((n, self.dim), generator=generator)


class BinaryEncoder(CodeEncoder):
    """d binary bits through Gumbel-softmax (DMZ). Codes are ``(B, d)`` "bit = 1" probabilities."""

    kind = "binary"

    def __init__(
        self, shape, dim: int, *, channels: list[int], norm: Norm = "group", tau: float = 1.0, flip: float = 0.0
    ):
        super().__init__(shape, dim, 2 * dim, channels, norm)
        self.tau, self.flip = tau, flip

    def logits(self, x0: Tensor) -> Tensor:
        """``(B, d, 2)`` logits of (bit = 0, bit = 1)."""
        return self.params(x0).view(x0.shape[0], self.dim, 2)

    def relaxed(self, x0: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Gumbel-softmax sample ``(B, d, 2)`` (rows on the simplex, differentiable)."""
        # float32 throughout: under bf16 autocast 1 - 1e-7 rounds to 1, and log(-log(1)) = -inf.
        logits = self.logits(x0).float()
        u = torch.rand(logits.shape, generator=generator).clamp(1e-10, 1 - 1e-7)
        gumbel = -torch.log(-torch.log(u)).to(logits.device)
        return F.softmax((logits + gumbel) / self.tau, dim=-1)

    def one_hot(self, x0: Tensor) -> Tensor:
        """Hard code ``(B, d, 2)``: exact one-hot of the argmax."""
        logits = self.logits(x0)
        return F.one_hot(logits.argmax(-1), 2).to(logits.dtype)

    def sample(self, x0, t, generator):
        z = self.relaxed(x0, generator)[..., 1]
        if self.flip > 0:  # train on the codes' Hamming neighbours too, so fair bits decode (see docs/dmz.md)
            mask = (torch.rand(z.shape, generator=generator) < self.flip).to(z.device)
            z = torch.where(mask, 1 - z, z)
        return z, z.new_zeros(x0.shape[0])

    def code(self, x0, t=None, *, hard=True):
        """Hard 0/1 bits ``(B, d)``, or the soft probabilities softmax(logits) of bit = 1."""
        return self.one_hot(x0)[..., 1] if hard else F.softmax(self.logits(x0), dim=-1)[..., 1]

    def prior(self, n, generator=None, marginals: Tensor | None = None):
        """``n`` codes of independent bits: fair (p = 0.5) or per-bit ``marginals`` ``(d,)``."""
        p = torch.full((self.dim,), 0.5) if marginals is None else marginals.detach().float().cpu()
        return (torch.rand((n, self.dim), generator=generator) < p).float()


class GaussianEncoder(CodeEncoder):
    """Continuous code N(μ, σ²), reparameterised in training (μ at evaluation), ``weight`` × KL to N(0, I)."""

    kind = "gaussian"

    def __init__(self, shape, dim: int, *, channels: list[int], norm: Norm = "group", weight: float = 1e-3):
        super().__init__(shape, dim, 2 * dim, channels, norm)
        self.weight = weight

    def _mu_logvar(self, x0, t=None):
        mu, logvar = self.params(x0, t).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)

    def sample(self, x0, t, generator):
        mu, logvar = self._mu_logvar(x0, t)
        z = mu + (0.5 * logvar).exp() * randn_like_from(mu.shape, generator, mu)
        return z, self.weight * gaussian_kl(mu, logvar)

    def code(self, x0, t=None, *, hard=True):
        """The mean μ ``(B, d)`` (``hard`` has no effect on a continuous code)."""
        return self._mu_logvar(x0, t)[0]


class DRLEncoder(GaussianEncoder):
    """Time-conditioned E(x₀, t) (Diffusion-Based Representation Learning): L1 or KL penalty on the code.

    ``penalty``: ``l1`` is the paper's ``reg-drl`` (λ·‖z‖₁), ``kl`` its ``probabilistic-drl``
    (z ~ N(μ, σ²) reparameterised, λ·KL to N(0, I); μ at evaluation).
    """

    kind = "drl"
    time_conditioned = True

    def __init__(
        self,
        shape,
        dim: int,
        *,
        channels: list[int],
        norm: Norm = "group",
        penalty: Literal["l1", "kl"] = "l1",
        weight: float = 1e-5,
        time_conditioning: TimeConditioning = "film",
    ):
        head_out = dim if penalty == "l1" else 2 * dim
        CodeEncoder.__init__(self, shape, dim, head_out, channels, norm, time_conditioning)
        self.penalty, self.weight = penalty, weight

    def sample(self, x0, t, generator):
        if self.penalty == "kl":
            return super().sample(x0, t, generator)
        z = self.params(x0, t)
        return z, self.weight * z.abs().sum(dim=1)

    def code(self, x0, t=None, *, hard=True):
        return self.params(x0, t) if self.penalty == "l1" else self._mu_logvar(x0, t)[0]


def build_encoder(cfg: EncoderConfig, shape: tuple[int, ...]) -> CodeEncoder:
    """The encoder for an ``EncoderConfig`` (``kind != "none"``) and one sample's ``shape``."""
    common = dict(channels=list(cfg.channels), norm=cfg.norm)
    if cfg.kind == "binary":
        return BinaryEncoder(shape, cfg.dim, tau=cfg.tau, flip=cfg.flip, **common)
    if cfg.kind == "gaussian":
        return GaussianEncoder(shape, cfg.dim, weight=cfg.kl_weight, **common)
    if cfg.kind == "drl":
        return DRLEncoder(
            shape,
            cfg.dim,
            penalty=cfg.penalty,
            weight=cfg.penalty_weight,
            time_conditioning=cfg.time_conditioning,
            **common,
        )
    raise DifflabError(f"unknown encoder.kind {cfg.kind!r}; choose binary, gaussian or drl (or none)")
