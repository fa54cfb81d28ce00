"""Advance a PDE with its own scheme instead of a generic integrator."""

from __future__ import annotations

import torch
from torch import nn

from ._base import PDE


class NativeScheme(nn.Module):
    """Advance a PDE with its own scheme: ``pde.step(u, dt)`` (Navier-Stokes' Crank-Nicolson /
    explicit advection) or the exponential integrator of ``pde.stepper(dt)`` (KdV's ETDRK4).

    Used through ``simulate(pde, ..., integrator=NativeScheme)``; stored in files as ``"native"``.
    """

    NAME = "native"

    def __init__(self, rhs: PDE) -> None:
        super().__init__()
        self.rhs = rhs
        self._stepper: tuple[float, nn.Module] | None = None

    def forward(self, u: torch.Tensor, dt: float) -> torch.Tensor:
        step = getattr(self.rhs, "step", None)
        if step is not None:
            return step(u, dt)
        # Exponential integrators precompute their coefficients for one dt: build once per dt.
        if self._stepper is None or self._stepper[0] != dt:
            self._stepper = (dt, self.rhs.stepper(dt))
        return self._stepper[1](u)
