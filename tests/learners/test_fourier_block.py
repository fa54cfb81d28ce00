"""The ARK Fourier block: zero spectral weights -> skip path, shift equivariance, the complex product."""

from __future__ import annotations

import pytest
import torch
from einops import rearrange

from physdiff.core import PhysdiffError
from physdiff.learners.blocks import FourierBlock, SpectralMLP


def test_zero_spectral_weights_reduce_the_filter_to_its_skip_path():
    torch.manual_seed(0)
    block = FourierBlock(8, num_blocks=2).double()
    with torch.no_grad():
        block.filter.w1.zero_()
        block.filter.w2.zero_()
        block.filter.beta.normal_()  # the threshold alone cannot create a spectrum from zero
    x = torch.randn(2, 24, 8, dtype=torch.float64)
    y = x + block.filter.skip(block.norm1(x))
    expected = y + block.mlp(block.norm2(y))
    torch.testing.assert_close(block(x, (4, 6)), expected, rtol=0, atol=1e-14)


@pytest.mark.parametrize("shift", [(1, 0), (0, 3), (2, 5), (3, 3)])
def test_block_is_equivariant_to_cyclic_shifts_of_the_token_grid(shift):
    torch.manual_seed(1)
    block = FourierBlock(8, num_blocks=4, hidden_factor=2).double()
    with torch.no_grad():
        block.filter.w1.mul_(50)  # make the spectral path dominate, so the test sees it
        block.filter.beta.uniform_(-0.5, 0.5)
    x = torch.randn(2, 6, 7, 8, dtype=torch.float64)  # odd and even axes
    flat = lambda t: rearrange(t, "b h w c -> b (h w) c")  # noqa: E731
    grid = lambda t: rearrange(t, "b (h w) c -> b h w c", h=6)  # noqa: E731
    out = grid(block(flat(x), (6, 7)))
    out_shifted = grid(block(flat(torch.roll(x, shift, (1, 2))), (6, 7)))
    torch.testing.assert_close(out_shifted, torch.roll(out, shift, (1, 2)), rtol=1e-10, atol=1e-12)
    assert (out - x).abs().max() > 0.1


def test_spectral_mlp_is_the_complex_two_layer_product_per_frequency():
    """One group, hand-written complex arithmetic on one frequency's channel vector."""
    torch.manual_seed(2)
    mlp = SpectralMLP(4, num_blocks=1, hidden_factor=2).double()
    with torch.no_grad():
        mlp.skip.weight.zero_(), mlp.skip.bias.zero_(), mlp.beta.fill_(-0.01)
    z = torch.randn(1, 16, 4, dtype=torch.float64)
    spec = torch.fft.rfft2(z.reshape(1, 4, 4, 4), dim=(1, 2), norm="ortho")
    a1 = torch.complex(mlp.w1[0, 0], mlp.w1[1, 0])
    a2 = torch.complex(mlp.w2[0, 0], mlp.w2[1, 0])
    hid = spec @ a1
    hid = hid * torch.relu(hid.abs() - 0.01) / hid.abs()
    expected = torch.fft.irfft2(hid @ a2, s=(4, 4), dim=(1, 2), norm="ortho").reshape(1, 16, 4)
    torch.testing.assert_close(mlp(z, (4, 4)), expected)


def test_bad_groups_and_shapes():
    with pytest.raises(PhysdiffError, match="divisor"):
        FourierBlock(6, num_blocks=4)
    with pytest.raises(PhysdiffError, match="grid"):
        FourierBlock(8)(torch.zeros(1, 10, 8), (3, 3))
