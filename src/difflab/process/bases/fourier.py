"""Real orthonormal Fourier basis built from cos/sin pairs (separable).

GUD's public code (arXiv 2410.02667) uses a complex FFT, where labels and
scales must be symmetric under k → −k or sampling is silently wrong. Here each
frequency pair ±k becomes one cos and one sin row with the same label |k|, so
no complex numbers leave the basis and the symmetry holds by construction.
The 2-D basis is the tensor product of the 1-D ones; a product of modes
(k_h, k_w) mixes (k_h, k_w) and (k_h, −k_w), which share |k|, so the label is
still the exact frequency magnitude.
"""

import math

import torch
from torch import Tensor

from difflab.process.bases.separable import SeparableBasis, image_layout


def real_fourier_matrix(n: int) -> tuple[Tensor, Tensor]:
    """Orthonormal real DFT ``(n, n)`` and each row's frequency |k|/n ``(n,)``.

    Rows: cos k=0, then cos k and sin k for 1 ≤ k < n/2, then cos n/2 (even n).
    """
    m = torch.arange(n, dtype=torch.float64)
    rows, freqs = [torch.full((n,), 1.0 / math.sqrt(n), dtype=torch.float64)], [0.0]
    for k in range(1, (n + 1) // 2):
        phase = 2 * math.pi * k * m / n
        rows += [math.sqrt(2.0 / n) * torch.cos(phase), math.sqrt(2.0 / n) * torch.sin(phase)]
        freqs += [k / n, k / n]
    if n % 2 == 0 and n > 1:
        rows.append(torch.cos(math.pi * m) / math.sqrt(n))  # Nyquist: (-1)^m
        freqs.append(0.5)
    return torch.stack(rows), torch.tensor(freqs, dtype=torch.float64)


class FourierBasis(SeparableBasis):
    """Real Fourier basis along H and W; labels = normalised |k|, symmetric under k → −k."""

    name = "fourier"

    def __init__(self, shape: tuple[int, ...]):
        _, h, w = image_layout(tuple(shape), self.name)
        mat_h, freq_h = real_fourier_matrix(h)
        mat_w, freq_w = real_fourier_matrix(w)
        super().__init__(shape, mat_h, mat_w, freq_h, freq_w)
