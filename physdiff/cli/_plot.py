"""PNG frames and an animated GIF of one trajectory of a trajectory file (``physdiff plot``)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from physdiff.core import PhysdiffError
from physdiff.data import TrajectoryFile


def _view(frame: np.ndarray) -> np.ndarray:
    """What is drawn of one channel: the field itself (1D, 2D) or its mid-plane ``x0 = N0 // 2`` (3D)."""
    return frame[frame.shape[0] // 2] if frame.ndim == 3 else frame


def _edges(x: np.ndarray) -> tuple[float, float]:
    """Outer cell edges of samples ``x``: each pixel is centred on its sample."""
    half = (x[1] - x[0]) / 2 if x.size > 1 else 0.5
    return float(x[0] - half), float(x[-1] + half)


def plot_trajectory(
    path: str | os.PathLike, out_dir: str | os.PathLike, *, trajectory: int = 0, max_frames: int = 40, fps: float = 5.0,
    warn: Callable[[str], None] | None = None,
) -> list[Path]:
    """Draw frames of trajectory ``trajectory`` to ``out_dir/frame_0000.png, ...`` and ``out_dir/trajectory.gif``.

    One panel per channel: 1D fields as curves, 2D fields as images (``x0`` horizontal,
    ``x1`` vertical; video files such as Moving MNIST as grey images, row 0 at the top, values 0..1), 3D fields as the mid-plane slice ``x0 = N0 // 2``. At most
    ``max_frames`` frames, evenly spaced in time, are drawn (memory holds only those
    views); each channel keeps one colour scale across frames so the animation does
    not flicker. Non-finite values are drawn as gaps and reported through ``warn``; frames
    ``frame_NNNN.png`` of an earlier plot in ``out_dir`` are removed first, so the folder holds
    one plot.

    Returns:
        The written paths (PNG frames, then the GIF).

    Raises:
        PhysdiffError: an invalid file, trajectory index, ``max_frames`` or ``fps``.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only, no display; set here, never at import
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    if isinstance(max_frames, bool) or not isinstance(max_frames, int) or max_frames < 1:
        raise PhysdiffError(f"plot: max_frames: expected a positive int, got {max_frames!r}.")
    if not fps > 0:
        raise PhysdiffError(f"plot: fps: expected a positive number, got {fps!r}.")
    with TrajectoryFile(path) as file:
        info = file.info
        if not -info.n_trajectories <= trajectory < info.n_trajectories:
            raise PhysdiffError(f"plot: trajectory {trajectory} out of range; {info.path} has {info.n_trajectories}.")
        chosen = np.unique(np.linspace(0, info.n_frames - 1, min(max_frames, info.n_frames)).round().astype(int))
        views = np.stack([[_view(c) for c in file.read(trajectory, slice(j, j + 1))[0]] for j in chosen])
        _report_nonfinite(file, trajectory, warn)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)  # only once the file is known to be valid
    for old in out.glob("frame_[0-9][0-9][0-9][0-9].png"):
        old.unlink()
    channels, ndim = len(info.channel_names), len(info.space_shape)
    finite = np.where(np.isfinite(views), views, np.nan)
    with warnings.catch_warnings():  # an all-NaN channel is reported above, not as a NumPy warning
        warnings.simplefilter("ignore", RuntimeWarning)
        axes_ = (0, *range(2, views.ndim))
        low, high = np.nanmin(finite, axis=axes_), np.nanmax(finite, axis=axes_)
    low, high = np.nan_to_num(low, nan=0.0), np.nan_to_num(high, nan=0.0)  # an all-NaN channel
    high = np.where(high > low, high, low + 1.0)  # a constant channel still gets a valid colour range
    coords = info.coordinates[1:] if ndim == 3 else info.coordinates
    video = ndim == 2 and info.provenance is not None and info.provenance.is_video

    fig = Figure(figsize=(3.2 * channels + 0.4, 3.0), dpi=80, layout="constrained")
    canvas = FigureCanvasAgg(fig)
    axes = fig.subplots(1, channels, squeeze=False)[0]
    artists = []
    for c, ax in enumerate(axes):
        name = info.channel_names[c] + (f" (x0 = {info.coordinates[0][info.space_shape[0] // 2]:.3g})" if ndim == 3 else "")
        ax.set_title(name)
        if ndim == 1:
            (line,) = ax.plot(coords[0], views[0, c])
            ax.set_ylim(low[c], high[c])
            ax.set_xlabel("x0")
            artists.append(line)
        elif video:  # images: row 0 at the top, as the frames were drawn
            image = ax.imshow(views[0, c], origin="upper", vmin=0.0, vmax=1.0, cmap="gray")
            ax.set_xlabel("column")
            ax.set_ylabel("row")
        else:
            extent = [edge for x in coords[:2] for edge in _edges(x)]
            image = ax.imshow(views[0, c].T, origin="lower", extent=extent, vmin=low[c], vmax=high[c], cmap="viridis")
            ax.set_xlabel("x1" if ndim == 3 else "x0")
            ax.set_ylabel("x2" if ndim == 3 else "x1")
            fig.colorbar(image, ax=ax, shrink=0.8)
            artists.append(image)
    written, images = [], []
    for k, j in enumerate(chosen):
        for c, artist in enumerate(artists):
            if ndim == 1:
                artist.set_ydata(views[k, c])
            else:
                artist.set_data(views[k, c].T)
        fig.suptitle(f"{info.path.name}  trajectory {trajectory}  t = {info.time[j]:.6g}")
        target = out / f"frame_{k:04d}.png"
        fig.savefig(target)
        written.append(target)
        canvas.draw()
        images.append(Image.fromarray(np.asarray(canvas.buffer_rgba())).convert("RGB"))
    gif = out / "trajectory.gif"
    images[0].save(gif, save_all=True, append_images=images[1:], duration=max(int(1000 / fps), 20), loop=0)
    written.append(gif)
    return written


def _report_nonfinite(file: TrajectoryFile, trajectory: int, warn: Callable[[str], None] | None) -> None:
    """Warn about non-finite values anywhere in the plotted trajectory (not only in the drawn frames)."""
    from physdiff.data import first_nonfinite

    info = file.info
    found = first_nonfinite(file.read(trajectory))
    if found is None or warn is None:
        return
    count, (frame, channel) = found[0], found[1][:2]
    warn(f"{info.path}: trajectory {trajectory} holds {count} non-finite value(s) (NaN or Inf), the first at frame "
         f"{frame} (t = {float(info.time[frame]):.6g}), channel {info.channel_names[channel]}; they are drawn as gaps.")
