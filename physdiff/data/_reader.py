"""Open and validate trajectory files; every error names the file and what is wrong with it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import torch

from ..core import PhysdiffError, temporary_target
from . import _format as fmt
from ._burst import BurstSpec
from ._format import Provenance


@dataclass(frozen=True, eq=False)
class TrajectoryInfo:
    """Everything about a validated trajectory file except the trajectories themselves.

    Attributes:
        path: the file.
        shape: ``(N, T, C, *space)`` of the ``trajectories`` dataset.
        channel_names: ``C`` names.
        dtype: storage dtype name (``"float32"`` or ``"float64"``).
        time: ``(T,)`` sample times (PDE time unit).
        coordinates: per spatial axis, the sample positions (PDE length unit).
        mean, std: ``(C,)`` per-channel statistics over all trajectories, frames and points.
        provenance: how the file was made, or None for files written without it.
        schema_version: the schema version the file was written with.
        compression, chunks: HDF5 storage details of ``trajectories``.
        burst: the burst layout of the frames (attribute ``burst``), or None for files
            written without one (older files included).
    """

    path: Path
    shape: tuple[int, ...]
    channel_names: tuple[str, ...]
    dtype: str
    time: np.ndarray
    coordinates: tuple[np.ndarray, ...]
    mean: np.ndarray
    std: np.ndarray
    provenance: Provenance | None
    schema_version: int
    compression: str | None
    chunks: tuple[int, ...] | None
    burst: BurstSpec | None = None

    @property
    def n_trajectories(self) -> int:
        return self.shape[0]

    @property
    def n_frames(self) -> int:
        return self.shape[1]

    @property
    def space_shape(self) -> tuple[int, ...]:
        return self.shape[3:]


class TrajectoryFile:
    """A validated, read-only trajectory file (a context manager; close it when done).

    Raises:
        PhysdiffError: missing file, not HDF5, truncated or corrupt, not a physdiff
            trajectory file, a newer schema, an incomplete file (interrupted writer),
            a missing dataset or attribute, or a shape that does not match its metadata.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._where = f"trajectory file {str(self.path)!r}"
        try:
            self._file = _open_hdf5(self.path, self._where)
            try:
                self.info = _validate(self._file, self.path, self._where)
            except BaseException:
                self._file.close()
                raise
        except PhysdiffError as exc:
            target = temporary_target(self.path)
            if target is None:
                raise
            raise PhysdiffError(
                f"{self._where} is the temporary file of an unfinished write of {str(target)!r} (a writer that "
                f"was killed, or one still running), not a trajectory file ({exc}). If no physdiff process is "
                f"writing {target.name}, delete this file; the next successful write of {target.name} also removes "
                "it. Then write the data again with the command that made it."
            ) from None

    def __enter__(self) -> "TrajectoryFile":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()

    def read(self, trajectory: int | slice, frames: slice = slice(None)) -> np.ndarray:
        """The stored values ``trajectories[trajectory, frames]`` as a NumPy array (storage dtype).

        Raises:
            PhysdiffError: an index out of range, or a chunk that cannot be read (corrupt file).
        """
        n = self.info.n_trajectories
        if isinstance(trajectory, int) and not -n <= trajectory < n:
            raise PhysdiffError(f"{self._where}: trajectory index {trajectory} out of range for {n} trajectories.")
        try:
            return self._file[fmt.TRAJECTORIES][trajectory, frames]
        except OSError as exc:
            raise PhysdiffError(
                f"{self._where}: cannot read trajectory {trajectory}, frames {frames} ({exc}); the file is corrupt."
            ) from exc


def read_info(path: str | os.PathLike) -> TrajectoryInfo:
    """Validate ``path`` and return its :class:`TrajectoryInfo` (the file is closed again)."""
    with TrajectoryFile(path) as file:
        return file.info


def read_trajectories(path: str | os.PathLike, trajectories: int | slice = slice(None)) -> torch.Tensor:
    """Load ``trajectories`` (default: all) as a tensor ``(N, T, C, *space)`` (or ``(T, C, *space)`` for an int)."""
    with TrajectoryFile(path) as file:
        return torch.from_numpy(np.ascontiguousarray(file.read(trajectories)))


def _open_hdf5(path: Path, where: str) -> Any:
    import h5py

    if not path.exists():
        raise PhysdiffError(f"{where}: no such file. Create one with `physdiff simulate ... --out {path}` or check the path.")
    if not path.is_file():
        raise PhysdiffError(f"{where}: expected a file, got a directory or special file.")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        if not h5py.is_hdf5(path):
            raise PhysdiffError(f"{where}: not an HDF5 file (no HDF5 signature); expected a file written by physdiff.") from exc
        raise PhysdiffError(
            f"{where}: truncated or corrupt HDF5 file, cannot be opened ({exc}). "
            "Regenerate it (`physdiff regenerate`) or copy it again."
        ) from exc


