"""Sphere operators through torch-harmonics: Laplace-Beltrami, its inverse, isotropic spectral convolution."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy.special import lpmv
from torch.func import functional_call

from physdiff.core import PhysdiffError
from physdiff.operators import SphereLaplacian, SpherePoisson, SphericalConv, sphere_coordinates

F64 = torch.float64
GRIDS = ["equiangular", "legendre-gauss"]
LM = [(1, 0), (1, 1), (2, 0), (2, 1), (2, 2), (3, 1), (3, 3), (4, 0), (4, 2), (4, 3), (4, 4)]


def harmonic(l, m, nlat, nlon, grid, kind="cos"):
    """Real (unnormalised) spherical harmonic P_l^m(cos theta) cos(m phi) (or sin) on the torch-harmonics grid."""
    theta, phi = sphere_coordinates(nlat, nlon, grid)
    T, P = np.meshgrid(theta.numpy(), phi.numpy(), indexing="ij")
    trig = np.cos(m * P) if kind == "cos" else np.sin(m * P)
    return torch.tensor(lpmv(m, l, np.cos(T)) * trig, dtype=F64)[None, None]


def test_coordinates_match_torch_harmonics_quadrature_nodes():
    from torch_harmonics.quadrature import clenshaw_curtiss_weights, legendre_gauss_weights

    for grid, rule in (("equiangular", clenshaw_curtiss_weights), ("legendre-gauss", legendre_gauss_weights)):
        theta, phi = sphere_coordinates(7, 12, grid)
        nodes, _ = rule(7, -1, 1)
        assert torch.allclose(theta, torch.flip(torch.arccos(nodes.to(F64)), dims=(0,)), atol=1e-15)
        assert theta[0] < theta[-1]  # north pole first
        assert torch.allclose(phi, torch.arange(12, dtype=F64) * (2 * math.pi / 12))


@pytest.mark.parametrize("grid", GRIDS)
@pytest.mark.parametrize("l,m", LM)
def test_laplacian_eigenfunctions(grid, l, m):
    nlat, nlon = 12, 24
    lap = SphereLaplacian(nlat, nlon, grid=grid).double()
    for kind in ("cos", "sin") if m else ("cos",):
        y = harmonic(l, m, nlat, nlon, grid, kind)
        err = (lap(y) + l * (l + 1) * y).abs().max().item()
        assert err <= 1e-12 * l * (l + 1) * y.abs().max().item(), (kind, err)


@pytest.mark.parametrize("grid", GRIDS)
def test_radius_scaling_and_poisson(grid):
    nlat, nlon, r = 10, 20, 2.5
    y = harmonic(3, 2, nlat, nlon, grid) + 0.5 * harmonic(1, 1, nlat, nlon, grid, "sin")
    y3, y1 = harmonic(3, 2, nlat, nlon, grid), 0.5 * harmonic(1, 1, nlat, nlon, grid, "sin")
    lap = SphereLaplacian(nlat, nlon, grid, radius=r).double()
    assert torch.allclose(lap(y), -(12 * y3 + 2 * y1) / r**2, atol=1e-12)
    poisson = SpherePoisson(nlat, nlon, grid, radius=r).double()
    assert torch.allclose(poisson(y), -(r**2) * (y3 / 12 + y1 / 2), atol=1e-12)
    # constants (l = 0) are in the kernel of the Laplacian and removed by the inverse
    ones = torch.ones(1, 1, nlat, nlon, dtype=F64)
    assert lap(ones).abs().max() < 1e-12 and poisson(ones).abs().max() < 1e-12
    # Poisson after Laplacian returns the field minus its l = 0 (mean) part
    f = 3.0 + y
    assert torch.allclose(poisson(lap(f)), y, atol=1e-12)
    assert torch.allclose(lap(poisson(f)), y, atol=1e-12)


@pytest.mark.parametrize("grid", GRIDS)
def test_roll_in_longitude_commutes(grid):
    torch.manual_seed(0)
    nlat, nlon = 8, 16
    x = torch.randn(2, 3, nlat, nlon, dtype=F64)
    ops = [SphereLaplacian(nlat, nlon, grid).double(), SpherePoisson(nlat, nlon, grid).double()]
    ops += [
        SphericalConv(3, 2, nlat, nlon, grid=grid, dtype=F64),
        SphericalConv(3, 2, nlat, nlon, lmax=nlat, grid=grid, dtype=F64),
    ]
    for op in ops:
        for shift in (1, 5):
            assert torch.allclose(op(torch.roll(x, shift, 3)), torch.roll(op(x), shift, 3), atol=1e-12)


@pytest.mark.parametrize("grid", GRIDS)
def test_spherical_conv_acts_per_degree(grid):
    nlat, nlon = 10, 20
    layer = SphericalConv(1, 1, nlat, nlon, grid=grid, dtype=F64)
    real = SphericalConv(1, 1, nlat, nlon, grid=grid, complex_weights=False, dtype=F64)
    with torch.no_grad():
        layer.weight.zero_()
        real.weight.zero_()
        for l in range(layer.lmax):
            layer.weight[0, 0, l] = torch.tensor([1.0 + l, 0.5 - l], dtype=F64)
            real.weight[0, 0, l] = 2.0 - l
    for l, m in [(0, 0), (1, 1), (2, 0), (3, 2), (4, 4)]:
        c, s = harmonic(l, m, nlat, nlon, grid, "cos"), harmonic(l, m, nlat, nlon, grid, "sin")
        a, b = 1.0 + l, 0.5 - l
        # (a + ib) acts as a + b * i sign(m): cos(m phi) -> a cos - b sin, and b drops out for m = 0
        expected = a * c - b * s if m else a * c
        assert torch.allclose(layer(c), expected, atol=1e-12), (l, m)
        assert torch.allclose(real(c), (2.0 - l) * c, atol=1e-12), (l, m)


@pytest.mark.parametrize("grid", GRIDS)
def test_spherical_conv_shape_backward_float32(grid):
    layer = SphericalConv(3, 4, 8, 16, grid=grid)
    x = torch.randn(2, 3, 8, 16)
    y = layer(x)
    assert y.shape == (2, 4, 8, 16) and y.dtype == torch.float32
    y.square().mean().backward()
    for name, p in layer.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    assert layer.weight.shape == (3, 4, layer.lmax, 2)
    assert SphereLaplacian(8, 16, grid)(x).dtype == torch.float32
    assert SpherePoisson(8, 16, grid)(x).dtype == torch.float32


@pytest.mark.parametrize("complex_weights", [True, False])
def test_spherical_conv_gradcheck(complex_weights):
    layer = SphericalConv(2, 2, 4, 8, grid="legendre-gauss", complex_weights=complex_weights).double()
    assert layer.weight.dtype == F64
    x = torch.randn(1, 2, 4, 8, dtype=F64, requires_grad=True)
    w = layer.weight.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x, w: functional_call(layer, {"weight": w}, (x,)), (x, w))


def test_default_lmax_is_the_exact_one():
    assert SphereLaplacian(12, 24).lmax == 6  # Clenshaw-Curtis: 2 (lmax - 1) <= nlat - 1
    assert SphereLaplacian(11, 24).lmax == 6
    assert SphereLaplacian(12, 24, "legendre-gauss").lmax == 12
    assert SphericalConv(1, 1, 12, 8).mmax == 5  # min(lmax, nlon // 2 + 1)
    assert SphereLaplacian(12, 24, lmax=12).lmax == 12  # torch-harmonics' default is allowed explicitly


def test_importing_physdiff_does_not_import_torch_harmonics():
    code = "import sys, physdiff, physdiff.operators; print('torch_harmonics' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize(
    "call,fragment",
    [
        (lambda: SphereLaplacian(8, 16)(torch.randn(1, 1, 8, 15)), "(nlat, nlon) = (8, 16)"),
        (lambda: SphereLaplacian(8, 16)(torch.randn(1, 1, 16, 8)), "(nlat, nlon) = (8, 16)"),
        (lambda: SphereLaplacian(8, 16)(torch.randn(8, 16)), "2 spatial axes"),
        (lambda: SphericalConv(2, 1, 8, 16)(torch.randn(1, 3, 8, 16)), "2 channels"),
        (lambda: SphericalConv(1, 1, 8, 16)(torch.randn(1, 1, 8, 16, dtype=F64)), "dtype"),
        (lambda: SphereLaplacian(8, 16, grid="gauss"), "grid"),
        (lambda: SphereLaplacian(8, 16, lmax=9), "lmax"),
        (lambda: SphereLaplacian(8, 16, radius=0.0), "radius"),
        (lambda: SphereLaplacian(1, 16), "nlat"),
        (lambda: SphericalConv(0, 1, 8, 16), "in_channels"),
    ],
)
def test_bad_inputs_raise_physdiff_error(call, fragment):
    with pytest.raises(PhysdiffError) as info:
        call()
    message = str(info.value)
    assert fragment in message and "expected" in message and "got" in message
