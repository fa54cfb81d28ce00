"""video_metrics: per-frame sums in closed form, clipping, the uniform-window sample-covariance SSIM
against direct loops, the published data-range variant, and errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from physdiff import PhysdiffError
from physdiff.metrics import ssim, video_error_curve, video_metrics


def _frames(shape=(2, 3, 1, 12, 10), seed=0, noise=0.15):
    gen = torch.Generator().manual_seed(seed)
    target = torch.rand(shape, generator=gen, dtype=torch.float64)
    return target + noise * torch.randn(shape, generator=gen, dtype=torch.float64), target


def _ssim_uniform_loops(p: np.ndarray, y: np.ndarray, data_range: float, window: int) -> float:
    """scikit-image's default by its definition: unweighted window means, (co)variances times n/(n-1)."""
    n = window * window
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    values = []
    for b, t, c in itertools.product(*(range(k) for k in p.shape[:3])):
        for i, j in itertools.product(range(p.shape[3] - window + 1), range(p.shape[4] - window + 1)):
            u, v = p[b, t, c, i : i + window, j : j + window].ravel(), y[b, t, c, i : i + window, j : j + window].ravel()
            mu, mv = u.mean(), v.mean()
            vu, vv = ((u - mu) ** 2).sum() / (n - 1), ((v - mv) ** 2).sum() / (n - 1)
            cov = ((u - mu) * (v - mv)).sum() / (n - 1)
            values.append((2 * mu * mv + c1) * (2 * cov + c2) / ((mu**2 + mv**2 + c1) * (vu + vv + c2)))
    return float(np.mean(values))


def test_per_frame_sums_closed_form():
    target = torch.full((2, 4, 1, 8, 7), 0.5, dtype=torch.float64)
    scores = video_metrics(target + 0.1, target)
    assert scores["mse"] == pytest.approx(0.01 * 56, rel=1e-12)  # 56 pixels per frame, each error 0.1
    assert scores["mae"] == pytest.approx(0.1 * 56, rel=1e-12)
    assert scores["psnr"] == pytest.approx(10 * math.log10(1 / 0.01), rel=1e-12)
    curve = video_error_curve(target + 0.1, target)
    assert curve.shape == (4,) and torch.allclose(curve, torch.full((4,), 0.56, dtype=torch.float64))


def test_mse_before_clipping_psnr_and_ssim_after():
    target = torch.full((1, 2, 1, 8, 8), 1.0, dtype=torch.float64)
    over = target + 0.5  # clipped back onto the truth
    scores = video_metrics(over, target)
    assert scores["mse"] == pytest.approx(0.25 * 64) and math.isinf(scores["psnr"]) and scores["exact_frames"] == 2
    assert scores["ssim"] == pytest.approx(1.0)


@pytest.mark.parametrize("data_range", [1.0, 255.0])
def test_ssim_matches_the_direct_definition_and_the_published_variant(data_range):
    p, y = _frames()
    p, y = p * data_range, y * data_range
    scores = video_metrics(p, y, data_range=data_range)
    clipped = p.clamp(0, data_range).numpy()
    expected = _ssim_uniform_loops(clipped, y.numpy(), data_range, 7)
    assert scores["ssim"] == pytest.approx(expected, rel=1e-10)
    published = _ssim_uniform_loops(clipped, y.numpy(), 2 * data_range, 7)
    assert scores["ssim_published"] == pytest.approx(published, rel=1e-10)
    assert scores["ssim_published"] > scores["ssim"]  # the span-2 range inflates SSIM


def test_sample_covariance_and_uniform_window_change_ssim():
    p, y = _frames()
    base = ssim(p, y, data_range=1.0, window=7)
    assert ssim(p, y, data_range=1.0, window=7, gaussian=False).item() != pytest.approx(base.item(), rel=1e-6)
    uniform = ssim(p, y, data_range=1.0, window=7, gaussian=False)
    assert ssim(p, y, data_range=1.0, window=7, gaussian=False, sample_covariance=True) != uniform


@pytest.mark.parametrize("target, kwargs, message", [
    (torch.full((1, 1, 1, 8, 8), 2.0), {}, r"expected frames with values in \[0, 1\].*data_range"),
    (torch.full((1, 1, 1, 8, 8), -0.1), {"data_range": 255.0}, r"values in \[0, 255\]"),
    (torch.zeros(1, 1, 8), {}, r"expected trajectories"),
    (torch.zeros(1, 1, 1, 8), {}, r"expected video frames \(B, T, C, H, W\)"),
])
def test_errors(target, kwargs, message):
    with pytest.raises(PhysdiffError, match=message):
        video_metrics(target.clone(), target, **kwargs)
