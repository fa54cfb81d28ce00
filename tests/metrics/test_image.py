"""psnr and ssim: hand computations, SSIM against a slow direct-loop implementation, properties, errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from physdiff import PhysdiffError
from physdiff.metrics import psnr, ssim


def _pair(shape, seed=2, noise=0.2):
    gen = torch.Generator().manual_seed(seed)
    target = torch.rand(shape, generator=gen, dtype=torch.float64)
    return target + noise * torch.randn(shape, generator=gen, dtype=torch.float64), target


def _ssim_loops(p: np.ndarray, y: np.ndarray, data_range: float, window: int, sigma: float) -> float:
    """Direct definition: Gaussian-weighted statistics at every valid position, one sum at a time."""
    space = p.shape[3:]
    centre = (window - 1) / 2
    offsets = list(itertools.product(range(window), repeat=len(space)))
    weights = np.array([math.exp(-sum((i - centre) ** 2 for i in o) / (2 * sigma**2)) for o in offsets])
    weights /= weights.sum()
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    values = []
    for b, t, c in itertools.product(*(range(n) for n in p.shape[:3])):
        for corner in itertools.product(*(range(n - window + 1) for n in space)):
            mp = my = mpp = myy = mpy = 0.0
            for w, o in zip(weights, offsets):
                index = (b, t, c, *(k + i for k, i in zip(corner, o)))
                u, v = p[index], y[index]
                mp, my = mp + w * u, my + w * v
                mpp, myy, mpy = mpp + w * u * u, myy + w * v * v, mpy + w * u * v
            vp, vy, cov = mpp - mp * mp, myy - my * my, mpy - mp * my
            values.append((2 * mp * my + c1) * (2 * cov + c2) / ((mp * mp + my * my + c1) * (vp + vy + c2)))
    return float(np.mean(values))


@pytest.mark.parametrize(
    "shape, window, sigma",
    [((2, 1, 2, 7, 8), 5, 1.5), ((1, 2, 1, 12, 13), 11, 1.5), ((1, 1, 2, 5, 5, 6), 3, 0.8)],
    ids=["2d-w5", "2d-w11", "3d-w3"],
)
def test_ssim_against_direct_loops(shape, window, sigma):
    p, y = _pair(shape)
    expected = _ssim_loops(p.numpy(), y.numpy(), 1.0, window, sigma)
    assert ssim(p, y, data_range=1.0, window=window, sigma=sigma).item() == pytest.approx(expected, rel=1e-12)


def test_ssim_single_frames_with_ndim():
    p, y = _pair((2, 1, 2, 9, 9, 9))
    trajectory = ssim(p, y, data_range=1.0, window=5)
    torch.testing.assert_close(ssim(p[:, 0], y[:, 0], data_range=1.0, window=5, ndim=3), trajectory, rtol=1e-14, atol=0)
    image_p, image_y = p[:, 0, :, 0], y[:, 0, :, 0]  # (B, C, H, W)
    torch.testing.assert_close(
        ssim(image_p, image_y, data_range=1.0, window=5, ndim=2),
        ssim(image_p[:, None], image_y[:, None], data_range=1.0, window=5), rtol=0, atol=0,
    )


def test_ssim_properties():
    p, y = _pair((2, 2, 2, 16, 16))
    assert ssim(y, y, data_range=1.0).item() == pytest.approx(1.0, abs=1e-14)
    value = ssim(p, y, data_range=1.0)
    assert value.item() < 1.0
    assert ssim(y, p, data_range=1.0).item() == pytest.approx(value.item(), rel=1e-14)  # symmetric
    # Scaling data and range together leaves SSIM unchanged (C1, C2 scale with L^2).
    assert ssim(10 * p, 10 * y, data_range=10.0).item() == pytest.approx(value.item(), rel=1e-12)
    worse = ssim(y + 0.5 * (p - y) * 4, y, data_range=1.0)
    assert worse.item() < value.item()  # more noise, less similar


def test_ssim_float32_with_a_large_offset_stays_accurate():
    p, y = _pair((1, 1, 1, 16, 16))
    reference = ssim(p, y, data_range=1.0).item()
    shifted = ssim((p + 1000).float(), (y + 1000).float(), data_range=1.0).item()
    exact = ssim(p + 1000, y + 1000, data_range=1.0).item()  # float64 with the same luminance term
    assert abs(shifted - exact) < 1e-3
    assert exact != reference  # the offset enters the luminance term, as it should


def test_ssim_is_differentiable():
    p, y = _pair((1, 1, 1, 6, 6))
    q = p.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda q: ssim(q, y, data_range=1.0, window=3), (q,))


def test_psnr_by_hand():
    y = torch.zeros(1, 2, 1, 2, 2, dtype=torch.float64)
    p = y.clone()
    p[0, 0] = 0.1  # frame 0: MSE 0.01 -> 20 dB with L = 1
    p[0, 1, 0, 0, 0] = 0.2  # frame 1: MSE 0.04 / 4 = 0.01 -> 20 dB
    assert psnr(p, y, data_range=1.0).item() == pytest.approx(20.0, rel=1e-14)
    p[0, 1] = 0.01  # frame 1: MSE 1e-4 -> 40 dB; the mean over frames is 30 dB
    assert psnr(p, y, data_range=1.0).item() == pytest.approx(30.0, rel=1e-14)
    assert psnr(p, y, data_range=10.0).item() == pytest.approx(50.0, rel=1e-14)  # + 20 log10(10)


def test_psnr_against_loops_and_for_single_frames():
    p, y = _pair((2, 3, 2, 4, 4))
    values = []
    for b, t in itertools.product(range(2), range(3)):
        d = (p[b, t] - y[b, t]).numpy().ravel()
        values.append(10 * math.log10(2.0**2 / (sum(d * d) / d.size)))
    assert psnr(p, y, data_range=2.0).item() == pytest.approx(np.mean(values), rel=1e-13)
    frame = psnr(p[:, 0], y[:, 0], data_range=2.0, ndim=2)
    assert frame.item() == pytest.approx(np.mean(values[0::3]), rel=1e-13)


def test_psnr_is_infinite_for_identical_frames():
    _, y = _pair((1, 2, 1, 4, 4))
    assert torch.isinf(psnr(y, y, data_range=1.0))


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda p, y: psnr(p, y), "data_range is required"),
        (lambda p, y: psnr(p, y, data_range=0.0), "data_range"),
        (lambda p, y: ssim(p, y), "data_range is required"),
        (lambda p, y: ssim(p, y, data_range=-1.0), "data_range"),
        (lambda p, y: ssim(p, y, data_range=1.0, window=4), "odd positive int"),
        (lambda p, y: ssim(p, y, data_range=1.0, sigma=0), "sigma"),
        (lambda p, y: ssim(p, y, data_range=1.0, window=13), "at least window=13"),
        (lambda p, y: ssim(p[..., 0], y[..., 0], data_range=1.0), "2D or 3D fields"),
        (lambda p, y: ssim(p[:, 0], y[:, 0], data_range=1.0), "pass ndim=2"),
        (lambda p, y: ssim(p, y[:, :1], data_range=1.0), "same shape"),
    ],
)
def test_errors(call, fragment):
    p, y = _pair((1, 2, 1, 12, 12))
    with pytest.raises(PhysdiffError, match=fragment):
        call(p, y)
