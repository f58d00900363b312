"""Foreign networks behind difflab's network contract ``net(x, t, *, labels, z, extra) -> out``.

:class:`DiffusersAdapter` wraps a ``diffusers.UNet2DModel``; it takes the model already built, so
diffusers (an optional dependency) is imported only by whoever builds one.
"""

from __future__ import annotations

from torch import Tensor, nn

from difflab.nn.components import component_registry


class DiffusersAdapter(nn.Module):
    """``diffusers.UNet2DModel`` as a difflab network ``net(x, t, *, labels, z, extra) -> out``.

    Args:
        unet: the diffusers model (``sample_size`` = data size, channels = data channels).
        timesteps: the scale of its time input: it is called with ``timesteps · t``.

    ``components()`` exposes the diffusers registry (blocks and skip slots), so
    :func:`difflab.analysis.intervene` can target the adapter as the root model
    and read diffusion time t in [0, 1] directly.
    """

    def __init__(self, unet: nn.Module, timesteps: float = 1000.0) -> None:
        super().__init__()
        self.unet, self.timesteps = unet, float(timesteps)
        self._registry: dict[str, nn.Module] | None = None

    def components(self) -> dict[str, nn.Module]:
        """The diffusers registry, built once (skip slots must stay the same objects)."""
        if self._registry is None:
            self._registry = component_registry(self.unet)
        return self._registry

    def forward(
        self,
        x: Tensor,
        t: Tensor,
        *,
        labels: Tensor | None = None,
        z: Tensor | None = None,
        extra: Tensor | None = None,
    ) -> Tensor:
        """``x (B, C, H, W)``, ``t (B,)`` in [0, 1] -> ``(B, C, H, W)``; labels, z, extra are unused."""
        return self.unet(x, t * self.timesteps).sample
