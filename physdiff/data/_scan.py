"""One pass over the stored values of a trajectory file: where they are not finite, and a checksum.

The writer refuses NaN and Inf, but a file can be edited by hand or written by other
tools; training, evaluation, ``info`` and ``plot`` use this scan to say so, naming the
trajectory, frame and channel. The checksum lets a resumed training run check that the
data file still holds the values it was trained on (the setup hash only says how a file
was made, not what it holds now).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np

from ._reader import TrajectoryFile, TrajectoryInfo

FRAMES_PER_READ = 16  # frames of one trajectory in memory at a time


@dataclass(frozen=True)
class NonFinite:
    """Non-finite values of a file: how many, in which trajectories, and the first one's position."""

    count: int
    trajectories: tuple[int, ...]
    trajectory: int
    frame: int
    channel: int

    def describe(self, info: TrajectoryInfo) -> str:
        """E.g. ``1 non-finite value (NaN or Inf) in trajectory [0]; the first at trajectory 0, frame 3 (t = 1.5), channel v``."""
        many = len(self.trajectories)
        listed = list(self.trajectories[:10]) + (["..."] if many > 10 else [])
        return (f"{self.count} non-finite value{'s' if self.count != 1 else ''} (NaN or Inf) in "
                f"trajector{'ies' if many != 1 else 'y'} {listed}; the first at trajectory {self.trajectory}, frame "
                f"{self.frame} (t = {float(info.time[self.frame]):.6g}), channel {info.channel_names[self.channel]}")


@dataclass(frozen=True)
class ContentScan:
    """What :func:`scan_values` found.

    Attributes:
        sha256: SHA-256 (hex) of the stored values: trajectory by trajectory, frames in order,
            C order, in the storage dtype, little-endian. Independent of compression and chunking.
        nonfinite: the non-finite values, or None when every value is finite.
    """

    sha256: str
    nonfinite: NonFinite | None


def first_nonfinite(values: np.ndarray) -> tuple[int, tuple[int, ...]] | None:
    """``(count, index of the first)`` of the non-finite entries of ``values``, or None if all are finite."""
    bad = ~np.isfinite(values)
    if not bad.any():
        return None
    return int(bad.sum()), tuple(int(i) for i in np.argwhere(bad)[0])


def scan_values(path: str | os.PathLike) -> ContentScan:
    """Read every stored value of the trajectory file ``path`` once (one block of frames in memory).

    Raises:
        PhysdiffError: an invalid or corrupt file (see :class:`TrajectoryFile`).
    """
    digest = hashlib.sha256()
    count, trajectories, first = 0, [], None
    with TrajectoryFile(path) as file:
        n, frames = file.info.n_trajectories, file.info.n_frames
        for trajectory in range(n):
            for start in range(0, frames, FRAMES_PER_READ):
                block = file.read(trajectory, slice(start, min(start + FRAMES_PER_READ, frames)))
                digest.update(np.ascontiguousarray(block, dtype=block.dtype.newbyteorder("<")).tobytes())
                found = first_nonfinite(block)
                if found is None:
                    continue
                count += found[0]
                if not trajectories or trajectories[-1] != trajectory:
                    trajectories.append(trajectory)
                if first is None:
                    first = (trajectory, start + found[1][0], found[1][1])
    nonfinite = None if first is None else NonFinite(count, tuple(trajectories), *first)
    return ContentScan(sha256=digest.hexdigest(), nonfinite=nonfinite)
