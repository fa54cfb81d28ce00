"""Bad inputs to the integrators raise PhysdiffError with an actionable message; allowed edge cases work."""

from __future__ import annotations

import math

import pytest
import torch

from physdiff.core import PhysdiffError
from physdiff.integrators import (
    ALL_TABLEAUX,
    RK4_TABLEAU,
    RK4,
    DormandPrince,
    EmbeddedRK,
    Euler,
    ExplicitRK,
    explicit_rk_step,
)

U = torch.ones(2, 1, 3, dtype=torch.float64)


@pytest.mark.parametrize(
    ("dt", "match"),
    [
        (torch.full((3,), 0.1), r"shape \(\) or \(2,\)"),
        (torch.full((2, 1), 0.1), r"shape \(\) or \(2,\)"),
        (torch.full((2, 1, 3), 0.1), r"shape \(\) or \(2,\)"),
        (torch.tensor([0.1, 0.1j]), "real tensor"),
        (torch.tensor([True, False]), "real tensor"),
        (torch.tensor([0.1, math.nan]), "finite"),
        (torch.tensor(math.inf), "finite"),
        (math.nan, "finite"),
        (-math.inf, "finite"),
        (True, "finite real number"),
        ("0.1", "finite real number"),
        (None, "finite real number"),
        (0.1j, "finite real number"),
    ],
)
def test_invalid_dt_raises(dt, match):
    with pytest.raises(PhysdiffError, match=match):
        RK4(lambda u: -u)(U, dt)


@pytest.mark.parametrize(
    ("u", "match"),
    [
        ([1.0, 2.0], "torch.Tensor"),
        (torch.ones(2, 1, 3, dtype=torch.int64), "floating-point"),
        (torch.ones(3), "at least 2 dims"),
    ],
)
def test_invalid_state_raises(u, match):
    with pytest.raises(PhysdiffError, match=match):
        Euler(lambda u: -u)(u, 0.1)


@pytest.mark.parametrize(
    ("rhs", "match"),
    [
        (lambda u: u[:, :, :-1], "shape"),
        (lambda u: u.float(), "dtype"),
        (lambda u: 1.0, "float"),
    ],
)
def test_rhs_output_that_is_not_a_derivative_raises(rhs, match):
    with pytest.raises(PhysdiffError, match=match):
        RK4(rhs)(U, 0.1)


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: Euler("not callable"), "rhs: expected a callable"),
        (lambda: ExplicitRK(lambda u: u, "rk4"), "expected a ButcherTableau"),
        (lambda: EmbeddedRK(lambda u: u, RK4_TABLEAU), "embedded tableau"),
        (lambda: DormandPrince(lambda u: u, rtol=0, atol=0), "rtol or atol"),
        (lambda: DormandPrince(lambda u: u, rtol=-1e-3), "rtol"),
        (lambda: DormandPrince(lambda u: u, atol=math.nan), "atol"),
        (lambda: DormandPrince(lambda u: u, min_factor=2.0), "min_factor"),
        (lambda: explicit_rk_step(lambda u: u, RK4_TABLEAU, U, 0.1, return_error=True), "embedded tableau"),
        (lambda: DormandPrince(lambda u: -u).solve(U, 0.0, math.inf), "t1"),
        (lambda: DormandPrince(lambda u: -u).solve(U, 0.0, 1.0, dt0=0.0), "dt0"),
        (lambda: DormandPrince(lambda u: -u).solve(U, 0.0, 1.0, max_steps=0), "max_steps"),
    ],
)
def test_invalid_construction_or_call_raises(build, match):
    with pytest.raises(PhysdiffError, match=match):
        build()


def test_errors_are_value_errors_saying_expected_and_got():
    with pytest.raises(ValueError) as info:
        RK4(lambda u: -u)(U, math.nan)
    assert "expected" in str(info.value) and "got" in str(info.value)


def test_step_size_underflow_is_reported():
    blow_up = DormandPrince(lambda u: u * u, rtol=1e-8)  # u' = u^2, u(0) = 1 is singular at t = 1
    with pytest.raises(PhysdiffError, match="underflow"):
        blow_up.solve(U, 0.0, 2.0, max_steps=2000)


@pytest.mark.parametrize("tableau", ALL_TABLEAUX, ids=lambda t: t.name)
def test_zero_dt_returns_the_state_and_negative_dt_integrates_backward(tableau):
    integrator = ExplicitRK(lambda u: torch.stack([-u[:, 1], u[:, 0]], dim=1), tableau)  # rotation
    u = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    assert torch.equal(integrator(u, 0.0), u)
    back = integrator(integrator(u, 1e-2), -1e-2)
    # Forward then backward undoes the step up to the local error O(dt^(p+1)).
    assert (back - u).abs().max() < 10 * 1e-2 ** (tableau.order + 1) + 1e-15
