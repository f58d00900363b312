import numpy as np
import pytest

from difflab.metrics import radial_power_spectrum, spectrum_error


def test_constant_images_have_only_dc_power():
    x = np.full((3, 1, 8, 8), 0.5)
    spec = radial_power_spectrum(x)
    assert spec.shape == (5,)
    assert spec[0] == pytest.approx(0.25 * 64)
    assert np.allclose(spec[1:], 0.0)


def test_parseval_over_radial_bins():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 2, 8, 6))
    spec = radial_power_spectrum(x, per_channel=True)
    assert spec.shape == (2, 4)
    fy, fx = np.fft.fftfreq(8)[:, None], np.fft.fftfreq(6)[None, :]
    bins = np.minimum(np.rint(np.sqrt(fy**2 + fx**2) * 6).astype(int), 3)
    counts = np.bincount(bins.ravel(), minlength=4)
    # Σ_bins count·mean power = Σ_pixels x² averaged over images (per channel).
    assert np.allclose(spec @ counts, (x**2).sum(axis=(2, 3)).mean(axis=0))


def test_spectrum_error_identical_and_scaled():
    x = np.random.default_rng(1).standard_normal((10, 3, 8, 8))
    assert spectrum_error(x, x) == 0.0
    # Doubling an image multiplies every band's power by 4.
    assert spectrum_error(x, 2 * x) == pytest.approx(np.log(4.0), rel=1e-10)
