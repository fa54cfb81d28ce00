"""Moment matrices, exact and float K2M / M2K, derivative kernels, moment loss and read-back."""

from __future__ import annotations

import itertools
import random

import pytest
import sympy
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from physdiff.core import PhysdiffError
from physdiff.operators import (
    DerivativeMatch,
    derivative_kernel,
    identify_derivative,
    inverse_moment_matrix,
    kernel_to_moments,
    kernel_to_moments_exact,
    moment_loss,
    moment_mask,
    moment_matrix,
    moments_to_kernel,
    moments_to_kernel_exact,
    one_hot_moments,
)

R = sympy.Rational


def _dense(arr) -> dict:
    """Nonzero entries of a sympy Array as {index: value}."""
    return {idx: arr[idx] for idx in itertools.product(*map(range, arr.shape)) if arr[idx] != 0}


def _to_float(arr) -> torch.Tensor:
    shape = tuple(int(s) for s in arr.shape)  # sympy Arrays report a sympy Tuple shape
    return torch.tensor([float(v) for v in sympy.flatten(arr.tolist())], dtype=torch.float64).reshape(shape)


# --- golden kernels ---------------------------------------------------------------


def test_laplacian_5x5_matches_percnn_exactly():
    lap = derivative_kernel((2, 0), (5, 5)) + derivative_kernel((0, 2), (5, 5))
    expected = sympy.Array(
        [
            [0, 0, R(-1, 12), 0, 0],
            [0, 0, R(4, 3), 0, 0],
            [R(-1, 12), R(4, 3), -5, R(4, 3), R(-1, 12)],
            [0, 0, R(4, 3), 0, 0],
            [0, 0, R(-1, 12), 0, 0],
        ]
    )
    assert lap == expected
    # its moments are one-hot at (2, 0) and (0, 2) over the whole 5x5 block (orders <= 4 per axis)
    assert _dense(kernel_to_moments_exact(lap)) == {(2, 0): 1, (0, 2): 1}


def test_laplacian_5x5x5_centre_and_axes():
    lap = sum(
        (derivative_kernel(d, (5, 5, 5)) for d in [(2, 0, 0), (0, 2, 0), (0, 0, 2)]),
        sympy.Array.zeros(5, 5, 5),
    )
    expected = {(2, 2, 2): R(-15, 2)}
    for axis in range(3):
        for offset, value in [(-2, R(-1, 12)), (-1, R(4, 3)), (1, R(4, 3)), (2, R(-1, 12))]:
            idx = [2, 2, 2]
            idx[axis] += offset
            expected[tuple(idx)] = value
    assert _dense(lap) == expected
    assert _dense(kernel_to_moments_exact(lap)) == {(2, 0, 0): 1, (0, 2, 0): 1, (0, 0, 2): 1}


def test_first_derivative_size5_1d():
    assert derivative_kernel((1,), 5) == sympy.Array([R(1, 12), R(-8, 12), 0, R(8, 12), R(-1, 12)])
    assert derivative_kernel(1, 5) == derivative_kernel((1,), (5,))


def test_moment_matrix_values_and_inverse():
    assert moment_matrix(3) == sympy.Matrix([[1, 1, 1], [-1, 0, 1], [R(1, 2), 0, R(1, 2)]])
    for size in range(1, 8):
        assert moment_matrix(size) * inverse_moment_matrix(size) == sympy.eye(size)
    # mutating a returned matrix does not corrupt the cache
    m = moment_matrix(2)
    m[0, 0] = 99
    assert moment_matrix(2)[0, 0] == 1


def test_even_size_uses_left_centre():
    # size 4: offsets -1, 0, 1, 2 (centre (4 - 1) // 2 = 1): third-order one-sided-biased first derivative
    assert moment_matrix(4)[1, :] == sympy.Matrix([[-1, 0, 1, 2]])
    assert derivative_kernel((1,), 4) == sympy.Array([R(-1, 3), R(-1, 2), 1, R(-1, 6)])


# --- K2M / M2K round trips -------------------------------------------------------------


