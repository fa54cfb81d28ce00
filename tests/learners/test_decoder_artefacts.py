"""ConvLSTMAutoencoder's decoders: no stripe/checkerboard response from the linear decoder, whatever its
weights, while the kernel = stride transposed convolution paints one (the cause of PIMRL's stripes)."""

from __future__ import annotations

import math

import pytest
import torch

from physdiff import PhysdiffError
from physdiff.learners import ConvLSTMAutoencoder
from physdiff.learners.blocks import LinearUpsample
from physdiff.metrics import high_wavenumber_energy

F64 = torch.float64
LATENT = {1: 16, 2: 8, 3: 6}  # latent grid points per axis
CONSTANT_BOUND = 1e-12  # share of the output's energy above half Nyquist for a constant latent
SMOOTH_BOUND = 1e-2  # the same for one smooth (lowest-mode) latent field


def latent(ndim: int, kind: str, channels: int = 6) -> torch.Tensor:
    x = (torch.arange(LATENT[ndim], dtype=F64) + 0.5) / LATENT[ndim]
    grids = torch.meshgrid(*(x,) * ndim, indexing="ij")
    field = sum(torch.cos(2 * math.pi * g + i) for i, g in enumerate(grids)) if kind == "smooth" else grids[0] * 0 + 1
    weights = torch.linspace(0.5, 1.5, channels, dtype=F64).reshape(1, channels, *(1,) * ndim)
    return field[None, None] * weights


def high_share(model: ConvLSTMAutoencoder, z: torch.Tensor) -> float:
    """Energy above half the Nyquist wavenumber over the total energy of the decoded field."""
    with torch.no_grad():
        out = model.decoder(z)
    return float(high_wavenumber_energy(out, model.ndim).sum() / out.square().sum())


def decoder(ndim: int, kind: str, seed: int, gain: float = 1.0) -> ConvLSTMAutoencoder:
    torch.manual_seed(seed)
    model = ConvLSTMAutoencoder(2, ndim, latent_channels=8, hidden_channels=(6,), downsample=2, decoder=kind).double()
    with torch.no_grad():
        for p in model.decoder.parameters():
            p.mul_(gain)  # larger weights than the initialisation: the response is structural, not small by luck
    return model


@pytest.mark.parametrize("kind", ["smooth", "linear"])
@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_interpolating_decoders_keep_constant_and_smooth_latents_smooth(ndim, kind):
    for seed in range(3):
        for gain in (1.0, 5.0):
            model = decoder(ndim, kind, seed, gain)
            assert high_share(model, latent(ndim, "constant")) < CONSTANT_BOUND
            assert high_share(model, latent(ndim, "smooth")) < SMOOTH_BOUND


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_kernel_equals_stride_transposed_decoder_violates_the_bounds(ndim):
    constant = [high_share(decoder(ndim, "transposed", seed), latent(ndim, "constant")) for seed in range(3)]
    smooth = [high_share(decoder(ndim, "transposed", seed), latent(ndim, "smooth")) for seed in range(3)]
    assert min(constant) > 1e3 * CONSTANT_BOUND  # a period-2 tiling of its stencil, every seed
    assert max(smooth) > SMOOTH_BOUND


def test_periodic_linear_upsample_against_the_closed_form_and_shifts():
    for n, s in [(6, 2), (5, 3)]:
        period = n * s
        f = lambda x: torch.cos(2 * math.pi * x / period)  # noqa: E731
        coarse = f((torch.arange(n, dtype=F64) + 0.5) * s)  # values at the coarse cell centres
        fine = LinearUpsample(s, 1)(coarse[None, None])[0, 0]
        position = (torch.arange(period, dtype=F64) + 0.5) / s - 0.5  # fine centres in coarse-index units
        left = torch.floor(position)
        w = position - left
        expected = (1 - w) * f((left.remainder(n) + 0.5) * s) + w * f(((left + 1).remainder(n) + 0.5) * s)
        torch.testing.assert_close(fine, expected, rtol=0, atol=1e-14)
    x = torch.randn(1, 2, 3, 4, 5, dtype=F64)
    up = LinearUpsample(2, 3)
    torch.testing.assert_close(up(torch.roll(x, 1, -1)), torch.roll(up(x), 2, -1))  # periodic: shift-equivariant
    edge = LinearUpsample(2, 1, periodic=False)(torch.tensor([[[0.0, 1.0]]], dtype=F64))
    torch.testing.assert_close(edge, torch.tensor([[[0.0, 0.25, 0.75, 1.0]]], dtype=F64))  # ends held


def test_the_smooth_filter_removes_the_coarse_nyquist_mode():
    alternating = (-1.0) ** torch.arange(6, dtype=F64)
    checker = (alternating[:, None] * alternating[None, :])[None, None]
    torch.testing.assert_close(LinearUpsample(2, 2, smooth=True)(checker), torch.zeros(1, 1, 12, 12, dtype=F64))
    assert LinearUpsample(2, 2)(checker).abs().max() == pytest.approx(0.25)  # plain interpolation: 1/2 per axis
    ramp = torch.arange(4, dtype=F64)[None, None]
    torch.testing.assert_close(LinearUpsample(1, 1, periodic=False, smooth=True)(ramp),
                               torch.tensor([[[0.25, 1.0, 2.0, 2.75]]], dtype=F64))  # edges replicated


def test_bad_decoder_and_factor_raise():
    with pytest.raises(PhysdiffError, match="decoder: expected one of"):
        ConvLSTMAutoencoder(2, decoder="nearest")
    with pytest.raises(PhysdiffError, match="factor: expected a positive int"):
        LinearUpsample(0, 2)
