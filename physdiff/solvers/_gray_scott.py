"""Gray-Scott reaction-diffusion in 2D and 3D on a periodic box."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..core import PhysdiffError, as_spacing, check_ndim
from ..operators import Laplacian
from ._base import PDE, diffusion_stable_dt, generator, laplacian_symbol_max, scalar

Parameter = float | torch.Tensor


class GrayScott(PDE):
    """Gray-Scott reaction-diffusion (channel 0 = ``u``, channel 1 = ``v``).

        u_t = Du lap u - u v^2 + F (1 - u)
        v_t = Dv lap v + u v^2 - (F + k) v

    on a periodic box, with the Laplacian from exact finite-difference stencils.
    ``u`` is the feed species (1 at rest), ``v`` the autocatalyst. All quantities
    are non-dimensional; ``spacing`` is in the same length unit as ``Du, Dv``.

    Behaviour: from the rest state ``(u, v) = (1, 0)`` plus seeded squares (2D) or
    cubes (3D) of ``(0.5, 0.25)``, ``(F, k)`` select spots, stripes, or labyrinths
    (Pearson's classification). Failure mode: explicit steps above
    :meth:`stable_dt` (the diffusion limit) blow up; :func:`simulate` refuses them.

    Good values (the PeRCNN / PIMRL settings, :meth:`percnn_2d` and :meth:`percnn_3d`):
    2D ``Du=2e-5, Dv=5e-6, F=0.04, k=0.06``, 100^2 points, ``dx=1/100``, ``dt=0.5``;
    3D ``Du=0.2, Dv=0.1, F=0.025, k=0.055``, 48^3 points, ``dx=100/48``, ``dt=0.5``.

    Args:
        ndim: 2 or 3 (1 also works).
        Du, Dv, F, k: parameters; floats or tensors (differentiable).
        spacing: grid spacing, one float or one per axis.
        accuracy: order of the Laplacian stencil (4 is PeRCNN's 5-point-per-axis kernel).
    """

    channel_names = ("u", "v")

    def __init__(
        self, ndim: int = 2, *, Du: Parameter = 2e-5, Dv: Parameter = 5e-6, F: Parameter = 0.04,
        k: Parameter = 0.06, spacing: float | Sequence[float] = 0.01, accuracy: int = 4,
    ) -> None:
        super().__init__(check_ndim(ndim))
        self.Du, self.Dv, self.F, self.k = Du, Dv, F, k
        self.spacing = as_spacing(spacing, ndim)
        self.accuracy = accuracy
        self.laplacian = Laplacian(ndim, self.spacing, accuracy, "periodic")

    # ------------------------------------------------------------------ presets
    @classmethod
    def percnn_2d(cls, **overrides: Any) -> "GrayScott":
        """PeRCNN/PIMRL 2D: ``Du=2e-5, Dv=5e-6, F=0.04, k=0.06, dx=1/100`` (grid 100^2, ``dt=0.5``)."""
        return cls(**{"ndim": 2, "Du": 2e-5, "Dv": 5e-6, "F": 0.04, "k": 0.06, "spacing": 0.01, **overrides})

    @classmethod
    def percnn_3d(cls, **overrides: Any) -> "GrayScott":
        """PeRCNN/PIMRL 3D: ``Du=0.2, Dv=0.1, F=0.025, k=0.055, dx=100/48`` (grid 48^3, ``dt=0.5``)."""
        return cls(**{"ndim": 3, "Du": 0.2, "Dv": 0.1, "F": 0.025, "k": 0.055, "spacing": 100 / 48, **overrides})

    # ---------------------------------------------------------------- dynamics
    def forward(self, state: torch.Tensor) -> torch.Tensor:
        self.check_state(state)
        u, v = state[:, 0:1], state[:, 1:2]
        lap = self.laplacian(state)  # both species in one stencil pass
        uvv = u * v * v
        du = self.Du * lap[:, 0:1] - uvv + self.F * (1.0 - u)
        dv = self.Dv * lap[:, 1:2] + uvv - (self.F + self.k) * v
        return torch.cat([du, dv], dim=1)

    def stable_dt(self, integrator: type | None = None) -> float | None:
        fastest = max(scalar(self.Du), scalar(self.Dv))
        return diffusion_stable_dt(fastest, laplacian_symbol_max(self.accuracy, self.spacing), integrator)

    # ------------------------------------------------------- initial conditions
    def initial_condition(
        self, batch: int, shape: tuple[int, ...], *, seed: int = 0, noise: float = 0.1, seeds: int = 3,
        dtype: torch.dtype = torch.float32, device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """Rest state with relative noise plus ``seeds`` random squares/cubes of ``(u, v) = (0.5, 0.25)``.

        ``u = 1 - noise * r1``, ``v = noise * r2`` with ``r ~ U(0, 1)``; each seed region
        has half-width ``N // 10`` at a uniformly random centre (periodic wrap).
        """
        shape = tuple(shape)
        if len(shape) != self.ndim:
            raise PhysdiffError(f"GrayScott.initial_condition: expected {self.ndim} grid sizes, got {shape!r}.")
        gen = generator(seed)
        u = 1.0 - noise * torch.rand((batch, 1, *shape), generator=gen, dtype=torch.float64)
        v = noise * torch.rand((batch, 1, *shape), generator=gen, dtype=torch.float64)
        for b in range(batch):
            for _ in range(seeds):
                region = []
                for n in shape:
                    half = max(n // 10, 1)
                    centre = int(torch.randint(n, (1,), generator=gen))
                    region.append(torch.arange(centre - half, centre + half) % n)
                mesh = torch.meshgrid(*region, indexing="ij")
                u[(b, 0, *mesh)] = 0.5
                v[(b, 0, *mesh)] = 0.25
        return torch.cat([u, v], dim=1).to(dtype=dtype, device=device)

    def config(self) -> dict[str, Any]:
        return {
            "pde": "gray-scott", "ndim": self.ndim, "Du": scalar(self.Du), "Dv": scalar(self.Dv),
            "F": scalar(self.F), "k": scalar(self.k), "spacing": list(self.spacing), "accuracy": self.accuracy,
        }
