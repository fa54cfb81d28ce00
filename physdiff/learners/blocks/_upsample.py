"""Multilinear up-sampling by an integer factor with periodic (or edge-replicating) boundaries."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...core import PhysdiffError

_MODES = {1: "linear", 2: "bilinear", 3: "trilinear"}


class LinearUpsample(nn.Module):
    r"""Cell-centred (multi)linear interpolation of a ``(B, C, n_0, ..., n_{d-1})`` grid to ``s`` times finer.

    Coarse cell ``j`` (centre ``(j + 1/2) s`` in fine-cell units) and fine cell ``m`` (centre
    ``m + 1/2``): each fine value is the linear (bi-, trilinear) blend of the two (4, 8) nearest
    coarse centres. ``periodic=True`` wraps around the ends (one coarse cell of circular padding
    before interpolating, cropped after), as the fields of periodic PDEs need; otherwise the end
    values are held (edge replication).

    ``smooth=True`` first filters the coarse grid with the binomial ``[1, 2, 1] / 4`` along every axis
    (same boundary), which removes the coarse grid's Nyquist mode (alternating values) exactly and
    damps its neighbours (response ``cos^2(pi k / n)`` at coarse wavenumber ``k``): a recurrent model
    decoding through it cannot feed a coarse-grid checkerboard back into itself.

    Unlike a transposed convolution with kernel = stride, which paints every ``s^d`` fine patch
    from one coarse vector with a learned ``s^d`` stencil (so a constant coarse field comes out
    as a period-``s`` tiling of that stencil: blocks and stripes), this map has no weights: a
    constant stays exactly constant and a smooth field stays smooth.

    Args:
        factor: integer ``s >= 1``.
        ndim: spatial dimensions (1, 2 or 3).
        periodic: wrap around (True) or replicate the edges (False).
        smooth: binomial pre-filter on the coarse grid (see above).
    """

    def __init__(self, factor: int, ndim: int, periodic: bool = True, smooth: bool = False) -> None:
        super().__init__()
        if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
            raise PhysdiffError(f"LinearUpsample: factor: expected a positive int, got {factor!r}.")
        if ndim not in _MODES:
            raise PhysdiffError(f"LinearUpsample: ndim: expected 1, 2 or 3, got {ndim!r}.")
        self.factor, self.ndim, self.periodic, self.smooth = factor, ndim, bool(periodic), bool(smooth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.factor
        if self.smooth:
            x = self._binomial(x)
        if s == 1:
            return x
        if self.periodic:
            x = F.pad(x, (1, 1) * self.ndim, mode="circular")
        y = F.interpolate(x, scale_factor=s, mode=_MODES[self.ndim], align_corners=False)
        if self.periodic:
            y = y[(..., *(slice(s, -s),) * self.ndim)]
        return y

    def _binomial(self, x: torch.Tensor) -> torch.Tensor:
        """``[1, 2, 1] / 4`` along every spatial axis (periodic or edge-replicating)."""
        for axis in range(-self.ndim, 0):
            if self.periodic:
                left, right = torch.roll(x, 1, axis), torch.roll(x, -1, axis)
            else:
                n = x.shape[axis]
                left = x.index_select(axis, torch.tensor([0, *range(n - 1)], device=x.device))
                right = x.index_select(axis, torch.tensor([*range(1, n), n - 1], device=x.device))
            x = 0.25 * left + 0.5 * x + 0.25 * right
        return x

    def extra_repr(self) -> str:
        return f"factor={self.factor}, ndim={self.ndim}, periodic={self.periodic}, smooth={self.smooth}"
