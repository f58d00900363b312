"""Basis registry: the one place basis names are written; build a basis by name."""

import inspect
from typing import Literal

from difflab.errors import DifflabError
from difflab.process.bases.base import Basis
from difflab.process.bases.dct import DCTBasis
from difflab.process.bases.fourier import FourierBasis
from difflab.process.bases.haar import HaarBasis
from difflab.process.bases.pca import PCABasis
from difflab.process.bases.pixel import PixelBasis

BASES: dict[str, type[Basis]] = {
    "pixel": PixelBasis,
    "pca": PCABasis,
    "dct": DCTBasis,
    "fourier": FourierBasis,
    "haar": HaarBasis,
}
BasisName = Literal[tuple(BASES)]  # type: ignore[valid-type]
BASIS_NAMES: tuple[str, ...] = tuple(BASES)


def build_basis(name: BasisName, shape: tuple[int, ...], *, levels: int = 1) -> Basis:
    """A basis for data of ``shape`` (``(C, H, W)`` or ``(D,)``); a data-dependent one (PCA) comes back unfitted.

    ``levels`` is used by ``haar`` only. DCT, Fourier and Haar on vectors act
    along the single axis.
    """
    shape = tuple(int(s) for s in shape)
    if not shape or any(s < 1 for s in shape):
        raise DifflabError(f"basis shape must be non-empty with positive sizes, got {shape}")
    if name not in BASES:
        raise DifflabError(f"unknown basis {name!r}; choose one of {', '.join(BASIS_NAMES)}")
    cls = BASES[name]
    # Basis options (Haar's levels) go to the bases whose constructor takes them.
    accepted = inspect.signature(cls).parameters
    return cls(shape, **{k: v for k, v in dict(levels=levels).items() if k in accepted})
