"""Networks: a UNet with named, hookable components and a residual MLP, sharing one call signature.

``net(x, t, *, labels=None, z=None, extra=None)``; ``net.components()`` maps names to submodules.
"""

from difflab.nn.adapters import DiffusersAdapter
from difflab.nn.factory import build_network, count_parameters
from difflab.nn.mlp import MLP
from difflab.nn.unet import UNet

__all__ = ["MLP", "DiffusersAdapter", "UNet", "build_network", "count_parameters"]
