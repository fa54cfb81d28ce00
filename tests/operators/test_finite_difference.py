"""Finite-difference operators: observed orders, boundaries, two application routes, algebra."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from physdiff import PhysdiffError
from physdiff.operators import (
    Biharmonic,
    Dirichlet,
    Divergence,
    FiniteDifference,
    Gradient,
    Laplacian,
    Neumann,
    StencilOperator,
)
from physdiff.testing import assert_order, operator_convergence

TWO_PI = 2 * math.pi


def _wave(*xs):
    """A smooth periodic test function on [0, 2 pi)^n and its partial derivatives."""
    return math.prod(torch.sin(k * x + 0.3 * k) for k, x in zip((1, 2, 1), xs))


def _wave_derivative(orders):
    def exact(*xs):
        factors = []
        for (k, x, d) in zip((1, 2, 1), xs, orders):
            # d^d/dx^d sin(kx + phi) = k^d sin(kx + phi + d pi/2)
            factors.append(k**d * torch.sin(k * x + 0.3 * k + d * math.pi / 2))
        return math.prod(factors)

    return exact


PERIODIC_CASES = [
    ((1,), 2), ((1,), 4), ((2,), 6), ((3,), 2), ((4,), 4),
    ((1, 0), 2), ((0, 2), 4), ((1, 1), 2), ((2, 1), 4),
    ((0, 0, 1), 4), ((1, 1, 1), 2), ((2, 0, 0), 2),
]


@pytest.mark.parametrize("orders, accuracy", PERIODIC_CASES)
def test_periodic_derivative_order(orders, accuracy):
    ndim = len(orders)
    sizes = (16, 24, 32) if ndim == 3 else (24, 48, 96)
    study = operator_convergence(
        lambda h: FiniteDifference(orders, h, accuracy, "periodic"),
        _wave,
        _wave_derivative(orders),
        sizes,
        ndim=ndim,
        length=TWO_PI,
    )
    assert_order(study, accuracy, tol=0.25)


def _poly(x):
    return torch.exp(torch.sin(3 * x)) + x**3


def _poly_derivative(d):
    def exact(x):
        xs = x.clone().requires_grad_(True)
        y = _poly(xs)
        for _ in range(d):
            (y,) = torch.autograd.grad(y.sum(), xs, create_graph=True)
        return y.detach()

    return exact


@pytest.mark.parametrize("derivative", [1, 2, 3])
@pytest.mark.parametrize("accuracy", [1, 2, 3, 4])
def test_one_sided_walls_keep_the_declared_order(derivative, accuracy):
    study = operator_convergence(
        lambda h: FiniteDifference((derivative,), h, accuracy, "one-sided"),
        _poly,
        _poly_derivative(derivative),
        (64, 128, 256),
        length=1.0,
        grid="node",
    )
    assert_order(study, accuracy, tol=0.25, at_least=True)


@pytest.mark.parametrize("kind", ["dirichlet", "neumann"])
@pytest.mark.parametrize("derivative", [1, 2, 4])
@pytest.mark.parametrize("accuracy", [2, 4])
def test_ghost_cell_walls_keep_the_declared_order(kind, derivative, accuracy):
    def make(h):
        f = _poly(torch.tensor([0.0, 1.0], dtype=torch.float64))
        fx = _poly_derivative(1)(torch.tensor([0.0, 1.0], dtype=torch.float64))
        bc = Dirichlet(f[0].item(), f[1].item()) if kind == "dirichlet" else Neumann(fx[0].item(), fx[1].item())
        return FiniteDifference((derivative,), h, accuracy, bc)

    # A 4th derivative divides round-off by h^4: stay on coarser grids there.
    sizes = (24, 48, 96) if derivative == 4 else (64, 128, 256)
    study = operator_convergence(make, _poly, _poly_derivative(derivative), sizes, length=1.0, grid="cell")
    assert_order(study, accuracy, tol=0.25, at_least=True)


def test_dirichlet_and_neumann_ghosts_match_the_walls():
    """A field satisfying the wall data gets ghosts that keep that data at the walls."""
    n, h = 16, 1 / 16
    x = (torch.arange(n, dtype=torch.float64) + 0.5) * h
    u = (1 + x + x**2)[None, None]  # u(0)=1, u(1)=3, u'(0)=1, u'(1)=3
    # Quadratic fields are reproduced exactly by the 4th-order ghost rule.
    lap = FiniteDifference((2,), h, 4, Dirichlet(1.0, 3.0))(u)
    torch.testing.assert_close(lap, torch.full_like(u, 2.0), rtol=0, atol=1e-9)
    lap = FiniteDifference((2,), h, 4, Neumann(1.0, 3.0))(u)
    torch.testing.assert_close(lap, torch.full_like(u, 2.0), rtol=0, atol=1e-9)


@pytest.mark.parametrize("boundary", ["periodic", "one-sided", Dirichlet(0.3, -1.0), Neumann(0.5, 2.0)])
@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("accuracy", [2, 4])
def test_shift_and_conv_routes_agree(boundary, ndim, accuracy):
    torch.manual_seed(0)
    u = torch.randn(2, 3, *([11] * ndim), dtype=torch.float64)
    for orders in ([2] + [0] * (ndim - 1), [1] * ndim):
        shift = FiniteDifference(tuple(orders), 0.7, accuracy, boundary, method="shift")(u)
        conv = FiniteDifference(tuple(orders), 0.7, accuracy, boundary, method="conv")(u)
        torch.testing.assert_close(shift, conv, rtol=1e-12, atol=1e-12)


def test_laplacian_fuses_into_one_stencil_and_matches_sum_of_terms():
    lap = Laplacian(3, (0.5, 0.25, 1.0), accuracy=4)
    assert isinstance(lap.impl, StencilOperator)
    assert len(lap.impl.kernel.points) == 13  # 4 neighbours per axis plus one shared centre
    u = torch.randn(1, 2, 9, 10, 11, dtype=torch.float64)
    terms = sum(
        FiniteDifference(tuple(2 if a == i else 0 for a in range(3)), (0.5, 0.25, 1.0), 4)(u) for i in range(3)
    )
    torch.testing.assert_close(lap(u), terms, rtol=1e-12, atol=1e-12)


def test_percnn_fourth_order_laplacian_kernel():
    """PeRCNN's 5x5 kernel: centre -5, 4/3 and -1/12 along the cross, corners 0; 3D centre -15/2."""
    kernel = Laplacian(2, 1.0, accuracy=4).impl.kernel.dense()
    expected = torch.zeros(5, 5, dtype=torch.float64)
    expected[2] = torch.tensor([-1 / 12, 4 / 3, -5 / 2, 4 / 3, -1 / 12], dtype=torch.float64)
    expected[:, 2] += expected[2].clone()
    assert expected[2, 2] == -5
    torch.testing.assert_close(kernel, expected, rtol=0, atol=1e-15)
    assert Laplacian(3, 1.0, accuracy=4).impl.kernel.dense()[2, 2, 2].item() == pytest.approx(-7.5, abs=1e-14)


