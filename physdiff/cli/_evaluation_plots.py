"""Figures of ``physdiff evaluate``: truth against prediction over time, and the error and correlation curves.

matplotlib is imported (Agg backend) only when a figure is drawn.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ._plot import _edges, _view

MAX_COLUMNS = 6  # frames shown in the truth/prediction panels of a 2D or 3D rollout


def _figure(width: float, height: float) -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display; set here, never at import
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=80, layout="constrained")


def _rollout_fields(truth: np.ndarray, pred: np.ndarray, info: Any, time: np.ndarray, out: Path,
                    title: str) -> Path:
    """2D/3D: one row per channel and kind (truth, prediction, error), columns evenly spaced in time."""
    ndim = len(info.space_shape)
    steps, channels = truth.shape[0], truth.shape[1]
    chosen = np.unique(np.linspace(0, steps - 1, min(MAX_COLUMNS, steps)).round().astype(int))
    coords = info.coordinates[1:] if ndim == 3 else info.coordinates
    extent = [edge for x in coords[:2] for edge in _edges(x)]
    fig = _figure(2.2 * len(chosen) + 0.8, 2.0 * 3 * channels)
    axes = fig.subplots(3 * channels, len(chosen), squeeze=False)
    for c in range(channels):
        views = {kind: np.stack([_view(field[j, c]) for j in chosen])
                 for kind, field in (("truth", truth), ("prediction", pred))}
        views["error"] = views["prediction"] - views["truth"]
        both = np.concatenate([views["truth"], views["prediction"]])
        low, high = both.min(), both.max()
        bound = float(np.abs(views["error"]).max()) or 1.0
        for r, kind in enumerate(("truth", "prediction", "error")):
            row = axes[3 * c + r]
            for k, j in enumerate(chosen):
                scale = {"vmin": -bound, "vmax": bound, "cmap": "RdBu_r"} if kind == "error" else {
                    "vmin": low, "vmax": high if high > low else low + 1.0, "cmap": "viridis"}
                image = row[k].imshow(views[kind][k].T, origin="lower", extent=extent, **scale)
                row[k].set_xticks([])
                row[k].set_yticks([])
                if r == 0 and c == 0:
                    row[k].set_title(f"t = {time[j]:.4g}")
                if k == 0:
                    row[k].set_ylabel(f"{info.channel_names[c]}: {kind}")
            fig.colorbar(image, ax=list(row), shrink=0.8)
    plane = f", mid-plane x0 = {info.coordinates[0][info.space_shape[0] // 2]:.3g}" if ndim == 3 else ""
    fig.suptitle(title + plane)
    target = out / "rollout.png"
    fig.savefig(target)
    return target


def _rollout_space_time(truth: np.ndarray, pred: np.ndarray, info: Any, time: np.ndarray, out: Path,
                        title: str) -> Path:
    """1D: space-time images (x horizontal, t vertical) of truth, prediction and error per channel."""
    channels = truth.shape[1]
    x = info.coordinates[0]
    extent = [*_edges(x), *_edges(time)]
    fig = _figure(3 * 3.2, 2.8 * channels)
    axes = fig.subplots(channels, 3, squeeze=False)
    for c in range(channels):
        t, p = truth[:, c], pred[:, c]
        low, high = min(t.min(), p.min()), max(t.max(), p.max())
        bound = float(np.abs(p - t).max()) or 1.0
        for k, (kind, field, scale) in enumerate((
            ("truth", t, {"vmin": low, "vmax": high if high > low else low + 1.0, "cmap": "viridis"}),
            ("prediction", p, {"vmin": low, "vmax": high if high > low else low + 1.0, "cmap": "viridis"}),
            ("error", p - t, {"vmin": -bound, "vmax": bound, "cmap": "RdBu_r"}),
        )):
            image = axes[c, k].imshow(field, origin="lower", extent=extent, aspect="auto", **scale)
            axes[c, k].set_title(f"{info.channel_names[c]}: {kind}")
            axes[c, k].set_xlabel("x0")
            axes[c, k].set_ylabel("t")
            fig.colorbar(image, ax=axes[c, k], shrink=0.8)
    fig.suptitle(title)
    target = out / "rollout.png"
    fig.savefig(target)
    return target


def plot_evaluation(evaluation: Any, info: Any, out: Path, *, ids: list[int], t0: float, title: str) -> list[Path]:
    """Write ``rollout.png`` (the first evaluated trajectory), ``error_curve.png`` and ``correlation_curve.png``.

    Args:
        evaluation: a :class:`~physdiff.training.RolloutEvaluation`.
        info: the data file's :class:`~physdiff.data.TrajectoryInfo`.
        out: the output directory (exists).
        ids: the evaluated trajectory indices.
        t0: the time of the last context frame (predicted frame ``n`` is at ``t0 + evaluation.time[n-1]``).
        title: first part of the figure titles.
    """
    time = t0 + evaluation.time.numpy()
    truth, pred = evaluation.targets[0].double().numpy(), evaluation.predictions[0].double().numpy()
    panel = title + f", trajectory {ids[0]}"
    draw = _rollout_space_time if len(info.space_shape) == 1 else _rollout_fields
    written = [draw(truth, pred, info, time, out, panel)]

    fig = _figure(5.0, 3.4)
    ax = fig.subplots()
    curve = evaluation.error_curve.numpy()
    ax.plot(time, curve, marker="." if curve.size < 40 else None)
    if np.all(curve > 0):
        ax.set_yscale("log")
    ax.set_xlabel("t")
    ax.set_ylabel("RMSE over trajectories, channels, space")
    ax.set_title(title, fontsize=9)
    written.append(out / "error_curve.png")
    fig.savefig(written[-1])

    fig = _figure(5.0, 3.4)
    ax = fig.subplots()
    correlation = evaluation.correlation_curve.numpy()
    for i, row in zip(ids, correlation):
        ax.plot(time, row, lw=0.8, alpha=0.6, label=f"trajectory {i}" if len(ids) <= 8 else None)
    ax.plot(time, correlation.mean(axis=0), color="black", lw=2, label="mean")
    ax.axhline(0.8, color="gray", ls="--", lw=1, label="HCT threshold 0.8")
    ax.set_ylim(min(-0.05, float(np.nanmin(correlation)) - 0.05) if np.isfinite(correlation).any() else -1.0, 1.05)
    ax.set_xlabel("t")
    ax.set_ylabel("Pearson correlation")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    written.append(out / "correlation_curve.png")
    fig.savefig(written[-1])
    return written
