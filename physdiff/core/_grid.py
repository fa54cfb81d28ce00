"""A periodic box grid: shape, physical size, spacing and coordinates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ._errors import PhysdiffError
from ._validation import check_ndim, positive_per_axis


@dataclass(frozen=True)
class Grid:
    """``N_0 x ... x N_{d-1}`` points on the periodic box ``[0, L_0) x ... x [0, L_{d-1})``.

    Sample ``j`` of axis ``a`` sits at ``x_j = j * L_a / N_a``; the spacing is ``h_a = L_a / N_a``.
    Lengths are in the PDE's own length unit.
    """

    shape: tuple[int, ...]
    length: tuple[float, ...]

    @classmethod
    def box(cls, shape: int | Sequence[int], length: float | Sequence[float], ndim: int | None = None) -> "Grid":
        """Build from one size (or one per axis) and one length (or one per axis)."""
        if isinstance(shape, int):
            if ndim is None:
                raise PhysdiffError("Grid.box: pass ndim when shape is a single int, e.g. Grid.box(64, 1.0, ndim=2).")
            shape = (shape,) * ndim
        shape = tuple(shape)
        check_ndim(len(shape))
        for n in shape:
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise PhysdiffError(f"Grid: expected positive integer sizes per axis, got shape {shape!r}.")
        lengths = positive_per_axis(length, len(shape), "length", "The box of axis a is [0, length[a]).")
        return cls(shape=shape, length=lengths)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def spacing(self) -> tuple[float, ...]:
        return tuple(L / n for L, n in zip(self.length, self.shape))

    def coordinates(self, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None) -> tuple[torch.Tensor, ...]:
        """1D sample positions per axis."""
        return tuple(torch.arange(n, dtype=dtype, device=device) * h for n, h in zip(self.shape, self.spacing))

    def mesh(self, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None) -> tuple[torch.Tensor, ...]:
        """Broadcast coordinate arrays (``indexing="ij"``), each shaped like one field."""
        return torch.meshgrid(*self.coordinates(dtype, device), indexing="ij")

    def to_dict(self) -> dict[str, list]:
        return {"shape": list(self.shape), "length": list(self.length)}