def _random_int_nested(shape, rng):
    if len(shape) == 1:
        return [rng.randint(-9, 9) for _ in range(shape[0])]
    return [_random_int_nested(shape[1:], rng) for _ in range(shape[0])]


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("size", range(1, 8))
def test_round_trip_exact_and_float(ndim, size):
    rng = random.Random(100 * ndim + size)
    shape = (size,) * ndim
    kernel = sympy.Array(_random_int_nested(shape, rng))
    moments = kernel_to_moments_exact(kernel)
    assert moments_to_kernel_exact(moments) == kernel
    assert kernel_to_moments_exact(moments_to_kernel_exact(kernel)) == kernel
    # float64 path: identity to 1e-12 relative to the intermediate tensor's size (moments of a
    # size-7 3D kernel reach ~1e2 and M2K amplifies by up to 20 per axis, so an absolute 1e-12 is
    # out of reach there: the observed worst case is ~1.2e-13 relative, ~2e-11 absolute).
    k = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(size))
    m, kk = kernel_to_moments(k), moments_to_kernel(k)
    assert (moments_to_kernel(m) - k).abs().max() <= 1e-12 * max(1.0, float(m.abs().max()))
    assert (kernel_to_moments(kk) - k).abs().max() <= 1e-12 * max(1.0, float(kk.abs().max()))
    kf = _to_float(kernel)
    assert torch.allclose(kernel_to_moments(kf), _to_float(moments), rtol=1e-13, atol=1e-12)
    assert torch.allclose(moments_to_kernel(_to_float(moments)), kf, rtol=0, atol=1e-10)


@settings(max_examples=25, deadline=None)
@given(
    shape=st.lists(st.integers(1, 6), min_size=1, max_size=3).map(tuple),
    seed=st.integers(0, 10**6),
)
def test_float_matches_exact_on_anisotropic_shapes(shape, seed):
    kernel = sympy.Array(_random_int_nested(shape, random.Random(seed)))
    exact = kernel_to_moments_exact(kernel)
    assert torch.allclose(kernel_to_moments(_to_float(kernel)), _to_float(exact), rtol=1e-13, atol=1e-12)
    assert moments_to_kernel_exact(exact) == kernel


def test_leading_dims_dtype_device_and_autograd():
    w = torch.randn(3, 2, 5, 4, dtype=torch.float32, requires_grad=True)
    m = kernel_to_moments(w, ndim=2)
    assert m.shape == w.shape and m.dtype == torch.float32 and m.device == w.device
    for i, j in itertools.product(range(3), range(2)):
        assert torch.allclose(m[i, j], kernel_to_moments(w[i, j].detach()), atol=1e-6)
    m.sum().backward()
    assert w.grad is not None and torch.isfinite(w.grad).all()
    assert torch.allclose(moments_to_kernel(m.detach(), ndim=2), w.detach(), atol=1e-5)


def test_exact_inputs_accept_matrix_fractions_and_floats():
    from fractions import Fraction

    assert kernel_to_moments_exact(sympy.Matrix([[1, 2], [3, 4]])) == kernel_to_moments_exact([[1, 2], [3, 4]])
    assert kernel_to_moments_exact([0.5, 0.1]) == sympy.Array([R(3, 5), R(1, 10)])
    assert kernel_to_moments_exact([Fraction(1, 3)]) == sympy.Array([R(1, 3)])


# --- derivative kernels and targets ---------------------------------------------------


@pytest.mark.parametrize(
    "derivative, size",
    [((0,), (1,)), ((3,), (7,)), ((1, 0), (3, 3)), ((2, 1), (5, 3)), ((1, 1), (4, 6)), ((1, 0, 2), (3, 3, 5))],
)
def test_derivative_kernel_has_one_hot_moments(derivative, size):
    exact = derivative_kernel(derivative, size)
    assert _dense(kernel_to_moments_exact(exact)) == {derivative: 1}
    approx = derivative_kernel(derivative, size, exact=False)
    assert approx.dtype == torch.float64 and approx.shape == size
    assert torch.equal(approx, _to_float(exact))
    assert torch.allclose(kernel_to_moments(approx), one_hot_moments(derivative, size), atol=1e-12)
    assert torch.allclose(moments_to_kernel(one_hot_moments(derivative, size)), approx, atol=1e-12)
    f32 = derivative_kernel(derivative, size, exact=False, dtype=torch.float32)
    assert f32.dtype == torch.float32


def test_moment_mask():
    mask = moment_mask((5, 5))  # default: total order <= min(size) - 1 = 4
    assert mask.dtype == torch.bool and int(mask.sum()) == 15
    assert mask[4, 0] and mask[2, 2] and not mask[3, 2]
    assert moment_mask((5, 3), 2).sum() == 6
    assert moment_mask((3, 3, 3), "all").all()


# --- moment loss -------------------------------------------------------------------------


