"""Scalar and vector spherical harmonic transforms for spectral solvers on the sphere.

A thin layer over torch-harmonics' ``RealSHT`` / ``InverseRealSHT`` /
``RealVectorSHT`` / ``InverseRealVectorSHT`` (orthonormal harmonics, Condon-Shortley
phase) that speaks in physical quantities on a sphere of radius ``a``:

* scalar fields ``f = sum_lm f_lm Y_lm`` (``to_spectral`` / ``to_grid``);
* tangent vector fields as ``(V_theta, V_phi)`` (southward, eastward components,
  torch-harmonics' layout) and their Helmholtz decomposition
  ``V = grad chi + k x grad psi`` (``k`` the outward unit normal), with divergence
  ``delta = Lap chi`` and relative vorticity ``zeta = k . curl V = Lap psi``, where
  ``Lap Y_lm = -l (l + 1) / a^2 Y_lm``.

torch-harmonics' vector transform uses ``V = (1/a)(grad_1 s - k x grad_1 t)`` on the
unit sphere (verified numerically in the tests), so ``s = chi / a``, ``t = -psi / a`` and

    delta_lm = -l (l + 1) s_lm / a,        zeta_lm = l (l + 1) t_lm / a.

Precision fix. torch-harmonics 0.8.0 builds the ``1 / (l (l + 1))`` factor of the
forward vector transform in the default dtype (float32), which limits it to a relative
accuracy of ~1e-8 even in float64. :class:`SphereTransforms` rescales that transform's
output per degree by ``exact / used`` (``used`` recomputed with the same expression),
restoring round-off accuracy; a test guards the fix against version changes.

torch-harmonics is imported inside the constructor (``import physdiff`` must not import it).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..core import PhysdiffError
from ..operators import sphere_coordinates

GRIDS = ("equiangular", "legendre-gauss")


def check_int(value: int, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PhysdiffError(f"{name}: expected an int >= {minimum}, got {value!r}.")
    return value


def alias_free_lmax(nlat: int, nlon: int, grid: str) -> int:
    """Largest ``lmax`` (degrees ``l < lmax``) whose quadratic products are transformed without aliasing.

    A product of two fields of degree ``<= T = lmax - 1`` has degree ``<= 2T``; projecting it
    on ``Y_lm`` (``l <= T``) integrates a polynomial of degree ``<= 3T`` in ``cos(theta)``.
    Gauss-Legendre with ``nlat`` nodes is exact to degree ``2 nlat - 1``, Clenshaw-Curtis
    (equiangular) only to ``nlat - 1``; the real FFT resolves the products' orders ``<= 2T``
    without folding onto kept orders iff ``nlon > 3T``.
    """
    exact_degree = 2 * nlat - 1 if grid == "legendre-gauss" else nlat - 1
    return max(min(exact_degree // 3, (nlon - 1) // 3) + 1, 1)


def linear_lmax(nlat: int, nlon: int, grid: str) -> int:
    """Largest ``lmax`` for which the scalar transform round trip is exact (linear terms only)."""
    exact_degree = 2 * nlat - 1 if grid == "legendre-gauss" else nlat - 1
    return max(min(exact_degree // 2, (nlon - 1) // 2) + 1, 1)


class SphereTransforms(nn.Module):
    """Scalar/vector SHT pair on one grid with physical-unit helpers (see the module docstring).

    Args:
        nlat, nlon: grid size; fields are ``(..., nlat, nlon)``, vectors ``(..., 2, nlat, nlon)``.
        grid: ``"equiangular"`` (poles included) or ``"legendre-gauss"``.
        lmax: number of degrees kept (``l < lmax``); also the number of orders kept.
        radius: sphere radius ``a`` in metres.
    """

    def __init__(self, nlat: int, nlon: int, grid: str, lmax: int, radius: float) -> None:
        super().__init__()
        if grid not in GRIDS:
            raise PhysdiffError(
                f"grid: expected one of {GRIDS}, got {grid!r}. 'legendre-gauss' is exact for twice the "
                "degree of 'equiangular' at the same nlat (recommended)."
            )
        self.nlat, self.nlon, self.grid = check_int(nlat, "nlat", 4), check_int(nlon, "nlon", 4), grid
        self.lmax = check_int(lmax, "lmax", 2)
        self.mmax = min(self.lmax, nlon // 2 + 1)
        self.radius = float(radius)

        import torch_harmonics as th  # lazy: importing physdiff must not import torch-harmonics

        kw = {"lmax": self.lmax, "mmax": self.mmax, "grid": grid}
        self.sht = th.RealSHT(nlat, nlon, **kw).double()
        self.isht = th.InverseRealSHT(nlat, nlon, **kw).double()
        self.vsht = th.RealVectorSHT(nlat, nlon, **kw).double()
        self.ivsht = th.InverseRealVectorSHT(nlat, nlon, **kw).double()

        l = torch.arange(self.lmax, dtype=torch.float64)
        ll1 = l * (l + 1)
        inv_ll1 = torch.zeros_like(ll1)
        inv_ll1[1:] = 1.0 / ll1[1:]
        # The factor torch-harmonics used, recomputed with its expression (default dtype, see docstring).
        li = torch.arange(0, self.lmax)
        used = (1.0 / li / (li + 1)).to(torch.float64)
        fix = torch.ones_like(ll1)
        fix[1:] = inv_ll1[1:] / used[1:]
        self.register_buffer("ll1", ll1[:, None], persistent=False)
        self.register_buffer("inv_ll1", inv_ll1[:, None], persistent=False)
        self.register_buffer("vector_fix", fix[:, None], persistent=False)
        theta, phi = sphere_coordinates(nlat, nlon, grid, dtype=torch.float64)
        self.register_buffer("theta", theta, persistent=False)
        self.register_buffer("phi", phi, persistent=False)

    # ----------------------------------------------------------------- scalars
    def to_spectral(self, f: torch.Tensor) -> torch.Tensor:
        """``(..., nlat, nlon)`` real -> ``(..., lmax, mmax)`` complex coefficients ``f_lm``."""
        return self.sht(f)

    def to_grid(self, c: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`to_spectral` (exact on fields of degree ``< lmax``)."""
        return self.isht(c)

    def laplacian(self, c: torch.Tensor) -> torch.Tensor:
        """Spectral Laplace-Beltrami: ``f_lm -> -l (l + 1) / a^2 f_lm`` (1/m^2 times the field's unit)."""
        return c * (-self.ll1 / self.radius**2).to(c.real.dtype)

    def inverse_laplacian(self, c: torch.Tensor) -> torch.Tensor:
        """Zero-mean inverse Laplacian: ``f_lm -> -a^2 / (l (l + 1)) f_lm``, ``l = 0`` set to zero."""
        return c * (-self.inv_ll1 * self.radius**2).to(c.real.dtype)

    def area_mean(self, f: torch.Tensor) -> torch.Tensor:
        """Area-weighted mean ``(1 / 4 pi a^2) int f dA`` over the last two axes (the ``l = 0`` coefficient)."""
        return self.sht(f)[..., 0, 0].real / math.sqrt(4.0 * math.pi)

    # ----------------------------------------------------------------- vectors
    def velocity(self, zeta_c: torch.Tensor, delta_c: torch.Tensor) -> torch.Tensor:
        """``(V_theta, V_phi)`` on the grid, ``(..., 2, nlat, nlon)``, from spectral vorticity and divergence.

        ``chi = Lap^-1 delta``, ``psi = Lap^-1 zeta`` (zero mean), ``V = grad chi + k x grad psi``.
        """
        scale = (self.inv_ll1 * self.radius).to(zeta_c.real.dtype)
        s = -delta_c * scale  # s = chi / a = -a delta_lm / (l (l + 1))
        t = zeta_c * scale  # t = -psi / a = a zeta_lm / (l (l + 1))
        return self.ivsht(torch.stack((s, t), dim=-3))

    def divergence_curl(self, vector: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Spectral ``(div V, k . curl V)`` of a grid vector field ``(..., 2, nlat, nlon)`` = ``(V_theta, V_phi)``."""
        st = self.vsht(vector) * self.vector_fix.to(vector.dtype)
        factor = (self.ll1 / self.radius).to(vector.dtype)
        return -st[..., 0, :, :] * factor, st[..., 1, :, :] * factor

    def extra_repr(self) -> str:
        return f"nlat={self.nlat}, nlon={self.nlon}, grid={self.grid!r}, lmax={self.lmax}, mmax={self.mmax}"
