"""Viscous Burgers' equation in 1D, 2D and 3D on a periodic box."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from ..core import PhysdiffError, as_spacing, check_ndim
from ..operators import Gradient, Laplacian
from ._base import PDE, diffusion_stable_dt, generator, laplacian_symbol_max, scalar
from ._diffusion import check_shape, random_fourier_field

Parameter = float | torch.Tensor

_NAMES = ("u", "v", "w")


class Burgers(PDE):
    """Viscous Burgers' equation for a velocity field (channels ``u``, ``v``, ``w`` up to ``ndim``).

        u_t = nu lap u - (u . grad) u

    component-wise, on a periodic box, with the Laplacian and the gradient from exact
    central finite-difference stencils of order ``accuracy`` (PeRCNN: 4, i.e. the
    ``(-1/12, 4/3, -5/2, 4/3, -1/12)`` Laplacian and ``(1, -8, 0, 8, -1) / 12`` first
    derivative). Channel ``i`` is the velocity along spatial axis ``i`` (tensor dim ``2 + i``).
    ``nu`` is the kinematic viscosity (length^2 / time).

    Behaviour: smooth initial velocities steepen into viscous shocks of width about
    ``2 nu / |jump|`` that then decay. For irrotational data the Cole-Hopf transform
    ``u = -2 nu grad log phi``, ``phi_t = nu lap phi``, gives exact solutions
    (:meth:`cole_hopf`), which is how physdiff validates this solver.

    Failure modes: :meth:`stable_dt` is the *diffusion* limit only. The advective limit
    depends on the state: central differences need a resolved shock, cell Reynolds number
    ``|u| h / nu`` of order 2 or less, and a Courant number ``|u| dt / h`` within the
    method's imaginary-axis stability (about 2.8 for RK4; forward Euler relies on viscosity).
    Under-resolved shocks oscillate and can blow up; :func:`simulate` then names the step.

    Good values (PeRCNN's 2D dataset, :meth:`percnn_2d`): ``nu = 0.005`` (1/200),
    ``dx = 1/100``, 100^2 points on ``[0, 1)^2``, ``dt = 0.00025`` (forward Euler in
    PeRCNN; 15x below Euler's diffusion limit 0.00375 and Courant number 0.025 at ``|u| = 1``).

    Args:
        ndim: 1, 2 or 3 (as many velocity channels).
        nu: viscosity, a float or a tensor (differentiable).
        spacing: grid spacing, one float or one per axis.
        accuracy: order of the stencils.
    """

    def __init__(
        self, ndim: int = 2, *, nu: Parameter = 0.005, spacing: float | Sequence[float] = 0.01, accuracy: int = 4
    ) -> None:
        super().__init__(check_ndim(ndim))
        self.channel_names = _NAMES[:ndim]
        self.nu = nu
        self.spacing = as_spacing(spacing, ndim)
        self.accuracy = accuracy
        self.laplacian = Laplacian(ndim, self.spacing, accuracy, "periodic")
        self.gradient = Gradient(ndim, self.spacing, accuracy, "periodic")

    @classmethod
    def percnn_2d(cls, **overrides: Any) -> "Burgers":
        """PeRCNN 2D Burgers: ``nu = 0.005, dx = 1/100`` (grid 100^2 on ``[0, 1)^2``, ``dt = 0.00025``)."""
        return cls(**{"ndim": 2, "nu": 0.005, "spacing": 0.01, "accuracy": 4, **overrides})

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        self.check_state(state)
        # grad is channel-major: (B, C * ndim) -> (B, C, ndim), entry [c, i] = d u_c / d x_i.
        grad = self.gradient(state).unflatten(1, (self.ndim, self.ndim))
        advection = (grad * state.unsqueeze(1)).sum(dim=2)
        return self.nu * self.laplacian(state) - advection

    def stable_dt(self, integrator: type | None = None) -> float | None:
        return diffusion_stable_dt(scalar(self.nu), laplacian_symbol_max(self.accuracy, self.spacing), integrator)

    def initial_condition(
        self, batch: int, shape: tuple[int, ...], *, seed: int = 0, modes: int = 4, amplitude: float = 1.0,
        offset: float = 0.0, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """Random Fourier-series velocities: ``u_c = amplitude * W_c / max|W_c| + c_c``.

        ``W_c`` is a zero-mean random trigonometric polynomial with wave numbers up to
        ``modes`` per axis (coefficients ``N(0, 1)``), drawn independently per sample and
        component; ``c_c ~ U(-offset, offset)`` is a uniform random mean velocity.

        This is the RUC group's generator style (systems.md §1.4) without its bugs: the
        normalisation divides by ``max |W|`` (not ``max W``, which can be tiny or negative),
        the mean is an explicit bounded parameter (a mean flow only translates the pattern,
        by Galilean invariance), the modes are exactly periodic on any box, and the axis
        convention is physdiff's (component ``i`` along tensor dim ``2 + i``).
        Defaults keep ``|u| <= 1`` with 4 modes, resolved by :meth:`percnn_2d` on 100^2.
        """
        shape = check_shape("Burgers.initial_condition", shape, self.ndim, batch)
        gen = generator(seed)
        field = random_fourier_field(batch, self.ndim, shape, modes=modes, gen=gen, owner="Burgers")
        mean = offset * (2.0 * torch.rand((batch, self.ndim), generator=gen, dtype=torch.float64) - 1.0)
        field = amplitude * field + mean.reshape(batch, self.ndim, *(1,) * self.ndim)
        return field.to(dtype=dtype, device=device)

    def cole_hopf(
        self, shape: tuple[int, ...], t: float, *, amplitude: float = 0.5,
        dtype: torch.dtype = torch.float64, device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """The exact solution ``u = -2 nu grad log phi`` at time ``t``, shape ``(1, ndim, *shape)``.

        ``phi = 1 + amplitude * exp(-nu |k|^2 t) * prod_a cos(k_a x_a)`` solves
        ``phi_t = nu lap phi`` with ``k_a = 2 pi / L_a`` (the box ``L_a = N_a h_a``), so
        ``u`` solves Burgers' equation exactly on the periodic box (Cole-Hopf, valid for
        irrotational velocities). ``0 < amplitude < 1`` keeps ``phi > 0``; larger amplitudes
        give steeper fronts.
        """
        shape = check_shape("Burgers.cole_hopf", shape, self.ndim)
        if not 0.0 < amplitude < 1.0:
            raise PhysdiffError(f"Burgers.cole_hopf: amplitude must lie in (0, 1) so that phi > 0, got {amplitude!r}.")
        nu = scalar(self.nu)
        k = [2 * math.pi / (n * h) for n, h in zip(shape, self.spacing)]
        coords = torch.meshgrid(
            *(torch.arange(n, dtype=torch.float64) * h for n, h in zip(shape, self.spacing)), indexing="ij"
        )
        decay = amplitude * math.exp(-nu * sum(x * x for x in k) * t)
        cosines = [torch.cos(ka * x) for ka, x in zip(k, coords)]
        product = math.prod(cosines)
        phi = 1.0 + decay * product
        components = []
        for a in range(self.ndim):
            # d phi / d x_a: differentiate factor a only.
            others = math.prod(c for b, c in enumerate(cosines) if b != a) if self.ndim > 1 else 1.0
            dphi = -decay * k[a] * torch.sin(k[a] * coords[a]) * others
            components.append(-2.0 * nu * dphi / phi)
        return torch.stack(components)[None].to(dtype=dtype, device=device)

    def config(self) -> dict[str, Any]:
        return {
            "pde": "burgers", "ndim": self.ndim, "nu": scalar(self.nu),
            "spacing": list(self.spacing), "accuracy": self.accuracy,
        }
