"""Tables (mean and spread over seeds) and plots of a comparison."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from ..data import read_trajectories
from ._setups import ExperimentSetup


def write_marked_block(path: str | Path, name: str, body: str, *, title: str = "Results") -> Path:
    """Replace the text between ``<!-- results:NAME:begin -->`` and ``<!-- results:NAME:end -->`` of the
    page ``path`` with ``body`` (atomically); the rest of the page is kept. A missing page is created
    with ``# title``, missing markers are appended."""
    from ..core import atomic_write

    begin, end = f"<!-- results:{name}:begin -->", f"<!-- results:{name}:end -->"
    path = Path(path)
    text = path.read_text() if path.exists() else f"# {title}\n\n{begin}\n{end}\n"
    if begin not in text or end not in text:
        text = text.rstrip() + f"\n\n{begin}\n{end}\n"
    head, rest = text.split(begin, 1)
    new = head + begin + "\n" + body.strip("\n") + "\n" + end + rest.split(end, 1)[1]
    atomic_write(path, lambda handle: handle.write(new.encode("utf-8")))
    return path


def _mean_spread(values: list[float]) -> tuple[float, float]:
    finite = [v for v in values if math.isfinite(v)]
    if len(finite) < len(values):
        return math.nan, math.nan  # a diverged seed makes the mean meaningless; shown as "diverged"
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def aggregate(results: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per model (in first-seen order): RMSE, MAE, nRMSE, HCT and the artefact ratio as (mean,
    sample std over seeds), the parameter count, the mean training time, the mean number of
    training steps of the last trained stage and how many seeds early stopping ended (the others
    ran out of budget)."""
    rows: dict[str, dict[str, Any]] = {}
    for r in results:
        row = rows.setdefault(r["model"], {"model": r["model"], "label": r["label"], "runs": []})
        row["runs"].append(r)
    out = []
    for row in rows.values():
        runs = row.pop("runs")
        for key in ("rmse", "mae", "nrmse", "hct_mean", "train_seconds"):
            row[key] = _mean_spread([float(r[key]) for r in runs])
        # Runs made before the artefact ratio existed lack it: shown as "n/a", not as diverged.
        ratios = [float(r["artefact_ratio"]) for r in runs if "artefact_ratio" in r]
        row["artefact_ratio"] = _mean_spread(ratios) if len(ratios) == len(runs) else None
        stages = [_last_trained_stage(r["training"]) for r in runs if "training" in r]
        row["steps"] = statistics.fmean(st["steps"] for st in stages) if len(stages) == len(runs) else None
        row["early_stopped"] = sum(st["stopped"] in ("early_stopping", "converged") for st in stages)
        row["params"] = runs[0]["params"]
        row["seeds"] = len(runs)
        out.append(row)
    return out


def _cell(value: tuple[float, float], digits: int) -> str:
    mean, spread = value
    if not math.isfinite(mean):
        return "diverged"
    return f"{mean:.{digits}g} ± {spread:.1g}" if spread else f"{mean:.{digits}g}"


def _last_trained_stage(training: Mapping[str, Any]) -> Mapping[str, Any]:
    """The macro stage, or the micro pretraining where the macro stage had nothing to train
    (the micro-only ablation with a frozen micro module)."""
    macro = training["macro"]
    return training.get("micro", macro) if macro.get("stopped") == "nothing to train" else macro


def _steps_cell(row: Mapping[str, Any]) -> str:
    if row.get("steps") is None:
        return "n/a"
    return f"{row['steps']:.0f} ({row['early_stopped']}/{row['seeds']})"


def format_table(rows: Sequence[Mapping[str, Any]], *, markdown: bool = True,
                 paper: Mapping[str, float] | None = None) -> str:
    """The comparison table; ``paper`` maps model names to the paper's RMSE (an extra column).

    The artefact ratio is :func:`physdiff.metrics.artefact_ratio` (1: as smooth as the truth)."""
    header = ["model", "RMSE", "HCT", "nRMSE", "artefact ratio", "parameters", "train time (s)",
              "steps (early-stopped seeds)", "seeds"]
    if paper is not None:
        header.insert(2, "paper RMSE")
    lines = []
    for row in rows:
        ratio = row.get("artefact_ratio")
        cells = [row["label"], _cell(row["rmse"], 3), _cell(row["hct_mean"], 3), _cell(row["nrmse"], 3),
                 "n/a" if ratio is None else _cell(ratio, 2), f"{row['params']:,}",
                 f"{row['train_seconds'][0]:.0f}", _steps_cell(row), str(row["seeds"])]
        if paper is not None:
            cells.insert(2, f"{paper[row['model']]:g}" if row["model"] in paper else "")
        lines.append(cells)
    if markdown:
        text = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        text += ["| " + " | ".join(c) + " |" for c in lines]
        return "\n".join(text)
    widths = [max(len(h), *(len(c[i]) for c in lines)) for i, h in enumerate(header)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*header), fmt.format(*("-" * w for w in widths))] + [fmt.format(*c) for c in lines])


def _slice(frame: torch.Tensor) -> torch.Tensor:
    """Channel 0 of a ``(C, *space)`` frame as a 2D image: 3D fields at the middle of the first axis."""
    field = frame[0]
    if field.dim() == 3:
        return field[field.shape[0] // 2]
    return field


def plot_comparison(setup: ExperimentSetup, out: str | Path, results: Sequence[Mapping[str, Any]],
                    *, times: int = 4) -> list[Path]:
    """Write ``OUT/plots/slices.png`` (truth and each model at ``times`` instants of the first test
    trajectory, seed 0; mid-plane slices in 3D, space-time images in 1D) and ``OUT/plots/curves.png``
    (RMSE and correlation over time, mean over test trajectories). Returns the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    folder = out / "plots"
    folder.mkdir(parents=True, exist_ok=True)
    truth = read_trajectories(out / "data" / "test.h5", 0)[:: setup.k][setup.context_frames :]
    first_seed = {}
    for r in results:
        first_seed.setdefault(r["model"], r)
    rollouts = {}
    for name, r in first_seed.items():
        path = out / "runs" / name / f"seed{r['seed']}" / "rollout.pt"
        if path.exists():
            rollouts[r["label"]] = torch.load(path, weights_only=True)
    panels = {"truth": truth, **rollouts}
    paths = []
    n = truth.shape[0]
    if setup.ndim == 1:
        fig, axes = plt.subplots(1, len(panels), figsize=(3 * len(panels), 3), squeeze=False)
        for ax, (label, frames) in zip(axes[0], panels.items()):
            ax.imshow(frames[:, 0].float().numpy(), aspect="auto", origin="lower", cmap="viridis")
            ax.set_title(label, fontsize=8)
            ax.set_xlabel("x index")
            ax.set_ylabel(f"macro step (Dt = {setup.macro_dt:g})")
    else:
        picks = sorted({round(i * (n - 1) / (times - 1)) for i in range(times)})
        fig, axes = plt.subplots(len(panels), len(picks), figsize=(2.2 * len(picks), 2.2 * len(panels)),
                                 squeeze=False)
        lo, hi = float(truth[:, 0].min()), float(truth[:, 0].max())
        for row, (label, frames) in zip(axes, panels.items()):
            for ax, t in zip(row, picks):
                ax.imshow(_slice(frames[t]).float().numpy(), vmin=lo, vmax=hi, cmap="viridis")
                ax.set_xticks([])
                ax.set_yticks([])
                if t == picks[0]:
                    ax.set_ylabel(label, fontsize=8)
                if label == "truth":
                    ax.set_title(f"t = {(t + 1) * setup.macro_dt:g}", fontsize=8)
    fig.suptitle(f"{setup.title}: channel 0" + (" (mid-plane)" if setup.ndim == 3 else ""), fontsize=9)
    # keep a strip of ~0.35 inch for the title, or tight_layout puts the column titles under it
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))
    paths.append(folder / "slices.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    fig, (err_ax, cor_ax) = plt.subplots(1, 2, figsize=(9, 3.2))
    for name, r in first_seed.items():
        time_axis = r["time"]
        err_ax.plot(time_axis, r["error_curve"], label=r["label"])
        corr = torch.tensor(r["correlation_curve"]).mean(0)
        cor_ax.plot(time_axis, corr.tolist(), label=r["label"])
    err_ax.set(xlabel="time after the context", ylabel="RMSE", yscale="log", title="error")
    cor_ax.axhline(0.8, color="grey", lw=0.8, ls="--")
    cor_ax.set(xlabel="time after the context", ylabel="Pearson correlation", title="correlation (HCT threshold 0.8)")
    err_ax.legend(fontsize=7)
    fig.tight_layout()
    paths.append(folder / "curves.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths
