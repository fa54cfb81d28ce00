"""Backward warping as the semi-Lagrangian advection step: identity, roll, second order, gradients, errors."""

from __future__ import annotations

import math

import pytest
import torch

from physdiff.core import PhysdiffError
from physdiff.operators import warp

F64 = torch.float64


def smooth_periodic(n: int, shift_x: float = 0.0, shift_y: float = 0.0) -> torch.Tensor:
    """u(x, y) = sin(2 pi (x + sx)) cos(2 pi (y + sy)) + 0.5 sin(4 pi (y + sy)) on [0, 1)^2, n x n samples."""
    s = torch.arange(n, dtype=F64) / n
    y, x = torch.meshgrid(s + shift_y, s + shift_x, indexing="ij")
    return (torch.sin(2 * math.pi * x) * torch.cos(2 * math.pi * y) + 0.5 * torch.sin(4 * math.pi * y))[None, None]


@pytest.mark.parametrize("boundary", ["periodic", "border"])
def test_zero_flow_is_the_identity(boundary):
    u = torch.randn(2, 3, 5, 7, dtype=F64, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(warp(u, torch.zeros(2, 2, 5, 7, dtype=F64), boundary=boundary), u)


@pytest.mark.parametrize("dx, dy", [(1, 0), (0, 1), (3, -2), (-7, 11), (9, 6)])
def test_integer_constant_displacement_on_a_periodic_grid_is_roll(dx, dy):
    u = torch.randn(2, 2, 6, 8, dtype=F64, generator=torch.Generator().manual_seed(1))
    flow = torch.empty(2, 2, 6, 8, dtype=F64)
    flow[:, 0], flow[:, 1] = dx, dy
    # out[i, j] = u[i + dy, j + dx] (wrapped) = roll by (-dy, -dx)
    torch.testing.assert_close(warp(u, flow), torch.roll(u, shifts=(-dy, -dx), dims=(-2, -1)))


def test_border_boundary_clamps_to_the_edge_samples():
    u = torch.arange(12, dtype=F64).view(1, 1, 3, 4)
    flow = torch.zeros(1, 2, 3, 4, dtype=F64)
    flow[:, 0] = 10.0  # far to the right: every pixel reads the last column
    torch.testing.assert_close(warp(u, flow, boundary="border"), u[..., -1:].expand_as(u))
    flow[:, 0] = 0.5  # half a pixel: the mean of neighbours, the last column stays (clamped)
    out = warp(u, flow, boundary="border")
    torch.testing.assert_close(out[..., :-1], 0.5 * (u[..., :-1] + u[..., 1:]))
    torch.testing.assert_close(out[..., -1], u[..., -1])


@pytest.mark.parametrize("fraction", [0.5, 0.25])
def test_small_constant_displacement_converges_at_second_order_to_the_exact_shift(fraction):
    # Physical displacement s_n = (round(s0 n) + fraction) / n -> s0 = 0.1 as n grows, so every
    # grid interpolates at the same fraction of a cell (a clean h^2 law, no aliasing of the phase).
    s0, errors, sizes = 0.1, [], [16, 32, 64, 128]
    for n in sizes:
        pixels_x = round(s0 * n) + fraction
        pixels_y = -(round(0.5 * s0 * n) + fraction)
        flow = torch.empty(1, 2, n, n, dtype=F64)
        flow[:, 0], flow[:, 1] = pixels_x, pixels_y
        exact = smooth_periodic(n, pixels_x / n, pixels_y / n)
        errors.append((warp(smooth_periodic(n), flow) - exact).abs().max().item())
    order = -torch.linalg.lstsq(
        torch.stack([torch.log(torch.tensor(sizes, dtype=F64)), torch.ones(len(sizes), dtype=F64)], 1),
        torch.log(torch.tensor(errors, dtype=F64))[:, None],
    ).solution[0].item()
    assert 1.9 < order < 2.1, (order, errors)
    # the constant of the h^2 law: bilinear interpolation errs by at most h^2 (max|u_xx| + max|u_yy|) / 8,
    # here max|u_xx| = (2 pi)^2, max|u_yy| <= (2 pi)^2 + 0.5 (4 pi)^2 = 3 (2 pi)^2 (grid units: h = 1 / n)
    bound = (1 + 3) * (2 * math.pi) ** 2 / 8 * (1 / sizes[-1]) ** 2
    assert errors[-1] <= bound


@pytest.mark.parametrize("boundary", ["periodic", "border"])
def test_gradients_with_respect_to_field_and_flow_pass_gradcheck(boundary):
    g = torch.Generator().manual_seed(3)
    u = torch.randn(2, 2, 4, 5, dtype=F64, generator=g, requires_grad=True)
    # non-integer departure points (bilinear is not differentiable at sample points), some
    # leaving the frame so both the wrap and the clamp are exercised
    flow = (0.3 + 2.4 * torch.rand(2, 2, 4, 5, dtype=F64, generator=g)) * torch.tensor([1.0, -1.0]).view(1, 2, 1, 1)
    flow.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: warp(a, b, boundary=boundary), (u, flow))


def test_bad_input_raises_physdiff_errors():
    u = torch.zeros(2, 1, 4, 4)
    with pytest.raises(PhysdiffError, match=r"flow: expected a displacement field \(B, 2, H, W\)"):
        warp(u, torch.zeros(2, 2, 2, 2))
    with pytest.raises(PhysdiffError, match="flow: expected a displacement field"):
        warp(u, torch.zeros(2, 3, 4, 4))
    bad = torch.zeros(2, 2, 4, 4)
    bad[1, 0, 2, 2] = float("nan")
    bad[0, 1, 0, 0] = float("inf")
    with pytest.raises(PhysdiffError, match="expected finite displacements, got 2 non-finite"):
        warp(u, bad)
    with pytest.raises(PhysdiffError, match="boundary: expected one of"):
        warp(u, torch.zeros(2, 2, 4, 4), boundary="reflect")
    with pytest.raises(PhysdiffError, match=r"field: expected a 2D field"):
        warp(torch.zeros(4, 4), torch.zeros(1, 2, 4, 4))
    with pytest.raises(PhysdiffError, match="floating-point"):
        warp(u, torch.zeros(2, 2, 4, 4, dtype=torch.int64))
    with pytest.raises(PhysdiffError, match="dtype and device"):
        warp(u, torch.zeros(2, 2, 4, 4, dtype=F64))
