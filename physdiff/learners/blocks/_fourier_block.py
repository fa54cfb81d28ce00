"""The Fourier block of ARK's frequency module (eqs. 2-4; AFNO-style token mixer, spatiotemporal.md 1.3).

On tokens ``x`` ``(B, N, C)`` over an ``h x w`` grid::

    x' = x + Filter(LN1(x))
    x''= x' + MLP(LN2(x'))                                   MLP: C -> r C -> C, GELU (two learned layers)

    Filter(z) = IFFT2( S( FFT2(z) ) ) + W_skip z + b_skip    FFT2 over the token grid, orthonormal

``S`` acts on each frequency ``k`` separately: the channels are split into ``num_blocks`` groups
of ``C / num_blocks``, and in each group

    S(z_hat) = W2 sigma(W1 z_hat),     W1, W2 complex (block-diagonal over the groups),
    sigma(u) = relu(|u| + beta) u / |u|     (modReLU, beta a real learned threshold per hidden channel)

Deviations from the code it comes from (EarthFarseer, spatiotemporal.md 1.3), chosen so that the
block is what the equations say:

* the second complex layer is the complex product ``(A + iB)(u + iv) = (Au - Bv) + i(Av + Bu)``
  with the layer-1 activations ``u, v`` (the source computes the imaginary part from the already
  overwritten real output);
* the MLP has its second learned layer (the source replaced it by an average pooling);
* no complex bias per frequency and no real/imaginary split ReLU: both break translation
  equivariance (a shift multiplies ``z_hat(k)`` by ``exp(-i k.s)``, which commutes with a complex
  linear map and with modReLU, but not with a constant added at every ``k`` nor with a ReLU of the
  real part). The block is therefore exactly equivariant to cyclic shifts of the token grid, and
  with zero spectral weights the filter reduces to its skip path.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from ...core import PhysdiffError

__all__ = ["FourierBlock", "SpectralMLP"]


def _mod_relu(u: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """``relu(|u| + beta) u / |u|`` (0 where ``u = 0``), phase-preserving."""
    mag = u.abs()
    scale = torch.relu(mag + beta) / torch.where(mag > 0, mag, torch.ones_like(mag))
    return u * torch.where(mag > 0, scale, torch.zeros_like(scale))


class SpectralMLP(nn.Module):
    """Per-frequency block-diagonal complex two-layer MLP followed by the token-wise skip (``Filter`` above).

    Args:
        dim: channels ``C``.
        num_blocks: channel groups (divide ``dim``); weights are block-diagonal over them.
        hidden_factor: hidden width of the complex MLP per group, as a multiple of ``C / num_blocks``.
        init_std: standard deviation of the spectral weights (AFNO's 0.02).
    """

    def __init__(self, dim: int, num_blocks: int = 2, hidden_factor: int = 1, init_std: float = 0.02) -> None:
        super().__init__()
        if isinstance(num_blocks, bool) or not isinstance(num_blocks, int) or num_blocks < 1 or dim % num_blocks:
            raise PhysdiffError(
                f"FourierBlock: num_blocks: expected a positive divisor of the channels {dim}, got {num_blocks!r}."
            )
        size = dim // num_blocks
        hidden = size * hidden_factor
        self.dim, self.num_blocks = dim, num_blocks
        # real and imaginary parts stacked on the first axis
        self.w1 = nn.Parameter(init_std * torch.randn(2, num_blocks, size, hidden))
        self.w2 = nn.Parameter(init_std * torch.randn(2, num_blocks, hidden, size))
        self.beta = nn.Parameter(torch.zeros(num_blocks, hidden))
        self.skip = nn.Linear(dim, dim)

    def forward(self, z: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        h, w = grid
        grid_z = rearrange(z, "b (h w) c -> b h w c", h=h)
        spec = torch.fft.rfft2(grid_z.float() if z.dtype in (torch.float16, torch.bfloat16) else grid_z,
                               dim=(1, 2), norm="ortho")
        spec = rearrange(spec, "b h w (k c) -> b h w k c", k=self.num_blocks)
        w1 = torch.complex(self.w1[0], self.w1[1]).to(spec.dtype)
        w2 = torch.complex(self.w2[0], self.w2[1]).to(spec.dtype)
        hid = _mod_relu(torch.einsum("bhwkc,kcd->bhwkd", spec, w1), self.beta.to(spec.real.dtype))
        out = torch.einsum("bhwkd,kdc->bhwkc", hid, w2)
        out = torch.fft.irfft2(rearrange(out, "b h w k c -> b h w (k c)"), s=(h, w), dim=(1, 2), norm="ortho")
        return rearrange(out.to(z.dtype), "b h w c -> b (h w) c") + self.skip(z)


class FourierBlock(nn.Module):
    """One Fourier block (see the module docstring): spectral token mixing then a channel MLP, both residual.

    Args:
        dim: channels ``C``.
        num_blocks: channel groups of the block-diagonal spectral weights.
        mlp_ratio: hidden width of the channel MLP as a multiple of ``C``.
        hidden_factor: hidden width of the spectral MLP per group, as a multiple of ``C / num_blocks``.
    """

    def __init__(self, dim: int, *, num_blocks: int = 2, mlp_ratio: float = 4.0, hidden_factor: int = 1) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.filter = SpectralMLP(dim, num_blocks, hidden_factor)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        """``x`` ``(B, h w, C)`` on the token grid ``grid = (h, w)`` -> ``(B, h w, C)``."""
        if x.dim() != 3 or x.shape[1] != grid[0] * grid[1]:
            raise PhysdiffError(
                f"FourierBlock: x: expected (B, {grid[0] * grid[1]}, C) for the grid {grid[0]}x{grid[1]}, "
                f"got {tuple(x.shape)}."
            )
        x = x + self.filter(self.norm1(x), grid)
        return x + self.mlp(self.norm2(x))
