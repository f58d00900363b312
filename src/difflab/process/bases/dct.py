"""Orthonormal 2-D DCT-II basis (separable), a real alternative to the FFT.

GUD (arXiv 2410.02667) diffuses in frequency space; a real orthonormal basis
avoids the k → −k symmetry pitfall of a complex FFT.
"""

import math

import torch
from torch import Tensor

from difflab.process.bases.separable import SeparableBasis, image_layout


def dct_matrix(n: int) -> Tensor:
    """Orthonormal DCT-II matrix ``(n, n)``: row k is sqrt(2/n) c_k cos(π(2m+1)k / 2n), c_0 = 1/√2."""
    k = torch.arange(n, dtype=torch.float64)[:, None]
    m = torch.arange(n, dtype=torch.float64)[None, :]
    mat = math.sqrt(2.0 / n) * torch.cos(math.pi * (2 * m + 1) * k / (2 * n))
    mat[0] /= math.sqrt(2.0)
    return mat


class DCTBasis(SeparableBasis):
    """DCT-II along H and W; labels are the normalised frequency magnitude.

    Frequency of DCT row k on an axis of length n is k / (2n) cycles per sample.
    """

    name = "dct"

    def __init__(self, shape: tuple[int, ...]):
        _, h, w = image_layout(tuple(shape), self.name)
        freq_h = torch.arange(h, dtype=torch.float64) / (2 * h)
        freq_w = torch.arange(w, dtype=torch.float64) / (2 * w)
        super().__init__(shape, dct_matrix(h), dct_matrix(w), freq_h, freq_w)
