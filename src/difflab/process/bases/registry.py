"""Build a basis by name."""

from typing import Literal, get_args

from difflab.errors import DifflabError
from difflab.process.bases.base import Basis
from difflab.process.bases.dct import DCTBasis
from difflab.process.bases.fourier import FourierBasis
from difflab.process.bases.haar import HaarBasis
from difflab.process.bases.pca import PCABasis
from difflab.process.bases.pixel import PixelBasis

BasisName = Literal["pixel", "pca", "dct", "fourier", "haar"]
BASIS_NAMES: tuple[str, ...] = get_args(BasisName)


def build_basis(name: BasisName, shape: tuple[int, ...], *, levels: int = 1) -> Basis:
    """A basis for data of ``shape`` (``(C, H, W)`` or ``(D,)``); PCA comes back unfitted.

    ``levels`` is used by ``haar`` only. DCT, Fourier and Haar on vectors act
    along the single axis.
    """
    shape = tuple(int(s) for s in shape)
    if not shape or any(s < 1 for s in shape):
        raise DifflabError(f"basis shape must be non-empty with positive sizes, got {shape}")
    if name == "pixel":
        return PixelBasis(shape)
    if name == "pca":
        return PCABasis(shape)
    if name == "dct":
        return DCTBasis(shape)
    if name == "fourier":
        return FourierBasis(shape)
    if name == "haar":
        return HaarBasis(shape, levels=levels)
    raise DifflabError(f"unknown basis {name!r}; choose one of {', '.join(BASIS_NAMES)}")
