"""Residual ConvLSTM autoencoder: encode to a coarse latent grid, recur there, decode the increment.

This is the macro (coarse-time) module of PIMRL-style multi-scale learners: the recurrence
runs on a grid ``downsample`` times coarser per axis, so a step costs about
``downsample ** ndim`` times less than a full-resolution ConvLSTM of the same width.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ...core import PhysdiffError
from .._base import SequenceLearner
from ..blocks._upsample import LinearUpsample  # the submodule: blocks/__init__ imports recurrent (cycle)
from ._convlstm import (
    CellState,
    ConvLSTMCell,
    check_channel_tuple,
    check_kernel_size,
    check_padding_mode,
    check_positive_int,
)

__all__ = ["ConvLSTMAutoencoder"]

#: Values of the ``decoder`` argument (:attr:`ConvLSTMAutoencoder.decoder_kind`).
DECODERS = ("smooth", "linear", "transposed")


class ConvLSTMAutoencoder(SequenceLearner):
    r"""Encoder -> ConvLSTM stack on the latent grid -> decoder, predicting the increment.

    With ``s = downsample``::

        z_n     = E(u_n)                  (B, latent, n_0/s, ..., n_{d-1}/s)
        h, state = ConvLSTM stack(z_n, state)           (as in :class:`ConvLSTM`)
        u_{n+1} = u_n + D(h)              (B, C, n_0, ..., n_{d-1})

    * ``E``: a ``kernel_size`` convolution ``C -> latent`` at full resolution, GELU, then a
      strided convolution (kernel and stride ``s``, i.e. non-overlapping ``s^d`` patches)
      ``latent -> latent`` that divides every axis by ``s`` (omitted when ``s = 1``);
    * ``D`` (``decoder="smooth"``, the default): a ``kernel_size`` convolution ``hidden[-1] -> latent``
      on the latent grid, a binomial ``[1, 2, 1] / 4`` filter per axis there (it removes the latent
      grid's Nyquist mode), (multi)linear interpolation back to full resolution (periodic when
      ``padding_mode='circular'``; :class:`~physdiff.learners.blocks.LinearUpsample` with
      ``smooth=True``), GELU, then a ``kernel_size`` convolution ``latent -> C``;
    * ``D`` (``decoder="linear"``): the same without the binomial filter. Measured on 3D
      Gray-Scott: free of patch tiling, but the encoder -> latent ConvLSTM -> decoder loop still
      grew a latent-grid checkerboard (period ``2 s``) until PIMRL's rollout diverged;
    * ``D`` (``decoder="transposed"``, the original): a transposed convolution (kernel and stride
      ``s``) ``hidden[-1] -> latent``, GELU, then a ``kernel_size`` convolution ``latent -> C``.
      Every ``s^d`` output patch is painted from one latent vector by a learned stencil, so a
      constant latent decodes to a period-``s`` tiling; added up by the residual over a long
      rollout, that tiling became the block/stripe artefacts of PIMRL's 3D Gray-Scott rollouts
      (docs/design_decisions.md). Kept for comparison and for old checkpoints.

    The residual form makes the untrained model close to persistence ``u_{n+1} = u_n`` and
    keeps the full-resolution detail of ``u_n`` that the coarse latent grid cannot carry; the
    decoder only adds the (smooth) change. The state is the latent stack's ``(h, c)`` per layer.

    Args:
        channels: channels ``C`` of the frames.
        ndim: spatial dimensions (1, 2 or 3).
        latent_channels: channels of the encoded field.
        hidden_channels: hidden channels of each latent ConvLSTM layer.
        downsample: reduction factor per spatial axis (1: no reduction). Every grid size must be
            divisible by it.
        kernel_size: odd width of the full-resolution convolutions and of the cells.
        padding_mode: 'circular' (periodic data), 'zeros', 'reflect' or 'replicate'.
        time_step: physical interval between frames, if fixed (else None).
        decoder: ``"smooth"`` (filtered interpolation then convolutions: no block artefacts, no
            latent checkerboard), ``"linear"`` (unfiltered) or ``"transposed"`` (kernel = stride
            transposed convolution), see above.
    """

    def __init__(self, channels: int, ndim: int = 2, latent_channels: int = 32,
                 hidden_channels: Sequence[int] = (32,), downsample: int = 2, kernel_size: int = 3,
                 padding_mode: str = "circular", time_step: float | None = None, decoder: str = "smooth") -> None:
        super().__init__(channels, ndim, time_step=time_step)
        where = type(self).__name__
        self.latent_channels = check_positive_int(latent_channels, "latent_channels", where)
        self.hidden_channels = check_channel_tuple(hidden_channels, "hidden_channels", where)
        self.downsample = check_positive_int(downsample, "downsample", where)
        self.kernel_size = check_kernel_size(kernel_size, where)
        self.padding_mode = check_padding_mode(padding_mode, where)
        if decoder not in DECODERS:
            raise PhysdiffError(f"{where}: decoder: expected one of {DECODERS}, got {decoder!r}.")
        self.decoder_kind = decoder
        conv = getattr(nn, f"Conv{ndim}d")
        same = {"padding": kernel_size // 2, "padding_mode": padding_mode}
        s = self.downsample
        encoder: list[nn.Module] = [conv(channels, latent_channels, kernel_size, **same), nn.GELU()]
        if s > 1:
            encoder.append(conv(latent_channels, latent_channels, s, stride=s))
        self.encoder = nn.Sequential(*encoder)
        inputs = (latent_channels, *self.hidden_channels[:-1])
        self.cells = nn.ModuleList(
            ConvLSTMCell(i, h, kernel_size, ndim, padding_mode) for i, h in zip(inputs, self.hidden_channels)
        )
        if decoder in ("smooth", "linear"):
            # Interpolation has no weights to paint patterns with: a constant latent decodes to a
            # constant, a smooth one to a smooth field (tests/learners/test_decoder_artefacts.py).
            upsample: list[nn.Module] = [conv(self.hidden_channels[-1], latent_channels, kernel_size, **same),
                                         LinearUpsample(s, ndim, periodic=padding_mode == "circular",
                                                        smooth=decoder == "smooth")]
        else:
            upsample = [getattr(nn, f"ConvTranspose{ndim}d")(self.hidden_channels[-1], latent_channels, s, stride=s)]
        self.decoder = nn.Sequential(*upsample, nn.GELU(), conv(latent_channels, channels, kernel_size, **same))

    def _latent_shape(self, u: torch.Tensor) -> tuple[int, ...]:
        s = self.downsample
        sizes = tuple(u.shape[2:])
        if any(n % s for n in sizes):
            raise PhysdiffError(
                f"{type(self).__name__}: grid {sizes} is not divisible by downsample={s} on every axis: the "
                f"encoder divides each axis by {s} and the decoder multiplies it back. Crop or pad the data to "
                f"multiples of {s}, or build the model with a downsample that divides every grid size."
            )
        return tuple(n // s for n in sizes)

    def initial_state(self, u: torch.Tensor) -> tuple[CellState, ...]:
        """Zeros ``(h, c)`` on the latent grid for every layer."""
        latent = self._latent_shape(u)
        shapes = [(u.shape[0], h, *latent) for h in self.hidden_channels]
        return tuple((u.new_zeros(s), u.new_zeros(s)) for s in shapes)

    def step(self, u: torch.Tensor, state: tuple[CellState, ...] | None) -> tuple[torch.Tensor, tuple]:
        self._latent_shape(u)
        x, new_state = self.encoder(u), []
        for layer, cell in enumerate(self.cells):
            x, c = cell(x, None if state is None else state[layer])
            new_state.append((x, c))
        return u + self.decoder(x), tuple(new_state)

    def config(self) -> dict[str, Any]:
        return {"channels": self.channels, "ndim": self.ndim, "latent_channels": self.latent_channels,
                "hidden_channels": list(self.hidden_channels), "downsample": self.downsample,
                "kernel_size": self.kernel_size, "padding_mode": self.padding_mode, "time_step": self.time_step,
                "decoder": self.decoder_kind}
