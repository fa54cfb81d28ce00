"""Gray-Scott reaction-diffusion in 2D and 3D on a periodic box."""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Real
from typing import Any

import torch

from ..core import PhysdiffError, as_spacing, check_ndim
from ..integrators import EULER_TABLEAU, RK4, RK4_TABLEAU
from ..operators import Laplacian, Stencil
from ._base import PDE, diffusion_stable_dt, generator, laplacian_symbol_max, scalar
from ..core._compiled import LazyCompiled
from ._reaction_diffusion_kernel import eager_rk4, eager_update, fused_update, rhs_table, rk4_update

Parameter = float | torch.Tensor

#: Values of :attr:`GrayScott.backend`.
BACKENDS = ("auto", "reference", "eager", "compiled")
_RHS_KERNEL = LazyCompiled(fused_update, "the Gray-Scott right-hand side")
_RK4_KERNEL = LazyCompiled(rk4_update, "the Gray-Scott RK4 step")


class GrayScott(PDE):
    r"""Gray-Scott reaction-diffusion (channel 0 = ``u``, channel 1 = ``v``).

    $$
    \begin{align*}
    u_t &= D_u \nabla^2 u - u v^2 + F (1 - u), \\
    v_t &= D_v \nabla^2 v + u v^2 - (F + k) v
    \end{align*}
    $$

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

    Speed: when no gradient is needed (the state does not require one or grad mode is
    off, parameters are floats or one-element tensors without ``requires_grad``) on the
    CPU, ``forward`` runs a fused kernel (``_reaction_diffusion_kernel``) instead of the
    general autograd path; the two agree to rounding. :attr:`backend` selects it:
    ``"auto"`` (default) runs the eager fused kernel and switches to a ``torch.compile``'d
    one-pass kernel once a grid shape has seen about 1e9 elements of work (about the
    compilation time, so short runs never compile); ``"compiled"`` compiles at once;
    ``"eager"`` never compiles; ``"reference"`` always takes the general path. Compilation
    failures fall back to the eager kernel with one warning. :meth:`step` also fuses the
    Euler and RK4 update arithmetic into the kernel (``benchmarks/gray_scott.py``).

    Args:
        ndim: 2 or 3 (1 also works).
        Du, Dv, F, k: parameters; floats or tensors (differentiable).
        spacing: grid spacing, one float or one per axis.
        accuracy: order of the Laplacian stencil (4 is PeRCNN's 5-point-per-axis kernel).
    """

    channel_names = ("u", "v")
    #: Which right-hand-side implementation runs when no gradient is needed; one of :data:`BACKENDS`.
    backend: str = "auto"

    def __init__(
        self, ndim: int = 2, *, Du: Parameter = 2e-5, Dv: Parameter = 5e-6, F: Parameter = 0.04,
        k: Parameter = 0.06, spacing: float | Sequence[float] = 0.01, accuracy: int = 4,
    ) -> None:
        super().__init__(check_ndim(ndim))
        self.Du, self.Dv, self.F, self.k = Du, Dv, F, k
        self.spacing = as_spacing(spacing, ndim)
        self.accuracy = accuracy
        self.laplacian = Laplacian(ndim, self.spacing, accuracy, "periodic")
        # Symmetric per-axis weights (w_0, ..., w_r) / h_a^2 of the same stencil, for the fused kernels.
        stencil = Stencil.central(2, accuracy)
        self._radius = len(stencil.offsets) // 2
        self._axis_weights = tuple(stencil.float_weights(h)[self._radius:] for h in self.spacing)
        self._tables: dict[tuple, Any] = {}

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
        params = self._fast_parameters(state)
        if params is not None:
            return self._fast_rhs(state, params)
        return self._reference_rhs(state)

    def _reference_rhs(self, state: torch.Tensor) -> torch.Tensor:
        """The general path: differentiable w.r.t. the state and tensor parameters, any device."""
        u, v = state[:, 0:1], state[:, 1:2]
        lap = self.laplacian(state)  # both species in one stencil pass
        uvv = u * v * v
        du = self.Du * lap[:, 0:1] - uvv + self.F * (1.0 - u)
        dv = self.Dv * lap[:, 1:2] + uvv - (self.F + self.k) * v
        return torch.cat([du, dv], dim=1)

    def step(self, state: torch.Tensor, dt: float, *, integrator: type = RK4, steps: int = 1) -> torch.Tensor:
        """Advance ``state`` by ``steps`` steps of size ``dt`` of ``integrator`` (a class: ``Euler``, ``RK4``, ...).

        Equal to applying ``integrator(self)`` ``steps`` times (to rounding). For ``Euler`` and
        ``RK4`` with a float ``dt`` on the fast path (see the class docstring) the update
        arithmetic is fused: the generic integrator adds 3 (Euler) and 18 (RK4) elementwise
        passes to the right-hand-side evaluations; the compiled kernels fold them into their
        loops (an Euler step is one kernel call), the eager ones do them in 1 and 7 in-place
        passes. Anything else (other integrators, tensor ``dt``, gradients needed) runs
        ``integrator(self)``.
        """
        self.check_state(state)
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise PhysdiffError(f"GrayScott.step: steps: expected a positive int, got {steps!r}.")
        stepper = None
        for _ in range(steps):
            fused = self.fused_step(getattr(integrator, "TABLEAU", None), state, dt)
            if fused is None:
                stepper = stepper or integrator(self)
                fused = stepper(state, dt)
            state = fused
        return state

    # ------------------------------------------------------------ fast kernels
    def fused_step(self, tableau: object, state: torch.Tensor, dt: object) -> torch.Tensor | None:
        """One fused Euler or RK4 step, or None where only the generic integrator applies.

        The fused-step protocol of :class:`physdiff.integrators.ExplicitRK`: ``Euler(pde)`` and
        ``RK4(pde)`` (and so :func:`simulate`) call it first and use its result when not None."""
        self.check_state(state)
        if not (tableau is EULER_TABLEAU or tableau is RK4_TABLEAU) or isinstance(dt, bool) or not isinstance(dt, Real):
            return None
        params = self._fast_parameters(state)
        if params is None:
            return None
        dt = float(dt)
        if not math.isfinite(dt):
            raise PhysdiffError(f"GrayScott.step: dt: expected a finite time step, got {dt!r}.")
        return self._fast_rhs(state, params, dt) if tableau is EULER_TABLEAU else self._fast_rk4(state, params, dt)

    def _fast_parameters(self, state: torch.Tensor) -> tuple[float, float, float, float] | None:
        """``(Du, Dv, F, k)`` as floats if a fused kernel may run on ``state``, else None."""
        if self.backend not in BACKENDS:
            raise PhysdiffError(f"GrayScott.backend: expected one of {BACKENDS}, got {self.backend!r}.")
        params = (self.Du, self.Dv, self.F, self.k)
        tensors = [p for p in params if isinstance(p, torch.Tensor)]
        if (
            self.backend == "reference"
            or state.device.type != "cpu"  # measured on CPUs only; accelerators keep the general path
            or state.dtype not in (torch.float32, torch.float64)
            or torch.compiler.is_compiling()  # a caller compiling us traces the general path
            or (torch.is_grad_enabled() and (state.requires_grad or any(p.requires_grad for p in tensors)))
            or any(p.numel() != 1 or p.device.type != "cpu" for p in tensors)
            or any(n < 2 * self._radius + 1 for n in state.shape[2:])  # the general path raises the error
        ):
            return None
        return tuple(scalar(p) for p in params)

    def _cached(self, key: tuple, build: Any) -> Any:
        """Small per-(parameters, dtype, dt) tensors, built once (bounded: cleared past 64 entries)."""
        value = self._tables.get(key)
        if value is None:
            if len(self._tables) > 64:
                self._tables.clear()
            value = self._tables[key] = build()
        return value

    def _table(self, params: tuple, state: torch.Tensor, dt: float | None) -> torch.Tensor:
        Du, Dv, F, k = params
        return self._cached(("table", params, state.dtype, state.device, dt), lambda: rhs_table(
            (Du, Dv), (-F, -(F + k)), (-1.0, 1.0), (F, 0.0), self._axis_weights, state.dtype, state.device, dt))

    def _kernel_key(self, name: str, state: torch.Tensor) -> tuple:
        """What a compiled graph is specialised on (dynamo guards on all of it)."""
        grad_modes = (torch.is_grad_enabled(), torch.is_inference_mode_enabled())
        return (name, tuple(state.shape), state.stride(), state.dtype, self._radius, grad_modes)

    def _fast_rhs(self, state: torch.Tensor, params: tuple, dt: float | None = None) -> torch.Tensor:
        """The right-hand side, or with ``dt`` one Euler step ``state + dt * rhs`` (same compiled graph)."""
        key = self._kernel_key("rhs", state)
        if self.backend != "eager" and _RHS_KERNEL.wants(key, state.numel(), self.backend == "compiled"):
            out = _RHS_KERNEL.run(key, state, self._table(params, state, dt), self._radius)
            if out is not None:
                return out
        Du, Dv, F, k = params
        coefficients = self._cached(("eager", params, state.dtype, state.device), lambda: tuple(
            torch.tensor(pair, dtype=state.dtype, device=state.device).view((1, 2) + (1,) * self.ndim)
            for pair in ((Du, Dv), (-F, -(F + k)), (-1.0, 1.0), (F, 0.0))))
        out = eager_update(state, self._axis_weights, *coefficients)
        return out if dt is None else torch.add(state, out, alpha=dt)

    def _fast_rk4(self, state: torch.Tensor, params: tuple, dt: float) -> torch.Tensor:
        key = self._kernel_key("rk4", state)
        if self.backend != "eager" and _RK4_KERNEL.wants(key, 4 * state.numel(), self.backend == "compiled"):
            step = self._cached(
                ("dt", dt, state.dtype, state.device), lambda: torch.tensor(dt, dtype=state.dtype, device=state.device))
            out = _RK4_KERNEL.run(key, state, self._table(params, state, None), step, self._radius)
            if out is not None:
                return out
        return eager_rk4(state, lambda stage: self._fast_rhs(stage, params), dt)

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
