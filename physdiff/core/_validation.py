"""Argument checks shared by every layer; each raises :class:`PhysdiffError`."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ._errors import PhysdiffError


def positive_per_axis(
    value: float | Sequence[float], ndim: int, what: str, meaning: str
) -> tuple[float, ...]:
    """Normalise one float, or one per axis, to ``ndim`` finite positive floats.

    Args:
        value: the user's argument.
        ndim: number of spatial axes.
        what: the argument's name, for the message.
        meaning: one sentence saying what the quantity is, appended to range errors.

    Raises:
        PhysdiffError: not numbers, the wrong count, or a value that is not finite and positive.
    """
    if isinstance(value, bool):
        raise PhysdiffError(f"{what}: expected a positive float (or one per axis), got the bool {value!r}.")
    if isinstance(value, (int, float)):
        values = (float(value),) * ndim
    else:
        try:
            values = tuple(float(v) for v in value)
        except (TypeError, ValueError) as exc:
            raise PhysdiffError(
                f"{what}: expected one positive float or {ndim} floats (one per spatial axis), got {value!r}."
            ) from exc
        if len(values) != ndim:
            raise PhysdiffError(
                f"{what}: expected one float or {ndim} floats (one per spatial axis), "
                f"got {len(values)} values {values}. Pass a single float to use it on every axis."
            )
    for axis, v in enumerate(values):
        if not math.isfinite(v) or v <= 0.0:
            raise PhysdiffError(
                f"{what}: expected a finite positive value on every axis, got {v!r} on axis {axis}. {meaning}"
            )
    return values


def as_spacing(spacing: float | Sequence[float], ndim: int) -> tuple[float, ...]:
    """Grid spacing: one float, or one per axis, each finite and positive."""
    return positive_per_axis(
        spacing, ndim, "spacing",
        "Grid spacing is the distance between neighbouring samples, e.g. L / N on a periodic box of length L.",
    )


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
