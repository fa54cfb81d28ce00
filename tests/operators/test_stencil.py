"""Exact stencils: textbook values, Taylor-system properties, computed accuracy, bad input."""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from physdiff import PhysdiffError
from physdiff.operators import Stencil
from physdiff.operators._stencil import EXACT_ACCURACY

R = sympy.Rational

# Fornberg (1988), Table 1 (central) and Table 3 (one-sided), unit spacing.
CENTRAL = [
    (1, 2, [R(-1, 2), 0, R(1, 2)]),
    (1, 4, [R(1, 12), R(-2, 3), 0, R(2, 3), R(-1, 12)]),
    (1, 6, [R(-1, 60), R(3, 20), R(-3, 4), 0, R(3, 4), R(-3, 20), R(1, 60)]),
    (1, 8, [R(1, 280), R(-4, 105), R(1, 5), R(-4, 5), 0, R(4, 5), R(-1, 5), R(4, 105), R(-1, 280)]),
    (2, 2, [1, -2, 1]),
    (2, 4, [R(-1, 12), R(4, 3), R(-5, 2), R(4, 3), R(-1, 12)]),
    (2, 6, [R(1, 90), R(-3, 20), R(3, 2), R(-49, 18), R(3, 2), R(-3, 20), R(1, 90)]),
    (2, 8, [R(-1, 560), R(8, 315), R(-1, 5), R(8, 5), R(-205, 72), R(8, 5), R(-1, 5), R(8, 315), R(-1, 560)]),
    (3, 2, [R(-1, 2), 1, 0, -1, R(1, 2)]),
    (3, 4, [R(1, 8), -1, R(13, 8), 0, R(-13, 8), 1, R(-1, 8)]),
    (4, 2, [1, -4, 6, -4, 1]),
    (4, 4, [R(-1, 6), 2, R(-13, 2), R(28, 3), R(-13, 2), 2, R(-1, 6)]),
]
FORWARD = [
    (1, 1, [-1, 1]),
    (1, 2, [R(-3, 2), 2, R(-1, 2)]),
    (1, 3, [R(-11, 6), 3, R(-3, 2), R(1, 3)]),
    (1, 4, [R(-25, 12), 4, -3, R(4, 3), R(-1, 4)]),
    (2, 1, [1, -2, 1]),
    (2, 2, [2, -5, 4, -1]),
    (2, 3, [R(35, 12), R(-26, 3), R(19, 2), R(-14, 3), R(11, 12)]),
    (3, 1, [-1, 3, -3, 1]),
    (3, 2, [R(-5, 2), 9, -12, 7, R(-3, 2)]),
]


@pytest.mark.parametrize("derivative, accuracy, weights", CENTRAL)
def test_central_matches_fornberg(derivative, accuracy, weights):
    stencil = Stencil.central(derivative, accuracy)
    assert stencil.weights == tuple(R(w) for w in weights)
    half = len(weights) // 2
    assert stencil.offsets == tuple(R(s) for s in range(-half, half + 1))
    assert stencil.accuracy == accuracy


@pytest.mark.parametrize("derivative, accuracy, weights", FORWARD)
def test_forward_and_backward_match_fornberg(derivative, accuracy, weights):
    forward = Stencil.forward(derivative, accuracy)
    assert forward.weights == tuple(R(w) for w in weights)
    assert forward.accuracy == accuracy
    # The backward stencil is the mirror image with sign (-1)^derivative.
    backward = Stencil.backward(derivative, accuracy)
    sign = (-1) ** derivative
    assert backward.weights == tuple(sign * R(w) for w in reversed(weights))
    assert backward.offsets == tuple(-s for s in reversed(forward.offsets))
    assert backward.accuracy == accuracy


def test_staggered_half_offsets():
    first = Stencil.from_offsets(1, [Fraction(-1, 2), Fraction(1, 2)])
    assert first.weights == (-1, 1) and first.accuracy == 2
    fourth = Stencil.from_offsets(1, ["-3/2", "-1/2", 0.5, 1.5])
    assert fourth.weights == (R(1, 24), R(-9, 8), R(9, 8), R(-1, 24))
    assert fourth.accuracy == 4
    interpolate = Stencil.from_offsets(0, [-0.5, 0.5])
    assert interpolate.weights == (R(1, 2), R(1, 2)) and interpolate.accuracy == 2


def test_accuracy_is_computed_not_assumed():
    # Three points give order n - d = 2 for a first derivative in general ...
    assert Stencil.from_offsets(1, [0, 1, 3]).accuracy == 2
    # ... but a symmetric set cancels the next remainder and gains one order.
    assert Stencil.from_offsets(1, [-1, 0, 1]).accuracy == 2
    assert Stencil.from_offsets(2, [-1, 0, 1]).accuracy == 2
    assert Stencil.from_offsets(2, [-2, -1, 0, 1, 2]).accuracy == 4
    assert Stencil.from_offsets(2, [0, 1, 2]).accuracy == 1
    assert Stencil.central(0, 4).accuracy == EXACT_ACCURACY


offset_sets = st.lists(st.fractions(min_value=-6, max_value=6, max_denominator=2), min_size=1, max_size=9, unique=True)


