"""artefact_ratio and high_wavenumber_energy: Parseval, single modes, hand-made smooth and striped fields."""

from __future__ import annotations

import math

import pytest
import torch

from physdiff import PhysdiffError
from physdiff.metrics import artefact_ratio, high_wavenumber_energy


def _smooth_field(shape: tuple[int, ...], seed: int = 0, frames: int = 8) -> torch.Tensor:
    """(1, frames, 2, *shape) random periodic fields with a Gaussian spectrum (little but nonzero high-k energy)."""
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn((1, frames, 2, *shape), generator=gen, dtype=torch.float64)
    dims = tuple(range(-len(shape), 0))
    kappa_sq = sum((2 * torch.fft.fftfreq(n, dtype=torch.float64)).square().reshape(
        [n if i == a else 1 for i in range(len(shape))]) for a, n in enumerate(shape))
    filtered = torch.fft.ifftn(torch.fft.fftn(noise, dim=dims) * torch.exp(-kappa_sq / 0.2**2), dim=dims).real
    return 1.0 + filtered / filtered.std()


def test_parseval_with_a_tiny_cutoff_and_single_modes():
    u = _smooth_field((16, 12))[0]
    centred = u - u.mean(dim=(-2, -1), keepdim=True)
    energy = high_wavenumber_energy(u, 2, cutoff=1e-6)  # only the mean (kappa = 0) is left out
    torch.testing.assert_close(energy, centred.square().sum(dim=(-3, -2, -1)), rtol=1e-12, atol=1e-12)
    x = torch.arange(32, dtype=torch.float64)
    low = torch.sin(2 * math.pi * 7 * x / 32)[None]    # kappa = 7 / 16 < 1/2
    high = torch.sin(2 * math.pi * 9 * x / 32)[None]   # kappa = 9 / 16 > 1/2
    assert high_wavenumber_energy(low, 1).item() == pytest.approx(0.0, abs=1e-20)
    assert high_wavenumber_energy(high, 1).item() == pytest.approx(16.0, rel=1e-12)  # sum sin^2 = n / 2


@pytest.mark.parametrize("shape", [(64,), (24, 32), (12, 12, 12)])
def test_smooth_fields_score_about_one_and_stripes_or_checkerboards_far_above(shape):
    truth = _smooth_field(shape, seed=1)
    assert artefact_ratio(truth, truth).item() == pytest.approx(1.0, rel=1e-12)
    # A smooth prediction error (another smooth field at 10 %) keeps the ratio near 1.
    smooth_error = truth + 0.1 * (_smooth_field(shape, seed=2) - 1)
    assert 0.7 < artefact_ratio(smooth_error, truth).item() < 1.4
    # Period-2 stripes along the first axis, or a checkerboard, of 5 % amplitude.
    index = torch.meshgrid(*(torch.arange(n) for n in shape), indexing="ij")
    stripes = truth + 0.05 * (-1.0) ** index[0].to(torch.float64)
    checker = truth + 0.05 * (-1.0) ** sum(index).to(torch.float64)
    assert artefact_ratio(stripes, truth).item() > 10
    assert artefact_ratio(checker, truth).item() > 10
    # Over-smoothing (a low-pass of the truth) scores below 1.
    assert artefact_ratio(torch.full_like(truth, 1.0), truth).item() == 0.0


def test_only_the_last_quarter_counts():
    truth = _smooth_field((32,), seed=3, frames=8)
    prediction = truth.clone()
    prediction[:, :6] += 0.5 * (-1.0) ** torch.arange(32, dtype=torch.float64)  # early artefacts only
    assert artefact_ratio(prediction, truth).item() == pytest.approx(1.0, rel=1e-12)
    assert artefact_ratio(prediction, truth, last_fraction=0.5).item() > 10


def test_bad_inputs():
    truth = _smooth_field((8, 8))
    with pytest.raises(PhysdiffError, match="last_fraction"):
        artefact_ratio(truth, truth, last_fraction=0)
    with pytest.raises(PhysdiffError, match="cutoff"):
        high_wavenumber_energy(truth, 2, cutoff=2.0)
    with pytest.raises(PhysdiffError, match="same shape"):
        artefact_ratio(truth, truth[:, :-1])