def test_moment_loss_zero_for_correct_kernel_positive_otherwise():
    target = one_hot_moments((1, 0), (5, 5))
    good = derivative_kernel((1, 0), (5, 5), exact=False)
    assert float(moment_loss(good, target)) < 1e-28
    bad = good + 1e-3 * torch.randn(5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert float(moment_loss(bad, target)) > 0
    # the free (unconstrained) moments do not count
    mask = moment_mask((5, 5))
    shifted = moments_to_kernel(target + 0.7 * (~mask))
    assert float(moment_loss(shifted, target, mask)) < 1e-28
    assert float(moment_loss(shifted, target)) > 0.1


def test_moment_loss_reductions_and_dtype():
    w = torch.randn(4, 1, 3, 3, generator=torch.Generator().manual_seed(1))
    target = one_hot_moments((0, 1), (3, 3))
    mask = moment_mask((3, 3))
    total = moment_loss(w, target, mask, ndim=2, reduction="sum")
    mean = moment_loss(w, target, mask, ndim=2, reduction="mean")
    phyd = moment_loss(w, target, mask, ndim=2, reduction="phydnet")
    n = int(mask.sum())
    assert total.dtype == torch.float32
    assert torch.allclose(mean, total / (4 * n)) and torch.allclose(phyd, total / n)


def test_moment_loss_rejects_bad_shapes():
    w = torch.randn(2, 1, 5, 5)
    with pytest.raises(PhysdiffError, match="broadcast"):
        moment_loss(w, torch.zeros(3, 3), ndim=2)
    with pytest.raises(PhysdiffError, match="ndim"):
        moment_loss(w, torch.zeros(5, 5))
    with pytest.raises(PhysdiffError, match="boolean"):
        moment_loss(w, torch.zeros(5, 5), torch.ones(5, 5), ndim=2)
    with pytest.raises(PhysdiffError, match="reduction"):
        moment_loss(w, torch.zeros(5, 5), ndim=2, reduction="max")
    with pytest.raises(PhysdiffError, match="fit inside"):
        moment_loss(torch.randn(5, 5), torch.zeros(2, 5, 5))


# --- read-back -------------------------------------------------------------------------------


@pytest.mark.parametrize("derivative, size, scale", [((1, 0), (5, 5), 2.5), ((0, 2), (3, 5), -0.4), ((1, 1, 0), (3, 3, 3), 7.0)])
def test_identify_derivative_of_scaled_noisy_kernel(derivative, size, scale):
    gen = torch.Generator().manual_seed(3)
    k = scale * derivative_kernel(derivative, size, exact=False)
    k = k + 1e-5 * torch.randn(size, dtype=torch.float64, generator=gen)
    match = identify_derivative(k)
    assert isinstance(match, DerivativeMatch)
    assert match.derivative == derivative and match.matched
    assert abs(match.scale - scale) < 1e-3 * abs(scale)
    assert 0 < match.residual < 1e-3
    loose = identify_derivative(k + 0.2 * torch.randn(size, dtype=torch.float64, generator=gen))
    assert not loose.matched


def test_identify_derivative_ignores_free_moments():
    target = one_hot_moments((0, 1), (5, 5))
    k = moments_to_kernel(target + 0.3 * (~moment_mask((5, 5))))
    assert not identify_derivative(k).matched
    match = identify_derivative(k, constrained_order=4)
    assert match.derivative == (0, 1) and match.residual < 1e-12 and match.matched


# --- invalid input -------------------------------------------------------------------------------


def test_bad_inputs_raise():
    with pytest.raises(PhysdiffError, match="at least 5 kernel points"):
        derivative_kernel((4, 0), (3, 5))
    with pytest.raises(PhysdiffError, match="order 3 on axis 0"):
        one_hot_moments((3,), 3)
    with pytest.raises(PhysdiffError, match="one per spatial axis"):
        derivative_kernel((1, 0), (5, 5, 5))
    with pytest.raises(PhysdiffError, match="non-negative int"):
        derivative_kernel((1, -1), 5)
    with pytest.raises(PhysdiffError, match="positive int"):
        moment_matrix(0)
    with pytest.raises(PhysdiffError, match="1 to 3 dims"):
        kernel_to_moments(torch.zeros(2, 2, 3, 3))
    with pytest.raises(PhysdiffError, match="ndim"):
        kernel_to_moments(torch.zeros(3, 3), ndim=4)
    with pytest.raises(PhysdiffError, match="at least 3 dims"):
        moments_to_kernel(torch.zeros(3, 3), ndim=3)
    with pytest.raises(PhysdiffError, match="floating-point"):
        kernel_to_moments(torch.zeros(3, dtype=torch.int64))
    with pytest.raises(PhysdiffError, match="rectangular"):
        kernel_to_moments_exact([[1, 2], [3]])
    with pytest.raises(PhysdiffError, match="1 to 3 axes"):
        moments_to_kernel_exact([[[[1]]]])
    with pytest.raises(PhysdiffError, match="exact rational"):
        kernel_to_moments_exact([sympy.pi])
    with pytest.raises(PhysdiffError, match="every constrained moment is zero"):
        identify_derivative(torch.zeros(3, 3))
    with pytest.raises(PhysdiffError, match="single kernel"):
        identify_derivative(torch.zeros(2, 3, 3), ndim=2)
    with pytest.raises(PhysdiffError, match="constrained_order"):
        moment_mask((3, 3), "some")
