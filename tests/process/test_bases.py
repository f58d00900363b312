"""Bases: orthonormality, exact inverse, labels, positions, PCA fit and state."""

import pytest
import torch

from difflab.errors import DifflabError
from difflab.process.bases.haar import HaarBasis
from difflab.process.bases.pca import PCABasis
from difflab.process.bases.registry import build_basis
from difflab.process.prior import fit_prior_scale

CASES = [
    ("pixel", (2, 3, 5), {}),
    ("dct", (3, 5, 6), {}),
    ("dct", (1, 7, 7), {}),
    ("dct", (9,), {}),
    ("fourier", (2, 7, 4), {}),
    ("fourier", (1, 6, 5), {}),
    ("fourier", (8,), {}),
    ("haar", (3, 8, 4), {"levels": 2}),
    ("haar", (1, 2, 6), {"levels": 1}),
    ("haar", (16,), {"levels": 3}),
]


def _basis(name, shape, kw):
    b = build_basis(name, shape, **kw)
    return b


@pytest.mark.parametrize("name,shape,kw", CASES)
def test_orthonormal_and_exact_inverse(name, shape, kw):
    b = _basis(name, shape, kw)
    u = b.matrix()
    assert torch.allclose(u @ u.T, torch.eye(b.dim, dtype=torch.float64), atol=1e-12)
    g = torch.Generator().manual_seed(0)
    x64 = torch.randn(4, *shape, generator=g, dtype=torch.float64)
    assert (b.from_components(b.to_components(x64)) - x64).abs().max() < 1e-10
    x32 = x64.float()
    c32 = b.to_components(x32)
    assert c32.dtype == torch.float32 and c32.shape == (4, b.dim)
    assert (b.from_components(c32) - x32).abs().max() < 1e-5
    # matrix() and the fast transform agree
    assert torch.allclose(b.to_components(x64), x64.reshape(4, -1) @ u.T, atol=1e-12)
    assert b.labels.shape == (b.dim,) and b.labels.dtype == torch.float64


@pytest.mark.parametrize("name,shape,kw", CASES)
def test_batch_independent_and_differentiable(name, shape, kw):
    b = _basis(name, shape, kw)
    x = torch.randn(5, *shape, dtype=torch.float64, requires_grad=True)
    u = b.to_components(x)
    assert torch.allclose(u[2:3], b.to_components(x[2:3]), atol=1e-12)
    w = torch.randn_like(u)
    (u * w).sum().backward()
    # gradient of <U x, w> is Uᵀ w
    assert torch.allclose(x.grad, b.from_components(w), atol=1e-12)


def test_dct_matches_scipy_and_labels():
    from scipy.fft import dctn

    b = build_basis("dct", (2, 4, 6))
    x = torch.randn(3, 2, 4, 6, dtype=torch.float64)
    ref = torch.from_numpy(dctn(x.numpy(), type=2, norm="ortho", axes=(-2, -1))).reshape(3, -1)
    assert torch.allclose(b.to_components(x), ref, atol=1e-12)
    lab = b.labels.reshape(2, 4, 6)
    assert lab[0, 0, 0] == 0 and lab.max() == 1 and torch.equal(lab[0], lab[1])
    assert lab[0, 3, 5] == 1 and lab[0, 0, 1] < lab[0, 1, 1]


def test_fourier_labels_are_frequency_magnitudes_symmetric_in_k():
    """Each component's energy sits at ±k with |k| its label: symmetric under k -> -k."""
    h, w = 6, 5
    b = build_basis("fourier", (1, h, w))
    rows = b.matrix().reshape(-1, h, w)
    power = torch.fft.fft2(rows).abs() ** 2  # (D, H, W)
    kh = torch.fft.fftfreq(h, dtype=torch.float64)[:, None]
    kw = torch.fft.fftfreq(w, dtype=torch.float64)[None, :]
    mag = torch.sqrt(kh**2 + kw**2)
    mag = mag / mag.max()
    for i in range(b.dim):
        support = power[i] > 1e-9
        assert torch.allclose(mag[support], b.labels[i].expand(int(support.sum())), atol=1e-12)
        # the spectrum is symmetric under k -> -k (real basis function)
        flipped = torch.roll(torch.flip(power[i], dims=(0, 1)), shifts=(1, 1), dims=(0, 1))
        assert torch.allclose(power[i], flipped, atol=1e-9)


