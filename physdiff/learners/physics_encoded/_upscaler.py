"""PeRCNN's initial-state upscaler: transposed convolutions from a coarse sensor grid to the full grid.

PeRCNN observes its initial condition only on a coarse grid (every ``f``-th sample per
axis) and learns a map back to the full grid. The map is pretrained to reproduce a
classical interpolant of the coarse data and then kept close to it by an extra loss
(the "IC loss") while the rest of the model trains.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ...core import PhysdiffError, check_field, check_ndim

_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
_CONV_T = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
#: Interpolation used as the upscaler's target, per spatial dimension (PeRCNN: bicubic 2D, trilinear 3D).
INTERPOLATION = {1: "linear", 2: "bicubic", 3: "trilinear"}


def check_factor(factor: object, where: str) -> int:
    """``factor`` must be a power of two >= 2 (each stride-2 stage doubles the resolution)."""
    if isinstance(factor, bool) or not isinstance(factor, int) or factor < 2 or factor & (factor - 1):
        raise PhysdiffError(
            f"{where}: upscale factor: expected a power of two >= 2 (2 or 4 as in PeRCNN; each stage doubles "
            f"the resolution), got {factor!r}."
        )
    return factor


def interpolation_target(low: torch.Tensor, factor: int) -> torch.Tensor:
    """The periodic interpolant of a coarse field on the ``factor``-times finer grid.

    Linear in 1D, bicubic in 2D, trilinear in 3D (PeRCNN's choices). The coarse samples are
    taken to sit on every ``factor``-th point of the fine grid (the fine field subsampled with
    ``[::factor]``), so the interpolant reproduces them exactly at those points.

    Periodic handling: the coarse field is padded periodically (2 cells per side for the
    cubic kernel, which reads two neighbours on each side, 1 for linear), interpolated with
    ``align_corners=True`` (so padded coarse point ``i`` lands exactly on fine point
    ``i * factor``) and cropped back to ``N * factor`` points. Interpolating the unpadded
    field would clamp at the edges and break the wrap-around; padding makes the result
    translation-equivariant: shifting ``low`` by one cell shifts the target by ``factor``.

    Args:
        low: coarse field ``(B, C, *space)`` with 1, 2 or 3 spatial axes.
        factor: refinement per axis, a power of two >= 2.

    Returns:
        ``(B, C, *(n * factor for n in space))``, same dtype and device as ``low``.
    """
    where = "interpolation_target"
    factor = check_factor(factor, where)
    if not isinstance(low, torch.Tensor) or low.dim() not in (3, 4, 5) or not low.is_floating_point():
        got = f"shape {tuple(low.shape)} dtype {low.dtype}" if isinstance(low, torch.Tensor) else type(low).__name__
        raise PhysdiffError(
            f"{where}: low: expected a floating-point field (B, C, *space) with 1-3 spatial axes, got {got}."
        )
    ndim = low.dim() - 2
    mode = INTERPOLATION[ndim]
    pad = 2 if mode == "bicubic" else 1
    if min(low.shape[2:]) < pad:
        raise PhysdiffError(f"{where}: low: expected at least {pad} points per axis, got shape {tuple(low.shape)}.")
    padded = F.pad(low, (pad, pad) * ndim, mode="circular")
    size = [(n - 1) * factor + 1 for n in padded.shape[2:]]
    fine = F.interpolate(padded, size=size, mode=mode, align_corners=True)
    crop = tuple(slice(pad * factor, pad * factor + n * factor) for n in low.shape[2:])
    return fine[(slice(None), slice(None), *crop)]


class _PeriodicConvTranspose(nn.Module):
    """A stride-2, kernel-5 transposed convolution on a periodic grid (output = 2 x input per axis).

    Equal to PyTorch's ``ConvTranspose(k=5, stride=2, padding=2, output_padding=1)`` (PeRCNN's
    stage) away from the edges; at the edges the contributions of the wrapped-around
    neighbours are added instead of dropped: pad one cell periodically, convolve without
    padding, crop. Output point ``o`` receives input ``i`` through tap ``j`` when
    ``o = 2 i + j - 2``; padding by ``m = 1`` cell provides ``i = -1`` and ``i = N`` and
    shifts the output by ``2 m + 2``.
    """

    def __init__(self, ndim: int, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.ndim = ndim
        self.conv = _CONV_T[ndim](in_channels, out_channels, kernel_size=5, stride=2, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(F.pad(x, (1, 1) * self.ndim, mode="circular"))
        start = 2 * 1 + 2
        crop = tuple(slice(start, start + 2 * n) for n in x.shape[2:])
        return y[(slice(None), slice(None), *crop)]


class Upscaler(nn.Module):
    """Learned map from a coarse field to the ``factor``-times finer grid (PeRCNN's IC upscaler).

        stage 1:      C -> hidden, periodic transposed conv (kernel 5, stride 2), then sigmoid
        stage s > 1:  hidden -> hidden, periodic transposed conv (kernel 5, stride 2)
        output:       hidden -> C, 1x1 conv

    ``log2(factor)`` stages; for ``factor = 4`` in 2D this is PeRCNN's 2D Gray-Scott upscaler,
    for ``factor = 2`` its Burgers one (with sigmoid instead of tanh). Unlike PeRCNN's
    zero-padded transposed convolutions, these wrap around (physdiff's domains are
    periodic), so the upscaler is translation-equivariant: shifting the input by one cell
    shifts the output by ``factor``.

    Args:
        channels: ``C``.
        ndim: spatial dimensions 1, 2 or 3.
        factor: refinement per axis, a power of two >= 2.
        hidden: channels of the intermediate stages.
    """

    def __init__(self, channels: int, ndim: int, factor: int, hidden: int = 8) -> None:
        super().__init__()
        where = "Upscaler"
        try:
            check_ndim(ndim)
        except PhysdiffError as exc:
            raise PhysdiffError(f"{where}: {exc}") from None
        for name, value in (("channels", channels), ("hidden", hidden)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise PhysdiffError(f"{where}: {name}: expected a positive int, got {value!r}.")
        self.factor = check_factor(factor, where)
        self.channels, self.ndim, self.hidden = channels, ndim, hidden
        stages: list[nn.Module] = []
        for s in range(int(math.log2(factor))):
            stages.append(_PeriodicConvTranspose(ndim, channels if s == 0 else hidden, hidden))
            if s == 0:
                stages.append(nn.Sigmoid())
        stages.append(_CONV[ndim](hidden, channels, kernel_size=1))
        self.net = nn.Sequential(*stages)

    def forward(self, low: torch.Tensor) -> torch.Tensor:
        """``(B, C, *space)`` -> ``(B, C, *(n * factor))``."""
        check_field(low, self.ndim, "Upscaler")
        if low.shape[1] != self.channels:
            raise PhysdiffError(
                f"Upscaler: expected {self.channels} channels, got shape {tuple(low.shape)}."
            )
        return self.net(low)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, ndim={self.ndim}, factor={self.factor}, hidden={self.hidden}"


def pretrain_upscaler(upscaler: Upscaler, low: torch.Tensor, *, steps: int = 500, lr: float = 0.02) -> list[float]:
    """Fit ``upscaler`` to :func:`interpolation_target` of ``low`` (PeRCNN's upscaler pretraining).

    Minimises ``MSE(upscaler(low), interpolation_target(low, factor))`` with Adam (PeRCNN:
    lr 0.02, a few thousand steps, plus a slow StepLR decay that is left out here).
    Only the upscaler's parameters change; ``low`` is treated as data.

    Args:
        upscaler: the :class:`Upscaler` to train (in place).
        low: coarse fields ``(B, C, *space)``, e.g. the subsampled initial conditions.
        steps: optimiser steps.
        lr: Adam learning rate.

    Returns:
        The loss before each step (``steps`` floats), so the caller can check convergence.
    """
    where = "pretrain_upscaler"
    if not isinstance(upscaler, Upscaler):
        raise PhysdiffError(f"{where}: expected an Upscaler, got {type(upscaler).__name__}.")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise PhysdiffError(f"{where}: steps: expected a positive int, got {steps!r}.")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (math.isfinite(lr) and lr > 0):
        raise PhysdiffError(f"{where}: lr: expected a finite positive learning rate, got {lr!r}.")
    low = low.detach()
    target = interpolation_target(low, upscaler.factor)
    optimiser = torch.optim.Adam(upscaler.parameters(), lr=lr)
    losses = []
    with torch.enable_grad():
        for _ in range(steps):
            optimiser.zero_grad(set_to_none=True)
            loss = F.mse_loss(upscaler(low), target)
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
    return losses
