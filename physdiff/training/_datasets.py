"""Training and validation windows from trajectory files, matched to a learner.

The learner decides three things about its data: the units (``normalized_data``: black-box
models see per-channel normalised fields, physics-encoded ones the PDE's units), the
interval between frames (``time_step``, which must be a whole number of the file's
sampling intervals), and the channels and spatial dimension, which must match the file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..core import PhysdiffError
from ..data import TrajectoryInfo, TrajectoryWindows, read_info, scan_values
from ..learners import SequenceLearner


class NormalizedWindows(Dataset):
    """Windows of an unnormalised :class:`TrajectoryWindows`, normalised with given statistics
    (a separate validation file must use the training file's mean and std, not its own)."""

    def __init__(self, windows: TrajectoryWindows, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.windows, self.mean, self.std = windows, mean, std

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, index: int) -> torch.Tensor:
        window = self.windows[index]
        return ((window.double() - self.mean) / self.std).to(window.dtype)


@dataclass(frozen=True, eq=False)
class WindowData:
    """What :func:`training_windows` built.

    Attributes:
        train, val: datasets of windows ``(context_frames + horizon, C, *space)`` (val may be None).
        frame_step: file frames between consecutive model frames.
        dt: physical time between model frames (None if the file has a single frame).
        normalized: whether the windows are normalised (``model.normalized_data``).
        mean, std: ``(1, C, 1, ...)`` statistics of the training file (std 0 replaced by 1);
            ``x * std + mean`` maps normalised windows back to physical units.
        info: the training file's :class:`~physdiff.data.TrajectoryInfo`.
        content_sha256: checksum of the training file's stored values (see
            :func:`~physdiff.data.scan_values`), so a resumed run can check it has the same data.
    """

    train: Dataset
    val: Dataset | None
    frame_step: int
    dt: float | None
    normalized: bool
    mean: torch.Tensor
    std: torch.Tensor
    info: TrajectoryInfo
    content_sha256: str | None = None


def sampling_interval(info: TrajectoryInfo) -> float | None:
    """The file's uniform time between frames (None for a single frame).

    Raises:
        PhysdiffError: non-uniform sample times (e.g. a burst-sampled file).
    """
    time = np.asarray(info.time, dtype=np.float64)
    if time.size < 2:
        return None
    steps = np.diff(time)
    interval = float(steps[0])
    if not interval > 0 or not np.allclose(steps, interval, rtol=1e-6, atol=0.0):
        raise PhysdiffError(
            f"trajectory file {str(info.path)!r}: sample times are not uniformly spaced (intervals from {steps.min():g} "
            f"to {steps.max():g}); training windows need a constant sampling interval. Split burst-sampled data "
            "into uniform files first."
        )
    return interval


def whole_ratio(step: float, interval: float) -> int | None:
    """``step / interval`` if it is a whole number >= 1 (to 1e-6 relative), else None."""
    ratio = step / interval
    whole = round(ratio)
    return whole if whole >= 1 and math.isclose(ratio, whole, rel_tol=1e-6) else None


def frame_step_for(model: SequenceLearner, info: TrajectoryInfo) -> tuple[int, float | None]:
    """``(frame_step, dt)``: file frames per model step, and the model's physical step."""
    interval = sampling_interval(info)
    if model.time_step is None or interval is None:
        return 1, interval
    step = whole_ratio(model.time_step, interval)
    if step is None:
        ratio = model.time_step / interval
        raise PhysdiffError(
            f"trajectory file {str(info.path)!r} and {type(model).__name__}: expected the model's time_step "
            f"{model.time_step:g} to be a multiple of the data's sampling interval {interval:g} (ratio {ratio:g}). "
            "Build the model with a time_step that is a whole number of sampling intervals, or resample the data."
        )
    return step, model.time_step


def check_compatible(model: SequenceLearner, info: TrajectoryInfo) -> None:
    """Refuse a file whose channels or spatial dimension differ from the model's."""
    channels, ndim = info.shape[2], len(info.space_shape)
    if channels != model.channels or ndim != model.ndim:
        raise PhysdiffError(
            f"trajectory file {str(info.path)!r} holds {channels} channel(s) {list(info.channel_names)} on a {ndim}D "
            f"grid {tuple(info.space_shape)}, but the model {type(model).__name__} expects {model.channels} channel(s) "
            f"in {model.ndim}D. Use data of the model's PDE, or build the model for this data."
        )


def training_windows(
    model: SequenceLearner, path: str | os.PathLike, *, context_frames: int, horizon: int, val_fraction: float = 0.0,
    val_trajectories: Sequence[int] | None = None, val_path: str | os.PathLike | None = None, stride: int = 1,
    dtype: torch.dtype = torch.float32,
) -> WindowData:
    """Windows for :class:`~physdiff.training.Trainer` from one trajectory file (and optionally a validation file).

    The trajectories are split, not the windows, so no validation window shares frames
    with a training window: ``val_trajectories`` (indices) or the last
    ``ceil(val_fraction N)`` trajectories validate, or all trajectories of ``val_path``.
    Windows hold ``context_frames + horizon`` model frames, ``frame_step`` file frames apart.

    Args:
        model: the learner (its ``channels``, ``ndim``, ``time_step`` and ``normalized_data`` are used).
        path: the training trajectory file.
        context_frames, horizon: as in :class:`~physdiff.training.TrainConfig`.
        val_fraction: share of the file's trajectories held out for validation.
        val_trajectories: explicit validation trajectory indices (instead of ``val_fraction``).
        val_path: a separate validation file (normalised with the training file's statistics).
        stride: model frames between consecutive window starts.
        dtype: dtype of the windows.

    Raises:
        PhysdiffError: a channel or dimension mismatch, a time_step that is not a multiple of the
            sampling interval, a horizon longer than the data, an invalid split, or a value that
            is not finite (NaN or Inf; the message names the file, trajectory, frame and channel).
    """
    path = Path(path)
    where = f"training_windows({str(path)!r})"
    info = read_info(path)
    content = _finite_content(path, info)
    check_compatible(model, info)
    frame_step, dt = frame_step_for(model, info)
    length = context_frames + horizon
    span = (length - 1) * frame_step + 1
    if span > info.n_frames:
        raise PhysdiffError(
            f"{where}: context_frames + horizon = {context_frames} + {horizon} model frames, {frame_step} file frame(s) "
            f"apart, span {span} frames, but the file's trajectories have only {info.n_frames}. Use a shorter horizon "
            f"(at most {(info.n_frames - 1) // frame_step + 1 - context_frames}) or longer trajectories."
        )
    n = info.n_trajectories
    if val_trajectories is not None and (val_fraction or val_path is not None):
        raise PhysdiffError(f"{where}: give one of val_trajectories, val_fraction and val_path, not several.")
    if val_trajectories is not None:
        held = sorted({int(i) for i in val_trajectories})
    elif val_fraction:
        if not 0.0 < val_fraction < 1.0:
            raise PhysdiffError(f"{where}: val_fraction: expected a number in (0, 1), got {val_fraction!r}.")
        if val_path is not None:
            raise PhysdiffError(f"{where}: give val_fraction or val_path, not both.")
        held = list(range(n - math.ceil(val_fraction * n), n))
    else:
        held = []
    train_ids = [i for i in range(n) if i not in held]
    if not train_ids:
        raise PhysdiffError(
            f"{where}: the file has {n} trajector{'y' if n == 1 else 'ies'} and all of them would validate; "
            "keep at least one for training (a smaller val_fraction, or a separate val_path)."
        )
    normalize = bool(model.normalized_data)
    train = TrajectoryWindows(path, length, stride * frame_step, normalize=normalize, trajectories=train_ids,
                              frame_step=frame_step, dtype=dtype)
    val: Dataset | None = None
    if held:
        val = TrajectoryWindows(path, length, stride * frame_step, normalize=normalize, trajectories=held,
                                frame_step=frame_step, dtype=dtype)
    elif val_path is not None:
        val_info = read_info(val_path)
        _finite_content(Path(val_path), val_info)
        check_compatible(model, val_info)
        if tuple(val_info.space_shape) != tuple(info.space_shape):
            raise PhysdiffError(f"{where}: validation file {str(val_path)!r} has grid {tuple(val_info.space_shape)}, "
                                f"the training file {tuple(info.space_shape)}; use data on the same grid.")
        val_step, _ = frame_step_for(model, val_info)
        if val_step != frame_step:
            raise PhysdiffError(f"{where}: validation file {str(val_path)!r} is sampled {val_step} model step(s) "
                                f"per frame, the training file {frame_step}; use the same sampling interval.")
        raw = TrajectoryWindows(val_path, length, stride * frame_step, normalize=False, frame_step=frame_step,
                                dtype=dtype)
        val = NormalizedWindows(raw, train.mean, train.std) if normalize else raw
    return WindowData(train=train, val=val, frame_step=frame_step, dt=dt, normalized=normalize,
                      mean=train.mean, std=train.std, info=info, content_sha256=content)


def _finite_content(path: Path, info: TrajectoryInfo) -> str:
    """The file's content checksum, after checking every value is finite (one pass over the file).

    Why up front: one NaN pixel makes every loss it touches NaN, and the NaN guard would spend
    the run rolling back and cutting the learning rate instead of saying what is wrong.
    """
    scan = scan_values(path)
    if scan.nonfinite is not None:
        raise PhysdiffError(
            f"trajectory file {str(path)!r}: {scan.nonfinite.describe(info)}. Training needs finite data; "
            "regenerate the file (physdiff regenerate) or write one without those trajectories."
        )
    return scan.sha256
