"""Recovery from non-finite losses and gradients (the NaN guard).

PeRCNN's 3D Gray-Scott script reloads its checkpoint by hand and lowers the learning rate
when the loss becomes NaN; the guard automates that, one step at a time:

* at the start of every step the model and optimiser state is copied (a *candidate*);
* if the step's loss and gradient norm are finite, the candidate becomes the *good* state:
  the state at the start of the last finite step;
* otherwise the update is not applied, the model and optimiser go back to the good state,
  the learning-rate scale is multiplied by ``lr_factor`` (for the rest of the run) and
  training continues with the next batch; after ``max_retries`` consecutive failures the
  run stops with a :class:`PhysdiffError`.

The good state, the scale and the counters are part of training checkpoints, so a resumed
run recovers exactly as an uninterrupted one would.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..core import PhysdiffError
from ._config import NanGuardConfig


def clone_tree(value: Any) -> Any:
    """Deep copy of a (nested) dict/list/tuple of tensors: tensors are cloned (detached)."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        return {k: clone_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clone_tree(v) for v in value]
    if isinstance(value, tuple):
        return tuple(clone_tree(v) for v in value)
    return value


class NanGuard:
    """Keeps the last good state and the learning-rate scale (see the module docstring)."""

    def __init__(self, config: NanGuardConfig) -> None:
        self.config = config
        self.lr_scale = 1.0
        self.consecutive = 0
        self.recoveries = 0
        self.good: dict[str, Any] | None = None
        self._candidate: dict[str, Any] | None = None

    def begin_step(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        if self.config.enabled:
            self._candidate = {"model": clone_tree(model.state_dict()), "optimizer": clone_tree(optimizer.state_dict())}

    def succeeded(self) -> None:
        self.consecutive = 0
        if self._candidate is not None:
            self.good, self._candidate = self._candidate, None

    def failed(self, model: nn.Module, optimizer: torch.optim.Optimizer, step: int, what: str) -> str:
        """Roll back after a non-finite ``what``; returns the log message, or raises after too many failures."""
        if not self.config.enabled:
            raise PhysdiffError(
                f"training: step {step}: {what} is not finite and the NaN guard is disabled. Enable it "
                "(nan_guard.enabled), lower the learning rate, clip gradients (grad_clip) or shorten the horizon."
            )
        self.consecutive += 1
        self.recoveries += 1
        self._candidate = None
        if self.consecutive > self.config.max_retries:
            raise PhysdiffError(
                f"training: step {step}: {what} is not finite for the {self.consecutive}th step in a row "
                f"(nan_guard.max_retries = {self.config.max_retries}), even after rolling back and scaling the learning "
                f"rate down to {self.lr_scale:g} x its schedule. The last checkpoint (last.pt), if one was written, "
                "is intact. Try a lower optimizer.lr, grad_clip, a shorter horizon or a horizon curriculum, float64, "
                "or check the data for NaN/Inf."
            )
        if self.good is not None:
            model.load_state_dict(self.good["model"])
            optimizer.load_state_dict(clone_tree(self.good["optimizer"]))  # keep self.good pristine for later failures
        restored = "the start of the last finite step" if self.good is not None else "the initial state (no finite step yet)"
        self.lr_scale *= self.config.lr_factor
        return (f"NaN guard: {what} not finite at step {step}; restored the model and optimiser to {restored}, "
                f"learning-rate scale now {self.lr_scale:g} (failure {self.consecutive} of at most "
                f"{self.config.max_retries} in a row).")

    def state_dict(self) -> dict[str, Any]:
        return {"lr_scale": self.lr_scale, "consecutive": self.consecutive, "recoveries": self.recoveries,
                "good": self.good}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.lr_scale = float(state["lr_scale"])
        self.consecutive = int(state["consecutive"])
        self.recoveries = int(state["recoveries"])
        self.good = state["good"]
