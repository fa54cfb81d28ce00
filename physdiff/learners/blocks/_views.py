"""Global and local views of a frame sequence: square crops at given corners, and where they come from.

A local view is the ``size x size`` window of every frame of a sequence whose top-left corner is
``(row, col)``; a sequence gets the same corners for all its frames (the crop follows no motion).
Corners come from :func:`random_corners` at training (uniform over all windows inside the frame,
independently per sequence) and from :func:`tiling_corners` at evaluation (a deterministic tiling
that covers the frame: ``ceil(H / size)`` rows of windows, the last aligned with the bottom edge,
likewise for columns; on a frame of ``2 size x 2 size`` it is the 2 x 2 tiling).
:func:`crop` cuts the windows out and :func:`paste` adds them back into a frame (overlaps sum,
so dividing by :func:`paste` of ones averages them).
"""

from __future__ import annotations

import math

import torch

from ...core import PhysdiffError

__all__ = ["check_crop_size", "crop", "paste", "random_corners", "tiling_corners"]


def check_crop_size(size: int, height: int, width: int, where: str = "views") -> None:
    """Raise unless a ``size x size`` window fits in an ``height x width`` frame."""
    if size > height or size > width:
        raise PhysdiffError(
            f"{where}: crop size {size} x {size} is larger than the frame {height} x {width}; expected a local view "
            f"no larger than the frame. Use a crop_size <= {min(height, width)} (the paper's local views are 32 x 32 "
            "crops covering less than half of the frame)."
        )


def random_corners(batch: int, count: int, size: int, height: int, width: int, *,
                   generator: torch.Generator | None = None, device: torch.device | None = None) -> torch.Tensor:
    """Uniformly random top-left corners ``(B, count, 2)`` (row, col), each window inside the frame."""
    check_crop_size(size, height, width)
    rows = torch.randint(height - size + 1, (batch, count), generator=generator)
    cols = torch.randint(width - size + 1, (batch, count), generator=generator)
    return torch.stack([rows, cols], dim=-1).to(device)


def _starts(n: int, size: int) -> list[int]:
    k = math.ceil(n / size)
    return [min(i * size, n - size) for i in range(k)]


def tiling_corners(batch: int, size: int, height: int, width: int, *,
                   device: torch.device | None = None) -> torch.Tensor:
    """Deterministic top-left corners ``(B, n, 2)`` of windows that tile (cover) the frame, row-major."""
    check_crop_size(size, height, width)
    corners = torch.tensor([(r, c) for r in _starts(height, size) for c in _starts(width, size)], device=device)
    return corners[None].expand(batch, -1, -1)


def _indices(corners: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    offsets = torch.arange(size, device=corners.device)
    rows = corners[..., 0, None] + offsets  # (B, n, size)
    cols = corners[..., 1, None] + offsets
    batch = torch.arange(corners.shape[0], device=corners.device)[:, None, None, None]
    return batch, rows[:, :, :, None], cols[:, :, None, :]


def crop(frames: torch.Tensor, corners: torch.Tensor, size: int) -> torch.Tensor:
    """Windows of ``frames`` ``(B, C, H, W)`` at ``corners`` ``(B, n, 2)``: ``(B, n, C, size, size)``."""
    check_crop_size(size, frames.shape[-2], frames.shape[-1])
    batch, rows, cols = _indices(corners, size)
    # Advanced indices on axes 0, 2, 3 separated by a slice: the indexed axes come first.
    return frames[batch, :, rows, cols].permute(0, 1, 4, 2, 3)


def paste(windows: torch.Tensor, corners: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Sum ``windows`` ``(B, n, C, s, s)`` into zero frames ``(B, C, H, W)`` at ``corners`` (the adjoint of :func:`crop`)."""
    b, _, c, size, _ = windows.shape
    batch, rows, cols = torch.broadcast_tensors(*_indices(corners, size))  # each (B, n, s, s)
    channel = torch.arange(c, device=windows.device)
    index = (batch[..., None], channel, rows[..., None], cols[..., None])  # broadcast to (B, n, s, s, C)
    out = windows.new_zeros(b, c, height, width)
    return out.index_put(index, windows.permute(0, 1, 3, 4, 2), accumulate=True)
