"""Validation: free rollouts on held-out windows, reduced over distributed ranks."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable

import torch
from torch.utils.data import Dataset

from .. import metrics
from ..learners import SequenceLearner
from . import _distributed as D


@torch.no_grad()
def rollout_metrics(model: SequenceLearner, data: Dataset, *, context_frames: int, horizon: int, batch_size: int,
                    device: torch.device, dtype: torch.dtype,
                    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
                    dist: D.DistContext | None = None) -> dict[str, float]:
    """``val_rmse`` (pooled over every entry) and ``val_nrmse`` (mean relative L2 per frame) of free
    rollouts of ``horizon`` frames after ``context_frames`` on every window of ``data``.

    Rank ``r`` of ``W`` takes windows ``r, r + W, ...``; the sums are reduced, so every rank returns
    the same numbers, which do not depend on the batching. The model is left in training mode.
    """
    dist = dist or D.DistContext()
    mine = list(range(dist.rank, len(data), dist.world_size))  # type: ignore[arg-type]
    sq_sum = entries = nrmse_sum = frames = 0.0
    model.eval()
    try:
        for start in range(0, len(mine), batch_size):
            batch = torch.stack([torch.as_tensor(data[i]) for i in mine[start : start + batch_size]]).to(device, dtype)
            targets = batch[:, context_frames : context_frames + horizon]
            with autocast():
                prediction = model(batch[:, :context_frames], horizon).to(targets.dtype)
            sq_sum += float(metrics.mse(prediction, targets)) * targets.numel()
            entries += targets.numel()
            nrmse_sum += float(metrics.nrmse(prediction, targets)) * targets.shape[0] * targets.shape[1]
            frames += targets.shape[0] * targets.shape[1]
    finally:
        model.train()
    sq_sum, entries, nrmse_sum, frames = D.all_sum([sq_sum, entries, nrmse_sum, frames], dist, device)
    return {"val_rmse": math.sqrt(sq_sum / entries), "val_nrmse": nrmse_sum / frames}
