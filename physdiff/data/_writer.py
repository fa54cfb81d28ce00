"""Stream trajectories to an HDF5 file that appears, complete, in one atomic rename."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import torch

from ..core import PhysdiffError, fsync_directory, new_temporary, remove_stale_temporaries
from . import _format as fmt
from ._burst import BurstSpec
from ._format import Provenance


class TrajectoryWriter:
    """Write ``N`` trajectories of ``T`` frames, streamed frame block by frame block.

    Use it as a context manager. Everything is written to a temporary file in the
    destination's directory (``.NAME.HOST-PID.XXXX.tmp``, see :mod:`physdiff.core`); on a clean exit the statistics and
    ``complete = True`` are written last, the file is flushed and fsynced, and
    ``os.replace`` renames it onto ``path`` in one atomic step. On an exception, or
    if fewer frames than announced were written, the temporary file is removed and
    ``path`` is left untouched. A process killed mid-write (no cleanup possible)
    leaves only a ``.tmp`` file whose ``complete`` attribute is false, which
    :class:`TrajectoryFile` refuses, and that the next writer of the same ``path`` removes.
    After a clean exit :attr:`written` describes the file this writer wrote (read from it
    before the rename, so it is this writer's file even when another process replaces
    ``path`` at the same time).

    :meth:`append` takes ``states`` shaped ``(B, k, C, *space)`` (``k`` frames of ``B``
    trajectories), so the writer can be passed as ``sink=`` to
    :func:`physdiff.solvers.simulate`: memory use is one block, not the whole data set.
    Blocks fill the file in order: frames ``0..T-1`` of trajectories ``[n, n + B)``,
    then the next ``B'`` trajectories, and so on.

    Per-channel mean and (population) standard deviation over all trajectories,
    frames and grid points are accumulated in float64 while streaming (Chan's
    pairwise update) and stored as ``channel_mean`` / ``channel_std``.

    Args:
        path: destination ``.h5`` file (missing directories are created when writing starts; an existing
            file is replaced).
        n_trajectories, n_frames: ``N`` and ``T``.
        channel_names: one name per channel.
        space_shape: grid points per spatial axis.
        dtype: storage dtype, ``torch.float32`` or ``torch.float64``; appended states are cast to it.
        time: ``T`` sample times (default: frame indices).
        coordinates: per spatial axis, the sample positions (default: point indices).
        provenance: how the data was made (see :class:`Provenance`), or None.
        compression: ``"gzip"`` (portable, default), ``"lzf"`` (faster, h5py only) or None.
        burst: the burst layout of the frames (see :class:`BurstSpec`), stored as the
            attribute ``burst``; None (default) stores none. At least one burst must fit.
    """

    def __init__(
        self, path: str | os.PathLike, *, n_trajectories: int, n_frames: int, channel_names: Sequence[str],
        space_shape: Sequence[int], dtype: torch.dtype = torch.float32, time: Sequence[float] | None = None,
        coordinates: Sequence[Sequence[float]] | None = None, provenance: Provenance | None = None,
        compression: str | None = "gzip", burst: BurstSpec | None = None,
    ) -> None:
        self.path = Path(path)
        where = f"TrajectoryWriter({str(self.path)!r})"
        for name, value in (("n_trajectories", n_trajectories), ("n_frames", n_frames)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise PhysdiffError(f"{where}: {name}: expected a positive int, got {value!r}.")
        self.space_shape = tuple(int(n) for n in space_shape)
        if not self.space_shape or any(n < 1 for n in self.space_shape):
            raise PhysdiffError(f"{where}: space_shape: expected positive sizes for 1 to 3 axes, got {space_shape!r}.")
        self.channel_names = tuple(str(c) for c in channel_names)
        if not self.channel_names:
            raise PhysdiffError(f"{where}: channel_names: expected at least one name, got {channel_names!r}.")
        if compression not in fmt.COMPRESSIONS:
            raise PhysdiffError(f"{where}: compression: expected one of {fmt.COMPRESSIONS}, got {compression!r}.")
        if self.path.parent.exists() and not self.path.parent.is_dir():
            raise PhysdiffError(f"{where}: {str(self.path.parent)!r} is not a directory; choose a path in a directory.")
        self.dtype_name = fmt.dtype_name(dtype)
        self.shape = (n_trajectories, n_frames, len(self.channel_names), *self.space_shape)
        self.time = self._axis(time, n_frames, "time", where)
        coordinates = coordinates if coordinates is not None else [None] * len(self.space_shape)
        if len(coordinates) != len(self.space_shape):
            raise PhysdiffError(f"{where}: coordinates: expected {len(self.space_shape)} axes, got {len(coordinates)}.")
        self.coordinates = [
            self._axis(c, n, f"coordinates[{a}]", where) for a, (c, n) in enumerate(zip(coordinates, self.space_shape))
        ]
        if burst is not None:
            if not isinstance(burst, BurstSpec):
                raise PhysdiffError(
                    f"{where}: burst: expected a BurstSpec(burst_length, burst_every, macro_every) or None, "
                    f"got {type(burst).__name__}."
                )
            burst.check_frames(n_frames, where)
        self.provenance = provenance
        self.compression = compression
        self.burst = burst
        self._where = where
        self._file: Any = None
        self._tmp: Path | None = None
        self._entered = False
        self.written: Any = None  # the TrajectoryInfo of the written file, after a clean exit
        self._next_trajectory = 0  # first trajectory of the block being filled
        self._block = 0  # trajectories in the block being filled (0: none started)
        self._next_frame = 0
        channels = len(self.channel_names)
        self._count = 0
        self._mean = np.zeros(channels)
        self._m2 = np.zeros(channels)

    @staticmethod
    def _axis(values: Sequence[float] | None, size: int, name: str, where: str) -> np.ndarray:
        if values is None:
            return np.arange(size, dtype=np.float64)
        array = np.asarray(values, dtype=np.float64)
        if array.shape != (size,):
            raise PhysdiffError(f"{where}: {name}: expected {size} values, got shape {array.shape}.")
        return array

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> "TrajectoryWriter":
        import h5py

        if self._entered:
            raise PhysdiffError(f"{self._where}: a writer writes one file once; create a new TrajectoryWriter.")
        self._entered = True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = new_temporary(self.path)
        os.close(fd)
        try:
            self._file = h5py.File(self._tmp, "w")
            self._create(self._file)
        except BaseException:
            self._abort()
            raise
        return self

    def _create(self, file: Any) -> None:
        import h5py

        # track_times=False: no timestamps in the file, so regenerated files can be byte-identical.
        file.create_dataset(
            fmt.TRAJECTORIES, shape=self.shape, dtype=self.dtype_name, chunks=(1, 1, *self.shape[2:]),
            compression=self.compression, shuffle=self.compression is not None, track_times=False,
        )
        file.create_dataset(fmt.TIME, data=self.time, track_times=False)
        for axis, values in enumerate(self.coordinates):
            file.create_dataset(fmt.coordinate_name(axis), data=values, track_times=False)
        attrs = {
            "schema": fmt.SCHEMA, "schema_version": fmt.SCHEMA_VERSION, "complete": False,
            "channel_names": list(self.channel_names),
        }
        if self.provenance is not None:
            attrs.update(self.provenance.to_attrs())
        if self.burst is not None:
            attrs[fmt.BURST] = self.burst.to_json()
        for key, value in attrs.items():
            if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
                value = np.array(value, dtype=h5py.string_dtype())  # NumPy's fixed-width '<U' has no HDF5 type
            file.attrs[key] = value

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self._abort()
            return
        try:
            self._finish()
        except BaseException:
            self._abort()
            raise

    def _finish(self) -> None:
        written = self._next_trajectory * self.shape[1]
        if self._next_trajectory != self.shape[0]:
            written += self._next_frame * self._block
            raise PhysdiffError(
                f"{self._where}: expected {self.shape[0]} trajectories x {self.shape[1]} frames, but only "
                f"{written} of {self.shape[0] * self.shape[1]} trajectory-frames were appended; the file was not written."
            )
        self._file.attrs["channel_mean"] = self._mean
        self._file.attrs["channel_std"] = np.sqrt(self._m2 / self._count)
        # Written last: a file with complete=True has every frame and its statistics.
        self._file.attrs["complete"] = True
        self._file.close()
        self._file = None
        fd = os.open(self._tmp, os.O_RDONLY)
        try:
            os.fsync(fd)  # the data is on disk before the name points at it
        finally:
            os.close(fd)
        from ._reader import read_info

        # Read back before the rename: afterwards `path` may already be another writer's file.
        self.written = dataclasses.replace(read_info(self._tmp), path=self.path)
        os.replace(self._tmp, self.path)
        self._tmp = None
        fsync_directory(self.path.parent)
        remove_stale_temporaries(self.path)

    def _abort(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            finally:
                self._file = None
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None

    # -------------------------------------------------------------------- data
    def append(self, states: torch.Tensor | np.ndarray) -> None:
        """Write ``states`` ``(B, k, C, *space)``: the next ``k`` frames of the current block of ``B`` trajectories.

        Raises:
            PhysdiffError: the writer is not open, a shape that does not fit the file or the
                current block, too many frames, or non-finite values.
        """
        if self._file is None:
            raise PhysdiffError(f"{self._where}: append outside the 'with' block; use `with TrajectoryWriter(...) as w:`.")
        if isinstance(states, torch.Tensor):
            array = states.detach().to("cpu", fmt.DTYPES[self.dtype_name]).numpy()
        else:
            array = np.asarray(states, dtype=self.dtype_name)
        expected = ("B", "k", *self.shape[2:])
        if array.ndim != len(self.shape) or array.shape[2:] != self.shape[2:]:
            raise PhysdiffError(
                f"{self._where}: append: expected states shaped (B, k, C, *space) = {expected}, got {array.shape}."
            )
        batch, frames = array.shape[:2]
        if self._block == 0:
            if self._next_trajectory + batch > self.shape[0]:
                raise PhysdiffError(
                    f"{self._where}: append: {batch} more trajectories would exceed the announced "
                    f"{self.shape[0]} ({self._next_trajectory} already written)."
                )
            self._block = batch
        elif batch != self._block:
            raise PhysdiffError(
                f"{self._where}: append: this block has {self._block} trajectories, got states with B = {batch}; "
                f"finish all {self.shape[1]} frames of a block before starting the next."
            )
        if self._next_frame + frames > self.shape[1]:
            raise PhysdiffError(
                f"{self._where}: append: {frames} frames would exceed the announced {self.shape[1]} "
                f"({self._next_frame} already written for this block)."
            )
        if not np.isfinite(array).all():
            raise PhysdiffError(f"{self._where}: append: states contain NaN or Inf; refusing to store them.")
        rows = slice(self._next_trajectory, self._next_trajectory + batch)
        self._file[fmt.TRAJECTORIES][rows, self._next_frame : self._next_frame + frames] = array
        self._accumulate(array)
        self._next_frame += frames
        if self._next_frame == self.shape[1]:
            self._next_trajectory += batch
            self._next_frame, self._block = 0, 0

    def _accumulate(self, array: np.ndarray) -> None:
        # Chan et al.'s pairwise mean/variance update: stable for any number of blocks.
        per_channel = np.moveaxis(array, 2, 0).reshape(array.shape[2], -1).astype(np.float64)
        count = per_channel.shape[1]
        mean = per_channel.mean(axis=1)
        m2 = np.square(per_channel - mean[:, None]).sum(axis=1)
        total = self._count + count
        delta = mean - self._mean
        self._mean = self._mean + delta * (count / total)
        self._m2 = self._m2 + m2 + delta**2 * (self._count * count / total)
        self._count = total

