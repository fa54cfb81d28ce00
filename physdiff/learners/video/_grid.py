"""The grid-shape argument of the video learners, with the deprecated ``frame_size`` alias."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from ...core import PhysdiffError

DEFAULT_GRID = (64, 64)


def grid_argument(grid: Sequence[int] | None, frame_size: Any, where: str) -> Sequence[int]:
    """``grid``, or the deprecated ``frame_size`` (with a DeprecationWarning), or the 64x64 default.

    ``grid`` is physdiff's word for the spatial shape (solvers, :class:`~physdiff.learners.ConvRNN`,
    ``--grid``); ``frame_size`` is still accepted so that configurations and checkpoints written
    before the rename load. Giving both is refused.
    """
    if frame_size is None:
        return DEFAULT_GRID if grid is None else grid
    if grid is not None:
        raise PhysdiffError(f"{where}: got both grid={grid!r} and frame_size={frame_size!r}; frame_size is the "
                            "deprecated name of grid. Pass grid only.")
    warnings.warn(f"{where}: frame_size is deprecated, use grid (the same (H, W) shape).", DeprecationWarning,
                  stacklevel=3)
    return frame_size
