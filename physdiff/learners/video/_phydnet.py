"""PhyDNet (Le Guen & Thome, CVPR 2020): a physical branch (PhyCell) and a residual ConvLSTM branch in a latent space.

One step maps the frame ``u_n`` ``(B, C, H, W)`` to the prediction of ``u_{n+1}``::

    z      = E(u_n)                                      shared encoder, (B, 2F, H/4, W/4)
    h_p'   = PhyCell(E_p(z), h_p)                        physical branch (latent PDE + correction)
    h_r'   = ConvLSTM(E_r(z), state_r)                   residual branch (3 layers)
    u_{n+1} = sigmoid(D(D_p(h_p') + D_r(h_r')))          branch decoders summed, shared decoder

``E`` is three 3x3 convolutions (strides 2, 1, 2; ``C -> F -> F -> 2F`` channels), each followed
by GroupNorm and LeakyReLU(0.2); ``E_p``, ``E_r`` are two stride-1 such blocks; ``D_p``, ``D_r``
and ``D`` mirror them with transposed convolutions, the last one ``F -> C`` without
normalisation. The PhyCell's filters are tied to the ``k^2`` derivatives of a ``k x k``
kernel by PhyDNet's moment loss, returned by :meth:`PhyDNet.auxiliary_loss` so that the trainer
adds it to the prediction loss (see :class:`~physdiff.learners.PhyCell`).

This is the architecture of the authors' current code (separate branch encoders and decoders,
added after the CVPR version, which shared them); at ``F = 32``, ``k = 7`` and ConvLSTM
hidden ``(128, 128, 64)`` it has 3,091,732 parameters (OpenSTL lists PhyDNet at 3.1 M).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ...core import PhysdiffError
from ..recurrent._convlstm import ConvLSTMCell, check_channel_tuple, check_kernel_size, check_positive_int
from ..recurrent._phycell import PhyCell, PhyCellDerivative
from .._base import SequenceLearner

__all__ = ["PhyDNet"]

DOWNSAMPLING = 4  # two stride-2 convolutions in E


def _norm(channels: int) -> nn.GroupNorm:
    # PhyDNet: GroupNorm with 16 groups; gcd keeps narrower test models valid.
    return nn.GroupNorm(math.gcd(16, channels), channels)


def _down(nin: int, nout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(nin, nout, 3, stride, padding=1), _norm(nout), nn.LeakyReLU(0.2))


def _up(nin: int, nout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(nin, nout, 3, stride, padding=1, output_padding=stride - 1),
                         _norm(nout), nn.LeakyReLU(0.2))


class PhyDNet(SequenceLearner):
    """PhyDNet as a :class:`~physdiff.learners.SequenceLearner` (see the module docstring).

    The state is ``(h_p, ((h, c), ...))``: the PhyCell's latent field and the ConvLSTM's
    ``(h, c)`` per layer, all zeros at the start. The output is a sigmoid, so the learner
    works on frames in ``[0, 1]`` (video intensities) and sees the data unnormalised
    (``normalized_data = False``). Frames must have ``H`` and ``W`` divisible by 4 (the
    encoder's two stride-2 convolutions); there is no other limit on the frame size.

    Args:
        channels: channels ``C`` of the frames (1 for Moving MNIST).
        ndim: spatial dimensions; only 2 is supported.
        base_channels: ``F``; the latent fields have ``2F`` channels (PhyDNet: 32, latent 64).
        phycell_kernel_size: ``k``, width of the moment-constrained filters (PhyDNet: 7, 49 derivatives).
        convlstm_hidden: hidden channels of each ConvLSTM layer (PhyDNet: 128, 128, 64).
        convlstm_kernel_size: width of the ConvLSTM convolutions (PhyDNet: 3).
        moment_weight: weight of the moment loss in :meth:`auxiliary_loss` (PhyDNet: 1; 0 turns it off).
        phycell_init: ``"random"`` (PhyDNet) or ``"exact"`` (finite-difference stencils), see :class:`PhyCell`.
        time_step: physical interval between frames, if fixed (else None).
    """

    supported_ndims = (2,)
    normalized_data = False

    def __init__(self, channels: int = 1, ndim: int = 2, base_channels: int = 32, phycell_kernel_size: int = 7,
                 convlstm_hidden: Sequence[int] = (128, 128, 64), convlstm_kernel_size: int = 3,
                 moment_weight: float = 1.0, phycell_init: str = "random", time_step: float | None = None) -> None:
        super().__init__(channels, ndim, time_step=time_step)
        where = type(self).__name__
        self.base_channels = check_positive_int(base_channels, "base_channels", where)
        self.phycell_kernel_size = check_kernel_size(phycell_kernel_size, where)
        self.convlstm_hidden = check_channel_tuple(convlstm_hidden, "convlstm_hidden", where)
        self.convlstm_kernel_size = check_kernel_size(convlstm_kernel_size, where)
        if (isinstance(moment_weight, bool) or not isinstance(moment_weight, (int, float))
                or not math.isfinite(moment_weight) or moment_weight < 0):
            raise PhysdiffError(f"{where}: moment_weight: expected a finite non-negative number, "
                                f"got {moment_weight!r}.")
        self.moment_weight = float(moment_weight)
        self.phycell_init = phycell_init
        f, latent = base_channels, 2 * base_channels
        self.encoder = nn.Sequential(_down(channels, f, 2), _down(f, f, 1), _down(f, latent, 2))
        self.encoder_phys = nn.Sequential(_down(latent, latent, 1), _down(latent, latent, 1))
        self.encoder_conv = nn.Sequential(_down(latent, latent, 1), _down(latent, latent, 1))
        self.phycell = PhyCell(latent, phycell_kernel_size, init=phycell_init)
        inputs = (latent, *self.convlstm_hidden[:-1])
        self.convlstm = nn.ModuleList(ConvLSTMCell(i, h, convlstm_kernel_size, 2, "zeros")
                                      for i, h in zip(inputs, self.convlstm_hidden))
        self.decoder_phys = nn.Sequential(_up(latent, latent, 1), _up(latent, latent, 1))
        self.decoder_conv = nn.Sequential(_up(self.convlstm_hidden[-1], latent, 1), _up(latent, latent, 1))
        self.decoder = nn.Sequential(_up(latent, f, 2), _up(f, f, 1),
                                     nn.ConvTranspose2d(f, channels, 3, 2, padding=1, output_padding=1))

    def _latent_shape(self, u: torch.Tensor) -> tuple[int, int]:
        space = tuple(u.shape[-2:])
        if u.dim() != 4 or u.shape[1] != self.channels or any(n % DOWNSAMPLING or n < 1 for n in space):
            raise PhysdiffError(
                f"{type(self).__name__}: expected frames (B, {self.channels}, H, W) with H and W divisible by "
                f"{DOWNSAMPLING} (the encoder halves the grid twice), got shape {tuple(u.shape)}. Crop or pad the "
                "frames to a multiple of 4."
            )
        return space[0] // DOWNSAMPLING, space[1] // DOWNSAMPLING

    def initial_state(self, u: torch.Tensor) -> tuple[torch.Tensor, tuple]:
        """Zeros: the PhyCell's latent ``(B, 2F, H/4, W/4)`` and every ConvLSTM layer's ``(h, c)``."""
        shape = self._latent_shape(u)
        h_phys = u.new_zeros(u.shape[0], 2 * self.base_channels, *shape)
        return h_phys, tuple(cell.zero_state(h_phys) for cell in self.convlstm)

    def step(self, u: torch.Tensor, state: tuple[torch.Tensor, tuple] | None) -> tuple[torch.Tensor, tuple]:
        if state is None:
            state = self.initial_state(u)
        else:
            self._latent_shape(u)
        h_phys, lstm_state = state
        z = self.encoder(u)
        h_phys = self.phycell(self.encoder_phys(z), h_phys)
        x, new_lstm = self.encoder_conv(z), []
        for cell, cell_state in zip(self.convlstm, lstm_state):
            x, c = cell(x, cell_state)
            new_lstm.append((x, c))
        u_next = torch.sigmoid(self.decoder(self.decoder_phys(h_phys) + self.decoder_conv(x)))
        return u_next, (h_phys, tuple(new_lstm))

    def auxiliary_loss(self, context: torch.Tensor) -> torch.Tensor | None:
        """``moment_weight`` times PhyDNet's moment loss (:meth:`PhyCell.moment_loss`); None if the weight is 0."""
        if self.moment_weight == 0:
            return None
        return self.moment_weight * self.phycell.moment_loss()

    def phycell_derivatives(self, tol: float = 0.1) -> list[PhyCellDerivative]:
        """Read-back: which derivative the PhyCell's filters apply, per target derivative
        (:meth:`PhyCell.read_back`, through :func:`physdiff.operators.identify_derivative`)."""
        return self.phycell.read_back(tol)

    def config(self) -> dict[str, Any]:
        return {"channels": self.channels, "ndim": self.ndim, "base_channels": self.base_channels,
                "phycell_kernel_size": self.phycell_kernel_size, "convlstm_hidden": list(self.convlstm_hidden),
                "convlstm_kernel_size": self.convlstm_kernel_size, "moment_weight": self.moment_weight,
                "phycell_init": self.phycell_init, "time_step": self.time_step}
