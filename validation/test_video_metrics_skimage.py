"""video_metrics against scikit-image itself (not a dependency: skipped unless it is installed).

The papers' SSIM is scikit-image's ``structural_similarity`` on one frame; PSNR its
``peak_signal_noise_ratio``. ``ssim`` must equal the call with the true ``data_range=1`` and
``ssim_published`` the call with ``data_range=2`` (what float frames without a range got).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from physdiff.metrics import video_metrics

metrics = pytest.importorskip("skimage.metrics", reason="scikit-image is only a cross-check here")


def test_video_metrics_equal_scikit_image():
    gen = torch.Generator().manual_seed(0)
    y = torch.rand(2, 3, 1, 64, 64, generator=gen, dtype=torch.float64)
    p = y + 0.2 * torch.randn(y.shape, generator=gen, dtype=torch.float64)
    scores = video_metrics(p, y)
    clipped, truth = p.clamp(0, 1).numpy(), y.numpy()
    frames = [(b, t) for b in range(2) for t in range(3)]
    ssim1 = np.mean([metrics.structural_similarity(clipped[b, t, 0], truth[b, t, 0], data_range=1.0) for b, t in frames])
    ssim2 = np.mean([metrics.structural_similarity(clipped[b, t, 0], truth[b, t, 0], data_range=2.0) for b, t in frames])
    psnr = np.mean([metrics.peak_signal_noise_ratio(truth[b, t, 0], clipped[b, t, 0], data_range=1.0) for b, t in frames])
    assert scores["ssim"] == pytest.approx(ssim1, rel=1e-12)
    assert scores["ssim_published"] == pytest.approx(ssim2, rel=1e-12)
    assert scores["psnr"] == pytest.approx(psnr, rel=1e-12)
