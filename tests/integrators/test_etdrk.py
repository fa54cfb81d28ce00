"""ETDRK1-4: observed orders on a stiff semilinear problem with a closed form, exactness on linear
problems, contour-integral phi-functions against direct formulas, state handling and bad input."""

from __future__ import annotations

import cmath
import math

import pytest
import torch

from physdiff.core import PhysdiffError
from physdiff.integrators import ETDRK, ETDRK_SCHEMES, phi_functions
from physdiff.testing import assert_order, integrator_convergence

# Stiff diagonal L with a nonlinear coupling, closed form:
#   u' = -100 u + v^2   (stiff, forced by v)
#   v' = -v             (v = v0 e^{-t})
#   w' = (-1 + 8i) w + w^2   (Bernoulli: 1/w solves a linear ODE)
LAM = torch.tensor([-100.0, -1.0, -1 + 8j], dtype=torch.complex128)
Y0 = torch.tensor([[0.2, 1.0, 0.3]], dtype=torch.complex128)


def coupled(y: torch.Tensor) -> torch.Tensor:
    return torch.cat([y[:, 1:2] ** 2, torch.zeros_like(y[:, 1:2]), y[:, 2:3] ** 2], dim=1)


def coupled_exact(t: float) -> torch.Tensor:
    (l, m, o), (a, b, c) = LAM.tolist(), Y0[0].tolist()
    l, m = l.real, m.real
    u = math.exp(l * t) * a + b * b * (math.exp(2 * m * t) - math.exp(l * t)) / (2 * m - l)
    w = 1 / ((1 / c + 1 / o) * cmath.exp(-o * t) - 1 / o)
    return torch.tensor([[u, b * math.exp(m * t), w]], dtype=torch.complex128)


DTS = [2.0**-k for k in range(5, 10)]  # z = dt * -100 from -3.1 to -0.2: stiff to resolved


@pytest.mark.parametrize("order", sorted(ETDRK_SCHEMES))
def test_observed_order_on_stiff_semilinear_problem(order):
    steppers = {dt: ETDRK(LAM, coupled, dt, order) for dt in DTS}
    study = integrator_convergence(lambda y, dt: steppers[dt](y), Y0, 1.0, coupled_exact(1.0), DTS)
    assert_order(study, order, tol=0.3)
    assert study.errors[-1] < [2e-4, 1e-6, 2e-10, 5e-12][order - 1]  # measured 7.5e-5, 3.9e-7, 6.0e-11, 1.7e-12


@pytest.mark.parametrize("order", sorted(ETDRK_SCHEMES))
def test_linear_problem_is_integrated_exactly(order):
    lam = torch.tensor([-1e4, -3.0, 0.0, 250j, -2 + 1e3j], dtype=torch.complex128)
    y0 = torch.tensor([[1.0, 2.0, -1.0, 0.5j, 1 + 1j]], dtype=torch.complex128)
    step = ETDRK(lam, lambda v: torch.zeros_like(v), 0.05, order)
    y = step(y0, steps=20)
    assert torch.allclose(y, torch.exp(lam * 1.0) * y0, rtol=1e-12, atol=1e-300)


def _direct(z: complex) -> tuple[complex, complex, complex]:
    e = cmath.exp(z)
    return (e - 1) / z, (e - 1 - z) / z**2, (e - 1 - z - z * z / 2) / z**3


def _taylor(z: complex, j: int) -> complex:
    return sum(z**m / math.factorial(m + j) for m in range(30))


@pytest.mark.parametrize("z", [2.0, -5.0, 3j, -40 + 10j, 17 - 2j, -300.0, 1e3j, 0.9 + 0.9j])
def test_contour_phi_matches_direct_formula_where_that_is_stable(z):
    for got, want in zip(phi_functions(z), _direct(z)):
        assert abs(complex(got) - want) <= 5e-14 * abs(want)


@pytest.mark.parametrize("z", [0.0, 1e-12, -1e-6 + 1e-7j, 1e-3j, 0.3, -0.5j])
def test_contour_phi_matches_taylor_series_near_zero_where_direct_formula_cancels(z):
    for j, got in enumerate(phi_functions(z), start=1):
        assert abs(complex(got) - _taylor(z, j)) <= 1e-14 * abs(_taylor(z, j))
    if z == 1e-3j:  # why the contour exists: the direct phi_3 has lost most of its digits here
        assert abs(_direct(z)[2] - _taylor(z, 3)) > 1e-8 * abs(_taylor(z, 3))


def test_contour_node_on_the_origin_is_handled():
    # With 32 nodes at angles (j + 1/2) 2 pi / 32, z = -e^{i pi/32} puts node 0 exactly at w = 0.
    z = -cmath.exp(1j * math.pi / 32)
    values = phi_functions(z)
    for j, got in enumerate(values, start=1):
        assert abs(complex(got) - _taylor(z, j)) <= 1e-14


