"""Spectral H1 loss and the neuraloperator-compatible central-difference H1 loss."""

from __future__ import annotations

import math

import pytest
import torch

from physdiff.core import PhysdiffError
from physdiff.operators import (
    H1Loss,
    NeuralOperatorH1Loss,
    SobolevLoss,
    SpectralDerivative,
    h1_loss,
    neuraloperator_h1_loss,
    sobolev_loss,
)

F64 = torch.float64


def coords(n, L):
    return torch.arange(n, dtype=F64) * (L / n)


@pytest.mark.parametrize("n", [16, 17])
@pytest.mark.parametrize("q,L", [(1, 2 * math.pi), (3, 2 * math.pi), (5, 3.0), (7, 0.5)])
def test_single_mode_h1_is_one_plus_k2_times_l2(n, q, L):
    a = 1.7
    k = 2 * math.pi * q / L
    e = (a * torch.sin(k * coords(n, L)))[None, None]
    zero = torch.zeros_like(e)
    l2_squared = a**2 * L / 2  # int_0^L a^2 sin^2(kx) dx, analytically
    h1_squared = H1Loss(1, L, squared=True)(e, zero).item()
    assert math.isclose(h1_squared, (1 + k**2) * l2_squared, rel_tol=1e-13)
    assert math.isclose(h1_loss(e, zero, ndim=1, length=L).item(), math.sqrt((1 + k**2) * l2_squared), rel_tol=1e-13)


def test_single_mode_2d_and_3d():
    a, (Lx, Ly, Lz) = 0.9, (2.0, 3.0, 1.5)
    kx, ky, kz = 2 * math.pi * 2 / Lx, 2 * math.pi * 3 / Ly, 2 * math.pi * 1 / Lz
    X, Y = torch.meshgrid(coords(9, Lx), coords(10, Ly), indexing="ij")
    e = (a * torch.cos(kx * X - ky * Y + 0.3))[None, None]
    expected = (1 + kx**2 + ky**2) * a**2 * Lx * Ly / 2
    assert math.isclose(h1_loss(e, 0 * e, ndim=2, length=(Lx, Ly), squared=True).item(), expected, rel_tol=1e-13)
    X, Y, Z = torch.meshgrid(coords(6, Lx), coords(8, Ly), coords(5, Lz), indexing="ij")
    e = (a * torch.sin(kx * X + ky * Y + kz * Z))[None, None]
    expected = (1 + kx**2 + ky**2 + kz**2) * a**2 * Lx * Ly * Lz / 2
    assert math.isclose(h1_loss(e, 0 * e, ndim=3, length=(Lx, Ly, Lz), squared=True).item(), expected, rel_tol=1e-13)


def test_spectral_h1_equals_quadrature_of_spectral_gradient_for_odd_grids():
    # odd n: no Nyquist mode, so sum_k (1+|k|^2)|c_k|^2 |Omega| = (|Omega|/N) sum_j (e^2 + |grad e|^2) exactly
    torch.manual_seed(0)
    lengths = (2.0, 5.0)
    e = torch.randn(3, 2, 9, 7, dtype=F64)
    grad2 = sum(SpectralDerivative(orders, lengths)(e) ** 2 for orders in ((1, 0), (0, 1)))
    quadrature = (e**2 + grad2).sum(dim=(-2, -1)) * (lengths[0] * lengths[1] / 63)
    got = h1_loss(e, torch.zeros_like(e), ndim=2, length=lengths, squared=True, reduction="none")
    assert got.shape == (3, 2)
    assert torch.allclose(got, quadrature, rtol=1e-13)


def test_relative_squared_and_reductions():
    torch.manual_seed(1)
    pred, target = torch.randn(4, 3, 10, dtype=F64), torch.randn(4, 3, 10, dtype=F64)
    abs_sq = h1_loss(pred, target, ndim=1, squared=True, reduction="none")
    tgt_sq = h1_loss(target, torch.zeros_like(target), ndim=1, squared=True, reduction="none")
    rel = h1_loss(pred, target, ndim=1, relative=True, reduction="none")
    assert torch.allclose(rel, (abs_sq / tgt_sq).sqrt())
    # relative losses do not depend on the box volume
    half = H1Loss(1, 7.0, relative=True, reduction="none")(pred, 2 * pred)
    assert torch.allclose(half, torch.full((4, 3), 0.5, dtype=F64))
    assert torch.allclose(h1_loss(pred, target, ndim=1), abs_sq.sqrt().mean())
    assert torch.allclose(h1_loss(pred, target, ndim=1, reduction="sum"), abs_sq.sqrt().sum())
    assert torch.allclose(h1_loss(pred, target, ndim=1, squared=True, reduction="sum"), abs_sq.sum())


def test_zero_error_has_zero_gradient_not_nan():
    target = torch.randn(2, 1, 8, dtype=F64)
    pred = target.clone().requires_grad_(True)
    for loss in (H1Loss(1), NeuralOperatorH1Loss(1)):
        value = loss(pred, target)
        value.backward()
        assert value.item() == 0.0 and torch.equal(pred.grad, torch.zeros_like(pred))
        pred.grad = None


