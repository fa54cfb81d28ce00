"""Optional ``torch.compile`` of a learner's step for the duration of a run, with an eager fallback."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import torch

from ..learners import SequenceLearner


@contextlib.contextmanager
def compiled_step(model: SequenceLearner, enabled: bool, checkpointed: bool = False) -> Iterator[None]:
    """Route ``model.step`` through ``torch.compile`` for the duration; eager after any compile error.

    Not combined with gradient checkpointing of the rollout (``checkpointed``): recomputing a
    compiled region inside torch's non-reentrant checkpoint fails in backward (torch 2.13:
    "Unexpected state: target_frame.early_stop is set"), where no eager fallback is possible.
    """
    if not enabled:
        yield
        return
    if checkpointed:
        warnings.warn("TrainConfig.compile: not used together with checkpoint_rollout (a compiled step cannot be "
                      "recomputed inside torch's activation checkpointing); training eagerly.", stacklevel=3)
        yield
        return
    eager = model.step
    compiled = torch.compile(eager)
    failed = [False]

    def step(u: torch.Tensor, state: Any) -> Any:
        if not failed[0]:
            try:
                return compiled(u, state)
            except Exception as exc:  # no compiler, unsupported op, ...: never fail because of compilation
                failed[0] = True
                warnings.warn(f"TrainConfig.compile: torch.compile of {type(model).__name__}.step failed "
                              f"({type(exc).__name__}: {exc}); training eagerly.", stacklevel=2)
        return eager(u, state)

    model.step = step  # type: ignore[method-assign]
    try:
        yield
    finally:
        del model.step  # back to the class's method
