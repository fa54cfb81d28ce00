"""Spectral operators on the sphere through torch-harmonics' spherical harmonic transform (SHT).

A field ``(batch, channels, nlat, nlon)`` samples a function on the sphere of
radius ``r`` at colatitudes ``theta_i`` (north pole first) and longitudes
``phi_j = 2 pi j / nlon``:

* ``grid="equiangular"``: ``theta_i = pi i / (nlat - 1)``, both poles included
  (Clenshaw-Curtis quadrature in ``cos theta``);
* ``grid="legendre-gauss"``: ``cos theta_i`` are the Gauss-Legendre nodes (no poles).

The real SHT gives coefficients ``a_lm`` for ``0 <= m <= l < lmax`` (``m < 0`` are
implied by realness). Spherical harmonics are eigenfunctions of the
Laplace-Beltrami operator, ``Delta_S Y_lm = -l (l + 1) / r^2 Y_lm``, so every
operator here is a multiplication of ``a_lm`` by a function of ``l``.

Exactness and the default ``lmax``. The forward SHT integrates
``f Y_lm`` with the grid's quadrature in ``cos theta``. For a field of degree
``< lmax`` the products have degree ``<= 2 (lmax - 1)``:

* Gauss-Legendre with ``nlat`` nodes is exact to degree ``2 nlat - 1``: default
  ``lmax = nlat`` (torch-harmonics' default) is exact;
* Clenshaw-Curtis with ``nlat`` nodes is exact only to degree ``nlat - 1``: the
  default here is ``lmax = (nlat + 1) // 2``. torch-harmonics' own default for this
  grid (``lmax = nlat``) is *not* exact and, measured on ``Y_lm`` with ``l <= 4``
  and ``nlat = 8..32``, gives Laplacians wrong by up to 100%; pass ``lmax=nlat``
  explicitly to get it anyway (e.g. to match an SFNO).

Longitudinally the real FFT resolves ``m < nlon / 2``; ``mmax = min(lmax, nlon // 2 + 1)``
(triangular truncation; ``P_l^m = 0`` for ``m > l``). Use ``nlon >= 2 lmax - 1``.

torch-harmonics is imported inside the constructors, so ``import physdiff``
does not import it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..core import PhysdiffError, check_field

__all__ = ["SphereLaplacian", "SpherePoisson", "SphericalConv", "sphere_coordinates"]

_GRIDS = ("equiangular", "legendre-gauss")


def _check_grid(grid: str) -> str:
    if grid not in _GRIDS:
        raise PhysdiffError(
            f"grid: expected one of {_GRIDS}, got {grid!r}. 'equiangular' samples theta = pi i/(nlat-1) "
            "including the poles; 'legendre-gauss' uses Gauss-Legendre nodes in cos(theta)."
        )
    return grid


def _check_positive_int(value: int, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PhysdiffError(f"{name}: expected an int >= {minimum}, got {value!r}.")
    return value


def _default_lmax(nlat: int, grid: str) -> int:
    """Largest ``lmax`` (number of degrees, ``l < lmax``) whose SHT round trip is exact on the grid."""
    return nlat if grid == "legendre-gauss" else (nlat + 1) // 2


def sphere_coordinates(
    nlat: int,
    nlon: int,
    grid: str = "equiangular",
    *,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Colatitudes ``theta`` (shape ``(nlat,)``, north pole first) and longitudes ``phi`` (``(nlon,)``).

    These are the sample positions torch-harmonics' ``RealSHT`` assumes for
    ``grid``; use ``torch.meshgrid(theta, phi, indexing="ij")`` to build fields.
    """
    _check_grid(grid)
    _check_positive_int(nlat, "nlat", 2)
    _check_positive_int(nlon, "nlon", 1)
    if grid == "equiangular":
        theta = torch.linspace(0.0, math.pi, nlat, dtype=torch.float64)
    else:
        import numpy as np

        nodes, _ = np.polynomial.legendre.leggauss(nlat)
        theta = torch.flip(torch.arccos(torch.as_tensor(nodes, dtype=torch.float64)), dims=(0,))
    phi = torch.arange(nlon, dtype=torch.float64) * (2.0 * math.pi / nlon)
    return theta.to(dtype=dtype, device=device), phi.to(dtype=dtype, device=device)


