"""MoDeRNN (Chai, Xu & Yuan 2021): stacked layer-normalised ConvLSTMs whose input and context first
reweight each other in a Detail Context Block.

One step maps the frame ``u_n`` ``(B, C, H, W)`` to the prediction of ``u_{n+1}``::

    x^0      = W_in (*) S(u_n)                              S: space-to-depth by p, W_in a 1x1 conv
    x^l, h^l = DCB_l(x^{l-1}, h^l)                          detail context block, l = 1..L
    h^l, c^l = LNConvLSTM_l(x^l, (h^l, c^l))                layer-normalised ConvLSTM cell
    u_{n+1}  = S^{-1}(W_out (*) h^L)                        1x1 conv, depth-to-space

(:class:`~physdiff.learners.DetailContextBlock` and :class:`~physdiff.learners.LayerNormConvLSTMCell`
give the equations.) There is no skip connection from ``u_n`` and no output nonlinearity.

Every LayerNorm normalises over ``(channels, H/p, W/p)`` with an elementwise affine map, so
the frame size is a constructor argument (``grid``) and the model runs on that size
only; the patch size must divide it.

At the paper's settings (64x64 frames, patch 4, 4 layers of 64 channels) the model has
5,867,600 parameters with the training script's 3x3 gate convolutions and 7,964,752 with the
paper's 5x5 (the paper's table says 4.590 M; docs/video_learners.md discusses the difference).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ...core import PhysdiffError
from ..blocks._detail_context import DetailContextBlock, _check_kernel_sizes
from ..blocks._patching import check_patchable, depth_to_space, space_to_depth
from ..recurrent._convlstm import check_kernel_size, check_positive_int
from ..recurrent._layernorm_convlstm import LayerNormConvLSTMCell
from ._grid import grid_argument
from .._base import SequenceLearner

__all__ = ["MoDeRNN"]


class MoDeRNN(SequenceLearner):
    """MoDeRNN as a :class:`~physdiff.learners.SequenceLearner` (see the module docstring).

    The state is ``((h, c), ...)`` per layer on the patched grid, zeros at the start. The
    learner sees the data unnormalised (``normalized_data = False``), as the paper trains on
    intensities in ``[0, 1]``.

    Args:
        channels: channels ``C`` of the frames (1 for Moving MNIST).
        ndim: spatial dimensions; only 2 is supported.
        grid: ``(H, W)`` of the frames, fixed by the LayerNorms; divisible by ``patch_size`` (default 64x64).
        patch_size: ``p`` of the space-to-depth patching (MoDeRNN: 4).
        hidden_channels: channels of every layer (MoDeRNN: 64).
        num_layers: stacked cells (MoDeRNN: 4).
        kernel_size: width of the gate convolutions (training script: 3; paper text: 5).
        dcb_kernel_sizes: widths of the DCB's attention convolutions (3, 5, 7).
        dcb_iterations: alternating DCB updates (5).
        dcb_scale: the DCB's scale factor ``s`` (2).
        forget_bias: added to the forget pre-activation (1).
        time_step: physical interval between frames, if fixed (else None).
        frame_size: deprecated name of ``grid`` (DeprecationWarning; giving both is refused).

    Attributes ``grid`` (the frame shape) and ``token_grid`` (the patched grid ``(H/p, W/p)``).
    """

    supported_ndims = (2,)
    renamed_config_keys = {"frame_size": "grid"}  # checkpoints written before the rename load
    normalized_data = False

    def __init__(self, channels: int = 1, ndim: int = 2, grid: Sequence[int] | None = None, patch_size: int = 4,
                 hidden_channels: int = 64, num_layers: int = 4, kernel_size: int = 3,
                 dcb_kernel_sizes: Sequence[int] = (3, 5, 7), dcb_iterations: int = 5, dcb_scale: float = 2.0,
                 forget_bias: float = 1.0, time_step: float | None = None, *,
                 frame_size: Sequence[int] | None = None) -> None:
        super().__init__(channels, ndim, time_step=time_step)
        where = type(self).__name__
        grid = grid_argument(grid, frame_size, where)
        if (isinstance(grid, int) or not isinstance(grid, Sequence) or len(grid) != 2
                or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in grid)):
            raise PhysdiffError(f"{where}: grid: expected (H, W), two positive ints (the LayerNorms fix the "
                                f"frame size), got {grid!r}.")
        self.grid = (int(grid[0]), int(grid[1]))
        self.patch_size = patch_size
        self.token_grid = check_patchable(self.grid, patch_size, where)
        self.hidden_channels = check_positive_int(hidden_channels, "hidden_channels", where)
        self.num_layers = check_positive_int(num_layers, "num_layers", where)
        self.kernel_size = check_kernel_size(kernel_size, where)
        self.dcb_kernel_sizes = _check_kernel_sizes(dcb_kernel_sizes, where)
        self.dcb_iterations, self.dcb_scale, self.forget_bias = dcb_iterations, dcb_scale, float(forget_bias)
        patched, hid = channels * patch_size ** 2, hidden_channels
        self.embed = nn.Conv2d(patched, hid, 1)
        self.blocks = nn.ModuleList(DetailContextBlock(hid, hid, self.token_grid, self.dcb_kernel_sizes,
                                                       dcb_iterations, dcb_scale) for _ in range(num_layers))
        self.cells = nn.ModuleList(LayerNormConvLSTMCell(hid, hid, self.token_grid, kernel_size, forget_bias)
                                   for _ in range(num_layers))
        self.output = nn.Conv2d(hid, patched, 1)

    def _check_frame(self, u: torch.Tensor) -> None:
        if u.dim() != 4 or u.shape[1] != self.channels or tuple(u.shape[2:]) != self.grid:
            raise PhysdiffError(
                f"{type(self).__name__}: expected frames (B, {self.channels}, {self.grid[0]}, "
                f"{self.grid[1]}) (the LayerNorms fix the frame size to grid), got shape "
                f"{tuple(u.shape)}. Build the model with grid={tuple(u.shape[2:])} (divisible by the patch "
                f"size {self.patch_size}) for these frames."
            )

    def initial_state(self, u: torch.Tensor) -> tuple:
        """Zeros ``(h, c)`` ``(B, hidden, H/p, W/p)`` for every layer."""
        self._check_frame(u)
        return tuple(cell.zero_state(u) for cell in self.cells)

    def step(self, u: torch.Tensor, state: tuple | None) -> tuple[torch.Tensor, tuple]:
        self._check_frame(u)
        if state is None:
            state = self.initial_state(u)
        x = self.embed(space_to_depth(u, self.patch_size))
        new_state = []
        for block, cell, (h, c) in zip(self.blocks, self.cells, state):
            x, h = block(x, h)
            x, c = cell(x, (h, c))
            new_state.append((x, c))
        return depth_to_space(self.output(x), self.patch_size), tuple(new_state)

    def config(self) -> dict[str, Any]:
        return {"channels": self.channels, "ndim": self.ndim, "grid": list(self.grid),
                "patch_size": self.patch_size, "hidden_channels": self.hidden_channels, "num_layers": self.num_layers,
                "kernel_size": self.kernel_size, "dcb_kernel_sizes": list(self.dcb_kernel_sizes),
                "dcb_iterations": self.dcb_iterations, "dcb_scale": self.dcb_scale, "forget_bias": self.forget_bias,
                "time_step": self.time_step}
