"""The compiled periodic-stencil route equals the eager routes, compiles only when asked or earned."""

from __future__ import annotations

import pytest
import torch

from physdiff.core import _compiled
from physdiff.operators import FiniteDifference, Laplacian
from physdiff.operators._compiled_stencil import compiled_periodic_stencil, eager_periodic_stencil


@pytest.mark.parametrize(
    "orders, accuracy, shape",
    [((1,), 4, (17,)), ((2, 0), 2, (9, 12)), ((1, 1), 4, (10, 11)), ((0, 3, 0), 2, (6, 7, 8)), ((2, 2, 2), 4, (9, 9, 9))],
)
def test_traced_arithmetic_equals_shifted_sums(orders, accuracy, shape):
    """The function handed to torch.compile, run eagerly, is the same operator (no compiler involved)."""
    op = FiniteDifference(orders, 0.3, accuracy, "periodic", method="shift")
    u = torch.randn(2, 3, *shape, dtype=torch.float64)
    torch.testing.assert_close(eager_periodic_stencil(op.fusable().kernel, u), op(u), rtol=1e-10, atol=1e-10)


@pytest.mark.slow
@pytest.mark.parametrize("ndim, accuracy", [(1, 4), (3, 2)])
def test_compiled_route_equals_shift_route_or_falls_back(ndim, accuracy):
    u = torch.randn(1, 2, *([10] * ndim), dtype=torch.float64)
    shift = Laplacian(ndim, 0.5, accuracy, method="shift")(u)
    lap = Laplacian(ndim, 0.5, accuracy, method="compiled")
    with torch.no_grad():
        compiled = lap(u)
    # Compiled, or (no working compiler) marked failed after one warning: the route was taken.
    lazy = compiled_periodic_stencil(lap.fusable().kernel)
    assert (tuple(u.shape), u.dtype, "cpu") in lazy._ready | lazy._failed
    torch.testing.assert_close(compiled, shift, rtol=1e-12, atol=1e-12)


def test_auto_does_not_compile_short_runs_or_small_stencils():
    lap = Laplacian(3, 1.0, 4, method="auto")
    u = torch.randn(1, 1, 8, 8, 8)
    with torch.no_grad():
        lap(u)
    lazy = compiled_periodic_stencil(lap.fusable().kernel)
    assert lazy._ready == set() and sum(lazy._work.values()) == u.numel()
    five_point = Laplacian(2, 1.0, 2, method="auto")
    with torch.no_grad():
        five_point(torch.randn(1, 1, 8, 8))
    assert compiled_periodic_stencil(five_point.fusable().kernel)._work == {}


def test_auto_skips_compilation_when_gradients_are_needed():
    lap = Laplacian(3, 1.0, 4, method="auto")
    u = torch.randn(1, 1, 8, 8, 8, requires_grad=True)
    before = dict(compiled_periodic_stencil(lap.fusable().kernel)._work)
    lap(u).sum().backward()
    assert compiled_periodic_stencil(lap.fusable().kernel)._work == before
    assert u.grad is not None


def test_compiler_failure_warns_once_and_falls_back(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no compiler here")

    monkeypatch.setattr(torch, "compile", broken)
    op = FiniteDifference((1, 2), 0.2, 4, "periodic", method="compiled")
    compiled_periodic_stencil.cache_clear()
    u = torch.randn(1, 1, 9, 10, dtype=torch.float64)
    with pytest.warns(RuntimeWarning, match="no compiler here"):
        first = op(u)
    second = op(u)  # the key is marked failed: no second warning, same eager result
    expected = FiniteDifference((1, 2), 0.2, 4, "periodic", method="shift")(u)
    torch.testing.assert_close(first, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(second, expected, rtol=1e-12, atol=1e-12)
    compiled_periodic_stencil.cache_clear()
    assert _compiled.COMPILE_AFTER >= 10**8  # auto's threshold stays far above test-sized work