class _SphereSpectral(nn.Module):
    """Shared SHT pair and input checks."""

    def __init__(self, nlat: int, nlon: int, grid: str, lmax: int | None) -> None:
        super().__init__()
        self.nlat = _check_positive_int(nlat, "nlat", 2)
        self.nlon = _check_positive_int(nlon, "nlon", 2)
        self.grid = _check_grid(grid)
        if lmax is None:
            lmax = _default_lmax(nlat, grid)
        _check_positive_int(lmax, "lmax")
        if lmax > nlat:
            raise PhysdiffError(
                f"lmax: expected at most nlat = {nlat} degrees (l < lmax) for a grid with {nlat} latitudes, "
                f"got {lmax}. Leave lmax=None for the exact default {_default_lmax(nlat, grid)} on the "
                f"{grid!r} grid."
            )
        self.lmax = lmax
        self.mmax = min(lmax, nlon // 2 + 1)

        import torch_harmonics as th  # lazy: importing physdiff must not import torch-harmonics

        self.sht = th.RealSHT(nlat, nlon, lmax=self.lmax, mmax=self.mmax, grid=grid)
        self.isht = th.InverseRealSHT(nlat, nlon, lmax=self.lmax, mmax=self.mmax, grid=grid)

    def _check_input(self, x: torch.Tensor, channels: int | None = None) -> None:
        check_field(x, 2, "input")
        if tuple(x.shape[-2:]) != (self.nlat, self.nlon):
            raise PhysdiffError(
                f"input: expected spatial shape (nlat, nlon) = ({self.nlat}, {self.nlon}), got "
                f"{tuple(x.shape[-2:])} in shape {tuple(x.shape)}. Build the operator with "
                f"nlat={x.shape[-2]}, nlon={x.shape[-1]}, or resample the field (latitude is dim 2, longitude dim 3)."
            )
        if x.dtype not in (torch.float32, torch.float64):
            raise PhysdiffError(
                f"input: expected a real float32 or float64 tensor, got dtype {x.dtype}. Convert with x.float()."
            )
        if channels is not None and x.shape[1] != channels:
            raise PhysdiffError(
                f"input: expected {channels} channels (dim 1), got {x.shape[1]} in shape {tuple(x.shape)}. "
                f"Build the layer with in_channels={x.shape[1]} or fix the channel axis."
            )

    def extra_repr(self) -> str:
        return f"nlat={self.nlat}, nlon={self.nlon}, grid={self.grid!r}, lmax={self.lmax}, mmax={self.mmax}"


class _SphereMultiplier(_SphereSpectral):
    """``f -> ISHT(multiplier(l) * SHT(f))`` with a per-degree real multiplier (a non-persistent buffer)."""

    def __init__(self, nlat: int, nlon: int, grid: str, radius: float, lmax: int | None) -> None:
        super().__init__(nlat, nlon, grid, lmax)
        if isinstance(radius, bool) or not isinstance(radius, (int, float)) or not (
            math.isfinite(radius) and radius > 0
        ):
            raise PhysdiffError(f"radius: expected a finite positive float (the sphere's radius), got {radius!r}.")
        self.radius = float(radius)
        # float64 multiplier per degree, shape (lmax, 1); cast to the field's precision at forward
        self.register_buffer("multiplier", self._multiplier(), persistent=False)

    def _multiplier(self) -> torch.Tensor:  # pragma: no cover - overridden
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        coeffs = self.sht(x)
        return self.isht(coeffs * self.multiplier.to(dtype=x.dtype))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, radius={self.radius}"


class SphereLaplacian(_SphereMultiplier):
    """Laplace-Beltrami operator on the sphere of radius ``radius``, spectrally.

    ``f -> ISHT( -l (l + 1) / r^2 * SHT(f) )``. Exact (to rounding, ~1e-13 in
    float64) for fields of degree ``< lmax`` with the default ``lmax`` of the grid
    (see the module docstring); higher degrees are removed by the truncation and,
    on the equiangular grid, alias onto lower ones.

    Args:
        nlat, nlon: grid size; inputs are ``(batch, channels, nlat, nlon)``.
        grid: ``"equiangular"`` or ``"legendre-gauss"``.
        radius: sphere radius ``r``.
        lmax: number of degrees kept (``l < lmax``), default the exact one for the grid.
    """

    def __init__(
        self, nlat: int, nlon: int, grid: str = "equiangular", radius: float = 1.0, *, lmax: int | None = None
    ) -> None:
        super().__init__(nlat, nlon, grid, radius, lmax)

    def _multiplier(self) -> torch.Tensor:
        l = torch.arange(self.lmax, dtype=torch.float64)
        return (-l * (l + 1) / self.radius**2)[:, None]


class SpherePoisson(_SphereMultiplier):
    """Inverse Laplace-Beltrami operator: zero-mean ``u`` with ``Delta_S u = f - mean(f)``.

    Multiplies ``a_lm`` by ``-r^2 / (l (l + 1))`` for ``l >= 1`` and sets the ``l = 0``
    (global mean) coefficient to zero: on the closed sphere ``Delta_S u = f`` is
    solvable only for zero-mean ``f``, and the solution is fixed up to a constant,
    chosen so that ``u`` has zero (area-weighted) mean. Arguments as for
    :class:`SphereLaplacian`.
    """

    def __init__(
        self, nlat: int, nlon: int, grid: str = "equiangular", radius: float = 1.0, *, lmax: int | None = None
    ) -> None:
        super().__init__(nlat, nlon, grid, radius, lmax)

    def _multiplier(self) -> torch.Tensor:
        l = torch.arange(self.lmax, dtype=torch.float64)
        multiplier = torch.zeros_like(l)
        multiplier[1:] = -(self.radius**2) / (l[1:] * (l[1:] + 1))
        return multiplier[:, None]


class SphericalConv(_SphereSpectral):
    """Spectral convolution on the sphere with learnable complex weights per degree ``l``.

    ``y = ISHT( sum_i W_io(l) a^i_lm )`` with ``a^i = SHT(x_i)``: each output
    channel mixes the input channels with a complex weight that depends on the
    degree ``l`` only, not on the order ``m`` ("Driscoll-Healy" style, as in SFNO's
    isotropic spectral layer). Degrees ``l >= lmax`` are cut off.

    Symmetry. Rotation about the polar axis multiplies ``a_lm`` by
    ``exp(-i m alpha)``, which commutes with any ``m``-independent multiplier: the
    layer commutes with longitude shifts (``torch.roll`` along dim 3) exactly. By
    Funk-Hecke, a *real* ``W(l)`` is a zonal-kernel convolution and commutes with
    every rotation in SO(3); the imaginary part of a complex ``W(l)`` acts as
    ``i sign(m)`` (on ``m = 0`` it is dropped because that coefficient of a real
    field is real), which commutes only with rotations about the polar axis. Pass
    ``complex_weights=False`` for full SO(3) equivariance.

    Weights: a real parameter ``weight`` of shape ``(in_channels, out_channels, lmax, 2)``
    (real and imaginary parts, viewed with ``torch.view_as_complex``; real storage
    so that ``module.double()`` converts it), or ``(in_channels, out_channels, lmax)``
    with ``complex_weights=False``. Initialised with complex variance ``1/in_channels``.

    Args:
        in_channels, out_channels: channel counts.
        nlat, nlon, grid: the grid of input and output.
        lmax: number of degrees kept (``l < lmax``); default the exact one for the grid.
        complex_weights: complex (default) or real weights per degree.
        dtype, device: of the weight (default ``torch.get_default_dtype()``).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        nlat: int,
        nlon: int,
        *,
        lmax: int | None = None,
        grid: str = "equiangular",
        complex_weights: bool = True,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__(nlat, nlon, grid, lmax)
        self.in_channels = _check_positive_int(in_channels, "in_channels")
        self.out_channels = _check_positive_int(out_channels, "out_channels")
        self.complex_weights = bool(complex_weights)
        if dtype is None:
            dtype = torch.get_default_dtype()
        if dtype not in (torch.float32, torch.float64):
            raise PhysdiffError(f"dtype: expected torch.float32 or torch.float64, got {dtype}.")
        shape = (self.in_channels, self.out_channels, self.lmax) + ((2,) if self.complex_weights else ())
        self.weight = nn.Parameter(torch.empty(shape, dtype=dtype, device=device))
        self.sht.to(device=device)
        self.isht.to(device=device)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Complex entries with variance ``1/in_channels`` (real weights: variance ``1/in_channels``)."""
        std = math.sqrt(1.0 / self.in_channels)
        if self.complex_weights:
            std /= math.sqrt(2.0)
        with torch.no_grad():
            self.weight.normal_(0.0, std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x, self.in_channels)
        if x.dtype != self.weight.dtype:
            raise PhysdiffError(
                f"input: expected dtype {self.weight.dtype} (the dtype of the layer's weights), got {x.dtype}. "
                f"Convert the input (x.to({self.weight.dtype})) or the layer (layer.to({x.dtype}))."
            )
        coeffs = self.sht(x)  # (batch, in, lmax, mmax), complex
        if self.complex_weights:
            weight = torch.view_as_complex(self.weight)
        else:
            weight = self.weight.to(coeffs.dtype)
        out = torch.einsum("bilm,iol->bolm", coeffs, weight)
        return self.isht(out)

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, out_channels={self.out_channels}, {super().extra_repr()}, "
            f"complex_weights={self.complex_weights}"
        )