def test_operator_algebra():
    u = torch.randn(2, 1, 12, 13, dtype=torch.float64)
    dx, dy = FiniteDifference((1, 0), 0.3, 2), FiniteDifference((0, 1), 0.3, 2)
    dxx = FiniteDifference((2, 0), 0.3, 2)
    combined = 2.0 * dxx - dx * dy + dy
    assert isinstance(combined.fusable(), StencilOperator)
    expected = 2.0 * dxx(u) - dx(dy(u)) + dy(u)
    torch.testing.assert_close(combined(u), expected, rtol=1e-12, atol=1e-12)
    # A periodic product of the same axis composes the stencils: (D_x)^2 is the wide 5-point stencil.
    torch.testing.assert_close((dx**2)(u), dx(dx(u)), rtol=1e-12, atol=1e-12)
    # Products across one-sided axes stay unfused but are still exact compositions.
    ox, oy = FiniteDifference((1, 0), 0.3, 2, "one-sided"), FiniteDifference((0, 1), 0.3, 2, "one-sided")
    torch.testing.assert_close((ox * oy)(u), ox(oy(u)), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close((ox + oy)(u), ox(u) + oy(u), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(FiniteDifference((1, 1), 0.3, 2, "one-sided")(u), ox(oy(u)), rtol=1e-12, atol=1e-12)


def test_gradient_divergence_and_biharmonic():
    n = 64
    h = TWO_PI / n
    x = torch.arange(n, dtype=torch.float64) * h
    X, Y = torch.meshgrid(x, x, indexing="ij")
    u = (torch.sin(X) * torch.cos(2 * Y))[None, None]
    grad = Gradient(2, h, 4)(u)
    assert grad.shape == (1, 2, n, n)
    torch.testing.assert_close(grad[0, 0], torch.cos(X) * torch.cos(2 * Y), rtol=0, atol=2e-4)
    torch.testing.assert_close(grad[0, 1], -2 * torch.sin(X) * torch.sin(2 * Y), rtol=0, atol=2e-3)
    div_grad = Divergence(2, h, 4)(grad)
    torch.testing.assert_close(div_grad, Laplacian(2, h, 4)(u), rtol=0, atol=5e-3)
    torch.testing.assert_close(div_grad, -5 * u, rtol=0, atol=5e-3)
    bih = Biharmonic(2, h, 4)(u)
    torch.testing.assert_close(bih, 25 * u, rtol=0, atol=5e-2)
    # Periodic biharmonic equals the Laplacian applied twice (both exact compositions).
    lap = Laplacian(2, h, 2)
    torch.testing.assert_close(Biharmonic(2, h, 2)(u), lap(lap(u)), rtol=0, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    shift=st.tuples(st.integers(-7, 7), st.integers(-7, 7)),
    orders=st.sampled_from([(1, 0), (0, 2), (1, 1), (3, 0)]),
    accuracy=st.integers(1, 6),
    a=st.floats(-3, 3),
    b=st.floats(-3, 3),
)
def test_periodic_operators_commute_with_shifts_and_are_linear(shift, orders, accuracy, a, b):
    gen = torch.Generator().manual_seed(1)
    u = torch.randn(1, 1, 15, 16, dtype=torch.float64, generator=gen)
    v = torch.randn(1, 1, 15, 16, dtype=torch.float64, generator=gen)
    op = FiniteDifference(orders, (0.2, 0.3), accuracy, "periodic")
    rolled = torch.roll(op(u), shift, dims=(2, 3))
    torch.testing.assert_close(op(torch.roll(u, shift, dims=(2, 3))), rolled, rtol=1e-12, atol=1e-9)
    torch.testing.assert_close(op(a * u + b * v), a * op(u) + b * op(v), rtol=1e-10, atol=1e-8)


def test_gradcheck_and_dtype_device():
    u = torch.randn(1, 2, 6, 7, dtype=torch.float64, requires_grad=True)
    for boundary in ("periodic", "one-sided", Neumann(0.1, 0.2)):
        op = FiniteDifference((1, 1), 0.5, 2, boundary)
        assert torch.autograd.gradcheck(op, (u,))
    out = Laplacian(2, 0.5, 4)(torch.randn(1, 1, 8, 8, dtype=torch.float32))
    assert out.dtype == torch.float32


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: FiniteDifference((1, 0), spacing=0.0), "finite positive"),
        (lambda: FiniteDifference((1, 0), spacing=float("nan")), "finite positive"),
        (lambda: FiniteDifference((1, 0), spacing=(0.1, 0.2, 0.3)), "one per spatial axis"),
        (lambda: FiniteDifference((1, 0, 0, 0)), "1, 2 or 3"),
        (lambda: FiniteDifference((-1,)), "non-negative"),
        (lambda: FiniteDifference((1,), accuracy=0), "accuracy"),
        (lambda: FiniteDifference((1,), boundary="reflective"), "boundary"),
        (lambda: FiniteDifference((1,), method="fft"), "method"),
        (lambda: Laplacian(2)(torch.zeros(4, 4)), "2 spatial axes"),
        (lambda: Laplacian(2, accuracy=6)(torch.zeros(1, 1, 5, 5)), "spans 7 samples"),
        (lambda: Laplacian(1, accuracy=4, boundary="one-sided")(torch.zeros(1, 1, 4)), "needs at least"),
        (lambda: Laplacian(1, accuracy=4, boundary=Dirichlet())(torch.zeros(1, 1, 4)), "needs at least"),
        (lambda: Divergence(2)(torch.zeros(1, 3, 5, 5)), "divisible by ndim"),
    ],
)
def test_bad_input_raises_clear_error(call, fragment):
    with pytest.raises(PhysdiffError, match=fragment):
        call()
