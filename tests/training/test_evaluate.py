"""evaluate_rollout: metrics of free rollouts, context frames excluded, physical units."""

from __future__ import annotations

import pytest
import torch

from physdiff import PhysdiffError
from physdiff.training import evaluate_rollout

from ._helpers import LinearConv, advected

TRAJ = advected(n=3, frames=10, grid=16, shift=1.0)  # moves exactly one grid point per frame


def shift_model(weights=(1.0, -1.0, 0.0)) -> LinearConv:
    """u + conv(u) with these weights: (1, -1, 0) is u[i-1], the exact solution; (0, -1, 0) is zero."""
    model = LinearConv().double()
    with torch.no_grad():
        model.conv.weight.copy_(torch.tensor(weights, dtype=torch.float64).reshape(1, 1, 3))
        model.conv.bias.zero_()
    return model


def test_exact_model_scores_perfectly():
    result = evaluate_rollout(shift_model(), TRAJ, context_frames=2, dt=0.5, batch_size=2)
    assert result.predictions.shape == (3, 8, 1, 16) and torch.equal(result.targets, TRAJ[:, 2:])
    assert result.rmse < 1e-12 and result.mae < 1e-12 and result.nrmse < 1e-12
    assert torch.equal(result.hct, torch.full((3,), 4.0, dtype=torch.float64))  # 8 frames x 0.5
    torch.testing.assert_close(result.time, torch.arange(1, 9, dtype=torch.float64) * 0.5)
    assert result.error_curve.shape == (8,) and result.correlation_curve.shape == (3, 8)
    assert set(result.summary()) >= {"rmse", "mae", "nrmse", "hct_mean", "error_curve", "correlation_curve"}


def test_metrics_exclude_the_context_and_do_not_depend_on_batching():
    model = shift_model((0.9, -1.0, 0.05))
    a = evaluate_rollout(model, TRAJ, context_frames=3, dt=1.0, n_steps=4, batch_size=1)
    b = evaluate_rollout(model, TRAJ, context_frames=3, dt=1.0, n_steps=4, batch_size=8)
    assert a.predictions.shape[1] == 4 and torch.equal(a.predictions, b.predictions) and a.rmse == b.rmse
    expected = (a.predictions - TRAJ[:, 3:7]).square().mean().sqrt()
    assert a.rmse == pytest.approx(float(expected), rel=1e-12)


def test_normalised_models_are_scored_in_physical_units():
    mean = torch.tensor([3.0], dtype=torch.float64).reshape(1, 1, 1, 1)
    std = torch.tensor([2.0], dtype=torch.float64).reshape(1, 1, 1, 1)
    zero = shift_model((0.0, -1.0, 0.0))  # predicts 0 in normalised units: the mean in physical units
    result = evaluate_rollout(zero, TRAJ, context_frames=1, dt=1.0, mean=mean, std=std)
    assert torch.allclose(result.predictions, torch.full_like(result.predictions, 3.0))


@pytest.mark.parametrize("kwargs, fragment", [
    ({"context_frames": 10}, r"context_frames: expected an int in \[1, 9\]"),
    ({"context_frames": 2, "n_steps": 9}, "n_steps: expected 1 to 8"),
    ({"context_frames": 2, "batch_size": 0}, "batch_size: expected a positive int"),
])
def test_bad_arguments(kwargs, fragment):
    with pytest.raises(PhysdiffError, match=fragment):
        evaluate_rollout(shift_model(), TRAJ, dt=1.0, **kwargs)


def test_wrong_dimension():
    with pytest.raises(PhysdiffError, match="expected \\(N, T, C, \\*space\\) with 1 spatial axes"):
        evaluate_rollout(shift_model(), TRAJ[0], context_frames=1, dt=1.0)
