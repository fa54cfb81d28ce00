"""Evaluate a learner's free rollouts against true trajectories (context frames excluded)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .. import metrics
from ..core import PhysdiffError
from ..learners import SequenceLearner


@dataclass(frozen=True, eq=False)
class RolloutEvaluation:
    """Metrics of rollouts after ``context_frames`` true frames (see :mod:`physdiff.metrics`).

    Attributes:
        predictions: ``(N, n_steps, C, *space)`` predicted frames (CPU, in the units of the input).
        targets: the true frames at the same times.
        time: ``(n_steps,)`` time of each predicted frame after the last context frame (``n dt``).
        rmse, mae, nrmse: means over every entry (rmse, mae) or frame (nrmse) of all rollouts.
        hct: ``(N,)`` high-correlation time per trajectory (threshold 0.8, time until the first drop).
        error_curve: ``(n_steps,)`` RMSE per predicted step.
        correlation_curve: ``(N, n_steps)`` Pearson correlation per trajectory and step.
        artefact_ratio: high-wavenumber energy (above half the Nyquist wavenumber) of the
            predictions over the truth's, last quarter of the rollouts (1: as smooth as the truth;
            see :func:`physdiff.metrics.artefact_ratio`).
    """

    predictions: torch.Tensor
    targets: torch.Tensor
    time: torch.Tensor
    rmse: float
    mae: float
    nrmse: float
    hct: torch.Tensor
    error_curve: torch.Tensor
    correlation_curve: torch.Tensor
    artefact_ratio: float

    @property
    def hct_mean(self) -> float:
        return float(self.hct.mean())

    def summary(self) -> dict[str, Any]:
        """JSON-serialisable scalars and curves (no predictions)."""
        return {"rmse": self.rmse, "mae": self.mae, "nrmse": self.nrmse, "hct_mean": self.hct_mean,
                "hct": self.hct.tolist(), "time": self.time.tolist(), "error_curve": self.error_curve.tolist(),
                "correlation_curve": self.correlation_curve.tolist(), "artefact_ratio": self.artefact_ratio}


def _device_dtype(model: torch.nn.Module) -> tuple[torch.device, torch.dtype]:
    for p in model.parameters():
        return p.device, p.dtype
    for b in model.buffers():
        if b.is_floating_point():
            return b.device, b.dtype
    return torch.device("cpu"), torch.get_default_dtype()


def evaluate_rollout(
    model: SequenceLearner, trajectories: torch.Tensor, *, context_frames: int, dt: float,
    n_steps: int | None = None, batch_size: int = 8, mean: torch.Tensor | None = None,
    std: torch.Tensor | None = None, hct_threshold: float = 0.8,
) -> RolloutEvaluation:
    """Roll ``model`` out from the first ``context_frames`` frames of each trajectory and score it.

    Args:
        model: the learner (evaluated with :meth:`~physdiff.learners.SequenceLearner.predict`,
            on its own device and dtype).
        trajectories: ``(N, T, C, *space)`` true trajectories in physical units, one model
            step between frames (see :func:`~physdiff.training.training_windows` for ``frame_step``).
        context_frames: frames given as context (excluded from every metric).
        dt: physical time between frames (for ``time`` and HCT).
        n_steps: frames to predict (default: all after the context, ``T - context_frames``).
        batch_size: trajectories per forward pass.
        mean, std: per-channel statistics broadcastable to ``(N, T, C, *space)``: if given and
            ``model.normalized_data``, the model sees ``(x - mean) / std`` and its predictions are
            mapped back, so the metrics are in physical units.
        hct_threshold: correlation threshold of the HCT.

    Raises:
        PhysdiffError: wrong shapes, or ``context_frames + n_steps`` longer than the trajectories.
    """
    where = f"evaluate_rollout({type(model).__name__})"
    if not isinstance(trajectories, torch.Tensor) or trajectories.dim() != model.ndim + 3:
        got = tuple(trajectories.shape) if isinstance(trajectories, torch.Tensor) else type(trajectories).__name__
        raise PhysdiffError(f"{where}: trajectories: expected (N, T, C, *space) with {model.ndim} spatial axes, got {got}.")
    total = trajectories.shape[1]
    if isinstance(context_frames, bool) or not isinstance(context_frames, int) or not 1 <= context_frames < total:
        raise PhysdiffError(f"{where}: context_frames: expected an int in [1, {total - 1}] (the trajectories have "
                            f"{total} frames), got {context_frames!r}.")
    n_steps = total - context_frames if n_steps is None else n_steps
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1 or context_frames + n_steps > total:
        raise PhysdiffError(f"{where}: n_steps: expected 1 to {total - context_frames} (frames after the context), "
                            f"got {n_steps!r}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise PhysdiffError(f"{where}: batch_size: expected a positive int, got {batch_size!r}.")
    device, dtype = _device_dtype(model)
    normalize = model.normalized_data and mean is not None and std is not None
    outputs = []
    for start in range(0, trajectories.shape[0], batch_size):
        context = trajectories[start : start + batch_size, :context_frames].to(device, dtype)
        if normalize:
            context = (context - mean.to(context)) / std.to(context)
        prediction = model.predict(context, n_steps)
        if normalize:
            prediction = prediction * std.to(prediction) + mean.to(prediction)
        outputs.append(prediction.cpu())
    predictions = torch.cat(outputs)
    targets = trajectories[:, context_frames : context_frames + n_steps].to(predictions.dtype)
    return RolloutEvaluation(
        predictions=predictions, targets=targets,
        time=torch.arange(1, n_steps + 1, dtype=torch.float64) * dt,
        rmse=float(metrics.rmse(predictions, targets)), mae=float(metrics.mae(predictions, targets)),
        nrmse=float(metrics.nrmse(predictions, targets)),
        hct=metrics.hct(predictions, targets, dt=dt, threshold=hct_threshold),
        error_curve=metrics.error_curve(predictions, targets, "rmse"),
        correlation_curve=metrics.correlation_curve(predictions, targets),
        artefact_ratio=float(metrics.artefact_ratio(predictions, targets)),
    )
