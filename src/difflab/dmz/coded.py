"""CodedDenoiser: an encoder whose code z conditions a denoiser, trained end to end.

DMZ (arXiv 2506.00136) trains the encoder only through the denoising loss: the
objective encodes x₀ (at the sampled t for a time-conditioned DRL encoder),
passes z to the denoiser and back-propagates into both. The module keeps the
denoiser contract ``(x_t, t, **cond) -> x̂₀``; the code is given either as
``z`` ``(B, d)`` or as ``source`` ``(B, *shape)`` clean data that is encoded
(at each call's t for a time-conditioned encoder — how DRL reconstructs).
"""

import torch
from torch import Tensor, nn

from difflab.dmz.encoder import CodeEncoder
from difflab.models.denoiser import Denoiser


class CodedDenoiser(nn.Module):
    """Encoder + denoiser. State-dict keys: ``encoder.*`` and ``denoiser.*``.

    Args:
        encoder: x₀ (and t) -> code.
        denoiser: a :class:`Denoiser` whose network was built with ``z_dim = encoder.dim``.
    """

    def __init__(self, encoder: CodeEncoder, denoiser: Denoiser):
        super().__init__()
        self.encoder = encoder
        self.denoiser = denoiser

    # The denoiser's attributes that samplers, objectives and analysis read.
    @property
    def process(self):
        return self.denoiser.process

    @property
    def network(self) -> nn.Module:
        return self.denoiser.network

    @property
    def prediction(self) -> str:
        return self.denoiser.prediction

    @property
    def generator_noise(self) -> bool:
        return self.denoiser.generator_noise

    @property
    def time_conditioned(self) -> bool:
        return self.encoder.time_conditioned

    def train_code(self, x0: Tensor, t: Tensor, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        """Training code ``(B, d)`` (relaxed / reparameterised) and per-sample penalty ``(B,)``."""
        return self.encoder.sample(x0, t, generator)

    def encode(self, x0: Tensor, t: Tensor | float | None = None, *, hard: bool = True) -> Tensor:
        """Deterministic code ``(B, d)``: hard bits (or soft probabilities) for a binary encoder, μ otherwise."""
        return self.encoder.code(x0, t, hard=hard)

    def _cond(self, t: Tensor, z: Tensor | None, source: Tensor | None) -> Tensor | None:
        if z is None and source is not None:
            z = self.encode(source.to(t.device), t if self.time_conditioned else None, hard=True)
        return z

    def raw(self, x_t: Tensor, t: Tensor, *, z: Tensor | None = None, source: Tensor | None = None, **cond) -> Tensor:
        """The network output ``(B, *shape)``; see :meth:`Denoiser.raw`."""
        t = torch.as_tensor(t, device=x_t.device).expand(x_t.shape[0])
        return self.denoiser.raw(x_t, t, z=self._cond(t, z, source), **cond)

    def forward(self, x_t: Tensor, t: Tensor, *, z: Tensor | None = None, source: Tensor | None = None,
                **cond) -> Tensor:
        """x̂₀ ``(B, *shape)`` given the code ``z`` ``(B, d)`` or clean ``source`` data to encode."""
        t = torch.as_tensor(t, device=x_t.device).expand(x_t.shape[0])
        return self.denoiser(x_t, t, z=self._cond(t, z, source), **cond)
