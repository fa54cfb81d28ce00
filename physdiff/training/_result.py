"""What a training run returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class FitResult:
    """What :meth:`Trainer.fit` did.

    Attributes:
        steps: optimiser steps done in total (including those before a resume).
        stopped: ``"completed"`` (all steps), ``"early_stopping"`` or ``"converged"`` (the plateau
            schedule found no improvement at its lowest learning rate).
        final_loss: the last training loss (None if no step ran in this call).
        final_metrics: the last validation metrics (``val_rmse``, ``val_nrmse``; empty without validation data).
        best_metrics: the metrics of the best validation (lowest ``val_rmse``); empty without validation.
        best_step: the step of the best validation (None without validation).
        nan_recoveries: NaN-guard rollbacks over the whole run.
        history: the effective log records (see :func:`read_log`; this rank's records only on ranks > 0).
        last_checkpoint, best_checkpoint: paths (``best_checkpoint`` None if never written).
    """

    steps: int
    stopped: str
    final_loss: float | None
    final_metrics: dict[str, float]
    best_metrics: dict[str, float]
    best_step: int | None
    nan_recoveries: int
    history: list[dict[str, Any]] = field(repr=False)
    last_checkpoint: Path
    best_checkpoint: Path | None
