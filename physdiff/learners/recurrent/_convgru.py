r"""Convolutional GRU cell (Ballas et al. 2016), the gated baseline of the minimal ConvRNNs paper.

With ``*`` a 'same' convolution, ``[x, h]`` the channel concatenation and ``sigma`` the logistic function::

    [z, r] = sigma(W_a * [x_t, h_{t-1}] + c_a)              (one conv, 2 hidden outputs)
    ht     = tanh(W_b * [x_t, r . h_{t-1}] + c_b)
    h_t    = (1 - z) . h_{t-1} + z . ht

The gates depend on ``h_{t-1}``, so the update is nonlinear in the state and runs step by step.
"""

from __future__ import annotations

import torch
from torch import nn

from ...core import PhysdiffError
from ._convlstm import same_padding, set_cell_arguments

__all__ = ["ConvGRUCell"]


class ConvGRUCell(nn.Module):
    """One ConvGRU cell for 1D/2D/3D fields; stateless (the state ``h`` is passed in and returned).

    Args:
        in_channels: channels of ``x``.
        hidden_channels: channels of ``h``.
        kernel_size: odd convolution width.
        ndim: spatial dimensions (1, 2 or 3).
        padding_mode: 'circular', 'zeros', 'reflect', 'replicate' or 'cylinder' (2D sphere).

    Attributes:
        conv_gates: ``Conv(in + hidden -> 2 hidden)`` giving ``z, r``.
        conv_candidate: ``Conv(in + hidden -> hidden)`` giving the candidate.
    """

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int = 3, ndim: int = 2,
                 padding_mode: str = "circular") -> None:
        super().__init__()
        set_cell_arguments(self, in_channels, hidden_channels, kernel_size, ndim, padding_mode)
        conv = getattr(nn, f"Conv{ndim}d")
        self.conv_gates = conv(in_channels + hidden_channels, 2 * hidden_channels, kernel_size)
        self.conv_candidate = conv(in_channels + hidden_channels, hidden_channels, kernel_size)

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, hidden_channels={self.hidden_channels}, "
                f"kernel_size={self.kernel_size}, ndim={self.ndim}, padding_mode={self.padding_mode!r}")

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        """One step for ``x`` ``(B, in_channels, *space)``; ``h=None`` means zeros. Returns ``h_t``."""
        if x.dim() != self.ndim + 2 or x.shape[1] != self.in_channels:
            raise PhysdiffError(
                f"{type(self).__name__}: x: expected (B, {self.in_channels}, *space) with {self.ndim} spatial axes, "
                f"got shape {tuple(x.shape)}."
            )
        if h is None:
            h = x.new_zeros((x.shape[0], self.hidden_channels, *x.shape[2:]))
        k, mode = self.kernel_size, self.padding_mode
        z, r = torch.sigmoid(self.conv_gates(same_padding(torch.cat([x, h], dim=1), k, mode))).chunk(2, dim=1)
        candidate = torch.tanh(self.conv_candidate(same_padding(torch.cat([x, r * h], dim=1), k, mode)))
        return torch.lerp(h, candidate, z)  # (1 - z) h + z candidate
