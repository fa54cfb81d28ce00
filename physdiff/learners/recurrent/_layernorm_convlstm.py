"""ConvLSTM with LayerNorm on the gate pre-activations and on the cell state (MoDeRNN's, PredRNN's cell).

With ``LN`` a LayerNorm over ``(C, H, W)`` (elementwise affine), ``*`` a bias-free 'same'
convolution and ``b_f`` the forget bias::

    (z_i, z_f, z_g, z_o) = LN_x(W_x * x) + LN_h(W_h * h)       (4 hidden channels each side)
    i = sigma(z_i),  f = sigma(z_f + b_f),  g = tanh(z_g),  o = sigma(z_o)
    c' = LN_c(f . c + i . g)
    h' = o . tanh(c')

Normalising the input and hidden contributions separately keeps either from dominating the
gates whatever the scale of the input; normalising ``c`` bounds the memory over long rollouts.
The LayerNorms' affine maps have one weight per (channel, pixel), so the grid size is fixed
at construction. A zero state from :meth:`LayerNormConvLSTMCell.zero_state` takes a shortcut with
the same result: ``LN_h(W_h * 0)`` is ``LN_h``'s bias and ``f . 0`` is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ...core import PhysdiffError
from ._convlstm import _known_zero, _tag_zero, check_kernel_size, check_positive_int

__all__ = ["LayerNormConvLSTMCell"]

CellState = tuple[torch.Tensor, torch.Tensor]


class LayerNormConvLSTMCell(nn.Module):
    """One layer-normalised ConvLSTM cell on a fixed 2D grid (see the module docstring).

    Args:
        in_channels: channels of ``x``.
        hidden_channels: channels of ``h`` and ``c``.
        spatial_size: ``(H, W)``, fixed by the LayerNorms.
        kernel_size: odd width of both convolutions.
        forget_bias: ``b_f`` added to the forget pre-activation (MoDeRNN: 1), so that a fresh
            cell keeps most of its memory (``sigma(1) = 0.73``).
    """

    def __init__(self, in_channels: int, hidden_channels: int, spatial_size: Sequence[int], kernel_size: int = 3,
                 forget_bias: float = 1.0) -> None:
        super().__init__()
        where = type(self).__name__
        self.in_channels = check_positive_int(in_channels, "in_channels", where)
        self.hidden_channels = check_positive_int(hidden_channels, "hidden_channels", where)
        self.kernel_size = check_kernel_size(kernel_size, where)
        if (not isinstance(spatial_size, Sequence) or len(spatial_size) != 2
                or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in spatial_size)):
            raise PhysdiffError(f"{where}: spatial_size: expected (H, W), two positive ints, got {spatial_size!r}.")
        self.spatial_size = (int(spatial_size[0]), int(spatial_size[1]))
        self.forget_bias = float(forget_bias)
        k, h = kernel_size, hidden_channels
        self.conv_x = nn.Conv2d(in_channels, 4 * h, k, padding=k // 2, bias=False)
        self.conv_h = nn.Conv2d(h, 4 * h, k, padding=k // 2, bias=False)
        self.norm_x = nn.LayerNorm([4 * h, *self.spatial_size])
        self.norm_h = nn.LayerNorm([4 * h, *self.spatial_size])
        self.norm_c = nn.LayerNorm([h, *self.spatial_size])

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, hidden_channels={self.hidden_channels}, "
                f"spatial_size={self.spatial_size}, kernel_size={self.kernel_size}, forget_bias={self.forget_bias}")

    def zero_state(self, x: torch.Tensor) -> CellState:
        """``(h, c)`` of zeros ``(B, hidden, H, W)`` with ``x``'s batch, dtype and device, tagged as known
        zeros (forward skips the convolution of ``h`` and the product ``f . c``)."""
        shape = (x.shape[0], self.hidden_channels, *self.spatial_size)
        return _tag_zero(x.new_zeros(shape)), _tag_zero(x.new_zeros(shape))

    def forward(self, x: torch.Tensor, state: CellState) -> CellState:
        """Advance ``state = (h, c)`` by one input ``x`` ``(B, in_channels, H, W)``."""
        h, c = state
        # LN(W * 0) is the LayerNorm's bias (the convolution has none)
        from_h = self.norm_h.bias if _known_zero(h) else self.norm_h(self.conv_h(h))
        z = self.norm_x(self.conv_x(x)) + from_h
        zi, zf, zg, zo = z.split(self.hidden_channels, dim=1)
        ig = torch.sigmoid(zi) * torch.tanh(zg)
        if _known_zero(c):
            c_next = self.norm_c(ig)
        else:
            c_next = self.norm_c(torch.addcmul(ig, torch.sigmoid(zf + self.forget_bias), c))
        h_next = torch.sigmoid(zo) * torch.tanh(c_next)
        return h_next, c_next