@settings(max_examples=60, deadline=None)
@given(derivative=st.integers(0, 6), accuracy=st.integers(1, 8), kind=st.sampled_from(["central", "forward", "backward"]))
def test_exact_on_monomials_up_to_declared_degree(derivative, accuracy, kind):
    """d^d/dx^d x^m at x = 0 is d! for m = d and 0 otherwise; exact for m < d + accuracy."""
    stencil = getattr(Stencil, kind)(derivative, accuracy)
    assert stencil.accuracy >= accuracy
    top = derivative + min(stencil.accuracy, 12)
    for degree in range(top):
        value = stencil.apply_exact([s**degree for s in stencil.offsets])
        expected = sympy.factorial(derivative) if degree == derivative else 0
        assert value == expected, (degree, value)
    if stencil.accuracy != EXACT_ACCURACY:
        # ... and the first monomial past the accuracy is not reproduced.
        degree = derivative + stencil.accuracy
        value = stencil.apply_exact([s**degree for s in stencil.offsets])
        assert value != (sympy.factorial(derivative) if degree == derivative else 0)


@settings(max_examples=60, deadline=None)
@given(offsets=offset_sets, data=st.data())
def test_arbitrary_offsets_properties(offsets, data):
    derivative = data.draw(st.integers(0, len(offsets) - 1))
    stencil = Stencil.from_offsets(derivative, offsets)
    n = len(offsets)
    assert stencil.accuracy >= n - derivative
    for k in range(n):  # moments are one-hot: the defining Taylor system
        assert stencil.moment(k) == (1 if k == derivative else 0)
    if stencil.accuracy != EXACT_ACCURACY:
        assert stencil.moment(derivative + stencil.accuracy) != 0
    # The float path rounds the exact weights once.
    for w, f in zip(stencil.weights, stencil.float_weights(0.5)):
        assert f == pytest.approx(float(w) / 0.5**derivative, rel=1e-15, abs=1e-300)


def test_spacing_scales_by_power_of_derivative():
    h = sympy.Symbol("h", positive=True)
    stencil = Stencil.central(2, 2)
    x = sympy.Symbol("x")
    samples = [(x + s * h) ** 4 for s in stencil.offsets]
    assert sympy.expand(stencil.apply_exact(samples, h)) == 12 * x**2 + 2 * h**2


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: Stencil.from_offsets(2, [0, 1]), "needs at least 3"),
        (lambda: Stencil.from_offsets(1, [0, 1, 1]), "duplicates"),
        (lambda: Stencil.from_offsets(-1, [0, 1]), "non-negative"),
        (lambda: Stencil.central(1, 0), "accuracy"),
        (lambda: Stencil.forward(1, 1.5), "accuracy"),
        (lambda: Stencil.from_offsets(1, [0, "x"]), "exact rational"),
        (lambda: Stencil.from_offsets(1, [0, float("nan")]), "exact rational"),
        (lambda: Stencil.from_offsets(1, ["1/2", "-1/2"]).integer_offsets(), "integer offsets"),
    ],
)
def test_bad_input_raises_clear_error(call, fragment):
    with pytest.raises(PhysdiffError, match=fragment):
        call()


def test_stencil_is_frozen():
    stencil = Stencil.central(1, 2)
    with pytest.raises(AttributeError):
        stencil.accuracy = 3


# ------------------------------------------------------------- observed order
# Evaluated in 130-digit arithmetic so round-off (eps / h^d) cannot hide the
# truncation error: the observed order must equal the computed accuracy.
_X = sympy.Symbol("x")
_F = sympy.exp(sympy.sin(_X)) + sympy.cos(3 * _X) / 5
_X0 = sympy.Rational(3, 10)
_DIGITS = 130


def _observed_order(stencil: Stencil, h0: sympy.Rational) -> float:
    exact = sympy.diff(_F, _X, stencil.derivative).subs(_X, _X0).evalf(_DIGITS)
    errors = []
    for h in (h0, h0 / 2):
        samples = [_F.subs(_X, _X0 + s * h).evalf(_DIGITS) for s in stencil.offsets]
        errors.append(abs(stencil.apply_exact(samples, h).evalf(_DIGITS) - exact))
    return float(sympy.log(errors[0] / errors[1], 2))


@settings(max_examples=25, deadline=None)
@given(derivative=st.integers(1, 6), accuracy=st.integers(1, 8), kind=st.sampled_from(["central", "forward", "backward"]))
def test_observed_order_matches_computed_accuracy(derivative, accuracy, kind):
    stencil = getattr(Stencil, kind)(derivative, accuracy)
    order = _observed_order(stencil, sympy.Rational(1, 2**20))
    assert abs(order - stencil.accuracy) < 0.05, (stencil, order)


@settings(max_examples=15, deadline=None)
@given(offsets=st.lists(st.integers(-5, 5), min_size=3, max_size=8, unique=True), data=st.data())
def test_observed_order_on_arbitrary_offsets(offsets, data):
    derivative = data.draw(st.integers(1, len(offsets) - 1))
    stencil = Stencil.from_offsets(derivative, offsets)
    order = _observed_order(stencil, sympy.Rational(1, 2**20))
    assert abs(order - stencil.accuracy) < 0.05, (stencil, order)
