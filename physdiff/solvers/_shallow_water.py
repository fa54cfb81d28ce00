"""Rotating shallow-water equations on the sphere, spectral transform method (torch-harmonics)."""

from __future__ import annotations

import math
from typing import Any

import torch

from ..core import PhysdiffError
from ._base import PDE, scalar
from ._shallow_water_ics import galewsky, random_balanced, williamson2
from ._sphere_transforms import GRIDS, SphereTransforms, alias_free_lmax, check_int, linear_lmax

Parameter = float | torch.Tensor
KINDS = ("random", "galewsky", "williamson2")


def _positive(value: float, name: str, meaning: str, allow_zero: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        raise PhysdiffError(f"{name}: expected a finite {'non-negative' if allow_zero else 'positive'} float, "
                            f"got {value!r}. {meaning}")
    return float(value)


class ShallowWaterSphere(PDE):
    """Rotating shallow-water equations on a sphere (channels ``h`` [m], ``zeta`` [1/s], ``delta`` [1/s]).

    Vorticity-divergence form, for the layer depth ``h``, relative vorticity
    ``zeta = k . curl V`` and divergence ``delta = div V`` of the velocity ``V``:

        d zeta / dt  = -div(eta V)                                   - nu_p (-Lap)^p zeta
        d delta / dt =  k . curl(eta V) - Lap(g h + |V|^2 / 2)       - nu_p (-Lap)^p delta
        d h / dt     = -div(h V)                                     - nu_p (-Lap)^p h

    with absolute vorticity ``eta = zeta + f``, Coriolis parameter
    ``f = 2 Omega (sin(lat) cos(a) - cos(lat) cos(lon) sin(a))`` (``a = axis_tilt``, 0 for
    the usual ``2 Omega sin(lat)``), ``V = grad chi + k x grad psi`` recovered from
    ``Lap psi = zeta, Lap chi = delta``. SI units: ``radius`` [m], ``omega`` [1/s],
    ``gravity`` [m/s^2], time [s]. Grid and SHT conventions: :mod:`._sphere_transforms`.

    Scheme: the state lives on the grid ``(B, 3, nlat, nlon)``; ``forward`` transforms it
    to spherical harmonics (degrees ``l < lmax``), builds ``V``, forms the products
    ``eta V``, ``h V``, ``|V|^2`` on the grid, takes their divergence/curl with the vector
    SHT and returns the (band-limited) tendency on the grid. Mass ``int h dA`` is
    conserved exactly (the ``l = 0`` coefficient of a divergence is zero). With
    ``dealias=True`` the default ``lmax`` makes all quadratic products alias-free
    (3/2 rule: ``3 (lmax - 1) <= 2 nlat - 1`` on Gauss grids, ``<= nlat - 1`` on equiangular
    ones, and ``3 (lmax - 1) < nlon``); every nonlinear term here (``eta V``, ``h V``,
    ``|V|^2``) is quadratic in the state.

    Hyperdiffusion (optional, off by default): ``nu_p (-Lap)^p`` with
    ``nu_p = (a^2 / (L (L + 1)))^p / tau``, ``L = lmax - 1``: the highest degree decays
    with e-folding time ``tau = hyperdiffusion`` seconds, degree ``l`` with
    ``tau (L (L+1) / (l (l+1)))^p``. ``p = 2`` with ``tau = 6 h`` removes the grid-scale
    ripples of the Galewsky run at T85 while keeping its vortices (``tau = 1 h`` damps them).

    Behaviour / failure modes: explicit steps above :meth:`stable_dt` (gravity-wave CFL)
    blow up; without hyperdiffusion, long Galewsky runs at coarse ``lmax`` become noisy
    at the truncation scale; ``h <= 0`` is unphysical and not guarded against.

    Good values: Galewsky at ``nlat=128, nlon=256`` Gauss (``lmax = 86``), ``dt`` = 475 s
    (:meth:`stable_dt` with RK4), 6 days; Williamson 2 at any resolution.

    Args:
        nlat, nlon: grid size.
        radius, omega, gravity: Earth defaults of Williamson et al. (1992); ``omega`` and
            ``gravity`` may be tensors (differentiable).
        havg: mean depth (m) of the Galewsky and random initial states, and the depth of
            :meth:`stable_dt`'s wave speed.
        hamp: amplitude (m) of the Galewsky perturbation.
        grid: ``"legendre-gauss"`` (recommended) or ``"equiangular"``.
        lmax: number of degrees ``l < lmax``; default alias-free (``dealias``) or the
            largest with an exact transform (``dealias=False``).
        dealias: choose/check ``lmax`` for alias-free quadratic products.
        axis_tilt: angle (rad) between the rotation axis and the grid's polar axis, tilted
            towards ``lon = 0`` (Williamson's ``alpha``; only for that test).
        hyperdiffusion: e-folding time ``tau`` (s) of degree ``lmax - 1``; None for none.
        hyperdiffusion_order: the power ``p`` of ``(-Lap)^p``.
    """

    channel_names = ("h", "vorticity", "divergence")

    def __init__(
        self, nlat: int, nlon: int, *, radius: float = 6.37122e6, omega: Parameter = 7.292e-5,
        gravity: Parameter = 9.80616, havg: float = 1.0e4, hamp: float = 120.0, grid: str = "legendre-gauss",
        lmax: int | None = None, dealias: bool = True, axis_tilt: float = 0.0,
        hyperdiffusion: float | None = None, hyperdiffusion_order: int = 2,
    ) -> None:
        super().__init__(2)
        check_int(nlat, "nlat", 4)
        check_int(nlon, "nlon", 4)
        self.radius = _positive(radius, "radius", "The sphere's radius in metres (Earth: 6.37122e6).")
        self.havg = _positive(havg, "havg", "The mean layer depth in metres (Galewsky: 1e4).")
        self.hamp = _positive(hamp, "hamp", "The perturbation amplitude in metres (Galewsky: 120).", True)
        if not isinstance(axis_tilt, (int, float)) or not math.isfinite(axis_tilt):
            raise PhysdiffError(f"axis_tilt: expected a finite float (radians), got {axis_tilt!r}.")
        self.omega, self.gravity, self.axis_tilt, self.dealias = omega, gravity, float(axis_tilt), bool(dealias)
        if grid not in GRIDS:
            raise PhysdiffError(f"grid: expected one of {GRIDS}, got {grid!r}. 'legendre-gauss' resolves twice "
                                "the degree of 'equiangular' at the same nlat (recommended).")
        bound = (alias_free_lmax if dealias else linear_lmax)(nlat, nlon, grid)
        if lmax is None:
            lmax = bound
        elif isinstance(lmax, int) and not isinstance(lmax, bool) and lmax > bound:
            raise PhysdiffError(
                f"lmax: expected at most {bound} on a {nlat}x{nlon} {grid!r} grid with dealias={dealias} "
                f"({'alias-free quadratic products' if dealias else 'exact transforms'}), got {lmax}. Leave "
                f"lmax=None, refine the grid{', or pass dealias=False' if dealias else ''}."
            )
        self.transforms = SphereTransforms(nlat, nlon, grid, lmax, self.radius)
        self.nlat, self.nlon, self.grid, self.lmax = nlat, nlon, grid, self.transforms.lmax
        if hyperdiffusion is not None:
            _positive(hyperdiffusion, "hyperdiffusion", "The e-folding time (s) of the smallest scale, or None.")
        self.hyperdiffusion = None if hyperdiffusion is None else float(hyperdiffusion)
        self.hyperdiffusion_order = check_int(hyperdiffusion_order, "hyperdiffusion_order", 1)
        top = (self.lmax - 1) * self.lmax
        rates = torch.zeros(self.lmax, 1, dtype=torch.float64)
        if self.hyperdiffusion is not None:
            rates = (self.transforms.ll1 / top) ** self.hyperdiffusion_order / self.hyperdiffusion
        self.register_buffer("hyper_rates", rates, persistent=False)
        theta, phi = self.transforms.theta, self.transforms.phi
        lat, lon = torch.meshgrid(0.5 * math.pi - theta, phi, indexing="ij")
        axial = torch.sin(lat) * math.cos(self.axis_tilt) - torch.cos(lat) * torch.cos(lon) * math.sin(self.axis_tilt)
        self.register_buffer("lat", lat, persistent=False)
        self.register_buffer("lon", lon, persistent=False)
        self.register_buffer("axial", axial, persistent=False)  # f / (2 Omega)

    # ---------------------------------------------------------------- helpers
    def _check(self, state: torch.Tensor) -> None:
        self.check_state(state)
        if tuple(state.shape[-2:]) != (self.nlat, self.nlon):
            raise PhysdiffError(
                f"ShallowWaterSphere: expected a state (B, 3, {self.nlat}, {self.nlon}), got {tuple(state.shape)}. "
                "Build the solver with the state's nlat, nlon (latitude is dim 2, longitude dim 3)."
            )
        if state.dtype not in (torch.float32, torch.float64):
            raise PhysdiffError(f"ShallowWaterSphere: expected float32 or float64, got {state.dtype}.")

    def coriolis(self, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """The Coriolis parameter ``f`` (1/s) on the grid, ``(nlat, nlon)``."""
        return 2.0 * self.omega * self.axial.to(dtype)

    def coordinates(self, shape: tuple[int, ...] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Colatitudes (north pole first) and longitudes of the grid, in radians."""
        from ..operators import sphere_coordinates

        return sphere_coordinates(self.nlat, self.nlon, self.grid)

    def velocity(self, state: torch.Tensor) -> torch.Tensor:
        """Eastward and northward velocity ``(B, 2, nlat, nlon)`` (m/s) of a state."""
        self._check(state)
        c = self.transforms.to_spectral(state[:, 1:])
        v_theta, v_phi = self.transforms.velocity(c[:, 0], c[:, 1]).unbind(1)
        return torch.stack((v_phi, -v_theta), dim=1)

    def state_from_velocity(self, u: torch.Tensor, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """The state ``(B, 3, nlat, nlon)`` of winds ``u`` (east), ``v`` (north) [m/s] and depth ``h`` [m].

        Each input is ``(B, nlat, nlon)``. Vorticity and divergence are the spectral curl and
        divergence of ``V`` truncated to ``l < lmax``; ``h`` is truncated likewise.
        """
        for name, x in (("u", u), ("v", v), ("h", h)):
            if not isinstance(x, torch.Tensor) or x.dim() != 3 or tuple(x.shape[1:]) != (self.nlat, self.nlon) \
                    or x.shape != u.shape or x.dtype not in (torch.float32, torch.float64):
                raise PhysdiffError(
                    f"state_from_velocity: {name}: expected a float32/float64 tensor (B, {self.nlat}, {self.nlon}) "
                    f"shaped like u, got {getattr(x, 'shape', type(x).__name__)}. Add a batch axis with x[None]."
                )
        t = self.transforms
        div, curl = t.divergence_curl(torch.stack((-v, u), dim=-3))
        fields = torch.stack((t.to_spectral(h), curl, div), dim=-3)
        return t.to_grid(fields)

    def mass(self, state: torch.Tensor) -> torch.Tensor:
        """Fluid volume ``int h dA`` (m^3; mass per unit density) of each sample, ``(B,)``."""
        self._check(state)
        return 4.0 * math.pi * self.radius**2 * self.transforms.area_mean(state[:, 0])

    def energy(self, state: torch.Tensor) -> torch.Tensor:
        """Total energy per unit density ``int (h |V|^2 / 2 + g h^2 / 2) dA`` (m^5/s^2), ``(B,)``."""
        density = 0.5 * state[:, 0] * (self.velocity(state) ** 2).sum(1) + 0.5 * self.gravity * state[:, 0] ** 2
        return 4.0 * math.pi * self.radius**2 * self.transforms.area_mean(density)

    # --------------------------------------------------------------- dynamics
    def forward(self, state: torch.Tensor) -> torch.Tensor:
        self._check(state)
        t = self.transforms
        coeffs = t.to_spectral(state)  # (B, 3, lmax, mmax): h, zeta, delta
        velocity = t.velocity(coeffs[:, 1], coeffs[:, 2])  # (B, 2, nlat, nlon): V_theta, V_phi
        h, zeta = t.to_grid(coeffs[:, :2]).unbind(1)  # the band-limited fields the dynamics sees
        eta = zeta + self.coriolis(state.dtype)
        fluxes = torch.stack((eta[:, None] * velocity, h[:, None] * velocity), dim=1)  # (B, 2, 2, nlat, nlon)
        div, curl = t.divergence_curl(fluxes)
        kinetic = t.to_spectral(0.5 * (velocity**2).sum(1))
        d_zeta = -div[:, 0]
        d_delta = curl[:, 0] - t.laplacian(self.gravity * coeffs[:, 0] + kinetic)
        d_h = -div[:, 1]
        tendency = torch.stack((d_h, d_zeta, d_delta), dim=1)
        if self.hyperdiffusion is not None:
            tendency = tendency - self.hyper_rates.to(state.dtype) * coeffs
        return t.to_grid(tendency)

    def stable_dt(self, integrator: type | None = None, *, max_depth: float | None = None,
                  max_wind: float = 100.0) -> float | None:
        """Gravity-wave CFL limit ``dt = r_i / w_max`` (and ``r_r tau`` with hyperdiffusion).

        ``w_max = sqrt((2 Omega)^2 + g H k^2) + U k`` with ``k = sqrt(L (L + 1)) / a``,
        ``L = lmax - 1``: the fastest inertia-gravity wave of the kept band, Doppler-shifted
        by the wind ``U = max_wind`` (m/s, default 100: above Galewsky's 80) on a layer of
        depth ``H = max_depth`` (default ``1.2 havg``). ``r_i`` is the method's stability
        interval on the imaginary axis (``2 sqrt 2`` for RK4, ``sqrt 3`` for SSPRK3, 0 for
        Euler and Heun, which amplify undamped waves at any ``dt``); ``r_r`` its real one.
        An estimate from the linearised equations: nonlinear flows may need a margin.
        """
        tableau = getattr(integrator, "TABLEAU", None)
        if tableau is None:
            return None
        from ..integrators import imaginary_stability_limit, real_stability_limit

        limit = imaginary_stability_limit(tableau)

        depth = 1.2 * self.havg if max_depth is None else max_depth
        k = math.sqrt((self.lmax - 1) * self.lmax) / self.radius
        g, omega = scalar(self.gravity), scalar(self.omega)
        w_max = math.sqrt((2 * omega) ** 2 + g * depth * k**2) + max_wind * k
        dt = limit / w_max
        if self.hyperdiffusion is not None:
            dt = min(dt, real_stability_limit(tableau) * self.hyperdiffusion)
        return dt

    # ------------------------------------------------------ initial conditions
    def initial_condition(
        self, batch: int, shape: tuple[int, ...] | None = None, *, seed: int = 0, kind: str = "random",
        perturbation: bool = True, wind: float = 20.0, peak_degree: int | None = None,
        dtype: torch.dtype = torch.float32, device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """A state ``(batch, 3, nlat, nlon)`` of ``kind``:

        * ``"random"`` (seeded): non-divergent flow with RMS wind ``wind`` (m/s), vorticity
          spectrum peaked at ``peak_degree`` (default ``max(lmax // 4, 2)``), height from the
          nonlinear balance equation, mean depth ``havg``; see :func:`random_balanced`.
        * ``"galewsky"``: the Galewsky et al. (2004) jet (with the ``hamp`` perturbation
          unless ``perturbation=False``); requires ``axis_tilt = 0``; every sample equal.
        * ``"williamson2"``: Williamson et al. (1992) case 2 with ``alpha = axis_tilt``: an
          exact steady state (every sample equal).
        """
        check_int(batch, "batch", 1)
        if shape is not None and tuple(shape) != (self.nlat, self.nlon):
            raise PhysdiffError(f"ShallowWaterSphere.initial_condition: expected shape ({self.nlat}, {self.nlon}) "
                                f"or None, got {shape!r}; the grid is fixed by the solver.")
        if kind not in KINDS:
            raise PhysdiffError(f"ShallowWaterSphere.initial_condition: kind: expected one of {KINDS}, got {kind!r}.")
        g, omega = scalar(self.gravity), scalar(self.omega)
        if kind == "random":
            peak = max(self.lmax // 4, 2) if peak_degree is None else check_int(peak_degree, "peak_degree", 1)
            _positive(wind, "wind", "The RMS wind speed in m/s.")
            state = random_balanced(self.transforms, self.coriolis().detach(), batch, seed=seed, gravity=g,
                                    havg=self.havg, wind=wind, peak_degree=peak)
        else:
            if kind == "galewsky" and self.axis_tilt != 0.0:
                raise PhysdiffError("ShallowWaterSphere: the Galewsky jet is balanced for axis_tilt=0 only, "
                                    f"got axis_tilt={self.axis_tilt}. Build the solver with axis_tilt=0.")
            common = {"radius": self.radius, "omega": omega, "gravity": g}
            u, v, h = (
                galewsky(self.lat, self.lon, havg=self.havg, hamp=self.hamp, perturbation=perturbation, **common)
                if kind == "galewsky" else williamson2(self.lat, self.lon, tilt=self.axis_tilt, **common)
            )
            state = self.state_from_velocity(u[None], v[None], h[None]).expand(batch, -1, -1, -1)
        return state.to(dtype=dtype, device=device).contiguous()

    def config(self) -> dict[str, Any]:
        return {
            "pde": "shallow-water-sphere", "nlat": self.nlat, "nlon": self.nlon, "grid": self.grid,
            "lmax": self.lmax, "dealias": self.dealias, "radius": self.radius, "omega": scalar(self.omega),
            "gravity": scalar(self.gravity), "havg": self.havg, "hamp": self.hamp, "axis_tilt": self.axis_tilt,
            "hyperdiffusion": self.hyperdiffusion, "hyperdiffusion_order": self.hyperdiffusion_order,
        }
