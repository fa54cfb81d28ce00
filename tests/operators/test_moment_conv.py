"""MomentConv: exact constraints in free-moments mode, penalty mode, convergence, gradients, errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch.func import functional_call

from physdiff.core import PhysdiffError
from physdiff.operators import (
    MomentConv,
    derivative_kernel,
    identify_derivative,
    kernel_to_moments,
)
from physdiff.testing import assert_order, operator_convergence

F64 = torch.float64


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- free-moments mode ---------------------------------------------------------------


def test_free_moments_constraint_exact_after_optimiser_steps():
    layer = MomentConv(2, 5, [(1, 0), (0, 2), (1, 1)], in_channels=2, dtype=F64)
    assert layer.num_free_moments == 10  # 25 moments, 15 of total order <= 4
    assert [n for n, _ in layer.named_parameters()] == ["free_moments"]
    u = torch.randn(3, 2, 12, 12, dtype=F64, generator=_gen(0))
    target = torch.randn(3, 6, 12, 12, dtype=F64, generator=_gen(1))
    opt = torch.optim.Adam(layer.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        loss = ((layer(u) - target) ** 2).mean()
        loss.backward()
        opt.step()
    assert layer.free_moments.abs().min() > 0  # the free moments did move
    moments = kernel_to_moments(layer.kernel(scaled=False)[:, 0], ndim=2)
    mask = layer.constraint_mask
    assert torch.allclose(moments[:, mask], layer.target_moments[:, mask], rtol=0, atol=1e-12)
    assert not torch.allclose(moments[:, ~mask], torch.zeros_like(moments[:, ~mask]))
    assert float(layer.moment_loss().detach()) < 1e-24


def test_channel_layout_and_exact_init_equals_derivative_kernels():
    derivs = [(1, 0), (0, 2)]
    layer = MomentConv(2, (5, 3), derivs, in_channels=2, dtype=F64)
    k = layer.kernel()
    assert k.shape == (4, 1, 5, 3)
    for c in range(2):
        for d, p in enumerate(derivs):
            assert torch.allclose(k[c * 2 + d, 0], derivative_kernel(p, (5, 3), exact=False), atol=1e-13)
    u = torch.randn(1, 2, 8, 7, dtype=F64, generator=_gen(2))
    out = layer(u)
    assert out.shape == (1, 4, 8, 7)
    # channel 3 = derivative (0, 2) of input channel 1
    single = MomentConv(2, (5, 3), [(0, 2)], dtype=F64)
    assert torch.allclose(out[:, 3:4], single(u[:, 1:2]), atol=1e-13)


def test_circular_padding_matches_rolled_sum_and_zero_and_valid_padding():
    layer = MomentConv(1, 4, [1], dtype=F64, init="random", init_std=0.5)  # even size: offsets -1..2
    u = torch.randn(2, 1, 9, dtype=F64, generator=_gen(3))
    k = layer.kernel()[0, 0]
    rolled = sum(k[a] * torch.roll(u, shifts=-(a - 1), dims=-1) for a in range(4))
    assert torch.allclose(layer(u), rolled, atol=1e-13)
    zeros = MomentConv(1, 4, [1], dtype=F64, padding="zeros")
    assert zeros(u).shape == u.shape
    valid = MomentConv(1, 4, [1], dtype=F64, padding="valid")
    assert valid(u).shape == (2, 1, 6)
    assert torch.allclose(valid(u), zeros(u)[..., 1:7], atol=1e-13)


# --- no free moments: exact finite differences and convergence -------------------------------


@pytest.mark.parametrize(
    "ndim, size, derivative, order",
    [(1, 3, (1,), 2), (1, 5, (2,), 4), (2, 5, (1, 0), 4), (2, 5, (0, 2), 4), (2, 3, (1, 1), 2), (3, 3, (0, 0, 2), 2)],
)
def test_no_free_moments_converges_at_expected_rate(ndim, size, derivative, order):
    wave = (1.0, 2.0, 1.0)[:ndim]

    def function(*x):
        return math.prod(torch.sin(k * xi + 0.3 * i) for i, (k, xi) in enumerate(zip(wave, x)))

    def exact(*x):
        terms = []
        for i, (k, xi, p) in enumerate(zip(wave, x, derivative)):
            # d^p/dx^p sin(k x + phi) = k^p sin(k x + phi + p pi / 2)
            terms.append(k**p * torch.sin(k * xi + 0.3 * i + p * math.pi / 2))
        return math.prod(terms)

    def make(h):
        layer = MomentConv(ndim, size, [derivative], spacing=h, constrained_order="all", dtype=F64)
        assert layer.num_free_moments == 0
        return layer

    sizes = [8, 16, 32] if ndim == 3 else [16, 32, 64]
    study = operator_convergence(make, function, exact, sizes, ndim=ndim)
    assert_order(study, order, tol=0.25)


def test_spacing_scales_kernel_per_axis():
    layer = MomentConv(2, 3, [(1, 2)], spacing=(0.5, 0.1), constrained_order="all", dtype=F64)
    expected = derivative_kernel((1, 2), (3, 3), exact=False) / (0.5 * 0.1**2)
    assert torch.allclose(layer.kernel()[0, 0], expected, rtol=1e-13)
    assert torch.allclose(layer.kernel(scaled=False)[0, 0], expected * 0.5 * 0.01, rtol=1e-13)


def test_random_free_moments_keep_the_order():
    # constrained total order <= 4 on a 5x5 kernel: the free moments have total order >= 5,
    # so any values of them leave d/dx0 fourth-order accurate.
    def make(h):
        return MomentConv(2, 5, [(1, 0)], spacing=h, init="random", init_std=0.5, dtype=F64)

    torch.manual_seed(0)
    study = operator_convergence(
        make, lambda x, y: torch.sin(x) * torch.cos(y), lambda x, y: torch.cos(x) * torch.cos(y), [16, 32, 64], ndim=2
    )
    assert_order(study, 4, tol=0.4, at_least=True)


# --- penalty mode -------------------------------------------------------------------------------


def test_penalty_loss_zero_for_exact_positive_for_random():
    exact = MomentConv(2, 5, [(0, 1), (2, 0)], mode="penalty", dtype=F64)
    assert [n for n, _ in exact.named_parameters()] == ["weight"]
    assert float(exact.moment_loss().detach()) < 1e-28
    rand = MomentConv(2, 5, [(0, 1), (2, 0)], mode="penalty", init="random", dtype=F64)
    with torch.no_grad():
        assert float(rand.moment_loss()) > 1e-3
        assert float(rand.moment_loss("phydnet")) > float(rand.moment_loss("mean"))


def test_penalty_training_drives_random_kernel_to_target():
    torch.manual_seed(0)
    layer = MomentConv(2, 3, [(1, 0), (1, 1)], mode="penalty", init="random", constrained_order="all", dtype=F64)
    opt = torch.optim.LBFGS(
        layer.parameters(), max_iter=200, tolerance_grad=1e-14, tolerance_change=0.0, line_search_fn="strong_wolfe"
    )

    def closure():
        opt.zero_grad()
        loss = layer.moment_loss("sum")
        loss.backward()
        return loss

    opt.step(closure)
    assert float(layer.moment_loss().detach()) < 1e-16
    for f, p in enumerate(layer.derivatives):
        assert torch.allclose(layer.weight[f, 0], derivative_kernel(p, (3, 3), exact=False), atol=1e-7)
        match = identify_derivative(layer.weight[f, 0].detach())
        assert match.derivative == p and match.matched


# --- read-back, gradients -------------------------------------------------------------------------


def test_identify_derivative_of_learned_layer():
    layer = MomentConv(2, 5, [(0, 2)], spacing=0.1, init="random", init_std=0.3, dtype=F64)
    k = layer.kernel()[0, 0].detach()
    match = identify_derivative(k, constrained_order=layer.constrained_order)
    assert match.derivative == (0, 2) and match.matched
    assert match.scale == pytest.approx(1 / 0.1**2, rel=1e-12)


def test_gradcheck_free_moments_and_penalty_weight():
    layer = MomentConv(2, 3, [(1, 0), (0, 1)], in_channels=2, constrained_order=1, spacing=0.5, dtype=F64)
    u = torch.randn(1, 2, 5, 4, dtype=F64, generator=_gen(4))
    free = torch.randn_like(layer.free_moments, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p: functional_call(layer, {"free_moments": p}, (u,)), (free,))
    pen = MomentConv(1, 3, [1], mode="penalty", padding="zeros", dtype=F64)
    w = torch.randn_like(pen.weight, requires_grad=True)
    v = torch.randn(2, 1, 6, dtype=F64, generator=_gen(5))
    assert torch.autograd.gradcheck(lambda p: functional_call(pen, {"weight": p}, (v,)), (w,))


def test_float32_default_dtype_and_state_dict():
    layer = MomentConv(3, 3, [(1, 0, 0)])
    assert layer.free_moments.dtype == torch.float32
    assert layer(torch.randn(1, 1, 4, 4, 4)).shape == (1, 1, 4, 4, 4)
    assert list(layer.state_dict()) == ["free_moments"]


# --- invalid input -----------------------------------------------------------------------------------


def test_bad_inputs_raise():
    with pytest.raises(PhysdiffError, match="at least 4 kernel points"):
        MomentConv(2, 3, [(3, 0)])
    with pytest.raises(PhysdiffError, match="constrained_order >= 3"):
        MomentConv(2, 3, [(2, 1)])
    MomentConv(2, 3, [(2, 1)], constrained_order="all")  # fine once the moment is pinned
    with pytest.raises(PhysdiffError, match="expected 2 orders"):
        MomentConv(2, 5, [(1,)])
    with pytest.raises(PhysdiffError, match="ndim"):
        MomentConv(4, 3, [(1, 0, 0, 0)])
    with pytest.raises(PhysdiffError, match="expected 2 sizes"):
        MomentConv(2, (3, 3, 3), [(1, 0)])
    with pytest.raises(PhysdiffError, match="non-empty list"):
        MomentConv(2, 3, [])
    with pytest.raises(PhysdiffError, match="mode"):
        MomentConv(1, 3, [1], mode="hard")
    with pytest.raises(PhysdiffError, match="padding"):
        MomentConv(1, 3, [1], padding="reflect")
    with pytest.raises(PhysdiffError, match="spacing"):
        MomentConv(1, 3, [1], spacing=-1.0)
    layer = MomentConv(2, 5, [(1, 0)], in_channels=2, dtype=F64)
    with pytest.raises(PhysdiffError, match="2 channels"):
        layer(torch.zeros(1, 3, 8, 8, dtype=F64))
    with pytest.raises(PhysdiffError, match="2 spatial axes"):
        layer(torch.zeros(2, 8, 8, dtype=F64))
    with pytest.raises(PhysdiffError, match="dtype"):
        layer(torch.zeros(1, 2, 8, 8, dtype=torch.float32))
    with pytest.raises(PhysdiffError, match="smaller than the kernel"):
        layer(torch.zeros(1, 2, 4, 8, dtype=F64))