def test_haar_divisibility_error_names_sizes():
    with pytest.raises(DifflabError, match=r"H=6 and W=8.*2\*\*levels=4"):
        HaarBasis((1, 6, 8), levels=2)
    with pytest.raises(DifflabError, match="D=12"):
        build_basis("haar", (12,), levels=3)


def test_haar_labels_and_positions():
    b = HaarBasis((2, 4, 8), levels=2)
    lab = b.labels.reshape(2, 4, 8)[0]
    assert torch.all(lab[:1, :2] == 0)  # approximation
    assert lab[0, 2] == 0.5 and lab[1, 1] == 0.5 and lab[1, 3] == 0.5  # level-2 details
    assert torch.all(lab[2:, :] == 1) and torch.all(lab[:, 4:] == 1)  # finest details
    pos = b.positions.reshape(2, 4, 8, 2)[0]
    # finest horizontal-detail coefficient at pyramid column 4 + q covers pixel columns 2q, 2q+1
    assert torch.allclose(pos[0, 4:, 1], (torch.arange(4, dtype=torch.float64) * 2 + 0.5) / 7)
    # the approximation coefficient at column 1 covers columns 4..7 (centre 5.5)
    assert torch.isclose(pos[0, 1, 1], torch.tensor(5.5 / 7, dtype=torch.float64))
    # each coefficient's position is the centroid of its squared basis function
    rows = b.matrix().reshape(-1, 2, 4, 8) ** 2
    cols = torch.arange(8, dtype=torch.float64) / 7
    centroid = (rows.sum((1, 2)) * cols).sum(-1)
    assert torch.allclose(centroid, b.positions[:, 1], atol=1e-12)


def test_unknown_basis_and_bad_shape():
    with pytest.raises(DifflabError, match="pixel, pca, dct, fourier, haar"):
        build_basis("wavelet", (1, 4, 4))
    with pytest.raises(DifflabError, match=r"\(C, H, W\)"):
        build_basis("dct", (4, 4))
    b = build_basis("dct", (1, 4, 4))
    with pytest.raises(DifflabError, match="expects inputs shaped"):
        b.to_components(torch.zeros(2, 1, 4, 5))


def _known_gaussian(n, d, seed=0):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    var = torch.tensor([16.0, 8.0, 4.0, 2.0, 1.0, 0.5][:d], dtype=torch.float64)
    x = (torch.randn(n, d, generator=g, dtype=torch.float64) * var.sqrt()) @ q.T + 3.0
    return x, q, var


def test_pca_recovers_known_eigenvectors_and_round_trips_state():
    x, q, var = _known_gaussian(20000, 6)
    b = PCABasis((6,))
    with pytest.raises(DifflabError, match="not fitted"):
        b.to_components(x[:2])
    b.fit(x)
    overlap = (b.components @ q).abs()  # rows matched to true eigenvectors in order
    assert torch.all(overlap.diagonal() > 0.99)
    assert torch.allclose(b.variances, var, rtol=0.05)
    assert torch.allclose(b.matrix() @ b.matrix().T, torch.eye(6, dtype=torch.float64), atol=1e-12)
    assert b.labels[0] == 0 and b.labels[-1] == 1
    fresh = build_basis("pca", (6,))
    fresh.load_state_dict(b.state_dict())
    assert torch.equal(fresh.to_components(x[:3]), b.to_components(x[:3]))


def test_pca_few_samples_warns_and_stays_orthonormal():
    x = torch.randn(5, 2, 3, 3)
    b = PCABasis((2, 3, 3))
    with pytest.warns(UserWarning, match="shrunk"):
        b.fit(x)
    u = b.matrix()
    assert torch.allclose(u @ u.T, torch.eye(18, dtype=torch.float64), atol=1e-10)
    assert torch.all(b.variances > 0)
    with pytest.raises(DifflabError, match="at least 2"):
        PCABasis((3,)).fit(torch.randn(1, 3))


def test_prior_data_scale_is_component_rms():
    x, q, var = _known_gaussian(20000, 6, seed=1)
    x = x - 3.0  # zero mean: RMS = std
    b = build_basis("pca", (6,))
    b.fit(x)
    scale = fit_prior_scale(b, x.float(), "data")
    assert torch.allclose(scale, var.sqrt(), rtol=0.03)
    assert torch.equal(fit_prior_scale(b, None, "white"), torch.ones(6, dtype=torch.float64))
    const = torch.zeros(10, 1, 2, 2)
    assert torch.all(fit_prior_scale(build_basis("dct", (1, 2, 2)), const, "data") == 1e-3)
    with pytest.raises(DifflabError, match="needs training data"):
        fit_prior_scale(b, None, "data")
