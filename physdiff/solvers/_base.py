"""The common shape of every reference PDE: a right-hand side module plus its metadata."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..core import Grid, PhysdiffError, check_field


def scalar(value: float | torch.Tensor) -> float:
    """A physical parameter as a plain float (for provenance and messages)."""
    return float(value.detach().cpu()) if isinstance(value, torch.Tensor) else float(value)


class PDE(nn.Module):
    """``du/dt = F(u)`` for one PDE: ``forward(u)`` is ``F``, usable as the ``rhs`` of any integrator.

    Subclasses set :attr:`channel_names` and implement :meth:`forward`,
    :meth:`initial_condition` and :meth:`config`; explicit-stability-limited ones
    also implement :meth:`stable_dt`.

    Physical parameters may be floats or tensors (with ``requires_grad`` for
    inverse problems); they are kept as given, so gradients flow to them.
    """

    #: Names of the state channels, in order (e.g. ``("u", "v")``).
    channel_names: tuple[str, ...] = ()

    def __init__(self, ndim: int) -> None:
        super().__init__()
        self.ndim = ndim

    @property
    def channels(self) -> int:
        return len(self.channel_names)

    def check_state(self, u: torch.Tensor) -> None:
        """Raise unless ``u`` is ``(B, channels, *space)`` with this PDE's number of spatial axes."""
        check_field(u, self.ndim, f"{type(self).__name__} state")
        if u.shape[1] != self.channels:
            raise PhysdiffError(
                f"{type(self).__name__}: expected a state with {self.channels} channels {self.channel_names}, "
                f"got {u.shape[1]} (shape {tuple(u.shape)})."
            )

    def initial_condition(
        self, batch: int, shape: tuple[int, ...], *, seed: int = 0,
        dtype: torch.dtype = torch.float32, device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """A seeded initial state ``(batch, channels, *shape)``; the same seed gives the same state."""
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """JSON-serialisable description: ``{"pde": name, **physical parameters, **discretisation}``."""
        raise NotImplementedError

    def stable_dt(self, integrator: type | None = None) -> float | None:
        """Largest stable time step for ``integrator`` (an explicit method class), or None if unlimited/unknown."""
        return None

    def coordinates(self, shape: tuple[int, ...]) -> tuple[torch.Tensor, ...] | None:
        """Sample positions per axis (float64, CPU) of a grid of ``shape`` points, or None if unknown.

        The default is ``x_j = j h`` from the PDE's ``spacing`` (or its ``grid``); PDEs on other
        domains (centred boxes, the sphere) override it.
        """
        spacing = getattr(self, "spacing", None)
        if spacing is None and isinstance(getattr(self, "grid", None), Grid):
            spacing = self.grid.spacing
        if spacing is None:
            return None
        return tuple(torch.arange(n, dtype=torch.float64) * h for n, h in zip(shape, spacing))


def generator(seed: int, device: torch.device | str | None = None) -> torch.Generator:
    """A private RNG for initial conditions: seeding never touches the global RNG state."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise PhysdiffError(f"seed: expected an int, got {seed!r}.")
    device = torch.device(device) if device is not None else torch.device("cpu")
    return torch.Generator(device=device).manual_seed(seed)


def diffusion_stable_dt(
    diffusivity: float, laplacian_symbol_max: float, integrator: type | None
) -> float | None:
    """``dt`` limit ``r / (D |lambda|_max)`` of an explicit method on diffusion.

    ``r`` is the method's real stability limit (2 for Euler, 2.79 for RK4) and
    ``|lambda|_max`` the largest magnitude of the discrete Laplacian's symbol.
    """
    tableau = getattr(integrator, "TABLEAU", None)
    if tableau is None or diffusivity <= 0.0:
        return None
    from ..integrators import real_stability_limit

    return real_stability_limit(tableau) / (diffusivity * laplacian_symbol_max)


def wave_stable_dt(frequency_max: float, integrator: type | None) -> float | None:
    """``dt`` limit ``y / omega_max`` of an explicit method on undamped waves (imaginary eigenvalues).

    ``y`` is the method's imaginary-axis stability limit: 0 for Euler and Heun (no stable
    step at all), sqrt 3 for SSPRK3, 2 sqrt 2 for RK4. None for an integrator without a tableau.
    """
    tableau = getattr(integrator, "TABLEAU", None)
    if tableau is None:
        return None
    from ..integrators import imaginary_stability_limit

    return imaginary_stability_limit(tableau) / frequency_max


def laplacian_symbol_max(accuracy: int, spacing: tuple[float, ...]) -> float:
    """``max_theta |sum_s w_s e^{i s theta}| * sum_a 1/h_a^2`` of the central second-derivative stencil.

    The symbol of a symmetric stencil is real, ``w_0 + 2 sum_{s>0} w_s cos(s theta)``,
    and its extreme magnitude is at ``theta = pi`` for every central stencil; a grid
    search over theta keeps this honest for any accuracy.
    """
    from ..operators import Stencil

    stencil = Stencil.central(2, accuracy)
    offsets, weights = stencil.integer_offsets(), stencil.float_weights()
    peak = max(
        abs(sum(w * math.cos(s * theta) for s, w in zip(offsets, weights)))
        for theta in (math.pi * i / 512 for i in range(513))
    )
    return peak * sum(1.0 / h**2 for h in spacing)
