"""ARK's right-hand side: PhyDNet's moment-constrained 7x7 convolution (49 derivatives) + combining conv."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from physdiff.core import PhysdiffError
from physdiff.integrators import AdaptiveRK2, Heun
from physdiff.learners.blocks import MomentRHS
from physdiff.operators import derivative_kernel, kernel_to_moments


def test_dense_weight_is_phydnets_layout_and_the_moment_loss_is_phydnets():
    torch.manual_seed(0)
    rhs = MomentRHS(3).double()
    w = rhs.dense_weight()
    assert w.shape == (49, 3, 7, 7) and rhs.derivatives[7 * 2 + 5] == (2, 5)
    # PhyDNet: sum over input channels b of MSE(K2M(w[:, b]), one-hot targets), computed here from the
    # core's kernel_to_moments independently of MomentConv's bookkeeping
    targets = torch.zeros(49, 7, 7, dtype=torch.float64)
    for n in range(49):
        targets[n, n // 7, n % 7] = 1
    expected = sum(F.mse_loss(kernel_to_moments(w[:, b], 2), targets) for b in range(3))
    torch.testing.assert_close(rhs.moment_loss(), expected)


def test_exact_kernels_give_zero_moment_loss_and_a_full_read_back():
    rhs = MomentRHS(2, 5).double()
    with torch.no_grad():
        exact = torch.stack([derivative_kernel(p, (5, 5), exact=False, dtype=torch.float64) for p in rhs.derivatives])
        rhs.moments.weight.copy_(exact.repeat(2, 1, 1).unsqueeze(1))  # channel-major: c * 25 + d
    assert rhs.moment_loss().item() < 1e-20
    rows = rhs.read_back()
    assert all(r["matched"] for r in rows) and [r["identified"] for r in rows] == list(rhs.derivatives)


def test_derivative_channels_apply_the_kernels_and_sum_over_input_channels():
    torch.manual_seed(1)
    rhs = MomentRHS(2, 3, padding="circular").double()
    h = torch.randn(1, 2, 6, 6, dtype=torch.float64)
    d = rhs.derivatives_of(h)
    w = rhs.dense_weight()
    n = 4  # (1, 1)
    manual = sum(F.conv2d(F.pad(h[:, b:b + 1], (1, 1, 1, 1), mode="circular"), w[n:n + 1, b:b + 1]) for b in range(2))
    torch.testing.assert_close(d[:, n:n + 1], manual + rhs.bias[n])
    assert rhs(h).shape == h.shape


def test_ark_configuration_of_adaptive_rk2_with_moment_rhs_reduces_to_heun():
    torch.manual_seed(2)
    rhs = MomentRHS(4).double()
    ark = AdaptiveRK2(rhs, channels=4, ndim=2, gate_kernel_size=1, form="stages", stage_maps="learned").double()
    h = torch.randn(2, 4, 8, 8, dtype=torch.float64)
    assert ark(h, 1.0).shape == h.shape
    ark.fixed_gate, ark.stage_maps = 0.5, None
    assert torch.equal(ark(h, 1.0), Heun(rhs)(h, 1.0))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(kernel_size=4), "odd"),
        (dict(kernel_size=5, max_order=5), "orders 0..4"),
        (dict(padding="reflect"), "padding"),
    ],
)
def test_bad_construction(kwargs, match):
    with pytest.raises(PhysdiffError, match=match):
        MomentRHS(2, **kwargs)
