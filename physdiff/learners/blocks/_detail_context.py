"""MoDeRNN's Detail Context Block: input and context reweight each other through multi-kernel attention.

With ``x`` the input field and ``h`` the context (the previous hidden state) of a recurrent
cell, ``s`` the scale factor, ``sigma`` the logistic function and, for a field ``z``,

    A(z) = (1 / |K|) sum_{k in K} LN_k(W_k * z)      (one bias-free k x k convolution and one
                                                     LayerNorm over (C, H, W) per kernel size k)

the block alternates ``iterations`` updates, starting with the input (Chai et al. 2021, eq. 2)::

    i odd:   x <- s * sigma(A_h(h)) . x          (context -> input attention, C_h -> C_x channels)
    i even:  h <- s * sigma(A_x(x)) . h          (input -> context attention, C_x -> C_h channels)

so with 5 iterations ``x`` is reweighted 3 times and ``h`` twice. ``s = 2`` keeps the
expected weight ``s sigma(.)`` near 1, so repeated reweighting neither shrinks nor blows up
the fields. The same two attention maps ``A_h`` and ``A_x`` serve every iteration.

A zero context (the first step of a rollout, tagged by the cell's ``zero_state``) takes a
shortcut with the same result: ``A_h(0)`` is the mean of the LayerNorms' biases (the
convolutions have none, and a LayerNorm maps zeros to its bias), and ``h`` stays zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ...core import PhysdiffError
from ..recurrent._convlstm import _known_zero

__all__ = ["DetailContextBlock", "MultiKernelAttention"]


def _check_spatial(spatial: object, where: str) -> tuple[int, int]:
    if (not isinstance(spatial, Sequence) or len(spatial) != 2
            or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in spatial)):
        raise PhysdiffError(f"{where}: spatial_size: expected (H, W), two positive ints (the grid the LayerNorms "
                            f"normalise over), got {spatial!r}.")
    return int(spatial[0]), int(spatial[1])


def _check_kernel_sizes(kernel_sizes: object, where: str) -> tuple[int, ...]:
    if isinstance(kernel_sizes, int) and not isinstance(kernel_sizes, bool):
        kernel_sizes = (kernel_sizes,)
    if (not isinstance(kernel_sizes, Sequence) or len(kernel_sizes) == 0
            or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 or k % 2 == 0 for k in kernel_sizes)):
        raise PhysdiffError(f"{where}: kernel_sizes: expected a non-empty tuple of odd positive ints (e.g. (3, 5, 7)), "
                            f"got {kernel_sizes!r}.")
    return tuple(int(k) for k in kernel_sizes)


class MultiKernelAttention(nn.Module):
    """``A(z) = mean_k LN_k(W_k * z)``: bias-free 'same' convolutions of several widths, each layer-normalised.

    Args:
        in_channels, out_channels: channels of ``z`` and of ``A(z)``.
        spatial_size: ``(H, W)`` of ``z``: every LayerNorm normalises over ``(out_channels, H, W)``
            with an elementwise affine map of that shape, which fixes the grid size.
        kernel_sizes: odd widths, one convolution each.
    """

    def __init__(self, in_channels: int, out_channels: int, spatial_size: Sequence[int],
                 kernel_sizes: Sequence[int] = (3, 5, 7)) -> None:
        super().__init__()
        where = type(self).__name__
        self.spatial_size = _check_spatial(spatial_size, where)
        self.kernel_sizes = _check_kernel_sizes(kernel_sizes, where)
        self.convs = nn.ModuleList(nn.Conv2d(in_channels, out_channels, k, padding=k // 2, bias=False)
                                   for k in self.kernel_sizes)
        self.norms = nn.ModuleList(nn.LayerNorm([out_channels, *self.spatial_size]) for _ in self.kernel_sizes)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out = None
        for conv, norm in zip(self.convs, self.norms):
            term = norm(conv(z))
            out = term if out is None else out + term
        return out / len(self.kernel_sizes)

    def at_zero(self) -> torch.Tensor:
        """``A(0)`` ``(out_channels, H, W)``: the mean of the LayerNorm biases (the same sums as :meth:`forward`)."""
        out = None
        for norm in self.norms:
            out = norm.bias if out is None else out + norm.bias
        return out / len(self.kernel_sizes)


class DetailContextBlock(nn.Module):
    """The Detail Context Block (see the module docstring): ``(x, h) -> (x_hat, h_hat)``.

    Args:
        x_channels, h_channels: channels of the input ``x`` and of the context ``h``.
        spatial_size: ``(H, W)`` of both fields (the LayerNorms fix it).
        kernel_sizes: convolution widths of each attention map (MoDeRNN: 3, 5, 7).
        iterations: alternating updates, the first one of ``x`` (MoDeRNN: 5).
        scale: ``s`` (MoDeRNN: 2).
    """

    def __init__(self, x_channels: int, h_channels: int, spatial_size: Sequence[int],
                 kernel_sizes: Sequence[int] = (3, 5, 7), iterations: int = 5, scale: float = 2.0) -> None:
        super().__init__()
        where = type(self).__name__
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
            raise PhysdiffError(f"{where}: iterations: expected a non-negative int, got {iterations!r}.")
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
            raise PhysdiffError(f"{where}: scale: expected a positive number, got {scale!r}.")
        self.x_channels, self.h_channels = x_channels, h_channels
        self.iterations, self.scale = iterations, float(scale)
        self.from_h = MultiKernelAttention(h_channels, x_channels, spatial_size, kernel_sizes)
        self.from_x = MultiKernelAttention(x_channels, h_channels, spatial_size, kernel_sizes)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h_zero = _known_zero(h)
        for i in range(1, self.iterations + 1):
            if i % 2:
                attention = self.from_h.at_zero() if h_zero else self.from_h(h)
                x = self.scale * torch.sigmoid(attention) * x
            elif not h_zero:  # a zero context stays zero
                h = self.scale * torch.sigmoid(self.from_x(x)) * h
        return x, h

    def extra_repr(self) -> str:
        return f"iterations={self.iterations}, scale={self.scale}"