@pytest.mark.parametrize("z", [-0.5, -3.0, 2j, -8 + 5j])
def test_etdrk4_coefficients_are_kassam_trefethen_formulas(z):
    h = 0.1
    c = ETDRK(torch.tensor([z / h], dtype=torch.complex128), lambda v: v, h, 4).coefficients()
    e, e2 = cmath.exp(z), cmath.exp(z / 2)
    want = {
        "E": e, "E2": e2, "q1": h * (e2 - 1) / z,
        "f1": h * (-4 - z + e * (4 - 3 * z + z * z)) / z**3,
        "f2": h * (2 + z + e * (z - 2)) / z**3,
        "f3": h * (-4 - 3 * z - z * z + e * (4 - z)) / z**3,
    }
    for name, value in want.items():
        assert abs(complex(c[name][0]) - value) <= 1e-13 * abs(value), name


def test_real_symbol_gives_real_coefficients_and_steps_real_states():
    step = ETDRK(torch.tensor([-2.0, -50.0], dtype=torch.float64), lambda v: -(v**3), 0.01, 4)
    assert all(not t.is_complex() for t in step.coefficients(torch.float64).values())
    y = step(torch.tensor([[1.0, 0.5]], dtype=torch.float64), steps=10)
    assert y.dtype == torch.float64 and torch.isfinite(y).all()
    complex_step = ETDRK(torch.tensor([1j]), lambda v: v, 0.1)
    with pytest.raises(PhysdiffError, match="complex state"):
        complex_step(torch.ones(1, 1))


def test_physical_state_with_transforms_equals_stepping_the_spectrum():
    n = 32
    k = torch.fft.rfftfreq(n, 1.0 / n).to(torch.float64)
    symbol = -0.1 * k**2 + 1j * k

    def nonlinear(v):  # -u^2 in Fourier space
        u = torch.fft.irfft(v, n=n)
        return torch.fft.rfft(-(u * u))

    u0 = torch.sin(torch.arange(n, dtype=torch.float64) * 2 * math.pi / n)[None, None]
    physical = ETDRK(symbol, nonlinear, 0.05, 4, transform=torch.fft.rfft, inverse=lambda v: torch.fft.irfft(v, n=n))
    spectral = ETDRK(symbol, nonlinear, 0.05, 4)
    want = torch.fft.irfft(spectral(torch.fft.rfft(u0), steps=3), n=n)
    assert torch.allclose(physical(u0, steps=3), want, atol=1e-14)
    one_at_a_time = physical(physical(physical(u0, 0.05), 0.05), 0.05)
    assert torch.allclose(one_at_a_time, want, atol=1e-14)


def test_float32_follows_float64_and_gradients_reach_state_and_nonlinear_parameters():
    weight = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    step = ETDRK(LAM, lambda v: weight * v * v, 0.05, 4)
    y0 = Y0.clone().requires_grad_(True)
    y = step(y0, steps=5)
    y32 = step(Y0.to(torch.complex64), steps=5)
    assert y32.dtype == torch.complex64
    assert torch.allclose(y32.to(torch.complex128), y.detach(), rtol=1e-5, atol=1e-6)
    y.abs().square().sum().backward()
    assert weight.grad is not None and weight.grad != 0 and y0.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"order": 5}, "order: expected one of"),
        ({"order": 4.0}, "order: expected one of"),
        ({"dt": 0.0}, "finite nonzero"),
        ({"dt": math.inf}, "finite nonzero"),
        ({"transform": torch.fft.fft}, "both transform and inverse"),
        ({"linear_symbol": torch.tensor([math.nan])}, "finite values"),
        ({"linear_symbol": [1.0]}, "real or complex tensor"),
        ({"nonlinear": 3}, "expected a callable"),
        ({"contour_points": 4}, "contour nodes"),
        ({"contour_radius": -1.0}, "contour radius"),
    ],
)
def test_bad_construction_is_refused(kwargs, fragment):
    args = {"linear_symbol": torch.tensor([-1.0]), "nonlinear": lambda v: v, "dt": 0.1, **kwargs}
    with pytest.raises(PhysdiffError, match=fragment):
        ETDRK(args.pop("linear_symbol"), args.pop("nonlinear"), args.pop("dt"), **args)


def test_bad_steps_are_refused():
    step = ETDRK(torch.tensor([-1.0], dtype=torch.float64), lambda v: v, 0.1)
    u = torch.ones(1, 1, dtype=torch.float64)
    for wrong in (0.2, "0.1x", torch.tensor([0.1, 0.1])):
        with pytest.raises(PhysdiffError, match="fixed dt"):
            step(u, wrong)
    assert torch.equal(step(u, torch.tensor(0.1)), step(u))
    with pytest.raises(PhysdiffError, match="steps"):
        step(u, steps=0)
    with pytest.raises(PhysdiffError, match="nonlinear"):
        ETDRK(torch.tensor([-1.0], dtype=torch.float64), lambda v: v[:, :0], 0.1)(u)
