"""Korteweg-de Vries equation on a periodic interval: pseudo-spectral (ETDRK4) or finite differences."""

from __future__ import annotations

import math
from typing import Any

import torch

from ..core import Grid, PhysdiffError
from ..integrators import ETDRK
from ..operators import FiniteDifference, dealias_mask, wavenumbers
from ._base import PDE, generator, scalar, wave_stable_dt

Parameter = float | torch.Tensor
METHODS = ("spectral", "finite-difference")


class KdV(PDE):
    """Korteweg-de Vries equation (channel 0 = ``u``) on the periodic interval ``[0, length)``:

        u_t + a u u_x + b u_xxx = 0,    i.e.   u_t = L u + N(u),   L = -b d^3/dx^3,   N(u) = -a (u^2/2)_x.

    Non-dimensional. Mass ``int u dx`` and momentum ``int u^2 dx`` are conserved.

    Discretisation (``method``):

    * ``"spectral"`` (default): Fourier pseudo-spectral on ``n`` points; ``L`` has symbol
      ``-b (ik)^3 = i b k^3``; the quadratic term uses the 2/3 rule on both the factor and the
      product, so it is alias-free (and conserves mass and momentum exactly in space).
    * ``"finite-difference"``: periodic central stencils of order ``accuracy`` for ``d/dx``
      and ``d^3/dx^3`` (physdiff :class:`FiniteDifference`), no dealiasing.

    Time stepping: :meth:`stepper` returns an ETDRK integrator (the stiff ``L`` is integrated
    exactly, so ``dt`` is limited by accuracy only); ``forward(u)`` is the full right-hand
    side for explicit integrators, which need ``dt <= stable_dt(RK4) ~ 2.83 / (b k_max^3)``.

    Behaviour: a soliton ``u = (3c/a) sech^2(sqrt(c/b)/2 (x - x0 - c t))`` travels at speed
    ``c`` unchanged (:meth:`soliton`); smooth data steepen and split into solitons plus a
    dispersive tail. Failure modes: explicit methods blow up above :meth:`stable_dt` (Euler
    and Heun at any ``dt``, :func:`physdiff.integrators.imaginary_stability_limit`); an under-resolved soliton
    (width ``2 sqrt(b/c)`` below a few grid spacings) radiates and drifts.

    Good values: ``a=6, b=1``, length 40, n 256, soliton speed ``c`` 0.5-4, ETDRK4 ``dt=0.01``.
    Sources: Kassam & Trefethen, SIAM J. Sci. Comput. 26 (2005) (ETDRK4 for KdV);
    Drazin & Johnson, *Solitons: an Introduction* (1989) (soliton solution).

    Args:
        a, b: nonlinear and dispersive coefficients; floats or tensors (differentiable in
            ``forward``; :meth:`stepper` treats them as constants).
        length: period of the domain; samples at ``x_j = j length / n``.
        n: grid points.
        method: ``"spectral"`` or ``"finite-difference"``.
        accuracy: stencil order for the finite-difference method.
    """

    channel_names = ("u",)

    def __init__(
        self, *, a: Parameter = 6.0, b: Parameter = 1.0, length: float = 40.0, n: int = 256,
        method: str = "spectral", accuracy: int = 4,
    ) -> None:
        super().__init__(1)
        if isinstance(n, bool) or not isinstance(n, int) or n < 8:
            raise PhysdiffError(f"KdV: n: expected an int >= 8 grid points, got {n!r}.")
        if method not in METHODS:
            raise PhysdiffError(f"KdV: method: expected one of {METHODS}, got {method!r}.")
        self.grid = Grid.box((n,), length)
        self.a, self.b, self.n, self.length = a, b, n, self.grid.length[0]
        self.method, self.accuracy = method, accuracy
        if method == "finite-difference":
            h = self.grid.spacing[0]
            self.d1 = FiniteDifference(1, h, accuracy)
            self.d3 = FiniteDifference(3, h, accuracy)
        self._cache: dict[tuple, dict[str, torch.Tensor]] = {}

    # ------------------------------------------------------------------ spectra
    def _symbols(self, dtype: torch.dtype, device: torch.device) -> dict[str, torch.Tensor]:
        """``ik`` (Nyquist zeroed: odd derivative), ``D3`` = symbol of d^3/dx^3, 2/3 mask; cast to ``dtype``."""
        key = (dtype, str(device))
        if key not in self._cache:
            with torch.no_grad():
                k = wavenumbers(self.n, self.length, rfft=True)
                if self.n % 2 == 0:
                    k[-1] = 0.0  # the derivative of cos(k_N x) vanishes on the grid
                ik = 1j * k.to(torch.complex128)
                if self.method == "spectral":
                    d3 = ik**3
                else:
                    # a periodic stencil acts as a circular convolution: its symbol is the rfft of D(delta)
                    delta = torch.zeros(1, 1, self.n, dtype=torch.float64)
                    delta[..., 0] = 1.0
                    d3 = torch.fft.rfft(self.d3(delta))[0, 0]
                mask = dealias_mask((self.n,)).to(torch.float64)
            complex_dtype = dtype if dtype.is_complex else dtype.to_complex()
            self._cache[key] = {
                "ik": ik.to(device=device, dtype=complex_dtype),
                "d3": d3.to(device=device, dtype=complex_dtype),
                "mask": mask.to(device=device, dtype=complex_dtype.to_real()),
            }
        return self._cache[key]

    def _check(self, u: torch.Tensor) -> None:
        self.check_state(u)
        if u.shape[-1] != self.n:
            raise PhysdiffError(f"KdV: expected {self.n} grid points (n), got a state of shape {tuple(u.shape)}.")

    def to_spectral(self, u: torch.Tensor) -> torch.Tensor:
        """``rfft`` of a state ``(B, 1, n)`` (checked)."""
        self._check(u)
        return torch.fft.rfft(u)

    def to_physical(self, v: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`to_spectral`."""
        return torch.fft.irfft(v, n=self.n)

    def linear_symbol(self, dtype: torch.dtype = torch.complex128, device: torch.device | str | None = None) -> torch.Tensor:
        """Diagonal of ``L = -b d^3/dx^3`` on the ``rfft`` coefficients (``i b k^3`` for the spectral method)."""
        device = torch.device(device) if device is not None else torch.device("cpu")
        return -scalar(self.b) * self._symbols(dtype, device)["d3"]

    def nonlinear_hat(self, v: torch.Tensor) -> torch.Tensor:
        """``N = -a (u^2/2)_x`` in Fourier space, from the Fourier coefficients ``v`` of ``u``."""
        s = self._symbols(v.dtype, v.device)
        if self.method == "spectral":
            u = torch.fft.irfft(s["mask"] * v, n=self.n)
            return (-self.a * s["mask"]) * s["ik"] * torch.fft.rfft(0.5 * u * u)
        u = torch.fft.irfft(v, n=self.n)
        return torch.fft.rfft(-self.a * self.d1(0.5 * u * u))

    # ---------------------------------------------------------------- dynamics
    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """``du/dt = -a u u_x - b u_xxx`` (full right-hand side, for explicit integrators)."""
        if self.method == "finite-difference":
            self._check(u)
            return -self.a * self.d1(0.5 * u * u) - self.b * self.d3(u)
        v = self.to_spectral(u)
        s = self._symbols(v.dtype, v.device)
        return self.to_physical(-self.b * s["d3"] * v + self.nonlinear_hat(v))

    def stepper(self, dt: float, order: int = 4, **contour: Any) -> ETDRK:
        """ETDRK integrator of ``order`` for physical states: ``stepper(dt)(u, steps=k)``; ``dt`` fixed."""
        return ETDRK(
            self.linear_symbol(), self.nonlinear_hat, dt, order,
            transform=self.to_spectral, inverse=self.to_physical, **contour,
        )

    def stable_dt(self, integrator: type | None = None) -> float | None:
        """``dt`` limit of an explicit method on the dispersive term: ``y_max / max |symbol of L|``.

        The advective term adds a state-dependent limit (``dt |a u|_max k_max`` of order one) not
        included here. Returns 0.0 for methods unstable on the imaginary axis (Euler, Heun).
        """
        return wave_stable_dt(float(self.linear_symbol().abs().max()), integrator)

    # ------------------------------------------------------- initial conditions
    def points(self, dtype: torch.dtype = torch.float64, device: torch.device | str | None = None) -> torch.Tensor:
        """Sample positions ``x_j = j length / n``."""
        return self.grid.coordinates(dtype, device)[0]

    def soliton(
        self, c: float, x0: float = 0.0, t: float = 0.0, *, dtype: torch.dtype = torch.float64,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """Exact single soliton ``(3c/a) sech^2(sqrt(c/b)/2 (x - x0 - c t))``, shape ``(1, 1, n)``.

        Centred on the nearest periodic image, so it is exact up to its tail at half a period
        (``~ (12 c/a) exp(-sqrt(c/b) length/2)``). Needs ``c/b > 0`` and ``a != 0``.
        """
        a, b = scalar(self.a), scalar(self.b)
        if not (isinstance(c, (int, float)) and math.isfinite(c) and c * b > 0 and a != 0):
            raise PhysdiffError(
                f"KdV.soliton: expected a finite speed c with c/b > 0 and a != 0, got c={c!r}, a={a}, b={b}."
            )
        x = self.points()
        d = torch.remainder(x - x0 - c * t + self.length / 2, self.length) - self.length / 2
        u = (3 * c / a) / torch.cosh(0.5 * math.sqrt(c / b) * d) ** 2
        return u[None, None].to(dtype=dtype, device=device)

    def initial_condition(
        self, batch: int, shape: tuple[int, ...] | None = None, *, seed: int = 0, terms: int = 5, max_mode: int = 3,
        amplitude: float = 0.5, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """Seeded smooth data ``u = sum_j A_j sin(2 pi l_j x / length + phi_j)``, ``j = 1..terms``.

        ``A_j ~ U(-amplitude, amplitude)``, ``l_j`` uniform in ``1..max_mode``,
        ``phi_j ~ U(0, 2 pi)``, per sample. Band-limited (resolved for ``max_mode < n/3``), mean zero.
        """
        if shape is not None and tuple(shape) != (self.n,):
            raise PhysdiffError(f"KdV.initial_condition: expected shape ({self.n},) (n), got {tuple(shape)!r}.")
        gen = generator(seed)
        size = (batch, 1, terms, 1)
        amp = (2 * torch.rand(size, generator=gen, dtype=torch.float64) - 1) * amplitude
        mode = torch.randint(1, max_mode + 1, size, generator=gen).to(torch.float64)
        phase = 2 * math.pi * torch.rand(size, generator=gen, dtype=torch.float64)
        x = self.points()
        u = (amp * torch.sin(2 * math.pi * mode * x / self.length + phase)).sum(dim=2)
        return u.to(dtype=dtype, device=device)

    def config(self) -> dict[str, Any]:
        return {
            "pde": "kdv", "a": scalar(self.a), "b": scalar(self.b), "length": self.length, "n": self.n,
            "method": self.method, "accuracy": self.accuracy,
        }
