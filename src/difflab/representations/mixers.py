"""Mixers: classifiers over a trajectory ``(B, K, F)`` of representations.

After Mittal et al., *From Points to Functions* (arXiv 2210.13774; code
sarthmit/traj_drl): a single-time probe (linear or MLP, 512 hidden, dropout
0.25), concatenation, a GRU read from clean (t = 0) to noisy (t = 1) that
classifies from its last state, and attention over time: project to 256, add a
sinusoidal encoding of the time index, prepend a learned summary token, apply
one post-norm self-attention block (4 heads, FFN 2×) twice, classify from the
summary token.
"""

import math
from typing import Literal

import torch
from torch import Tensor, nn

from difflab.errors import DifflabError

MixerKind = Literal["single", "single-mlp", "concat", "gru", "attention"]
MIXERS: tuple[str, ...] = ("single", "single-mlp", "concat", "gru", "attention")


def _mlp(d_in: int, num_classes: int, hidden: int | None, dropout: float) -> nn.Module:
    if hidden is None:
        return nn.Linear(d_in, num_classes)
    return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, num_classes))


class SingleTime(nn.Module):
    """Probe on the representation at one time index: ``(B, K, F) -> (B, C)``."""

    def __init__(self, features: int, num_classes: int, index: int, hidden: int | None = None, dropout: float = 0.25):
        super().__init__()
        self.index = index
        self.head = _mlp(features, num_classes, hidden, dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(x[:, self.index])


class Concat(nn.Module):
    """Linear probe on all time points concatenated: ``(B, K, F) -> (B, C)``."""

    def __init__(self, features: int, num_classes: int, steps: int, hidden: int | None = None, dropout: float = 0.25):
        super().__init__()
        self.head = _mlp(features * steps, num_classes, hidden, dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(x.flatten(1))


class GRUMixer(nn.Module):
    """GRU over time, clean to noisy; classifies from the last hidden state ``(B, K, F) -> (B, C)``.

    A ``GRUCell`` stepped over t with ``dropout`` on the hidden state after every step (the paper's
    code: 0.25); ``dropout = 0`` is a plain GRU.
    """

    def __init__(self, features: int, num_classes: int, hidden: int = 256, dropout: float = 0.0):
        super().__init__()
        self.gru = nn.GRUCell(features, hidden)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        h = x.new_zeros(x.shape[0], self.gru.hidden_size)
        for k in range(x.shape[1]):
            h = self.drop(self.gru(x[:, k], h))
        return self.head(h)


def sinusoidal_positions(steps: int, dim: int) -> Tensor:
    """Transformer sinusoidal encoding of positions ``0..steps-1``: ``(steps, dim)``."""
    pos = torch.arange(steps, dtype=torch.float32)[:, None]
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float32) / dim)
    pe = torch.zeros(steps, dim)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return pe


class _PostNormBlock(nn.Module):
    """x ← LN(x + MHA(x)); x ← LN(x + FFN(x)); returns the head-averaged weights ``(B, T, T)`` too."""

    def __init__(self, dim: int, heads: int, ffn_mult: int, dropout: float, attn_dropout: float):
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, dropout=attn_dropout, batch_first=True)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.ffn = nn.Sequential(
            nn.Linear(dim, ffn_mult * dim), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ffn_mult * dim, dim)
        )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        a, w = self.attn(x, x, x, need_weights=True, average_attn_weights=True)
        x = self.norm1(x + a)
        return self.norm2(x + self.ffn(x)), w


class AttentionMixer(nn.Module):
    """Self-attention over time with a learned summary token ``(B, K, F) -> (B, C)``.

    After each forward pass, ``last_attention`` holds the summary token's
    attention over the K time points in the last application, ``(B, K)``
    (averaged over heads; rows sum to at most 1, the rest goes to the token itself).

    ``dropout`` acts in the FFN, ``attn_dropout`` on the attention weights and ``input_dropout``
    after the input projection; the paper's code uses 0.25, 0 and 0.25. The summary token is
    prepended here and appended there; without a position of its own and without a mask, where
    it sits changes nothing.
    """

    def __init__(
        self,
        features: int,
        num_classes: int,
        dim: int = 256,
        heads: int = 4,
        ffn_mult: int = 2,
        repeats: int = 2,
        dropout: float = 0.1,
        max_steps: int = 256,
        attn_dropout: float | None = None,
        input_dropout: float = 0.0,
    ):
        super().__init__()
        self.proj = nn.Sequential(nn.Linear(features, dim), nn.Dropout(input_dropout))
        self.register_buffer("positions", sinusoidal_positions(max_steps, dim), persistent=False)
        self.summary = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        attn_dropout = dropout if attn_dropout is None else attn_dropout
        self.block = _PostNormBlock(dim, heads, ffn_mult, dropout, attn_dropout)
        self.repeats = repeats
        self.head = nn.Linear(dim, num_classes)
        self.last_attention: Tensor | None = None

    def forward(self, x: Tensor) -> Tensor:
        steps = x.shape[1]
        if steps > self.positions.shape[0]:
            raise DifflabError(f"attention mixer supports at most {self.positions.shape[0]} time points, got {steps}")
        h = self.proj(x) + self.positions[:steps]
        h = torch.cat([self.summary.expand(x.shape[0], -1, -1), h], dim=1)
        for _ in range(self.repeats):  # the same block, applied `repeats` times (as in the paper)
            h, w = self.block(h)
        self.last_attention = w[:, 0, 1:].detach()
        return self.head(h[:, 0])


def build_mixer(
    kind: MixerKind,
    features: int,
    steps: int,
    num_classes: int,
    *,
    index: int = 0,
    width: int | None = None,
    dropout: float | None = None,
) -> nn.Module:
    """A mixer by name.

    ``index`` picks the time point of ``single``/``single-mlp``; ``width`` overrides the hidden size of
    ``single-mlp`` (512), ``gru`` (256) and ``attention`` (256). ``dropout`` sets the paper's dropout
    layout (GRU hidden state, attention input and FFN, no attention-weight dropout; the MLP's
    hidden layer); ``None`` keeps the quick protocol's (MLP 0.25, GRU none, attention 0.1 in MHA and FFN).
    """
    if kind == "single":
        return SingleTime(features, num_classes, index)
    if kind == "single-mlp":
        mlp_dropout = 0.25 if dropout is None else dropout
        return SingleTime(features, num_classes, index, hidden=width or 512, dropout=mlp_dropout)
    if kind == "concat":
        return Concat(features, num_classes, steps)
    if kind == "gru":
        return GRUMixer(features, num_classes, hidden=width or 256, dropout=dropout or 0.0)
    if kind == "attention":
        if dropout is None:
            return AttentionMixer(features, num_classes, dim=width or 256)
        return AttentionMixer(
            features, num_classes, dim=width or 256, dropout=dropout, attn_dropout=0.0, input_dropout=dropout
        )
    raise DifflabError(f"unknown mixer {kind!r}; choose one of {', '.join(MIXERS)}")