def test_gradcheck_both_losses():
    pred = torch.randn(2, 1, 6, 5, dtype=F64, requires_grad=True)
    target = torch.randn(2, 1, 6, 5, dtype=F64)
    assert torch.autograd.gradcheck(lambda p: h1_loss(p, target, ndim=2, relative=True), (pred,))
    assert torch.autograd.gradcheck(lambda p: neuraloperator_h1_loss(p, target, ndim=2), (pred,))


def test_neuraloperator_h1_hand_computed_1d():
    # n = 4, measure = 1 -> h = 1/4, D e_i = (e_{i+1} - e_{i-1}) / (1/2)
    pred = torch.tensor([[[1.0, 2.0, 0.0, -1.0]], [[0.0, 2.0, 2.0, 0.0]]], dtype=F64)
    target = torch.tensor([[[0.0, 1.0, 1.0, 0.0]], [[0.0, 1.0, 1.0, 0.0]]], dtype=F64)
    # sample 0: e = [1, 1, -1, -1], D e = [4, -4, -4, 4]: sum e^2 = 4, sum (De)^2 = 64
    #           y = [0, 1, 1, 0],   D y = [2, 2, -2, -2]: sum y^2 = 2, sum (Dy)^2 = 16
    # sample 1: e = y
    rel0, rel1 = math.sqrt(68 / 18), 1.0
    abs0, abs1 = math.sqrt(0.25 * 68), math.sqrt(0.25 * 18)
    assert math.isclose(NeuralOperatorH1Loss(1)(pred, target).item(), rel0 + rel1, rel_tol=1e-14)
    assert math.isclose(
        NeuralOperatorH1Loss(1, reduction="mean")(pred, target).item(), (rel0 + rel1) / 2, rel_tol=1e-14
    )
    assert math.isclose(
        neuraloperator_h1_loss(pred, target, ndim=1, relative=False).item(), abs0 + abs1, rel_tol=1e-14
    )
    assert math.isclose(
        neuraloperator_h1_loss(pred, target, ndim=1, squared=True).item(), 68 / 18 + 1, rel_tol=1e-14
    )


def test_neuraloperator_h1_hand_computed_2d_sums_over_batch_and_channels():
    torch.manual_seed(2)
    pred, target = torch.randn(2, 3, 3, 4, dtype=F64), torch.randn(2, 3, 3, 4, dtype=F64)
    measure = (1.0, 2.0)
    hx, hy = measure[0] / 3, measure[1] / 4

    def norm2(u):  # explicit index arithmetic, no roll
        total = 0.0
        for i in range(3):
            for j in range(4):
                dx = (u[(i + 1) % 3, j] - u[(i - 1) % 3, j]) / (2 * hx)
                dy = (u[i, (j + 1) % 4] - u[i, (j - 1) % 4]) / (2 * hy)
                total += float(u[i, j] ** 2 + dx**2 + dy**2)
        return total

    rel = sum(math.sqrt(norm2(pred[b, c] - target[b, c]) / norm2(target[b, c])) for b in range(2) for c in range(3))
    absolute = sum(math.sqrt(hx * hy * norm2(pred[b, c] - target[b, c])) for b in range(2) for c in range(3))
    assert math.isclose(NeuralOperatorH1Loss(2, measure)(pred, target).item(), rel, rel_tol=1e-13)
    assert math.isclose(
        NeuralOperatorH1Loss(2, measure, relative=False)(pred, target).item(), absolute, rel_tol=1e-13
    )


@pytest.mark.parametrize("q", [1, 3, 5, 7])
def test_relation_between_spectral_and_central_difference_norms(q):
    # with measure = length: same L2 part, gradient part damped by sinc^2(k h)
    n, L, a = 16, 3.0, 1.3
    h, k = L / n, 2 * math.pi * q / L
    e = (a * torch.cos(k * coords(n, L)))[None, None]
    zero = torch.zeros_like(e)
    fd_sq = neuraloperator_h1_loss(e, zero, ndim=1, measure=L, relative=False, squared=True).item()
    sp_sq = h1_loss(e, zero, ndim=1, length=L, squared=True).item()
    l2_sq = a**2 * L / 2
    assert math.isclose(fd_sq, (1 + math.sin(k * h) ** 2 / h**2) * l2_sq, rel_tol=1e-13)
    assert math.isclose(sp_sq, (1 + k**2) * l2_sq, rel_tol=1e-13)
    sinc2 = (math.sin(k * h) / (k * h)) ** 2
    assert math.isclose(fd_sq - l2_sq, sinc2 * (sp_sq - l2_sq), rel_tol=1e-12)


