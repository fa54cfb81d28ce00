"""Initial states of the rotating shallow-water equations: Galewsky jet, Williamson case 2, random balanced.

Every function works in float64 on grids of latitude ``lat = pi/2 - theta`` and longitude
``lon`` (radians, ``(nlat, nlon)`` tensors from ``torch.meshgrid(..., indexing="ij")``) and
returns velocities ``(u, v)`` (eastward, northward, m/s) and the layer depth ``h`` (m).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._base import generator
from ._sphere_transforms import SphereTransforms

# Galewsky, Scott & Polvani (2004), Tellus 56A, 429-440, section 3 ("An initial-value problem ...").
GALEWSKY_UMAX = 80.0  # m/s, jet maximum
GALEWSKY_LAT0 = math.pi / 7  # southern edge of the jet (rad)
GALEWSKY_LAT1 = math.pi / 2 - math.pi / 7  # northern edge (rad)
GALEWSKY_LAT2 = math.pi / 4  # latitude of the perturbation (rad)
GALEWSKY_ALPHA = 1.0 / 3.0  # zonal e-folding half-width of the perturbation (rad)
GALEWSKY_BETA = 1.0 / 15.0  # meridional e-folding half-width of the perturbation (rad)
# Williamson, Drake, Hack, Jakob & Swarztrauber (1992), J. Comput. Phys. 102, 211-224, test case 2.
WILLIAMSON2_PERIOD = 12 * 86400.0  # s: u0 = 2 pi a / (12 days)
WILLIAMSON2_GH0 = 2.94e4  # m^2/s^2, geopotential at the flow's pole

# Gauss-Legendre nodes per interval for the balance integral. Measured on h at 101 latitudes
# against 384 nodes: 24 nodes 7e-7 m, 48 nodes 5e-11 m (round-off for h ~ 1e4 m); 96 keeps a margin.
_BALANCE_NODES = 96


def galewsky_wind(lat: torch.Tensor) -> torch.Tensor:
    """``u(lat) = (u_max / e_n) exp(1 / ((lat - lat0)(lat - lat1)))`` inside the jet, 0 outside (m/s)."""
    e_n = math.exp(-4.0 / (GALEWSKY_LAT1 - GALEWSKY_LAT0) ** 2)
    inside = (lat > GALEWSKY_LAT0) & (lat < GALEWSKY_LAT1)
    safe = torch.where(inside, lat, torch.full_like(lat, 0.5 * (GALEWSKY_LAT0 + GALEWSKY_LAT1)))
    u = (GALEWSKY_UMAX / e_n) * torch.exp(1.0 / ((safe - GALEWSKY_LAT0) * (safe - GALEWSKY_LAT1)))
    return torch.where(inside, u, torch.zeros_like(u))


def _balance_integral(lat: torch.Tensor, radius: float, omega: float) -> torch.Tensor:
    """``I(lat) = int_{-pi/2}^{lat} a u (f + u tan(lat') / a) dlat'`` (m^2/s^2), by Gauss-Legendre per point.

    The integrand vanishes outside the jet, so each integral runs over
    ``[lat0, clamp(lat, lat0, lat1)]`` with :data:`_BALANCE_NODES` nodes.
    """
    nodes, weights = np.polynomial.legendre.leggauss(_BALANCE_NODES)
    nodes = torch.as_tensor(nodes, dtype=torch.float64, device=lat.device)
    weights = torch.as_tensor(weights, dtype=torch.float64, device=lat.device)
    upper = lat.clamp(GALEWSKY_LAT0, GALEWSKY_LAT1)[..., None]
    half = 0.5 * (upper - GALEWSKY_LAT0)
    points = GALEWSKY_LAT0 + half * (nodes + 1.0)
    u = galewsky_wind(points)
    integrand = radius * u * (2.0 * omega * torch.sin(points) + u * torch.tan(points) / radius)
    return (half * integrand * weights).sum(-1)


def galewsky(
    lat: torch.Tensor, lon: torch.Tensor, *, radius: float, omega: float, gravity: float,
    havg: float, hamp: float, perturbation: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Galewsky et al. (2004) barotropically unstable jet in gradient-wind balance.

    ``g h(lat) = g h0 - I(lat)`` with :func:`_balance_integral`, ``h0`` chosen so that
    the area mean of the balanced ``h`` is ``havg`` (the mean is itself computed by
    Gauss-Legendre quadrature in ``sin(lat)``); plus, if ``perturbation``, the bump
    ``hamp cos(lat) exp(-(lon/alpha)^2) exp(-((lat2 - lat)/beta)^2)`` with ``lon`` in
    ``(-pi, pi]``.
    """
    mu, w = np.polynomial.legendre.leggauss(4 * _BALANCE_NODES)
    mean_integral = 0.5 * float(
        (torch.as_tensor(w) * _balance_integral(torch.asin(torch.as_tensor(mu)), radius, omega)).sum()
    )
    u = galewsky_wind(lat)
    h = havg + (mean_integral - _balance_integral(lat, radius, omega)) / gravity
    if perturbation:
        centred = torch.remainder(lon + math.pi, 2.0 * math.pi) - math.pi
        h = h + hamp * torch.cos(lat) * torch.exp(-((centred / GALEWSKY_ALPHA) ** 2)) * torch.exp(
            -(((GALEWSKY_LAT2 - lat) / GALEWSKY_BETA) ** 2)
        )
    return u, torch.zeros_like(u), h


def williamson2(
    lat: torch.Tensor, lon: torch.Tensor, *, radius: float, omega: float, gravity: float, tilt: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Williamson et al. (1992) test case 2: steady zonal geostrophic flow about an axis tilted by ``tilt``.

    ``u = u0 (cos(lat) cos(a) + cos(lon) sin(lat) sin(a))``, ``v = -u0 sin(lon) sin(a)``,
    ``g h = g h0 - (a Omega u0 + u0^2/2) (-cos(lon) cos(lat) sin(a) + sin(lat) cos(a))^2``
    with ``u0 = 2 pi a / 12 days``, ``g h0 = 2.94e4 m^2/s^2`` and ``a = tilt``; steady only
    when the rotation axis is tilted by the same angle (``ShallowWaterSphere(axis_tilt=tilt)``).
    """
    u0 = 2.0 * math.pi * radius / WILLIAMSON2_PERIOD
    ca, sa = math.cos(tilt), math.sin(tilt)
    u = u0 * (torch.cos(lat) * ca + torch.cos(lon) * torch.sin(lat) * sa)
    v = -u0 * torch.sin(lon) * sa
    axial = -torch.cos(lon) * torch.cos(lat) * sa + torch.sin(lat) * ca
    h = (WILLIAMSON2_GH0 - (radius * omega * u0 + 0.5 * u0**2) * axial**2) / gravity
    return u, v, h


def random_balanced(
    transforms: SphereTransforms, coriolis: torch.Tensor, batch: int, *, seed: int, gravity: float,
    havg: float, wind: float, peak_degree: int,
) -> torch.Tensor:
    """Seeded random non-divergent flows with the height of the nonlinear balance equation.

    Vorticity coefficients ``zeta_lm = A(l) (x + i y)`` (``x, y ~ N(0, 1)``, real for
    ``m = 0``, zero for ``l = 0``) with ``A(l) = exp(-((l - l0) / w)^2 / 2)``,
    ``l0 = peak_degree``, ``w = max(l0 / 2, 1)``, rescaled so the area-RMS wind is ``wind``.
    With ``delta = 0`` the height solves ``Lap(g h + K) = k . curl(eta V)`` (``K = |V|^2/2``,
    ``eta = zeta + f``), i.e. ``d delta / dt = 0`` at ``t = 0``, and its mean is ``havg``.
    Returns the state ``(batch, 3, nlat, nlon)`` = ``(h, zeta, delta)`` in float64.
    """
    gen = generator(seed)
    lmax, mmax = transforms.lmax, transforms.mmax
    l = torch.arange(lmax, dtype=torch.float64)[:, None]
    m = torch.arange(mmax, dtype=torch.float64)[None, :]
    width = max(peak_degree / 2.0, 1.0)
    amplitude = torch.exp(-0.5 * ((l - peak_degree) / width) ** 2) * (m <= l) * (l >= 1)
    real = torch.randn((batch, lmax, mmax), generator=gen, dtype=torch.float64)
    imag = torch.randn((batch, lmax, mmax), generator=gen, dtype=torch.float64) * (m > 0)
    zeta_c = torch.complex(real, imag) * amplitude
    zeta_c = zeta_c.to(transforms.ll1.device)
    velocity = transforms.velocity(zeta_c, torch.zeros_like(zeta_c))
    rms = torch.sqrt(transforms.area_mean((velocity**2).sum(-3)))
    scale = (wind / rms)[:, None, None]
    zeta_c, velocity = zeta_c * scale, velocity * scale[:, None]
    zeta = transforms.to_grid(zeta_c)
    _, curl = transforms.divergence_curl((zeta + coriolis)[:, None] * velocity)
    kinetic_c = transforms.to_spectral(0.5 * (velocity**2).sum(-3))
    geopotential_c = transforms.inverse_laplacian(curl) - kinetic_c
    h = transforms.to_grid(geopotential_c) / gravity
    h = h - transforms.area_mean(h)[:, None, None] + havg
    return torch.stack((h, zeta, torch.zeros_like(zeta)), dim=1)
