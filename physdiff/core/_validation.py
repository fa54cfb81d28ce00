"""Argument checks shared by every layer; each raises :class:`PhysdiffError`."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ._errors import PhysdiffError


def as_spacing(spacing: float | Sequence[float], ndim: int) -> tuple[float, ...]:
    """Normalise ``spacing`` (one float, or one per axis) to a tuple of ``ndim`` floats.

    Raises:
        PhysdiffError: wrong length, or a spacing that is not finite and positive.
    """
    if isinstance(spacing, (int, float)):
        values = (float(spacing),) * ndim
    else:
        values = tuple(float(s) for s in spacing)
        if len(values) != ndim:
            raise PhysdiffError(
                f"spacing: expected one float or {ndim} floats (one per spatial axis), "
                f"got {len(values)} values {values}. Pass a single float for a uniform grid."
            )
    for axis, h in enumerate(values):
        if not math.isfinite(h) or h <= 0.0:
            raise PhysdiffError(
                f"spacing: expected a finite positive grid spacing on every axis, got {h!r} "
                f"on axis {axis}. Grid spacing is the distance between neighbouring samples, "
                "e.g. L / N on a periodic box of length L with N points."
            )
    return values


def check_field(u: torch.Tensor, ndim: int, name: str = "input") -> None:
    """Check that ``u`` is a field ``(batch, channels, *space)`` with ``ndim`` spatial axes."""
    if not isinstance(u, torch.Tensor):
        raise PhysdiffError(
            f"{name}: expected a torch.Tensor shaped (batch, channels, *space), got {type(u).__name__}."
        )
    if u.dim() != ndim + 2:
        raise PhysdiffError(
            f"{name}: expected a tensor shaped (batch, channels, {', '.join(f'n{i}' for i in range(ndim))}) "
            f"with {ndim} spatial axes ({ndim + 2} dims in all), got shape {tuple(u.shape)} "
            f"({u.dim()} dims). Add missing batch/channel axes with u[None, None] or "
            "build the operator for the right number of dimensions."
        )


def check_ndim(ndim: int) -> int:
    """Spatial dimensions physdiff supports: 1, 2 or 3."""
    if not isinstance(ndim, int) or ndim not in (1, 2, 3):
        raise PhysdiffError(f"ndim: expected 1, 2 or 3 spatial dimensions, got {ndim!r}.")
    return ndim