def test_nyquist_mode_is_invisible_to_central_differences():
    n, L = 8, 2 * math.pi
    e = torch.tensor([(-1.0) ** j for j in range(n)], dtype=F64)[None, None]
    fd_sq = neuraloperator_h1_loss(e, 0 * e, ndim=1, measure=L, relative=False, squared=True).item()
    assert math.isclose(fd_sq, L, rel_tol=1e-14)  # (L/n) * sum e^2: gradient part is 0
    sp_sq = h1_loss(e, 0 * e, ndim=1, length=L, squared=True).item()
    assert math.isclose(sp_sq, (1 + (n / 2) ** 2) * L, rel_tol=1e-14)


def test_float32_preserved():
    p, t = torch.randn(2, 1, 8, 8), torch.randn(2, 1, 8, 8)
    assert H1Loss(2)(p, t).dtype == torch.float32
    assert NeuralOperatorH1Loss(2)(p, t).dtype == torch.float32


@pytest.mark.parametrize(
    "call",
    [
        lambda: h1_loss(torch.zeros(1, 1, 8), torch.zeros(1, 1, 9), ndim=1),
        lambda: h1_loss(torch.zeros(1, 1, 8), torch.zeros(1, 1, 8), ndim=2),
        lambda: H1Loss(1, reduction="avg"),
        lambda: H1Loss(4),
        lambda: NeuralOperatorH1Loss(2, measure=(1.0, 2.0, 3.0)),
        lambda: NeuralOperatorH1Loss(1, measure=0.0),
        lambda: neuraloperator_h1_loss(torch.zeros(8, 8), torch.zeros(8, 8), ndim=2),
        lambda: h1_loss(torch.zeros(1, 1, 4, dtype=torch.int64), torch.zeros(1, 1, 4, dtype=torch.int64), ndim=1),
    ],
)
def test_bad_inputs_raise_physdiff_error(call):
    with pytest.raises(PhysdiffError, match="expected") as info:
        call()
    assert "got" in str(info.value)


# ----------------------------------------------------------------- FNO relative Sobolev loss


def _trig_pair(n: int = 16):
    x = torch.arange(n, dtype=torch.float64) * (2 * math.pi / n)
    xx, yy = torch.meshgrid(x, x, indexing="ij")
    target = torch.sin(xx) + 0.5 * torch.cos(2 * yy)           # |q|^2 = 1 (amp 1), 4 (amp 0.5)
    error = 0.1 * torch.sin(3 * xx + yy)                        # |q|^2 = 10 (amp 0.1)
    return target[None, None], (target + error)[None, None]


@pytest.mark.parametrize("a", [1.0, 0.5, 2.0])
def test_sobolev_loss_matches_a_hand_computation_on_a_trigonometric_polynomial(a):
    target, pred = _trig_pair()
    # ||w f_hat||^2 is proportional to sum over modes of (1 + a^2 |q|^2) * mean square of the mode (Parseval)
    num = (1 + 10 * a**2) * 0.1**2 / 2
    den = (1 + a**2) * 1 / 2 + (1 + 4 * a**2) * 0.5**2 / 2
    expected = math.sqrt(num / den)
    assert SobolevLoss(2, a)(pred, target).item() == pytest.approx(expected, rel=1e-12)


def test_sobolev_loss_order_two_hand_computation():
    target, pred = _trig_pair()
    num = (1 + 10 * 1.0 + 100 * 0.25) * 0.1**2 / 2
    den = (1 + 1 + 0.25) / 2 + (1 + 4 + 16 * 0.25) * 0.25 / 2
    assert sobolev_loss(pred, target, ndim=2, a=(1.0, 0.5), order=2).item() == pytest.approx(math.sqrt(num / den))


@pytest.mark.parametrize("a", [1.0, 0.5])
def test_sobolev_loss_is_the_relative_spectral_h1_loss_on_a_box_of_length_two_pi_over_a(a):
    torch.manual_seed(0)
    pred, target = torch.randn(3, 1, 12, 10, dtype=torch.float64), torch.randn(3, 1, 12, 10, dtype=torch.float64)
    ours = sobolev_loss(pred, target, ndim=2, a=a, reduction="none")
    core = h1_loss(pred, target, ndim=2, length=2 * math.pi / a, relative=True, reduction="none")[:, 0]
    torch.testing.assert_close(ours, core, rtol=1e-12, atol=0)


def test_sobolev_loss_pools_channels_per_sample_and_rejects_bad_input():
    torch.manual_seed(1)
    pred, target = torch.randn(2, 3, 8, 8, dtype=torch.float64), torch.randn(2, 3, 8, 8, dtype=torch.float64)
    assert sobolev_loss(pred, target, ndim=2, reduction="none").shape == (2,)
    assert sobolev_loss(target, target, ndim=2).item() == 0.0
    with pytest.raises(PhysdiffError, match="order"):
        sobolev_loss(pred, target, ndim=2, order=3)
    with pytest.raises(PhysdiffError, match="a: expected"):
        sobolev_loss(pred, target, ndim=2, a=(1.0, 2.0))
