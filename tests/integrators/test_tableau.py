"""ButcherTableau: exact storage, validation errors, order conditions, SSP coefficients, casting."""

from __future__ import annotations

import dataclasses
import math
import pickle
from fractions import Fraction as F

import pytest
import torch

from physdiff.core import PhysdiffError
from physdiff.integrators import ALL_TABLEAUX, HEUN_TABLEAU, RK4_TABLEAU, ButcherTableau
from physdiff.integrators._order_conditions import is_absolutely_monotonic, rooted_trees, satisfied_order

HEUN = dict(a=[[0, 0], [1, 0]], b=[F(1, 2), F(1, 2)], c=[0, 1], order=2)


def heun(**changes):
    return ButcherTableau(**{**HEUN, **changes})


@pytest.mark.parametrize("tableau", ALL_TABLEAUX, ids=lambda t: t.name)
def test_declared_order_is_exact_order(tableau):
    # The conditions of the declared order hold exactly and those of the next order do not.
    assert satisfied_order(tableau.a, tableau.b, tableau.order + 1) == tableau.order


@pytest.mark.parametrize("tableau", [t for t in ALL_TABLEAUX if t.is_embedded], ids=lambda t: t.name)
def test_embedded_order_is_exact_order(tableau):
    assert satisfied_order(tableau.a, tableau.b_error, tableau.error_order + 1) == tableau.error_order


@pytest.mark.parametrize("tableau", ALL_TABLEAUX, ids=lambda t: t.name)
def test_declared_ssp_coefficient_is_optimal(tableau):
    r = tableau.ssp_coefficient
    assert r == 0 or is_absolutely_monotonic(tableau.a, tableau.b, r)
    assert not is_absolutely_monotonic(tableau.a, tableau.b, r + F(1, 1000))


def test_rooted_tree_counts():
    assert [len(rooted_trees(n)) for n in range(1, 8)] == [1, 1, 2, 4, 9, 20, 48]


def test_coefficients_are_stored_exactly():
    t = ButcherTableau(a=[[0, 0], ["2/3", 0]], b=[F(1, 4), "3/4"], c=[0, F(2, 3)], order=2)
    assert t.a[1][0] == F(2, 3) and isinstance(t.a[1][0], F)
    assert all(isinstance(x, F) for x in (*t.b, *t.c))
    assert t.stages == 2 and not t.is_embedded


def test_float_coefficients_for_irrational_methods():
    # Two-stage second-order family with the irrational node alpha = 1/sqrt(2).
    alpha = 1 / math.sqrt(2)
    t = ButcherTableau(a=[[0, 0], [alpha, 0]], b=[1 - 1 / (2 * alpha), 1 / (2 * alpha)], c=[0, alpha], order=2)
    assert isinstance(t.a[1][0], float)


def test_tableau_is_frozen_hashable_and_compared_by_value():
    with pytest.raises(dataclasses.FrozenInstanceError):
        HEUN_TABLEAU.order = 3
    copy = ButcherTableau(**{**HEUN, "name": "heun", "ssp_coefficient": 1})
    HEUN_TABLEAU.cast(torch.float32, "cpu")  # a filled cache does not change the value
    assert copy == HEUN_TABLEAU and hash(copy) == hash(HEUN_TABLEAU)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        (dict(c=[0, F(1, 2)]), "row sums of A"),
        (dict(b=[F(1, 2), F(1, 3)]), "b to sum to 1"),
        (dict(a=[[0, 0], [1, 1]], c=[0, 2]), "strictly lower-triangular"),
        (dict(a=[[0, 1], [1, 0]], c=[1, 1]), "strictly lower-triangular"),
        (dict(a=[[F(1, 2), 0], [1, 0]], c=[F(1, 2), 1]), "strictly lower-triangular"),
        (dict(a=[[0, 0], [1]]), "shape"),
        (dict(a=[[0, 0]]), "shape"),
        (dict(c=[0, 1, 1]), "shape"),
        (dict(b=[]), "at least one stage"),
        (dict(b_error=[1, 0, 0], error_order=1), "shape"),
        (dict(b_error=[1, 1], error_order=1), "b_error to sum to 1"),
        (dict(b_error=[F(1, 2), F(1, 2)], error_order=1), "differ from b"),
        (dict(b_error=[1, 0]), "together"),
        (dict(error_order=1), "together"),
        (dict(order=3), "order conditions hold only up to order 2"),
        (dict(b_error=[0, 1], error_order=2), "b_error of order 2"),
        (dict(order=0), "positive int"),
        (dict(order=True), "positive int"),
        (dict(order=2.0), "positive int"),
        (dict(ssp_coefficient=2), "SSP coefficient"),
        (dict(ssp_coefficient=-1), "SSP coefficient"),
        (dict(b=[F(1, 2), "half"]), "finite number"),
        (dict(b=[F(1, 2), None]), "finite number"),
        (dict(b=[F(1, 2), True]), "bool"),
        (dict(b=[0.5, math.nan]), "finite number"),
        (dict(b="ab"), "sequence"),
        (dict(a=7), "square matrix"),
    ],
)
def test_invalid_tableau_raises(changes, match):
    with pytest.raises(PhysdiffError, match=match):
        heun(**changes)


def test_cast_is_cached_per_dtype_and_device_and_drops_zeros():
    first = RK4_TABLEAU.cast(torch.float32, "cpu")
    assert RK4_TABLEAU.cast(torch.float32, torch.device("cpu")) is first
    assert RK4_TABLEAU.cast(torch.float64, "cpu") is not first
    assert all(w.dtype == torch.float32 for row in first.a for _, w in row)
    assert [[j for j, _ in row] for row in first.a] == [[], [0], [1], [2]]
    assert first.error is None


def test_pickle_round_trip_drops_the_cast_cache():
    RK4_TABLEAU.cast(torch.float32, "cpu")
    loaded = pickle.loads(pickle.dumps(RK4_TABLEAU))
    assert loaded == RK4_TABLEAU and loaded._cast_cache == {}
    assert loaded.cast(torch.float32, "cpu").b[0][1].item() == pytest.approx(1 / 6)


def test_master_copy_is_float64():
    a, b, c, b_error = RK4_TABLEAU.master()
    assert a.dtype == b.dtype == c.dtype == torch.float64 and b_error is None
    assert torch.equal(a.sum(dim=1), c)
    assert b.sum().item() == pytest.approx(1.0, abs=1e-15)  # 1/6 + 1/3 + 1/3 + 1/6 rounds; the exact b sums to 1
