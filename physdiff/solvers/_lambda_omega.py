"""The lambda-omega reaction-diffusion system (spiral waves) in 2D and 3D on a periodic box."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from ..core import PhysdiffError, as_spacing
from ..operators import Laplacian
from ._base import PDE, diffusion_stable_dt, generator, laplacian_symbol_max, scalar
from ._diffusion import check_shape

Parameter = float | torch.Tensor


class LambdaOmega(PDE):
    """Lambda-omega reaction-diffusion (channel 0 = ``u``, channel 1 = ``v``).

        u_t = D lap u + lambda(A) u - omega(A) v
        v_t = D lap v + omega(A) u + lambda(A) v
        A^2 = u^2 + v^2,   lambda(A) = 1 - A^2,   omega(A) = -beta A^2

    on a periodic box centred at the origin, ``[-L/2, L/2)`` per axis with ``L = N h``.
    In complex form ``z = u + i v``: ``z_t = D lap z + (1 - (1 + i beta) |z|^2) z``, the
    complex Ginzburg-Landau equation with real diffusion. All quantities are non-dimensional.

    Behaviour: the reaction drives ``A`` to the limit cycle ``A = 1`` rotating with
    frequency ``-beta``; the amplitude-dependent frequency twists phase defects into
    rotating spiral waves (scroll waves in 3D). Failure modes: :meth:`stable_dt` is the
    diffusion limit; the reaction's own rate (about 2 near ``A = 1``) only matters for
    ``dt`` far above the values below. The spiral initial state is not periodic, so the box
    edges carry a mismatch that diffusion smooths during the first time units.

    Good values (PeRCNN's forward-simulation case, :meth:`percnn_2d`, after the PDE-FIND
    reaction-diffusion example of Rudy et al. 2017): ``D = 0.1, beta = 1``, domain
    ``[-10, 10]^2`` with 100^2 points (``dx = 0.2``), ``dt = 0.0125`` (forward Euler and the
    4th-order Laplacian in PeRCNN; Euler's limit there is 0.075). PeRCNN's physics
    residual uses ``D = 0.1``; its learnable diffusion coefficients start at 0.2.

    Args:
        ndim: 2 or 3 (3D: the 2D spiral extruded along the third axis, a straight scroll wave).
        D, beta: parameters; floats or tensors (differentiable).
        spacing: grid spacing, one float or one per axis.
        accuracy: order of the Laplacian stencil.
    """

    channel_names = ("u", "v")

    def __init__(
        self, ndim: int = 2, *, D: Parameter = 0.1, beta: Parameter = 1.0,
        spacing: float | Sequence[float] = 0.2, accuracy: int = 4,
    ) -> None:
        if isinstance(ndim, bool) or ndim not in (2, 3):
            raise PhysdiffError(
                f"LambdaOmega: expected ndim 2 or 3 (its spiral initial state needs a plane), got {ndim!r}."
            )
        super().__init__(ndim)
        self.D, self.beta = D, beta
        self.spacing = as_spacing(spacing, ndim)
        self.accuracy = accuracy
        self.laplacian = Laplacian(ndim, self.spacing, accuracy, "periodic")

    @classmethod
    def percnn_2d(cls, **overrides: Any) -> "LambdaOmega":
        """PeRCNN 2D: ``D = 0.1, beta = 1, dx = 0.2`` (100^2 on ``[-10, 10)^2``, ``dt = 0.0125``)."""
        return cls(**{"ndim": 2, "D": 0.1, "beta": 1.0, "spacing": 0.2, "accuracy": 4, **overrides})

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        self.check_state(state)
        u, v = state[:, 0:1], state[:, 1:2]
        lap = self.D * self.laplacian(state)
        a2 = u * u + v * v
        growth = 1.0 - a2                # lambda(A)
        omega = -self.beta * a2          # omega(A)
        du = lap[:, 0:1] + growth * u - omega * v
        dv = lap[:, 1:2] + omega * u + growth * v
        return torch.cat([du, dv], dim=1)

    def stable_dt(self, integrator: type | None = None) -> float | None:
        return diffusion_stable_dt(scalar(self.D), laplacian_symbol_max(self.accuracy, self.spacing), integrator)

    # ------------------------------------------------------- initial conditions
    def coordinates(self, shape: tuple[int, ...]) -> tuple[torch.Tensor, ...]:
        """Sample positions ``x_j = (j - N/2) h`` on the centred box ``[-L/2, L/2)``."""
        return tuple((torch.arange(n, dtype=torch.float64) - n / 2) * h for n, h in zip(shape, self.spacing))

    def spiral(
        self, shape: tuple[int, ...], *, arms: int = 1, rotation: float = 0.0, centre: Sequence[float] = (0.0, 0.0),
        dtype: torch.dtype = torch.float32, device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """The classic spiral ``u = tanh(r cos(m theta - r)), v = tanh(r sin(m theta - r))``, shape ``(1, 2, *shape)``.

        ``(r, theta)`` are polar coordinates in the first two axes about ``centre``, ``m = arms``;
        ``rotation`` turns the pattern (``theta -> theta - rotation``). The default is the
        PDE-FIND / PeRCNN initial state. Constant along a third axis.
        """
        shape = check_shape("LambdaOmega.spiral", shape, self.ndim)
        if isinstance(arms, bool) or not isinstance(arms, int) or arms < 1:
            raise PhysdiffError(f"LambdaOmega.spiral: arms: expected a positive int, got {arms!r}.")
        axes = [(torch.arange(n, dtype=torch.float64) - n / 2) * h for n, h in zip(shape, self.spacing)]
        grid = torch.meshgrid(*axes, indexing="ij")
        x, y = grid[0] - float(centre[0]), grid[1] - float(centre[1])
        r = torch.sqrt(x * x + y * y)
        phase = arms * (torch.atan2(y, x) - rotation) - r
        state = torch.stack([torch.tanh(r * torch.cos(phase)), torch.tanh(r * torch.sin(phase))])
        return state[None].to(dtype=dtype, device=device)

    def initial_condition(
        self, batch: int, shape: tuple[int, ...], *, seed: int = 0, arms: int = 1, shift: float = 0.1,
        dtype: torch.dtype = torch.float32, device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """Randomised classic spirals: per sample a uniform rotation in ``[0, 2 pi)`` and a centre
        uniform in ``[-shift L/2, shift L/2]`` per axis of the plane (see :meth:`spiral`; ``seed`` picks them)."""
        shape = check_shape("LambdaOmega.initial_condition", shape, self.ndim, batch)
        gen = generator(seed)
        samples = []
        for _ in range(batch):
            rotation = 2 * math.pi * float(torch.rand((), generator=gen, dtype=torch.float64))
            offsets = (2 * torch.rand(2, generator=gen, dtype=torch.float64) - 1).tolist()
            centre = [shift * o * n * h / 2 for o, n, h in zip(offsets, shape, self.spacing)]
            samples.append(self.spiral(shape, arms=arms, rotation=rotation, centre=centre, dtype=torch.float64))
        return torch.cat(samples).to(dtype=dtype, device=device)

    def config(self) -> dict[str, Any]:
        return {
            "pde": "lambda-omega", "ndim": self.ndim, "D": scalar(self.D), "beta": scalar(self.beta),
            "spacing": list(self.spacing), "accuracy": self.accuracy,
        }
