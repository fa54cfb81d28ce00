"""Torch Datasets of fixed-length time windows read lazily from a trajectory file: any window, or inside bursts."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..core import PhysdiffError
from ._burst import BurstSpec
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
        where = f"{type(self).__name__}({str(self.path)!r})"
        for name, value in (("length", length), ("stride", stride), ("frame_step", frame_step)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise PhysdiffError(f"{where}: {name}: expected a positive int, got {value!r}.")
        self.info: TrajectoryInfo = read_info(self.path)  # validates, then closes: no handle exists at fork time
        n = self.info.n_trajectories
        selected = list(range(n)) if trajectories is None else [int(i) for i in trajectories]
        bad = [i for i in selected if not 0 <= i < n]
        if bad:
            raise PhysdiffError(f"{where}: trajectories: indices {bad} out of range for a file with {n} trajectories.")
        self.length, self.stride, self.frame_step = length, stride, frame_step
        self.normalize, self.dtype = normalize, dtype
        starts = self._starts(where)
        self.windows = [(i, s) for i in selected for s in starts]
        shape = (1, self.info.shape[2]) + (1,) * len(self.info.space_shape)
        self.mean = torch.from_numpy(self.info.mean).reshape(shape)
        # A constant channel has std 0: divide by 1 instead of producing Inf.
        std = np.where(self.info.std > 0, self.info.std, 1.0)
        self.std = torch.from_numpy(std).reshape(shape)
        self._file: TrajectoryFile | None = None
        self._pid: int | None = None
        self._inherited: list[TrajectoryFile] = []

    def _starts(self, where: str) -> list[int]:
        """First frames of the windows of one trajectory (the one place subclasses differ)."""
        frames, span = self.info.n_frames, (self.length - 1) * self.frame_step + 1
        if span > frames:
            raise PhysdiffError(
                f"{where}: a window of length {self.length} with frame_step {self.frame_step} spans {span} frames, "
                f"but the trajectories have {frames}; use a shorter window."
            )
        return list(range(0, frames - span + 1, self.stride))

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> torch.Tensor:
        if not -len(self) <= index < len(self):
            raise IndexError(f"{type(self).__name__}: index {index} out of range for {len(self)} windows.")
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


class BurstWindows(TrajectoryWindows):
    """Windows of ``length`` consecutive frames (at the micro interval ``dt``) lying inside one burst.

    The file must carry a burst layout (:class:`BurstSpec`, attribute ``burst``). Burst ``j``
    of a trajectory is frames ``j E .. j E + L - 1`` (``L = burst_length``, ``E =
    burst_every``; only bursts that fit entirely count, as in :func:`burst_sample`). Its
    windows start at ``j E + o`` for ``o = 0 .. L - length``, so each item is
    ``burst_sample(...).micro[n, j, o : o + length]``: ``(length, C, *space)``. Items are
    ordered by trajectory, burst, then offset; frames outside bursts are never read.

    Everything else is :class:`TrajectoryWindows` (stride 1, frame_step 1): lazy reading,
    one HDF5 handle per process (safe under ``fork`` and ``spawn`` DataLoader workers),
    normalisation with the file's statistics and :meth:`denormalize`.

    Args:
        path: a complete trajectory file with a burst layout.
        length: frames per window, ``1 <= length <= burst_length``.
        trajectories: indices of the trajectories to use (default: all).
        normalize: apply the file's per-channel normalisation.
        dtype: dtype of the returned tensors.

    Raises:
        PhysdiffError: an invalid file, a file without burst metadata, or a window longer
            than a burst.
    """

    def __init__(
        self, path: str | os.PathLike, length: int, *, trajectories: Sequence[int] | None = None,
        normalize: bool = True, dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__(path, length, 1, normalize=normalize, trajectories=trajectories, frame_step=1, dtype=dtype)

    @property
    def burst(self) -> BurstSpec:
        """The file's burst layout."""
        return self.info.burst

    @property
    def dt(self) -> float:
        """The micro interval: the time between the file's first two frames (``time[1] - time[0]``)."""
        return float(self.info.time[1] - self.info.time[0])

    def _starts(self, where: str) -> list[int]:
        burst = self.info.burst
        if burst is None:
            raise PhysdiffError(
                f"{where}: expected a file with burst metadata (the 'burst' attribute: burst_length, burst_every, "
                "macro_every), but it has none. Generate it with bursts: `physdiff simulate ... --burst L,E,K`, "
                "generate(..., burst=BurstSpec(L, E, K)) or TrajectoryWriter(..., burst=...); or use "
                "TrajectoryWindows for windows that ignore bursts."
            )
        if self.length > burst.burst_length:
            raise PhysdiffError(
                f"{where}: a window of {self.length} frames does not fit in a burst of burst_length="
                f"{burst.burst_length} frames ({burst.burst_length - 1} micro steps); use length <= "
                f"{burst.burst_length}, or regenerate the data with longer bursts "
                f"(--burst L,E,K with L >= {self.length})."
            )
        offsets = range(burst.burst_length - self.length + 1)
        return [start + o for start in burst.starts(self.info.n_frames) for o in offsets]
