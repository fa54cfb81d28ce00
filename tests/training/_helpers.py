"""A tiny learner and tiny data sets shared by the training tests and the torchrun script."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from physdiff.learners import SequenceLearner

CONVS = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}


class LinearConv(SequenceLearner):
    """``u_{n+1} = u_n + conv(u_n)``: a linear, memoryless learner (enough to learn a shift).

    ``nan_at``: the ``nan_at``-th forward call in training mode returns NaN (once), to test the
    NaN guard; ``nan_from``: every call from that one on. The call counter is not a parameter,
    so rolling back does not repeat the NaN. ``noise``: training-mode Gaussian noise of that
    size added at every step, drawn from the global RNG (to test that resuming restores it).
    """

    def __init__(self, channels: int = 1, ndim: int = 1, kernel_size: int = 3, time_step: float | None = None,
                 nan_at: int | None = None, nan_from: int | None = None, aux_weight: float = 0.0,
                 noise: float = 0.0) -> None:
        super().__init__(channels, ndim, time_step=time_step)
        self.kernel_size, self.nan_at, self.nan_from = kernel_size, nan_at, nan_from
        self.aux_weight, self.noise = aux_weight, noise
        self.conv = CONVS[ndim](channels, channels, kernel_size, padding=kernel_size // 2, padding_mode="circular")
        self.calls = 0

    def step(self, u: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        u = u + self.conv(u)
        if self.noise and self.training:
            u = u + self.noise * torch.randn_like(u)
        return u, state

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        out = super().forward(*args, **kwargs)
        if self.training and torch.is_grad_enabled():
            self.calls += 1
            if self.calls == self.nan_at or (self.nan_from is not None and self.calls >= self.nan_from):
                out = out * float("nan")
        return out

    def auxiliary_loss(self, context: torch.Tensor) -> torch.Tensor | None:
        if not self.aux_weight:
            return None
        return self.aux_weight * self.conv.weight.square().sum()  # a weight penalty standing in for e.g. PeRCNN's IC loss

    def config(self) -> dict[str, Any]:
        return {"channels": self.channels, "ndim": self.ndim, "kernel_size": self.kernel_size,
                "time_step": self.time_step, "nan_at": self.nan_at, "nan_from": self.nan_from,
                "aux_weight": self.aux_weight, "noise": self.noise}


def build(name: str, config: dict[str, Any]) -> SequenceLearner:
    """A one-entry registry, as the CLI's would be."""
    return {"LinearConv": LinearConv}[name](**config)


def advected(n: int = 6, frames: int = 12, grid: int = 16, shift: float = 0.5, dtype=torch.float64) -> torch.Tensor:
    """``n`` trajectories ``(n, frames, 1, grid)`` of random periodic waves moving ``shift`` points per frame."""
    gen = torch.Generator().manual_seed(1)
    x = torch.arange(grid, dtype=torch.float64) * 2 * math.pi / grid
    out = torch.zeros(n, frames, 1, grid, dtype=torch.float64)
    for i in range(n):
        a, b, phase = torch.randn(3, generator=gen, dtype=torch.float64)
        for t in range(frames):
            y = x - t * shift * 2 * math.pi / grid
            out[i, t, 0] = a * torch.sin(y + phase) + 0.5 * b * torch.cos(2 * y)
    return out.to(dtype)


def windows(trajectories: torch.Tensor, length: int) -> list[torch.Tensor]:
    """All windows of ``length`` frames of every trajectory: a list is a valid map-style dataset."""
    return [trajectories[i, s : s + length] for i in range(trajectories.shape[0])
            for s in range(trajectories.shape[1] - length + 1)]
