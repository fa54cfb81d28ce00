"""correlation_curve and hct: Pearson per frame against numpy, constant frames, HCT by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from physdiff import PhysdiffError
from physdiff.metrics import correlation_curve, hct

SHAPE = (3, 4, 2, 5, 6)


def _pair(seed=1):
    gen = torch.Generator().manual_seed(seed)
    target = torch.randn(SHAPE, generator=gen, dtype=torch.float64)
    noise = torch.randn(SHAPE, generator=gen, dtype=torch.float64)
    level = torch.linspace(0.1, 2.0, SHAPE[1], dtype=torch.float64).reshape(1, -1, 1, 1, 1)
    return target + level * noise, target  # correlation falls with the frame index


def _pearson_loops(p: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    out = np.empty(p.shape[:2])
    for b in range(p.shape[0]):
        for t in range(p.shape[1]):
            u, v = p[b, t].numpy().ravel(), y[b, t].numpy().ravel()
            mu, mv = sum(u) / u.size, sum(v) / v.size
            num = sum((a - mu) * (c - mv) for a, c in zip(u, v))
            den = (sum((a - mu) ** 2 for a in u) * sum((c - mv) ** 2 for c in v)) ** 0.5
            out[b, t] = num / den
    return out


def test_pearson_per_sample_and_frame_against_loops():
    p, y = _pair()
    r = correlation_curve(p, y)
    assert r.shape == SHAPE[:2]
    np.testing.assert_allclose(r.numpy(), _pearson_loops(p, y), rtol=1e-12)
    np.testing.assert_allclose(r[1, 2].item(), np.corrcoef(p[1, 2].numpy().ravel(), y[1, 2].numpy().ravel())[0, 1])


def test_tiny_frame_by_hand():
    y = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64).reshape(1, 1, 1, 3)
    p = torch.tensor([1.0, 3.0, 2.0], dtype=torch.float64).reshape(1, 1, 1, 3)
    # deviations (-1, 0, 1) and (-1, 1, 0): covariance sum 1, squared sums 2 and 2 -> r = 1/2
    assert correlation_curve(p, y).item() == pytest.approx(0.5, rel=1e-15)


@pytest.mark.parametrize("scale, offset, sign", [(2.0, 5.0, 1.0), (0.1, -3.0, 1.0), (-4.0, 1.0, -1.0)])
def test_affine_invariance(scale, offset, sign):
    p, y = _pair()
    expected = sign * correlation_curve(p, y)
    torch.testing.assert_close(correlation_curve(scale * p + offset, y), expected, rtol=1e-12, atol=1e-12)


def test_identical_inputs_give_one_even_for_constant_frames():
    _, y = _pair()
    y[0, 1] = 0.25  # a constant frame
    assert torch.equal(correlation_curve(y, y), torch.ones(SHAPE[:2], dtype=torch.float64))


def test_constant_frames_rule():
    p, y = _pair()
    p[0, 0] = 1.0  # constant prediction of a varying target
    y[1, 2] = 2.0  # varying prediction of a constant target
    p[2, 3], y[2, 3] = 3.0, 4.0  # two different constants
    r = correlation_curve(p, y)
    assert r[0, 0] == 0 and r[1, 2] == 0 and r[2, 3] == 0
    assert torch.isfinite(r).all()


def _pattern(flags: list[bool]) -> tuple[torch.Tensor, torch.Tensor]:
    """One sample, one frame per flag: the truth where True (r = 1), its negative where False (r = -1)."""
    gen = torch.Generator().manual_seed(3)
    y = torch.randn(1, len(flags), 1, 8, generator=gen, dtype=torch.float64)
    sign = torch.tensor([1.0 if f else -1.0 for f in flags], dtype=torch.float64).reshape(1, -1, 1, 1)
    return sign * y, y


@pytest.mark.parametrize(
    "flags, first_drop, count",
    [
        ([True, True, False, True, True], 2, 4),
        ([True] * 5, 5, 5),
        ([False, True, True, True, True], 0, 4),
        ([False] * 3, 0, 0),
    ],
)
def test_hct_by_hand(flags, first_drop, count):
    p, y = _pattern(flags)
    assert hct(p, y, dt=0.25).item() == 0.25 * first_drop
    assert hct(p, y, dt=0.25, mode="count").item() == 0.25 * count


def test_hct_against_the_curve_per_sample():
    p, y = _pair()
    r = _pearson_loops(p, y)
    threshold = float(np.median(r))  # some samples cross, some frames stay above
    expected_first = []
    for row in r:
        n = 0
        while n < len(row) and row[n] >= threshold:
            n += 1
        expected_first.append(0.1 * n)
    expected_count = [0.1 * sum(v >= threshold for v in row) for row in r]
    np.testing.assert_allclose(hct(p, y, dt=0.1, threshold=threshold).numpy(), expected_first, rtol=1e-14)
    np.testing.assert_allclose(hct(p, y, dt=0.1, threshold=threshold, mode="count").numpy(), expected_count, rtol=1e-14)
    assert hct(p, y, dt=0.1).shape == (SHAPE[0],)


def test_hct_of_identical_rollouts_is_the_whole_horizon():
    _, y = _pair()
    assert torch.equal(hct(y, y, dt=0.5), torch.full((SHAPE[0],), 0.5 * SHAPE[1], dtype=torch.float64))


def test_nan_frames_end_the_high_correlation_time():
    p, y = _pattern([True, True, True])
    p[0, 1, 0, 0] = float("nan")
    assert hct(p, y, dt=1.0).item() == 1.0


def test_correlation_is_differentiable():
    p, y = _pair()
    q = p[:1, :1, :1, :3, :3].clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda q: correlation_curve(q, y[:1, :1, :1, :3, :3]), (q,))


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda p, y: correlation_curve(p, y[:1]), "same shape"),
        (lambda p, y: correlation_curve(p[:, 0, 0, 0], y[:, 0, 0, 0]), "4 to 6 dims"),
        (lambda p, y: correlation_curve(p.int(), y), "floating-point"),
        (lambda p, y: hct(p, y, dt=0.0), "dt"),
        (lambda p, y: hct(p, y, dt=float("nan")), "dt"),
        (lambda p, y: hct(p, y, dt=1.0, threshold=1.5), r"\[-1, 1\]"),
        (lambda p, y: hct(p, y, dt=1.0, mode="all"), "first_drop"),
    ],
)
def test_errors(call, fragment):
    p, y = _pair()
    with pytest.raises(PhysdiffError, match=fragment):
        call(p, y)
