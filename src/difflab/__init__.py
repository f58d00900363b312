"""difflab: diffusion models that are cheap to sample, easy to take apart, and useful beyond generation."""

from difflab.errors import DifflabError

__all__ = ["DifflabError"]
__version__ = "0.1.0"
