"""Spectral derivatives, Laplacian / Poisson, dealiasing and wavenumbers on periodic boxes."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from physdiff.core import PhysdiffError
from physdiff.operators import (
    Dealias,
    SpectralDerivative,
    SpectralLaplacian,
    SpectralPoisson,
    dealias_mask,
    spectral_derivative,
    wavenumbers,
)

F64 = torch.float64


def grid(shape, lengths, dtype=F64):
    axes = [torch.arange(n, dtype=dtype) * (L / n) for n, L in zip(shape, lengths)]
    return torch.meshgrid(*axes, indexing="ij")


def trig_poly(shape, lengths, n_terms=5, seed=0):
    """Random real trigonometric polynomial with |q_a| < n_a / 2 (no Nyquist), and its term list."""
    gen = torch.Generator().manual_seed(seed)
    terms = []
    for _ in range(n_terms):
        q = [int(torch.randint(-((n - 1) // 2), (n - 1) // 2 + 1, (1,), generator=gen)) for n in shape]
        amp = float(torch.rand((), generator=gen, dtype=F64)) + 0.5
        phase = float(torch.rand((), generator=gen, dtype=F64)) * 2 * math.pi
        terms.append((q, amp, phase))
    return terms


def evaluate(terms, shape, lengths, orders=None):
    """Sum of amp * d^orders cos(k . x + phase), analytically."""
    coords = grid(shape, lengths)
    out = torch.zeros(shape, dtype=F64)
    orders = orders or (0,) * len(shape)
    for q, amp, phase in terms:
        k = [2 * math.pi * qa / L for qa, L in zip(q, lengths)]
        arg = sum(ka * xa for ka, xa in zip(k, coords)) + phase
        factor = math.prod(ka**p for ka, p in zip(k, orders))
        out = out + amp * factor * torch.cos(arg + sum(orders) * math.pi / 2)
    return out[None, None]


CASES = {
    1: [(16,), (17,)],
    2: [(12, 10), (9, 11)],
    3: [(8, 6, 6), (7, 9, 5)],
}


@pytest.mark.parametrize("order", range(7))
@pytest.mark.parametrize("shape", CASES[1], ids=["even", "odd"])
def test_derivative_1d_exact_on_trig_polynomials(order, shape):
    lengths = (3.0,)
    terms = trig_poly(shape, lengths, seed=order)
    u = evaluate(terms, shape, lengths)
    exact = evaluate(terms, shape, lengths, (order,))
    got = SpectralDerivative((order,), length=3.0)(u)
    scale = max(exact.abs().max().item(), 1.0)
    assert (got - exact).abs().max().item() <= 1e-12 * scale


MIXED_2D = [(p, q) for p in range(4) for q in range(4) if p + q <= 6] + [(6, 0), (0, 6), (3, 3), (2, 4)]
MIXED_3D = [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 1), (2, 0, 2), (0, 3, 1), (2, 2, 2), (1, 2, 3), (6, 0, 0)]


@pytest.mark.parametrize("shape", CASES[2], ids=["even", "odd"])
def test_derivative_2d_mixed_exact(shape):
    lengths = (2 * math.pi, 5.0)
    terms = trig_poly(shape, lengths, seed=1)
    u = evaluate(terms, shape, lengths)
    for orders in MIXED_2D:
        exact = evaluate(terms, shape, lengths, orders)
        got = spectral_derivative(u, orders, lengths)
        scale = max(exact.abs().max().item(), 1.0)
        assert (got - exact).abs().max().item() <= 1e-12 * scale, orders


@pytest.mark.parametrize("shape", CASES[3], ids=["even", "odd"])
def test_derivative_3d_mixed_exact(shape):
    lengths = (2 * math.pi, 1.0, 4.0)
    terms = trig_poly(shape, lengths, seed=2)
    u = evaluate(terms, shape, lengths)
    for orders in MIXED_3D:
        exact = evaluate(terms, shape, lengths, orders)
        got = SpectralDerivative(orders, length=lengths)(u)
        scale = max(exact.abs().max().item(), 1.0)
        assert (got - exact).abs().max().item() <= 1e-12 * scale, orders


@pytest.mark.parametrize("order", range(1, 7))
def test_nyquist_mode_odd_orders_vanish_even_orders_kept(order):
    n, L = 8, 2 * math.pi
    k_nyq = math.pi * n / L
    u = torch.tensor([(-1.0) ** j for j in range(n)], dtype=F64)[None, None]  # cos(k_N x) on the grid
    got = SpectralDerivative((order,), length=L)(u)
    if order % 2:
        expected = torch.zeros_like(u)  # -+ k_N^p sin(k_N x) vanishes at x_j
    else:
        expected = (-1) ** (order // 2) * k_nyq**order * u
    assert torch.allclose(got, expected, atol=1e-10 * k_nyq**order, rtol=0)


def test_mixed_nyquist_on_one_axis_only():
    # cos(k_N x) * sin(y): d/dy keeps the x-Nyquist (order 0 on x), d/dx kills it
    nx, ny = 6, 7
    x, y = grid((nx, ny), (2 * math.pi, 2 * math.pi))
    u = (torch.cos(3 * x) * torch.sin(y))[None, None]
    assert torch.allclose(spectral_derivative(u, (0, 1)), (torch.cos(3 * x) * torch.cos(y))[None, None], atol=1e-13)
    assert spectral_derivative(u, (1, 0)).abs().max() < 1e-13
    expected = (-9 * torch.cos(3 * x) * torch.cos(y))[None, None]
    assert torch.allclose(spectral_derivative(u, (2, 1)), expected, atol=1e-12)


def test_order_zero_is_identity_and_batches_channels():
    u = torch.randn(3, 2, 10, 7, dtype=F64)
    assert torch.allclose(SpectralDerivative((0, 0))(u), u, atol=1e-14)


@pytest.mark.parametrize(
    "ndim,shape", [(1, (15,)), (1, (16,)), (2, (8, 9)), (2, (10, 6)), (3, (6, 5, 4)), (3, (5, 6, 7))]
)
def test_laplacian_then_poisson_returns_zero_mean_field(ndim, shape):
    lengths = tuple(1.0 + a for a in range(ndim))
    u = torch.randn(2, 3, *shape, dtype=F64)  # not band-limited: Nyquist included
    lap = SpectralLaplacian(ndim, lengths)
    poisson = SpectralPoisson(ndim, lengths)
    dims = tuple(range(2, 2 + ndim))
    zero_mean = u - u.mean(dim=dims, keepdim=True)
    assert torch.allclose(poisson(lap(u)), zero_mean, atol=1e-12)
    back = lap(poisson(u))
    assert torch.allclose(back, zero_mean, atol=1e-12)
    assert poisson(u).mean(dim=dims).abs().max() < 1e-13


def test_laplacian_equals_sum_of_second_derivatives_and_analytic_poisson():
    shape, lengths = (8, 10, 6), (2.0, 3.0, 1.5)
    u = torch.randn(1, 1, *shape, dtype=F64)
    total = sum(spectral_derivative(u, tuple(2 * (b == a) for b in range(3)), lengths) for a in range(3))
    assert torch.allclose(SpectralLaplacian(3, lengths)(u), total, atol=1e-10)
    x, y = grid((16, 12), (2 * math.pi, 2 * math.pi))
    f = (torch.cos(2 * x) * torch.sin(3 * y))[None, None]
    assert torch.allclose(SpectralPoisson(2)(f), -f / 13, atol=1e-14)


def _mask_reference(shape, rfft):
    """Independent reference: keep iff 3|q_a| < n_a on every axis (2/3 of k_max = n/2)."""
    ndim = len(shape)
    ranges = []
    for a, n in enumerate(shape):
        if rfft and a == ndim - 1:
            ranges.append(list(range(n // 2 + 1)))
        else:
            ranges.append([j if j <= (n - 1) // 2 else j - n for j in range(n)])
    out = torch.zeros([len(r) for r in ranges], dtype=torch.bool)
    for idx in itertools.product(*[range(len(r)) for r in ranges]):
        q = [ranges[a][i] for a, i in enumerate(idx)]
        out[idx] = all(3 * abs(qa) < n for qa, n in zip(q, shape))
    return out


@pytest.mark.parametrize("shape", [(12,), (13,), (16,), (9, 10), (12, 7), (6, 8, 9)])
@pytest.mark.parametrize("rfft", [True, False])
def test_dealias_mask_zeroes_exactly_modes_beyond_two_thirds(shape, rfft):
    mask = dealias_mask(shape, rfft=rfft)
    assert mask.dtype == torch.bool
    assert torch.equal(mask, _mask_reference(shape, rfft))
    # everything strictly beyond (2/3) k_max is zeroed on every axis
    k_max = [n / 2 for n in shape]
    for a, n in enumerate(shape):
        q = wavenumbers(n, 2 * math.pi, rfft=rfft and a == len(shape) - 1).abs()
        beyond = q > (2 / 3) * k_max[a]
        view = [1] * len(shape)
        view[a] = -1
        assert not (mask & beyond.reshape(view)).any()


def _upsampled_product_coefficients(u, v, ndim, factor=2):
    """Exact Fourier coefficients c_k of u*v (trig interpolants), via zero padding to factor*n."""
    dims = tuple(range(-ndim, 0))
    shape = u.shape[-ndim:]
    big = [factor * n for n in shape]

    def pad(w):
        w_hat = torch.fft.fftn(w, dim=dims) / math.prod(shape)
        out = torch.zeros(*w.shape[:-ndim], *big, dtype=w_hat.dtype)
        idx = [[j if j <= (n - 1) // 2 else M + j - n for j in range(n)] for n, M in zip(shape, big)]
        index = torch.meshgrid(*[torch.tensor(i) for i in idx], indexing="ij")
        out[(..., *index)] = w_hat
        return torch.fft.ifftn(out, dim=dims).real * math.prod(big)

    prod_hat = torch.fft.fftn(pad(u) * pad(v), dim=dims) / math.prod(big)
    idx = [[j if j <= (n - 1) // 2 else M + j - n for j in range(n)] for n, M in zip(shape, big)]
    index = torch.meshgrid(*[torch.tensor(i) for i in idx], indexing="ij")
    return prod_hat[(..., *index)]  # coefficients at the n-grid's wavenumbers


@pytest.mark.parametrize("shape", [(24,), (25,), (12, 15), (9, 8)])
def test_dealiased_product_equals_exact_low_modes(shape):
    ndim = len(shape)
    torch.manual_seed(0)
    op = Dealias(ndim)
    u = op(torch.randn(2, 1, *shape, dtype=F64))  # band-limited to the kept modes
    v = op(torch.randn(2, 1, *shape, dtype=F64))
    w = op(u * v)
    dims = tuple(range(-ndim, 0))
    got = torch.fft.fftn(w, dim=dims) / math.prod(shape)
    exact = _upsampled_product_coefficients(u, v, ndim)
    mask = dealias_mask(shape, rfft=False)
    assert torch.allclose(got[..., mask], exact[..., mask], atol=1e-14)
    assert got[..., ~mask].abs().max() < 1e-14
    # sanity: without the 2/3 band limit the pseudo-spectral product does alias
    a, b = torch.randn(2, 1, *shape, dtype=F64), torch.randn(2, 1, *shape, dtype=F64)
    aliased = torch.fft.fftn(op(a * b), dim=dims) / math.prod(shape)
    assert (aliased[..., mask] - _upsampled_product_coefficients(a, b, ndim)[..., mask]).abs().max() > 1e-3


def test_dealias_fraction_one_keeps_all_but_nyquist():
    assert dealias_mask((7,), 1.0).all()
    assert torch.equal(dealias_mask((8,), 1.0), torch.tensor([True] * 4 + [False]))


@pytest.mark.parametrize(
    "op,ndim",
    [
        (SpectralDerivative((1,)), 1),
        (SpectralDerivative((3,), length=2.0), 1),
        (SpectralDerivative((1, 2)), 2),
        (SpectralLaplacian(2, (1.0, 2.0)), 2),
        (SpectralPoisson(3), 3),
        (Dealias(2), 2),
        (SpectralDerivative((1, 0, 1)), 3),
    ],
)
def test_translation_equivariance(op, ndim):
    torch.manual_seed(1)
    shape = (8, 9, 6)[:ndim]
    u = torch.randn(2, 2, *shape, dtype=F64)
    shifts = (3, -2, 5)[:ndim]
    dims = tuple(range(2, 2 + ndim))
    assert torch.allclose(op(torch.roll(u, shifts, dims)), torch.roll(op(u), shifts, dims), atol=1e-11)


def test_wavenumbers_match_fftfreq():
    for n in (7, 8):
        L = 3.0
        assert torch.allclose(wavenumbers(n, L), 2 * math.pi * torch.fft.fftfreq(n, d=L / n, dtype=F64))
        assert torch.allclose(wavenumbers(n, L, rfft=True), 2 * math.pi * torch.fft.rfftfreq(n, d=L / n, dtype=F64))
    assert wavenumbers(4, dtype=torch.float32).dtype == torch.float32


def test_float32_preserved_and_gradients():
    u = torch.randn(1, 1, 16, 12)
    for op in (SpectralDerivative((1, 1)), SpectralLaplacian(2), SpectralPoisson(2), Dealias(2)):
        assert op(u).dtype == torch.float32
    x = torch.randn(1, 1, 6, 5, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(SpectralDerivative((1, 2)), (x,))
    assert torch.autograd.gradcheck(SpectralPoisson(2), (x,))


def test_symbols_built_in_inference_mode_are_usable_for_training():
    op = SpectralDerivative((1, 1), length=(1.234, 2.345))
    with torch.inference_mode():
        op(torch.randn(1, 1, 11, 13, dtype=F64))
    u = torch.randn(1, 1, 11, 13, dtype=F64, requires_grad=True)
    op(u).pow(2).sum().backward()
    assert u.grad is not None


@pytest.mark.parametrize(
    "call",
    [
        lambda: SpectralDerivative((1,))(torch.randn(1, 1, 4, 4)),  # wrong ndim
        lambda: SpectralLaplacian(2)(torch.randn(4, 4)),  # missing batch/channel axes
        lambda: SpectralDerivative((1, -1)),
        lambda: SpectralDerivative((1.5,)),
        lambda: SpectralDerivative((1, 0, 0, 0)),
        lambda: SpectralLaplacian(4),
        lambda: SpectralLaplacian(2, length=(1.0, 2.0, 3.0)),
        lambda: SpectralPoisson(1, length=-1.0),
        lambda: SpectralLaplacian(1)(torch.ones(1, 1, 8, dtype=torch.int64)),
        lambda: SpectralLaplacian(1)(torch.ones(1, 1, 8, dtype=torch.complex64)),
        lambda: Dealias(1, fraction=1.5),
        lambda: dealias_mask((0,)),
        lambda: wavenumbers(0),
    ],
)
def test_bad_inputs_raise_physdiff_error(call):
    with pytest.raises(PhysdiffError, match="expected") as info:
        call()
    assert "got" in str(info.value)
