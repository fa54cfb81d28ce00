"""A torch Dataset of fixed-length time windows, read lazily from a trajectory file."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..core import PhysdiffError
from ._reader import TrajectoryFile, TrajectoryInfo, read_info


class TrajectoryWindows(Dataset):
    """Windows of ``length`` frames from every selected trajectory, read from disk on demand.

    Window ``(n, s)`` is frames ``s, s + frame_step, ..., s + (length - 1) frame_step`` of
    trajectory ``n``, for starts ``s = 0, stride, 2 stride, ...`` that fit; items are
    ordered by trajectory, then start. Each item is a tensor ``(length, C, *space)``.

    With ``normalize=True`` each channel ``c`` is mapped to ``(x - mean_c) / std_c``
    using the statistics stored in the file (over the whole file, all trajectories),
    so a train/validation split of one file shares one normalisation. A channel with
    ``std_c = 0`` is only shifted.

    Worker safety: the HDF5 file is opened lazily, once per process, on the first
    item read in that process; the handle is never pickled (``spawn`` workers) and a
    handle inherited across ``fork`` is replaced, never used, in the child. So the
    dataset works with ``DataLoader(num_workers > 0)`` under any start method.

    Args:
        path: a complete trajectory file.
        length: frames per window (>= 1).
        stride: frames between consecutive window starts (>= 1).
        normalize: apply the file's per-channel normalisation.
        trajectories: indices of the trajectories to use (default: all), e.g. a train split.
        frame_step: frames between consecutive frames of a window (>= 1), e.g. a macro step.
        dtype: dtype of the returned tensors.

    Raises:
        PhysdiffError: an invalid file (see :class:`TrajectoryFile`), invalid counts, or a
            window longer than the trajectories.
    """

    def __init__(
        self, path: str | os.PathLike, length: int, stride: int = 1, *, normalize: bool = True,
        trajectories: Sequence[int] | None = None, frame_step: int = 1, dtype: torch.dtype = torch.float32,
    ) -> None:
        self.path = Path(path)
        where = f"TrajectoryWindows({str(self.path)!r})"
        for name, value in (("length", length), ("stride", stride), ("frame_step", frame_step)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise PhysdiffError(f"{where}: {name}: expected a positive int, got {value!r}.")
        self.info: TrajectoryInfo = read_info(self.path)  # validates, then closes: no handle exists at fork time
        n, frames = self.info.n_trajectories, self.info.n_frames
        selected = list(range(n)) if trajectories is None else [int(i) for i in trajectories]
        bad = [i for i in selected if not 0 <= i < n]
        if bad:
            raise PhysdiffError(f"{where}: trajectories: indices {bad} out of range for a file with {n} trajectories.")
        span = (length - 1) * frame_step + 1
        if span > frames:
            raise PhysdiffError(
                f"{where}: a window of length {length} with frame_step {frame_step} spans {span} frames, "
                f"but the trajectories have {frames}; use a shorter window."
            )
        self.length, self.stride, self.frame_step = length, stride, frame_step
        self.normalize, self.dtype = normalize, dtype
        self.windows = [(i, s) for i in selected for s in range(0, frames - span + 1, stride)]
        shape = (1, self.info.shape[2]) + (1,) * len(self.info.space_shape)
        self.mean = torch.from_numpy(self.info.mean).reshape(shape)
        # A constant channel has std 0: divide by 1 instead of producing Inf.
        std = np.where(self.info.std > 0, self.info.std, 1.0)
        self.std = torch.from_numpy(std).reshape(shape)
        self._file: TrajectoryFile | None = None
        self._pid: int | None = None
        self._inherited: list[TrajectoryFile] = []

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> torch.Tensor:
        if not -len(self) <= index < len(self):
            raise IndexError(f"TrajectoryWindows: index {index} out of range for {len(self)} windows.")
        trajectory, start = self.windows[index]
        stop = start + (self.length - 1) * self.frame_step + 1
        window = torch.from_numpy(self._handle().read(trajectory, slice(start, stop, self.frame_step)))
        if self.normalize:
            window = (window.double() - self.mean) / self.std
        return window.to(self.dtype)

    def denormalize(self, window: torch.Tensor) -> torch.Tensor:
        """Undo the normalisation: ``x * std_c + mean_c`` on windows ``(..., C, *space)``."""
        return window * self.std.to(window) + self.mean.to(window)

    def _handle(self) -> TrajectoryFile:
        # One handle per process: a forked child must never touch its parent's HDF5 handle.
        if self._file is None or self._pid != os.getpid():
            if self._file is not None:
                self._inherited.append(self._file)  # kept alive, never read or closed, in this child
            self._file = TrajectoryFile(self.path)
            self._pid = os.getpid()
        return self._file

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_file"], state["_pid"], state["_inherited"] = None, None, []  # h5py handles cannot be pickled to spawn workers
        return state

    def close(self) -> None:
        """Close this process's handle (it reopens on the next read)."""
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file, self._pid = None, None
