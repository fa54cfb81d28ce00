"""Space-to-depth patching: fold ``p x p`` pixel blocks into channels and back (PredRNN's ``reshape_patch``).

A frame ``(B, C, H, W)`` becomes ``(B, C p^2, H/p, W/p)``: channel ``c p^2 + i p + j`` of the
patched frame at ``(y, x)`` is pixel ``(p y + i, p x + j)`` of channel ``c``. Recurrent video
models (MoDeRNN, PredRNN, OpenSTL's ConvLSTM) run on the patched grid, which divides the cost
of every convolution by ``p^2`` and widens its receptive field by ``p``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from einops import rearrange

from ...core import PhysdiffError

__all__ = ["check_patchable", "depth_to_space", "space_to_depth"]


def check_patchable(space: Sequence[int], patch_size: int, where: str) -> tuple[int, ...]:
    """The patched grid ``(H/p, W/p, ...)`` of a grid ``space``; raises if ``p`` does not divide every axis."""
    if isinstance(patch_size, bool) or not isinstance(patch_size, int) or patch_size < 1:
        raise PhysdiffError(f"{where}: patch_size: expected a positive int, got {patch_size!r}.")
    space = tuple(int(n) for n in space)
    bad = [n for n in space if n % patch_size]
    if bad or any(n < 1 for n in space):
        raise PhysdiffError(
            f"{where}: the frame size {space} is not divisible by the patch size {patch_size} on every axis. "
            f"Crop or pad the frames to a multiple of {patch_size} (e.g. "
            f"{tuple(max(patch_size, n - n % patch_size) for n in space)}), or choose a patch size that divides "
            "the frame size."
        )
    return tuple(n // patch_size for n in space)


def space_to_depth(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    """``(B, C, H, W) -> (B, C p^2, H/p, W/p)`` (see the module docstring for the channel order)."""
    if x.dim() != 4:
        raise PhysdiffError(f"space_to_depth: expected a frame (B, C, H, W), got shape {tuple(x.shape)}.")
    check_patchable(x.shape[2:], patch_size, "space_to_depth")
    if patch_size == 1:
        return x
    return rearrange(x, "b c (h p1) (w p2) -> b (c p1 p2) h w", p1=patch_size, p2=patch_size)


def depth_to_space(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    """``(B, C p^2, h, w) -> (B, C, h p, w p)``: the inverse of :func:`space_to_depth`."""
    if isinstance(patch_size, bool) or not isinstance(patch_size, int) or patch_size < 1:
        raise PhysdiffError(f"depth_to_space: patch_size: expected a positive int, got {patch_size!r}.")
    if x.dim() != 4 or x.shape[1] % (patch_size * patch_size):
        raise PhysdiffError(
            f"depth_to_space: expected a patched frame (B, C * {patch_size}^2, h, w), got shape {tuple(x.shape)}."
        )
    if patch_size == 1:
        return x
    return rearrange(x, "b (c p1 p2) h w -> b c (h p1) (w p2)", p1=patch_size, p2=patch_size)
