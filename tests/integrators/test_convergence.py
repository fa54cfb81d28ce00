"""Observed orders of every registry tableau, the named classes, and the embedded pairs' reference solves."""

from __future__ import annotations

import pytest
import torch

from physdiff.core import PhysdiffError
from physdiff.integrators import (
    ALL_TABLEAUX,
    FIXED_STEP_METHODS,
    BogackiShampine,
    ButcherTableau,
    DormandPrince,
    ExplicitRK,
)
from physdiff.testing import assert_order, integrator_convergence

from ._problems import rotation_logistic, rotation_logistic_exact

T_END = 1.0
DTS = [2.0**-k for k in range(4, 8)]  # 1/16 .. 1/128: asymptotic for every order, above round-off for order 5
EMBEDDED = [t for t in ALL_TABLEAUX if t.is_embedded]


def study(tableau: ButcherTableau):
    return integrator_convergence(
        ExplicitRK(rotation_logistic, tableau), rotation_logistic_exact(0.0), T_END, rotation_logistic_exact(T_END), DTS
    )


@pytest.mark.parametrize("tableau", ALL_TABLEAUX, ids=lambda t: t.name)
def test_observed_order_matches_declared_order(tableau):
    assert_order(study(tableau), tableau.order, tol=0.3)


@pytest.mark.parametrize("tableau", EMBEDDED, ids=lambda t: t.name)
def test_embedded_weights_converge_at_their_order(tableau):
    lower = ButcherTableau(tableau.a, tableau.b_error, tableau.c, tableau.error_order, name=f"{tableau.name}_lower")
    assert_order(study(lower), tableau.error_order, tol=0.3)


@pytest.mark.parametrize("method", FIXED_STEP_METHODS, ids=lambda m: m.__name__)
def test_named_method_is_the_generic_engine_on_its_tableau(method):
    assert method.TABLEAU in ALL_TABLEAUX
    u = rotation_logistic_exact(0.3)
    assert torch.equal(method(rotation_logistic)(u, 0.1), ExplicitRK(rotation_logistic, method.TABLEAU)(u, 0.1))


@pytest.mark.parametrize("pair", [BogackiShampine, DormandPrince], ids=lambda p: p.__name__)
def test_embedded_pair_solves_to_tolerance_and_tighter_rtol_is_more_accurate(pair):
    u0, exact = rotation_logistic_exact(0.0), rotation_logistic_exact(2.0)
    errors = []
    for rtol in (1e-4, 1e-7):
        result = pair(rotation_logistic, rtol=rtol, atol=rtol * 1e-3).solve(u0, 0.0, 2.0)
        errors.append((result.state - exact).abs().max().item())
        assert result.t == 2.0 and result.accepted > 0
        # Global error of a tolerance-controlled solve: a small multiple of the tolerance.
        assert errors[-1] < 100 * rtol
    assert errors[1] < errors[0] / 10


@pytest.mark.parametrize("pair", [BogackiShampine, DormandPrince], ids=lambda p: p.__name__)
def test_solve_statistics_count_rejections_and_evaluations(pair):
    integrator = pair(rotation_logistic, rtol=1e-6)
    result = integrator.solve(rotation_logistic_exact(0.0), 0.0, 1.0, dt0=1.0)  # far too large a first step
    assert result.rejected >= 1
    assert result.rhs_evaluations == integrator.tableau.stages * (result.accepted + result.rejected)
    auto = integrator.solve(rotation_logistic_exact(0.0), 0.0, 1.0)
    assert auto.rhs_evaluations == 2 + integrator.tableau.stages * (auto.accepted + auto.rejected)


def test_backward_solve_returns_to_the_initial_state():
    integrator = DormandPrince(rotation_logistic, rtol=1e-9, atol=1e-12)
    result = integrator.solve(rotation_logistic_exact(1.0), 1.0, 0.0)
    assert result.t == 0.0
    torch.testing.assert_close(result.state, rotation_logistic_exact(0.0), rtol=0, atol=1e-8)


def test_solve_gives_up_after_max_steps():
    with pytest.raises(PhysdiffError, match="max_steps"):
        DormandPrince(rotation_logistic, rtol=1e-12).solve(rotation_logistic_exact(0.0), 0.0, 10.0, max_steps=5)


def test_zero_length_solve_returns_the_initial_state():
    u0 = rotation_logistic_exact(0.0)
    result = BogackiShampine(rotation_logistic).solve(u0, 0.5, 0.5)
    assert result.state is u0 and result.accepted == result.rejected == 0
