"""2D incompressible Navier-Stokes in vorticity form on a periodic box, pseudo-spectral."""

from __future__ import annotations

import math
from typing import Any

import torch

from ..core import Grid, PhysdiffError
from ..integrators import ETDRK
from ..operators import dealias_mask, wavenumbers
from ._base import PDE, diffusion_stable_dt, generator, scalar

Parameter = float | torch.Tensor

# Below this many spectral entries the four inverse FFTs of the advection run as one batched
# call (saves call overhead); above it as four calls, which measured 2-4x faster on the
# development CPU for 4 x 128^2 x 4 and larger (the batched transform falls out of cache).
_STACK_LIMIT = 2**17


class NavierStokes2D(PDE):
    """Vorticity ``w`` (channel 0) of 2D incompressible flow on the periodic box ``[0, length)^2``:

        w_t + u w_x + v w_y = nu lap w + f,      -lap psi = w,   u = psi_y,   v = -psi_x.

    Sign conventions: ``x`` is spatial axis 0 (tensor dim -2), ``y`` axis 1 (dim -1);
    ``(u, v)`` is the velocity along ``(x, y)``; the stream function solves ``-lap psi = w``
    (``psi_hat = w_hat / |k|^2``, zero mean), so ``w = v_x - u_y`` and ``div (u, v) = 0``.
    Units: non-dimensional (box length 1 and ``nu`` an inverse Reynolds number in the FNO
    setting); time in the same unit as ``1 / (nu |k|^2)``.

    Forcing (``forcing=True``): ``f = 0.1 (sin(2 pi (x + y)/length) + cos(2 pi (x + y)/length))``,
    the FNO / Minimal-ConvRNN data setting; ``False`` for none, or an ``(n, n)`` tensor
    (treated as a constant).

    Discretisation: Fourier pseudo-spectral on ``n^2`` points; ``u w_x + v w_y`` is formed on
    the grid and its spectrum truncated by the 2/3 rule. Three ways to step:

    * :meth:`step` ``(w, dt)``: the FNO-generator scheme, Crank-Nicolson for viscosity with
      explicit (forward Euler) advection and forcing,
      ``w' = ((1 - dt nu |k|^2/2) w - dt A + dt f) / (1 + dt nu |k|^2/2)`` per mode,
      ``A`` the dealiased advection. First order in time for the advection, second order for
      viscosity; unconditionally stable for the viscous part.
    * :meth:`stepper` ``(dt, order)``: ETDRK on ``L = -nu |k|^2``, ``N = -A + f``.
    * ``forward(w)``: the full right-hand side for any explicit integrator.

    Behaviour: the GRF vorticity (:meth:`initial_condition`) organises into vortices driven
    towards the forcing's diagonal bands; at ``nu = 1e-3`` the flow stays laminar-ish and
    smooth at 64^2. Failure modes: advective CFL ``dt max|u| n / length`` well above 1 blows up
    :meth:`step`; at lower ``nu`` the 64^2 grid under-resolves and energy piles up near the
    2/3 cutoff.

    Good values (FNO / Minimal ConvRNN Navier-Stokes data): ``nu=1e-3``, ``n=64``, ``length=1``,
    ``dt=1e-2``, GRF ``alpha=2, tau=7``, a snapshot every time unit to ``T=50``.
    Sources: Li et al., "Fourier Neural Operator for Parametric PDEs", ICLR 2021 (data
    generator); Canuto, Hussaini, Quarteroni & Zang, *Spectral Methods* (2006) (2/3 rule).

    Args:
        nu: kinematic viscosity; float or tensor (differentiable in :meth:`step` and ``forward``).
        n: grid points per axis.
        length: side of the square box.
        forcing: ``True`` (FNO forcing), ``False`` (none) or an ``(n, n)`` tensor.
    """

    channel_names = ("w",)

    def __init__(
        self, *, nu: Parameter = 1e-3, n: int = 64, length: float = 1.0, forcing: bool | torch.Tensor = True,
    ) -> None:
        super().__init__(2)
        if isinstance(n, bool) or not isinstance(n, int) or n < 8:
            raise PhysdiffError(f"NavierStokes2D: n: expected an int >= 8 grid points per axis, got {n!r}.")
        self.grid = Grid.box((n, n), length)
        self.nu, self.n, self.length = nu, n, self.grid.length[0]
        if isinstance(forcing, torch.Tensor):
            if tuple(forcing.shape) != (n, n):
                raise PhysdiffError(
                    f"NavierStokes2D: forcing: expected a tensor of shape ({n}, {n}) (one value per grid point), "
                    f"got shape {tuple(forcing.shape)}. Pass True for the FNO forcing or False for none."
                )
            self._forcing = forcing.detach().to("cpu", torch.float64)
            self.forcing_kind = "custom"
        elif isinstance(forcing, bool):
            x, y = self.grid.mesh()
            phase = 2 * math.pi * (x + y) / self.length
            self._forcing = 0.1 * (torch.sin(phase) + torch.cos(phase)) if forcing else None
            self.forcing_kind = "fno" if forcing else "none"
        else:
            raise PhysdiffError(f"NavierStokes2D: forcing: expected True, False or an (n, n) tensor, got {forcing!r}.")
        self._cache: dict[tuple, dict[str, torch.Tensor]] = {}

    # ------------------------------------------------------------------ spectra
    def _spectra(self, dtype: torch.dtype, device: torch.device) -> dict[str, torch.Tensor]:
        """Per (dtype, device): ``k2 = |k|^2``, the four advection symbols, the 2/3 mask, ``f_hat``."""
        real = dtype.to_real() if dtype.is_complex else dtype
        key = (real, str(device))
        if key not in self._cache:
            n = self.n
            kx = wavenumbers(n, self.length).reshape(n, 1)
            ky = wavenumbers(n, self.length, rfft=True).reshape(1, n // 2 + 1)
            k2 = kx**2 + ky**2
            inv_k2 = torch.where(k2 > 0, 1.0 / torch.where(k2 > 0, k2, 1.0), 0.0)
            # odd derivatives of the Nyquist mode vanish on the grid (see physdiff.operators spectral docs)
            ikx, iky = 1j * kx.clone(), 1j * ky.clone()
            if n % 2 == 0:
                ikx[n // 2] = 0
                iky[:, -1] = 0
            # stacked symbols: u = psi_y, v = -psi_x, w_x, w_y from one spectrum w_hat
            symbols = torch.stack([iky * inv_k2, -ikx * inv_k2, ikx.expand(n, n // 2 + 1), iky.expand(n, n // 2 + 1)])
            f_hat = torch.fft.rfft2(self._forcing) if self._forcing is not None else None
            entries = {
                "k2": k2, "symbols": symbols[:, None, None], "mask": dealias_mask((n, n)).to(torch.float64),
                "f_hat": f_hat,
            }
            self._cache[key] = {
                name: None if t is None else t.to(device=device, dtype=real.to_complex() if t.is_complex() else real)
                for name, t in entries.items()
            }
        return self._cache[key]

    def _check(self, w: torch.Tensor) -> None:
        self.check_state(w)
        if tuple(w.shape[-2:]) != (self.n, self.n):
            raise PhysdiffError(
                f"NavierStokes2D: expected a state of spatial shape ({self.n}, {self.n}) (n), got {tuple(w.shape)}."
            )

    def to_spectral(self, w: torch.Tensor) -> torch.Tensor:
        """``rfft2`` of a vorticity ``(B, 1, n, n)`` (checked)."""
        self._check(w)
        return torch.fft.rfft2(w)

    def to_physical(self, w_hat: torch.Tensor) -> torch.Tensor:
        return torch.fft.irfft2(w_hat, s=(self.n, self.n))

    def velocity(self, w: torch.Tensor) -> torch.Tensor:
        """Velocity ``(u, v) = (psi_y, -psi_x)`` of a vorticity, shape ``(B, 2, n, n)``."""
        w_hat = self.to_spectral(w)
        s = self._spectra(w_hat.dtype, w_hat.device)
        uv = self.to_physical(s["symbols"][:2] * w_hat)  # (2, B, 1, n, n)
        return torch.cat([uv[0], uv[1]], dim=1)

    def advection_hat(self, w_hat: torch.Tensor) -> torch.Tensor:
        """Dealiased spectrum of ``u w_x + v w_y`` from ``w_hat`` (4 inverse and 1 forward FFT)."""
        return self._spectra(w_hat.dtype, w_hat.device)["mask"] * self._product_hat(w_hat)

    def _product_hat(self, w_hat: torch.Tensor) -> torch.Tensor:
        """Spectrum of ``u w_x + v w_y`` before the 2/3 truncation."""
        s = self._spectra(w_hat.dtype, w_hat.device)
        symbols = s["symbols"]
        if 4 * w_hat.numel() <= _STACK_LIMIT:  # small: one batched irfft2 for all four fields
            u, v, wx, wy = self.to_physical(symbols * w_hat)
            return torch.fft.rfft2(u * wx + v * wy)
        product = self.to_physical(symbols[0] * w_hat) * self.to_physical(symbols[2] * w_hat)
        return torch.fft.rfft2(product.addcmul_(self.to_physical(symbols[1] * w_hat), self.to_physical(symbols[3] * w_hat)))

    def linear_symbol(self, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None) -> torch.Tensor:
        """Diagonal of ``L = nu lap`` on the ``rfft2`` coefficients: ``-nu |k|^2`` (``nu`` as a constant)."""
        device = torch.device(device) if device is not None else torch.device("cpu")
        return -scalar(self.nu) * self._spectra(dtype, device)["k2"]

    def nonlinear_hat(self, w_hat: torch.Tensor) -> torch.Tensor:
        """``N = -(u w_x + v w_y) + f`` in Fourier space (advection dealiased)."""
        out = -self.advection_hat(w_hat)
        f_hat = self._spectra(w_hat.dtype, w_hat.device)["f_hat"]
        return out if f_hat is None else out + f_hat

    # ---------------------------------------------------------------- dynamics
    def forward(self, w: torch.Tensor) -> torch.Tensor:
        """``dw/dt = nu lap w - (u w_x + v w_y) + f`` (full right-hand side)."""
        w_hat = self.to_spectral(w)
        k2 = self._spectra(w_hat.dtype, w_hat.device)["k2"]
        return self.to_physical(-self.nu * k2 * w_hat + self.nonlinear_hat(w_hat))

    def step(self, w: torch.Tensor, dt: float, *, steps: int = 1) -> torch.Tensor:
        """``steps`` Crank-Nicolson/explicit steps of size ``dt`` (the FNO generator's scheme), batched.

        Between the ``steps`` steps the state stays in Fourier space (one transform pair in all).
        """
        if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not (0 < dt < math.inf):
            raise PhysdiffError(f"NavierStokes2D.step: dt: expected a finite positive float, got {dt!r}.")
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise PhysdiffError(f"NavierStokes2D.step: steps: expected a positive int, got {steps!r}.")
        w_hat = self.to_spectral(w)
        s = self._spectra(w_hat.dtype, w_hat.device)
        half = (0.5 * dt) * self.nu * s["k2"]
        decay = (1 - half) / (1 + half)
        gain = dt / (1 + half)
        masked_gain = gain * s["mask"]  # the 2/3 truncation folded into the explicit weight
        source = None if s["f_hat"] is None else gain * s["f_hat"]
        for _ in range(steps):
            w_hat = decay * w_hat - masked_gain * self._product_hat(w_hat)
            if source is not None:
                w_hat = w_hat + source
        return self.to_physical(w_hat)

    def stepper(self, dt: float, order: int = 4, **contour: Any) -> ETDRK:
        """ETDRK integrator of ``order`` for physical vorticities: ``stepper(dt)(w, steps=k)``; ``dt`` fixed."""
        return ETDRK(
            self.linear_symbol(), self.nonlinear_hat, dt, order,
            transform=self.to_spectral, inverse=self.to_physical, **contour,
        )

    def stable_dt(self, integrator: type | None = None) -> float | None:
        """Viscous limit of an explicit method, ``r / (nu |k|^2_max)``; the advective CFL is not included."""
        laplacian_max = 2 * (math.pi * self.n / self.length) ** 2
        return diffusion_stable_dt(scalar(self.nu), laplacian_max, integrator)

    # ------------------------------------------------------- initial conditions
    def initial_condition(
        self, batch: int, shape: tuple[int, ...] | None = None, *, seed: int = 0, alpha: float = 2.0,
        tau: float = 7.0, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """Gaussian random field vorticity with covariance ``(-lap + tau^2)^(-alpha)``, the FNO generator's.

            w(x) = Re sum_k sqrt(2) sigma (|k|^2 + tau^2)^(-alpha/2) xi_k exp(i k.x),   xi_k = N(0,1) + i N(0,1),

        over the ``n^2`` wavenumbers ``k = 2 pi q / length`` (FFT order), ``k = 0`` excluded
        (mean zero), ``sigma = tau^(alpha - 1)`` (``tau^(0.5 (2 alpha - d))``, ``d = 2``). Seeded
        with a private generator on the CPU in float64, so a seed gives the same field everywhere.
        """
        if shape is not None and tuple(shape) != (self.n, self.n):
            raise PhysdiffError(
                f"NavierStokes2D.initial_condition: expected shape ({self.n}, {self.n}) (n), got {tuple(shape)!r}."
            )
        for name, value in (("alpha", alpha), ("tau", tau)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < math.inf):
                raise PhysdiffError(f"NavierStokes2D.initial_condition: {name}: expected a positive float, got {value!r}.")
        n = self.n
        k = wavenumbers(n, self.length)
        k2 = k.reshape(n, 1) ** 2 + k.reshape(1, n) ** 2
        sigma = tau ** (0.5 * (2 * alpha - 2))
        sqrt_eig = math.sqrt(2.0) * sigma * (k2 + tau**2) ** (-alpha / 2)
        sqrt_eig[0, 0] = 0.0
        noise = torch.randn((batch, 1, n, n, 2), generator=generator(seed), dtype=torch.float64)
        coefficients = sqrt_eig * torch.complex(noise[..., 0], noise[..., 1])
        w = torch.fft.ifft2(coefficients, norm="forward").real  # norm="forward": a plain sum over k
        return w.to(dtype=dtype, device=device)

    def config(self) -> dict[str, Any]:
        return {"pde": "navier-stokes-2d", "nu": scalar(self.nu), "n": self.n, "length": self.length,
                "forcing": self.forcing_kind}