def _attr(file: Any, key: str, where: str) -> Any:
    if key not in file.attrs:
        raise PhysdiffError(f"{where}: missing attribute '{key}'; expected a file written by physdiff's TrajectoryWriter.")
    return file.attrs[key]


def _dataset(file: Any, key: str, where: str) -> Any:
    import h5py

    item = file.get(key)
    if not isinstance(item, h5py.Dataset):
        raise PhysdiffError(f"{where}: missing dataset '{key}'; expected a file written by physdiff's TrajectoryWriter.")
    return item


def _validate(file: Any, path: Path, where: str) -> TrajectoryInfo:
    schema = fmt._text(_attr(file, "schema", where))
    if schema != fmt.SCHEMA:
        raise PhysdiffError(f"{where}: attribute schema = {schema!r}, expected {fmt.SCHEMA!r}; not a physdiff trajectory file.")
    version = int(_attr(file, "schema_version", where))
    if version > fmt.SCHEMA_VERSION:
        raise PhysdiffError(
            f"{where}: schema_version {version} is newer than this physdiff reads ({fmt.SCHEMA_VERSION}); upgrade physdiff."
        )
    if not bool(_attr(file, "complete", where)):
        raise PhysdiffError(
            f"{where}: incomplete file (complete = false): its writer was interrupted before the end. "
            "Delete it and generate the data again."
        )
    data = _dataset(file, fmt.TRAJECTORIES, where)
    shape = tuple(int(n) for n in data.shape)
    if not 4 <= len(shape) <= 6:
        raise PhysdiffError(
            f"{where}: dataset 'trajectories' has shape {shape}; expected (N, T, C, *space) with 1 to 3 spatial axes."
        )
    if data.dtype.name not in fmt.DTYPES:
        raise PhysdiffError(f"{where}: dataset 'trajectories' has dtype {data.dtype}; expected float32 or float64.")
    time = _dataset(file, fmt.TIME, where)[()]
    coordinates = tuple(_dataset(file, fmt.coordinate_name(a), where)[()] for a in range(len(shape) - 3))
    names = tuple(fmt._text(c) for c in np.atleast_1d(_attr(file, "channel_names", where)))
    mean = np.asarray(_attr(file, "channel_mean", where), dtype=np.float64)
    std = np.asarray(_attr(file, "channel_std", where), dtype=np.float64)
    # (what, its shape, the shape 'trajectories' implies, why)
    checks = [("dataset 'time'", time.shape, (shape[1],), "T frames")]
    for a, c in enumerate(coordinates):
        checks.append((f"dataset '{fmt.coordinate_name(a)}'", c.shape, (shape[3 + a],), f"the grid size of axis {a}"))
    for key, value in (("channel_names", names), ("channel_mean", mean), ("channel_std", std)):
        checks.append((f"attribute '{key}'", np.shape(value), (shape[2],), "C channels"))
    for what, got, expected, meaning in checks:
        if tuple(got) != expected:
            raise PhysdiffError(
                f"{where}: {what} has shape {tuple(got)}, expected {expected} ({meaning} of 'trajectories' {shape}); "
                "the file's metadata does not match its data."
            )
    provenance = Provenance.from_attrs(file.attrs, where)
    if provenance is not None:
        _check_provenance(provenance, shape, data.dtype.name, where)
    burst = None
    if fmt.BURST in file.attrs:  # optional: absent in files without bursts, and in files older than it
        burst = BurstSpec.from_json(fmt._text(file.attrs[fmt.BURST]), where)
        burst.check_frames(shape[1], where)
    return TrajectoryInfo(
        path=path, shape=shape, channel_names=names, dtype=data.dtype.name, time=time, coordinates=coordinates,
        mean=mean, std=std, provenance=provenance, schema_version=version, compression=data.compression,
        chunks=tuple(data.chunks) if data.chunks else None, burst=burst,
    )


def _check_provenance(provenance: Provenance, shape: tuple[int, ...], dtype: str, where: str) -> None:
    setup = provenance.setup
    try:
        if provenance.is_video:
            frames = setup["frames"]
        else:
            frames = setup["steps"] // setup["save_every"] + int(setup["include_initial"])
        expected = (len(provenance.seeds), frames, shape[2], *setup["shape"])
        stored_dtype = setup["dtype"]
    except (KeyError, TypeError) as exc:
        raise PhysdiffError(f"{where}: the provenance setup lacks a field ({exc!r}); it cannot describe this file.") from exc
    if tuple(expected) != shape or stored_dtype != dtype:
        raise PhysdiffError(
            f"{where}: dataset 'trajectories' is {shape} {dtype} but its provenance describes {tuple(expected)} "
            f"{stored_dtype} (seeds or sequences, frames, grid shape); the file's metadata does not match its data."
        )
