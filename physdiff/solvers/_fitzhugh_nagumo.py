"""FitzHugh-Nagumo reaction-diffusion in 1D, 2D and 3D on a periodic box."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ..core import as_spacing, check_ndim
from ..operators import Laplacian
from ._base import PDE, diffusion_stable_dt, generator, laplacian_symbol_max, scalar
from ._diffusion import check_shape, random_fourier_field

Parameter = float | torch.Tensor


class FitzHughNagumo(PDE):
    """FitzHugh-Nagumo reaction-diffusion (channel 0 = activator ``u``, channel 1 = inhibitor ``v``).

        u_t = Du lap u + u - u^3 - v + alpha
        v_t = Dv lap v + beta (u - v)

    on a periodic box, with the Laplacian from exact finite-difference stencils.
    All quantities are non-dimensional; ``spacing`` is in the length unit of ``Du, Dv``.

    Source of the parameters: PeRCNN lists 2D and 3D FitzHugh-Nagumo cases but publishes
    no parameters (systems.md §1.3). The defaults are therefore PDEBench's 2D
    diffusion-reaction benchmark (Takamoto et al., NeurIPS 2022 Datasets and Benchmarks;
    ``pdebench/data_gen/configs/diff-react.yaml``): ``Du = 1e-3, Dv = 5e-3``, reaction
    ``u - u^3 - k - v`` and ``u - v`` with ``k = 5e-3`` (so ``alpha = -k = -5e-3``,
    ``beta = 1``), on ``[-1, 1]^2`` with 128^2 cells (``dx = 1/64``), ``t in [0, 5]``,
    101 saved frames (:meth:`pdebench_2d`). Differences from PDEBench: periodic instead of
    no-flux boundaries, and smooth random initial states instead of pointwise ``N(0, 1)``
    noise (white noise is resolution-dependent and mostly destroyed by diffusion in the
    first steps). No 3D set is published anywhere we found; ``ndim=3`` uses the same
    parameters.

    Behaviour: ``u`` is a bistable activator (stable branches near ``+-1``) and ``v`` an
    inhibitor that diffuses faster (``Dv = 5 Du``), the activator-inhibitor setting of
    Turing patterns; from random data the fields coarsen into domains and fronts. Failure modes: :meth:`stable_dt` is the
    diffusion limit; the cubic reaction adds a stiffness ``3 u^2 - 1`` that matters only
    for ``|u| >> 1`` (large initial amplitudes need smaller steps).

    Good values: :meth:`pdebench_2d`, ``dt = 0.01`` with RK4 (limit 0.0128 at accuracy 4).

    Args:
        ndim: 1, 2 or 3.
        Du, Dv, alpha, beta: parameters; floats or tensors (differentiable).
        spacing: grid spacing, one float or one per axis.
        accuracy: order of the Laplacian stencil.
    """

    channel_names = ("u", "v")

    def __init__(
        self, ndim: int = 2, *, Du: Parameter = 1e-3, Dv: Parameter = 5e-3, alpha: Parameter = -5e-3,
        beta: Parameter = 1.0, spacing: float | Sequence[float] = 1 / 64, accuracy: int = 4,
    ) -> None:
        super().__init__(check_ndim(ndim))
        self.Du, self.Dv, self.alpha, self.beta = Du, Dv, alpha, beta
        self.spacing = as_spacing(spacing, ndim)
        self.accuracy = accuracy
        self.laplacian = Laplacian(ndim, self.spacing, accuracy, "periodic")

    @classmethod
    def pdebench_2d(cls, **overrides: Any) -> "FitzHughNagumo":
        """PDEBench 2D diffusion-reaction: ``Du=1e-3, Dv=5e-3, alpha=-5e-3, beta=1, dx=1/64`` (128^2, ``t <= 5``)."""
        return cls(**{"ndim": 2, "Du": 1e-3, "Dv": 5e-3, "alpha": -5e-3, "beta": 1.0, "spacing": 1 / 64, **overrides})

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        self.check_state(state)
        u, v = state[:, 0:1], state[:, 1:2]
        lap = self.laplacian(state)
        du = self.Du * lap[:, 0:1] + u - u**3 - v + self.alpha
        dv = self.Dv * lap[:, 1:2] + self.beta * (u - v)
        return torch.cat([du, dv], dim=1)

    def stable_dt(self, integrator: type | None = None) -> float | None:
        fastest = max(scalar(self.Du), scalar(self.Dv))
        return diffusion_stable_dt(fastest, laplacian_symbol_max(self.accuracy, self.spacing), integrator)

    def initial_condition(
        self, batch: int, shape: tuple[int, ...], *, seed: int = 0, modes: int = 4, amplitude: float = 1.0,
        dtype: torch.dtype = torch.float32, device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """Independent random trigonometric polynomials for ``u`` and ``v`` (wave numbers up to ``modes``), ``max |.| = amplitude``."""
        shape = check_shape("FitzHughNagumo.initial_condition", shape, self.ndim, batch)
        field = random_fourier_field(batch, 2, shape, modes=modes, gen=generator(seed), owner="FitzHughNagumo")
        return (amplitude * field).to(dtype=dtype, device=device)

    def config(self) -> dict[str, Any]:
        return {
            "pde": "fitzhugh-nagumo", "ndim": self.ndim, "Du": scalar(self.Du), "Dv": scalar(self.Dv),
            "alpha": scalar(self.alpha), "beta": scalar(self.beta), "spacing": list(self.spacing),
            "accuracy": self.accuracy,
        }
