"""Shared test problems: ODEs with closed-form solutions and small learnable right-hand sides."""

from __future__ import annotations

import math

import torch
from torch import nn

# Nonlinear rotation (angular speed 1 + |x|^2, radius conserved) plus a logistic equation:
#   x' = -(1 + x^2 + y^2) y,  y' = (1 + x^2 + y^2) x,  p' = p (1 - p).
R0, P0 = 1.0, 0.2


def rotation_logistic(u: torch.Tensor) -> torch.Tensor:
    x, y, p = u[:, 0:1], u[:, 1:2], u[:, 2:3]
    w = 1 + x * x + y * y
    return torch.cat([-w * y, w * x, p * (1 - p)], dim=1)


def rotation_logistic_exact(t: float, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    w = 1 + R0 * R0
    p = 1 / (1 + (1 / P0 - 1) * math.exp(-t))
    return torch.tensor([[R0 * math.cos(w * t), R0 * math.sin(w * t), p]], dtype=dtype)


class DampedTanh(nn.Module):
    """``F(u) = -rate * u + tanh(weight * u)`` with per-channel learnable rate and weight."""

    def __init__(self, channels: int, ndim: int) -> None:
        super().__init__()
        shape = (1, channels) + (1,) * ndim
        self.rate = nn.Parameter(torch.linspace(0.5, 1.5, channels).reshape(shape))
        self.weight = nn.Parameter(torch.linspace(-1.0, 1.0, channels).reshape(shape))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return -self.rate * u + torch.tanh(self.weight * u)


class Diffusion1D(nn.Module):
    """Periodic second difference ``(u[i+1] - 2 u[i] + u[i-1])``: a stand-in for a user's Laplacian."""

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return torch.roll(u, 1, -1) - 2 * u + torch.roll(u, -1, -1)
