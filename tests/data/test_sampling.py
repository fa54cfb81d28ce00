"""Burst sampling, spatial downsampling and seeded relative noise."""

from __future__ import annotations

import pytest
import torch

from physdiff import PhysdiffError
from physdiff.data import add_noise, burst_sample, downsample


def _frames(batch=2, frames=17, channels=2, space=(3, 4)):
    """A trajectory whose every value is its frame index, so samples identify themselves."""
    t = torch.arange(frames, dtype=torch.float64).reshape(1, frames, 1, *(1,) * len(space))
    return t.expand(batch, frames, channels, *space).clone()


@pytest.mark.parametrize(
    "frames, burst_length, burst_every, macro_every, starts",
    [(17, 3, 8, 4, [0, 8]), (17, 2, 4, 4, [0, 4, 8, 12]), (10, 5, 5, 1, [0, 5]), (5, 5, 100, 2, [0])],
)
def test_bursts_and_macro_view_pick_the_documented_frames(frames, burst_length, burst_every, macro_every, starts):
    dt = 0.25
    traj = _frames(frames=frames)
    sample = burst_sample(traj, dt=dt, burst_length=burst_length, burst_every=burst_every, macro_every=macro_every)
    expected = torch.tensor([[s + i for i in range(burst_length)] for s in starts], dtype=torch.float64)
    assert sample.micro.shape == (2, len(starts), burst_length, 2, 3, 4)
    assert torch.equal(sample.micro[1, :, :, 1, 2, 3], expected)
    assert torch.equal(sample.micro_times, expected * dt)
    macro = torch.arange(0, frames, macro_every, dtype=torch.float64)
    assert torch.equal(sample.macro[0, :, 0, 0, 0], macro) and torch.equal(sample.macro_times, macro * dt)
    assert sample.dt == dt and sample.macro_dt == macro_every * dt


def test_bursts_start_on_macro_frames_when_burst_every_is_a_multiple():
    sample = burst_sample(_frames(frames=33), dt=1.0, burst_length=4, burst_every=8, macro_every=4)
    assert set(sample.micro_times[:, 0].tolist()) <= set(sample.macro_times.tolist())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"burst_length": 1}, "burst_length: expected >= 2"),
        ({"burst_length": 5, "burst_every": 4}, "would overlap bursts"),
        ({"burst_length": 20, "burst_every": 20}, "exceeds the trajectory's 17 frames"),
        ({"macro_every": 0}, "macro_every: expected a positive int"),
        ({"dt": -1.0}, "dt: expected a positive number"),
    ],
)
def test_burst_sample_refuses_bad_arguments(kwargs, match):
    args = {"dt": 0.1, "burst_length": 3, "burst_every": 8, "macro_every": 4, **kwargs}
    with pytest.raises(PhysdiffError, match=match):
        burst_sample(_frames(), **args)


def test_burst_sample_needs_a_trajectory():
    with pytest.raises(PhysdiffError, match=r"\(B, T, C, \*space\)"):
        burst_sample(torch.zeros(2, 3), dt=0.1, burst_length=2, burst_every=2, macro_every=1)


@pytest.mark.parametrize("factors", [(2, 3), (1, 1), (4, 1), 2])
def test_subsampling_keeps_every_fth_point_from_zero(factors):
    u = torch.randn(2, 5, 3, 8, 9)
    out = downsample(u, factors, ndim=2)
    f0, f1 = (factors, factors) if isinstance(factors, int) else factors
    assert torch.equal(out, u[..., ::f0, ::f1])


def test_block_mean_averages_blocks():
    u = torch.arange(2 * 4 * 6, dtype=torch.float64).reshape(1, 2, 4, 6)
    out = downsample(u, (2, 3), mode="mean")
    assert out.shape == (1, 2, 2, 2)
    assert out[0, 1, 1, 0] == u[0, 1, 2:4, 0:3].mean()
    assert torch.allclose(out.mean(), u.mean())  # averaging conserves the mean


def test_block_mean_in_3d_matches_avg_pool():
    u = torch.randn(2, 3, 4, 6, 8, dtype=torch.float64)
    expected = torch.nn.functional.avg_pool3d(u, (2, 3, 4))
    torch.testing.assert_close(downsample(u, (2, 3, 4), mode="mean"), expected, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize(
    "factors, kwargs, match",
    [
        (2, {}, "pass ndim with a single factor"),
        ((0, 2), {}, "factors: expected a positive int"),
        ((3, 2), {"mode": "mean"}, "divisible"),
        ((2, 2), {"mode": "max"}, "mode: expected 'subsample' or 'mean'"),
    ],
)
def test_downsample_refuses_bad_arguments(factors, kwargs, match):
    with pytest.raises(PhysdiffError, match=match):
        downsample(torch.zeros(1, 1, 4, 4), factors, **kwargs)


def test_noise_has_exactly_the_relative_level_per_channel():
    truth = torch.randn(2, 5, 3, 8, 8, dtype=torch.float64) * torch.tensor([1.0, 0.1, 10.0]).reshape(1, 1, 3, 1, 1)
    noisy = add_noise(truth, 0.1, seed=66)
    for c in range(3):
        ratio = (noisy - truth)[:, :, c].std() / truth[:, :, c].std()
        assert abs(ratio.item() - 0.1) < 1e-13


def test_noise_is_seeded_and_leaves_the_global_rng_alone():
    truth = torch.randn(1, 4, 2, 6, 6)
    state = torch.random.get_rng_state()
    a, b, c = add_noise(truth, 0.05, seed=1), add_noise(truth, 0.05, seed=1), add_noise(truth, 0.05, seed=2)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert a.dtype == truth.dtype and a.device == truth.device


def test_zero_noise_is_the_identity_and_fields_use_channel_dim_1():
    truth = torch.randn(3, 2, 5, 5, dtype=torch.float64)
    assert torch.equal(add_noise(truth, 0.0, seed=0), truth)
    noisy = add_noise(truth, 0.2, seed=0, channel_dim=1)
    for c in range(2):
        assert abs(((noisy - truth)[:, c].std() / truth[:, c].std()).item() - 0.2) < 1e-13


@pytest.mark.parametrize(
    "pec, kwargs, match",
    [
        (-0.1, {}, "pec: expected a finite relative noise level"),
        (float("inf"), {}, "pec"),
        (0.1, {"seed": 1.5}, "seed: expected an int"),
        (0.1, {"channel_dim": 7}, "channel_dim=7 out of range"),
    ],
)
def test_add_noise_refuses_bad_arguments(pec, kwargs, match):
    with pytest.raises(PhysdiffError, match=match):
        add_noise(torch.zeros(1, 2, 2, 3), pec, **{"seed": 0, **kwargs})
