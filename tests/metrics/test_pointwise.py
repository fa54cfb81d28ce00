"""mse, mae, rmse, per_frame_sum, nrmse, error_curve: hand computations, properties, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from physdiff import PhysdiffError
from physdiff.metrics import error_curve, mae, mse, nrmse, per_frame_sum, rmse

SHAPE = (2, 3, 2, 4, 5)  # (B, T, C, x0, x1)


def _pair(shape=SHAPE, seed=0):
    gen = torch.Generator().manual_seed(seed)
    target = torch.randn(shape, generator=gen, dtype=torch.float64)
    return target + 0.3 * torch.randn(shape, generator=gen, dtype=torch.float64), target


def _frames(x: torch.Tensor):
    """(b, t, flat frame) triples of a trajectory, as numpy."""
    a = x.numpy()
    return [(b, t, a[b, t].ravel()) for b in range(a.shape[0]) for t in range(a.shape[1])]


def test_tiny_numbers_by_hand():
    p = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], dtype=torch.float64)[:, None]  # (1, 1, 1, 2, 2)
    y = torch.zeros_like(p)
    assert mse(p, y).item() == 7.5  # (1 + 4 + 9 + 16) / 4
    assert mae(p, y).item() == 2.5  # (1 + 2 + 3 + 4) / 4
    assert rmse(p, y).item() == pytest.approx(math.sqrt(7.5), rel=1e-15)
    assert per_frame_sum(p, y).item() == 30.0  # one frame: the sum of squares
    assert per_frame_sum(p, y, metric="mae").item() == 10.0
    assert nrmse(p, p + p).item() == pytest.approx(1 / 2, rel=1e-15)  # ||p|| / ||2p||


def test_mean_over_all_entries_against_numpy_loops():
    p, y = _pair()
    a, b = p.numpy().ravel(), y.numpy().ravel()
    total_sq = total_abs = 0.0
    for u, v in zip(a, b):
        total_sq += (u - v) ** 2
        total_abs += abs(u - v)
    assert mse(p, y).item() == pytest.approx(total_sq / a.size, rel=1e-13)
    assert mae(p, y).item() == pytest.approx(total_abs / a.size, rel=1e-13)
    assert rmse(p, y).item() == pytest.approx(math.sqrt(total_sq / a.size), rel=1e-13)
    assert mse(p, y).shape == ()


def test_per_frame_sum_is_the_video_convention():
    p, y = _pair()
    sums = [((fp - fy) ** 2).sum() for (_, _, fp), (_, _, fy) in zip(_frames(p), _frames(y))]
    assert per_frame_sum(p, y).item() == pytest.approx(np.mean(sums), rel=1e-13)
    n = math.prod(SHAPE[2:])  # entries of one frame
    torch.testing.assert_close(per_frame_sum(p, y), n * mse(p, y), rtol=1e-13, atol=0)


def test_nrmse_per_frame_then_mean():
    p, y = _pair()
    ratios = [np.linalg.norm(fp - fy) / np.linalg.norm(fy) for (_, _, fp), (_, _, fy) in zip(_frames(p), _frames(y))]
    assert nrmse(p, y).item() == pytest.approx(np.mean(ratios), rel=1e-13)


def test_nrmse_zero_target_rule():
    y = torch.zeros(1, 2, 1, 3, dtype=torch.float64)
    p = y.clone()
    assert nrmse(p, y).item() == 0.0  # exact prediction of a zero frame
    p[0, 1, 0, 0] = 1e-6  # frame 1: ||p - y|| = 1e-6 over eps
    assert nrmse(p, y, eps=1e-3).item() == pytest.approx((0 + 1e-6 / 1e-3) / 2, rel=1e-12)


@pytest.mark.parametrize("metric", ["mse", "mae", "rmse", "nrmse"])
def test_error_curve_per_step_against_loops(metric):
    p, y = _pair()
    expected = []
    for t in range(SHAPE[1]):
        d, tt = (p[:, t] - y[:, t]).numpy(), y[:, t].numpy()
        if metric == "mse":
            expected.append(np.mean(d**2))
        elif metric == "mae":
            expected.append(np.mean(np.abs(d)))
        elif metric == "rmse":
            expected.append(math.sqrt(np.mean(d**2)))
        else:
            expected.append(np.mean([np.linalg.norm(d[b]) / np.linalg.norm(tt[b]) for b in range(SHAPE[0])]))
    curve = error_curve(p, y, metric)
    assert curve.shape == (SHAPE[1],)
    np.testing.assert_allclose(curve.numpy(), expected, rtol=1e-13)


def test_error_curve_averages_back_to_the_scalars():
    p, y = _pair()
    for metric, scalar in (("mse", mse), ("mae", mae), ("nrmse", nrmse)):
        torch.testing.assert_close(error_curve(p, y, metric).mean(), scalar(p, y), rtol=1e-13, atol=0)
    torch.testing.assert_close(error_curve(p, y, "rmse").square().mean().sqrt(), rmse(p, y), rtol=1e-13, atol=0)


@pytest.mark.parametrize("scale", [0.5, 3.0, -2.0])
def test_scaling(scale):
    p, y = _pair()
    assert mse(scale * p, scale * y).item() == pytest.approx(scale**2 * mse(p, y).item(), rel=1e-13)
    assert rmse(scale * p, scale * y).item() == pytest.approx(abs(scale) * rmse(p, y).item(), rel=1e-13)
    assert mae(scale * p, scale * y).item() == pytest.approx(abs(scale) * mae(p, y).item(), rel=1e-13)
    assert nrmse(scale * p, scale * y).item() == pytest.approx(nrmse(p, y).item(), rel=1e-13)  # scale-free


@pytest.mark.parametrize("metric", [mse, mae, rmse, nrmse, per_frame_sum])
def test_identical_inputs_give_zero(metric):
    _, y = _pair()
    assert metric(y, y).item() == 0.0


def test_single_frames_with_ndim():
    p, y = _pair()
    frame_p, frame_y = p[:, 0], y[:, 0]  # (B, C, x0, x1)
    torch.testing.assert_close(nrmse(frame_p, frame_y, ndim=2), nrmse(p[:, :1], y[:, :1]), rtol=0, atol=0)
    torch.testing.assert_close(
        per_frame_sum(frame_p, frame_y, ndim=2), per_frame_sum(p[:, :1], y[:, :1]), rtol=0, atol=0
    )
    assert mse(frame_p, frame_y).item() == pytest.approx(mse(p[:, :1], y[:, :1]).item(), rel=1e-15)


def test_mixed_float_dtypes_are_promoted_and_gradients_flow():
    p, y = _pair()
    q = p.float().requires_grad_()
    loss = mse(q, y)
    assert loss.dtype == torch.float64
    loss.backward()
    torch.testing.assert_close(q.grad, (2 * (q.double() - y) / q.numel()).float())


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda p, y: mse(p, y[:, :2]), "same shape"),
        (lambda p, y: mae(p.long(), y), "floating-point"),
        (lambda p, y: rmse(p.numpy(), y), "expected a torch.Tensor"),
        (lambda p, y: mse(p[:0], y[:0]), "non-empty"),
        (lambda p, y: nrmse(p, y, eps=0.0), "eps"),
        (lambda p, y: nrmse(p[0, 0], y[0, 0]), "4 to 6 dims"),
        (lambda p, y: nrmse(p, y, ndim=1), "with ndim=1"),
        (lambda p, y: nrmse(p, y, ndim=4), "1, 2 or 3"),
        (lambda p, y: per_frame_sum(p, y, metric="rmse"), "'mse' or 'mae'"),
        (lambda p, y: error_curve(p, y, "psnr"), "expected one of"),
        (lambda p, y: error_curve(p, y, "nrmse", eps=-1.0), "eps"),
    ],
)
def test_errors(call, fragment):
    p, y = _pair()
    with pytest.raises(PhysdiffError, match=fragment):
        call(p, y)
