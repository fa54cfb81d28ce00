"""``physdiff evaluate CHECKPOINT --data FILE.h5``: free rollouts of a trained learner, scored against the file.

The model is rebuilt from the checkpoint; ``run.json`` next to it gives the normalisation
statistics and the model's frame interval. Each trajectory is rolled out from its first
``--context`` model frames; the metrics (physical units, context frames excluded) are printed,
written to ``metrics.json`` and drawn; for video files (Moving MNIST) also the video papers' MSE,
MAE, SSIM and PSNR (:func:`physdiff.metrics.video_metrics`, under ``"video"`` in ``metrics.json``) (see :mod:`physdiff.cli._evaluation_plots`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from physdiff.core import PhysdiffError, atomic_write_json


def rollout_frames(run: dict[str, Any], info: Any, frame_step: int, context: int | None, steps: int | None,
                   default_steps: int | None = None, targets: bool = True) -> tuple[int, int]:
    """``(context, steps)``, checked against the file's length (``targets``: the file must hold
    the predicted frames too, to score them).

    ``steps`` defaults to every model frame after the context, else ``default_steps``.
    """
    where = f"trajectory file {str(info.path)!r}"
    context = run["context_frames"] if context is None else context
    if context < 1:
        raise PhysdiffError(f"--context: expected a positive number of frames, got {context}.")
    available = (info.n_frames - 1) // frame_step + 1
    every = "" if frame_step == 1 else f", one model frame every {frame_step} file frames"
    if context > available:
        raise PhysdiffError(f"{where}: --context {context} model frames, but the file holds only {available} "
                            f"({info.n_frames} frames{every}); use a smaller --context.")
    if steps is None:
        steps = available - context if available > context else default_steps
        if steps is None:
            raise PhysdiffError(f"{where}: holds {available} model frames{every}, none after the {context} context "
                                "frame(s) to compare with; use longer trajectories or a smaller --context.")
    if steps < 1:
        raise PhysdiffError(f"--steps: expected a positive number of frames, got {steps}.")
    if targets and context + steps > available:
        raise PhysdiffError(
            f"{where}: --context {context} + --steps {steps} = {context + steps} model frames, but the file holds "
            f"only {available} ({info.n_frames} frames{every}); use --steps {available - context} or less, or "
            "longer trajectories."
        )
    return context, steps


def _read(path: Path, ids: list[int] | None, frames: slice) -> tuple[Any, list[int]]:
    """The trajectories ``ids`` (default: all), frames ``frames``; refused if any value is not finite."""
    import numpy as np
    import torch

    from physdiff.data import TrajectoryFile, first_nonfinite

    with TrajectoryFile(path) as file:
        n = file.info.n_trajectories
        ids = list(range(n)) if ids is None else ids
        bad = [i for i in ids if not 0 <= i < n]
        if bad:
            raise PhysdiffError(f"--trajectories: index {bad[0]} out of range; {str(path)!r} holds {n} "
                                f"trajector{'y' if n == 1 else 'ies'} (0 to {n - 1}).")
        values = np.stack([file.read(i, frames) for i in ids])
        found = first_nonfinite(values)
        if found is not None:
            count, (k, j, c) = found[0], found[1][:3]
            frame = range(file.info.n_frames)[frames][j]
            raise PhysdiffError(
                f"trajectory file {str(path)!r}: {count} non-finite value(s) (NaN or Inf) in the frames evaluated; "
                f"the first at trajectory {ids[k]}, frame {frame}, channel {file.info.channel_names[c]}. The "
                "metrics would be NaN; repair or regenerate the file, or leave that trajectory out with "
                "--trajectories."
            )
        return torch.from_numpy(values), ids


def _table(evaluation: Any, names: list[str], rmse_channels: list[float], n: int, steps: int, dt: float) -> list[str]:
    per_channel = ", ".join(f"{c} {v:.3g}" for c, v in zip(names, rmse_channels))
    return [
        f"{'metric':<8}{'value':>12}",
        f"{'RMSE':<8}{evaluation.rmse:>12.4g}   per channel: {per_channel}",
        f"{'MAE':<8}{evaluation.mae:>12.4g}",
        f"{'nRMSE':<8}{evaluation.nrmse:>12.4g}   (relative L2 error per frame, mean)",
        f"{'HCT':<8}{evaluation.hct_mean:>12.4g}   time units until correlation < 0.8 (mean of {n}; rollout "
        f"{steps * dt:g})",
        f"{'artefact':<8}{evaluation.artefact_ratio:>12.4g}   high-wavenumber energy / truth's, last quarter (1 = as "
        "smooth as the truth)",
    ]


def evaluate_command(args: argparse.Namespace) -> int:
    from physdiff.data import read_info
    from physdiff.training import evaluate_rollout

    from ._common import DIRECTORY, check_output
    from ._run_file import frame_step_for, load_run_model, statistics

    checkpoint = Path(args.checkpoint)
    out = Path(args.out) if args.out else checkpoint.parent / f"eval_{Path(args.data).stem}"
    if not args.out:  # main checked a given --out; the default one follows the same rule
        check_output(out, DIRECTORY, args.overwrite)
    model, run, stored = load_run_model(checkpoint, args.device)
    info = read_info(args.data)
    frame_step = frame_step_for(run, model, info)
    context, steps = rollout_frames(run, info, frame_step, args.context, args.steps)
    trajectories, ids = _read(Path(args.data), args.trajectories, slice(0, (context + steps - 1) * frame_step + 1,
                                                                        frame_step))
    dt = run["dt"] if run["dt"] is not None else 1.0
    mean, std = statistics(run, model.ndim)
    evaluation = evaluate_rollout(model, trajectories, context_frames=context, dt=dt, n_steps=steps, mean=mean,
                                  std=std)
    error = (evaluation.predictions.double() - evaluation.targets.double()) ** 2
    rmse_channels = error.transpose(0, 2).reshape(error.shape[2], -1).mean(dim=1).sqrt().tolist()
    record = {
        "checkpoint": str(checkpoint.resolve()), "step": stored["step"], "model_class": stored["model_class"],
        "data": str(Path(args.data).resolve()),
        "data_setup_sha256": None if info.provenance is None else info.provenance.sha256,
        "trajectories": ids, "context_frames": context, "n_steps": steps, "dt": dt, "frame_step": frame_step,
        "channel_names": list(info.channel_names), "rmse_per_channel": rmse_channels, "hct_threshold": 0.8,
        **evaluation.summary(),
    }
    video = info.provenance is not None and info.provenance.is_video
    if video:  # the video papers' conventions (per-frame sums, clipped frames; docs/moving_mnist.md)
        from physdiff.metrics import video_metrics

        record["video"] = video_metrics(evaluation.predictions, evaluation.targets)
    atomic_write_json(out / "metrics.json", record)
    written = [out / "metrics.json"]
    if not args.no_plots:
        from ._evaluation_plots import plot_evaluation

        written += plot_evaluation(evaluation, info, out, ids=ids, t0=float(info.time[(context - 1) * frame_step]),
                                   title=f"{checkpoint.name} (step {stored['step']}) on {Path(args.data).name}")
    print(f"{stored['model_class']} {checkpoint} (step {stored['step']}) on {args.data}: {len(ids)} "
          f"trajector{'y' if len(ids) == 1 else 'ies'}, {context} context frame(s), {steps} predicted frames "
          f"{dt:g} apart")
    for line in _table(evaluation, list(info.channel_names), rmse_channels, len(ids), steps, dt):
        print(line)
    if video:
        v = record["video"]
        print(f"video metrics (per-frame sums over pixels, mean over frames; SSIM/PSNR on clipped frames):\n"
              f"{'MSE':<8}{v['mse']:>12.4g}\n{'MAE':<8}{v['mae']:>12.4g}\n{'SSIM':<8}{v['ssim']:>12.4g}   "
              f"(data range 1; {v['ssim_published']:.4g} with the range 2 published SSIMs used)\n"
              f"{'PSNR':<8}{v['psnr']:>12.4g}   dB")
    print(f"wrote {', '.join(p.name for p in written)} in {out}")
    return 0
