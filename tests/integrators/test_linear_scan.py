"""linear_scan: every method equals the plain loop; gradients; the log path's limits and errors."""

import pytest
import torch

from physdiff.core import PhysdiffError
from physdiff.integrators import linear_scan, log_linear_scan


def plain_loop(a, b, h0):
    """Reference: the recurrence written out, differentiated by autograd."""
    h = torch.zeros_like(b[:, 0]) if h0 is None else h0
    out = []
    for t in range(a.shape[1]):
        h = a[:, t] * h + b[:, t]
        out.append(h)
    return torch.stack(out, dim=1)


def random_inputs(dtype, shape=(3, 11, 2, 5), seed=0, zero_h0=False):
    g = torch.Generator().manual_seed(seed)
    a = (0.05 + 0.95 * torch.rand(shape, generator=g, dtype=torch.float64)).to(dtype)
    b = torch.rand(shape, generator=g, dtype=torch.float64).to(dtype)
    h0 = (torch.zeros((shape[0], *shape[2:]), dtype=dtype) if zero_h0
          else torch.randn((shape[0], *shape[2:]), generator=g, dtype=torch.float64).to(dtype))
    return a, b, h0


@pytest.mark.parametrize("method", ["sequential", "log", "auto"])
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
@pytest.mark.parametrize("h0_kind", ["random", "zeros", "none"])
def test_every_method_equals_the_loop(method, dtype, tol, h0_kind):
    a, b, h0 = random_inputs(dtype, zero_h0=h0_kind == "zeros")
    if h0_kind == "none":
        h0 = None
    expected = plain_loop(a.double(), b.double(), None if h0 is None else h0.double())
    got = linear_scan(a, b, h0, method=method)
    assert got.dtype == dtype and got.shape == a.shape
    torch.testing.assert_close(got.double(), expected, rtol=tol, atol=tol)


def test_long_float32_log_scan_neither_overflows_nor_underflows():
    # T = 1000: prod a_t reaches ~1e-23 and 1/prod ~1e23 (beyond float32's exp range of a
    # naive cumprod-and-divide scan); the log-space form stays finite and accurate.
    g = torch.Generator().manual_seed(1)
    a = 0.9 + 0.1 * torch.rand(2, 1000, 4, generator=g, dtype=torch.float64)
    b = torch.rand(2, 1000, 4, generator=g, dtype=torch.float64)
    h0 = torch.rand(2, 4, generator=g, dtype=torch.float64)
    expected = plain_loop(a, b, h0)
    assert float(torch.cumprod(a, 1).min()) < 1e-20  # the regime where a naive scan breaks in float32
    got = linear_scan(a.float(), b.float(), h0.float(), method="log")
    assert torch.isfinite(got).all()
    # relative error ~ |sum log a| * eps32 = 50 * 6e-8: documented bound 1e-5
    torch.testing.assert_close(got.double(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("method", ["sequential", "log"])
def test_gradcheck(method):
    a, b, h0 = random_inputs(torch.float64, shape=(2, 6, 3))
    inputs = tuple(t.clone().requires_grad_() for t in (a, b, h0))
    assert torch.autograd.gradcheck(lambda a, b, h0: linear_scan(a, b, h0, method=method), inputs)


def test_memory_lean_backward_equals_autograd_of_the_loop():
    a, b, h0 = random_inputs(torch.float64, shape=(2, 40, 3, 3), zero_h0=True)
    weights = torch.randn_like(a)
    grads = []
    for fn in (lambda a, b, h0: plain_loop(a, b, h0), lambda a, b, h0: linear_scan(a, b, h0, method="sequential")):
        leaves = tuple(t.clone().requires_grad_() for t in (a, b, h0))
        (fn(*leaves) * weights).sum().backward()
        grads.append([t.grad for t in leaves])
    for expected, got in zip(*grads):
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_log_scan_gradient_is_finite_at_a_zero_state():
    a, b, h0 = random_inputs(torch.float64, shape=(2, 5, 3), zero_h0=True)
    h0.requires_grad_()
    linear_scan(a, b, h0, method="log").sum().backward()
    expected = torch.cumprod(a, dim=1).sum(1)  # d(sum_t h_t)/dh0 = sum_t prod_{s<=t} a_s
    torch.testing.assert_close(h0.grad, expected)


def test_log_scan_takes_logs_directly():
    a, b, h0 = random_inputs(torch.float64)
    torch.testing.assert_close(log_linear_scan(a.log(), b.log(), h0), plain_loop(a, b, h0), rtol=1e-10, atol=1e-10)


def test_auto_with_negative_coefficients_falls_back_to_sequential():
    a, b, h0 = random_inputs(torch.float64)
    a = -a
    torch.testing.assert_close(linear_scan(a, b, h0, method="auto"), plain_loop(a, b, h0), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("which", ["a", "b"])
def test_negative_input_to_the_log_scan_is_an_error(which):
    a, b, h0 = random_inputs(torch.float64)
    if which == "a":
        a = -a
    else:
        b = b - 2
    with pytest.raises(PhysdiffError, match="method='sequential'"):
        linear_scan(a, b, h0, method="log")


def test_bad_arguments():
    a, b, h0 = random_inputs(torch.float64)
    with pytest.raises(PhysdiffError, match="one shape"):
        linear_scan(a, b[:, :3], h0)
    with pytest.raises(PhysdiffError, match=r"h0: expected None \(zeros\) or a tensor of shape"):
        linear_scan(a, b, h0[:1])
    with pytest.raises(PhysdiffError, match="method: expected one of"):
        linear_scan(a, b, h0, method="parallel")
    with pytest.raises(PhysdiffError, match="floating-point"):
        linear_scan(a.long(), b, h0)
