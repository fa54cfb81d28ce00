"""Windows from trajectory files, matched to the learner: units, time step, channels, dimension."""

from __future__ import annotations

from typing import ClassVar

import pytest
import torch

from physdiff import PhysdiffError
from physdiff.data import TrajectoryWriter, generate, read_trajectories
from physdiff.solvers import Diffusion
from physdiff.training import TrainConfig, Trainer, training_windows

from ._helpers import LinearConv


class PhysicsConv(LinearConv):
    normalized_data: ClassVar[bool] = False  # like PeRCNN: works in the PDE's units


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("files")
    pde = Diffusion(1, nu=1.0)
    for name, seed in (("train.h5", 0), ("val.h5", 10)):  # frames every 0.2 time units
        generate(pde, folder / name, shape=(16,), dt=0.1, steps=20, save_every=2, n_trajectories=3, seed=seed,
                 dtype=torch.float64)
    return folder


def test_trajectory_split_and_normalisation(files):
    data = training_windows(LinearConv(), files / "train.h5", context_frames=2, horizon=3, val_fraction=0.3,
                            dtype=torch.float64)
    raw = read_trajectories(files / "train.h5")
    assert data.frame_step == 1 and data.dt == pytest.approx(0.2) and data.normalized
    assert len(data.train) == 2 * 7 and len(data.val) == 1 * 7  # 11 frames, windows of 5
    torch.testing.assert_close(data.val[0], (raw[2, :5] - data.mean[0]) / data.std[0])
    physical = training_windows(PhysicsConv(), files / "train.h5", context_frames=2, horizon=3, dtype=torch.float64)
    assert not physical.normalized and physical.val is None and torch.equal(physical.train[8], raw[1, 1:6])


def test_frame_step_from_the_model_time_step(files):
    data = training_windows(PhysicsConv(time_step=0.4), files / "train.h5", context_frames=1, horizon=2, stride=2,
                            val_trajectories=[0], dtype=torch.float64)
    raw = read_trajectories(files / "train.h5")
    assert data.frame_step == 2 and data.dt == pytest.approx(0.4)
    assert torch.equal(data.train[1], raw[1, 4:9:2]) and torch.equal(data.val[0], raw[0, 0:5:2])


def test_separate_validation_file_uses_the_training_statistics(files):
    data = training_windows(LinearConv(), files / "train.h5", context_frames=1, horizon=2, val_path=files / "val.h5",
                            dtype=torch.float64)
    raw = read_trajectories(files / "val.h5")
    torch.testing.assert_close(data.val[0], (raw[0, :3] - data.mean[0]) / data.std[0])


@pytest.mark.parametrize("model, options, fragment", [
    (LinearConv(time_step=0.3), {}, "expected the model's time_step 0.3 to be a multiple of the data's sampling interval 0.2"),
    (LinearConv(channels=2), {}, r"train.h5' holds 1 channel\(s\) \['u'\] on a 1D grid \(16,\), but the model LinearConv "
                                 r"expects 2 channel\(s\) in 1D"),
    (LinearConv(ndim=2), {}, "but the model LinearConv expects 1 channel\\(s\\) in 2D"),
    (LinearConv(), {"horizon": 11}, "span 12 frames, but the file's trajectories have only 11.*at most 10"),
    (LinearConv(time_step=0.4), {"horizon": 6}, "2 file frame\\(s\\) apart, span 13 frames"),
    (LinearConv(), {"val_fraction": 0.99}, "all of them would validate"),
    (LinearConv(), {"val_fraction": 0.5, "val_trajectories": [0]}, "not several"),
])
def test_mismatches_are_explained(files, model, options, fragment):
    kwargs = {"context_frames": 1, "horizon": 2, **options}
    with pytest.raises(PhysdiffError, match=fragment):
        training_windows(model, files / "train.h5", **kwargs)


def test_non_uniform_sampling_is_refused(tmp_path):
    path = tmp_path / "burst.h5"
    with TrajectoryWriter(path, n_trajectories=1, n_frames=3, channel_names=["u"], space_shape=(4,),
                          time=[0.0, 0.1, 1.0]) as writer:
        writer.append(torch.zeros(1, 3, 1, 4))
    with pytest.raises(PhysdiffError, match="not uniformly spaced"):
        training_windows(LinearConv(), path, context_frames=1, horizon=1)


def test_file_windows_train(files, tmp_path):
    torch.manual_seed(0)
    model = LinearConv().double()
    data = training_windows(model, files / "train.h5", context_frames=1, horizon=3, val_fraction=0.3,
                            dtype=torch.float64)
    cfg = TrainConfig(steps=4, batch_size=4, horizon=3, dtype="float64", validate_every=2, num_workers=0)
    result = Trainer(model, cfg, data.train, data.val, out_dir=tmp_path).fit()
    assert result.steps == 4 and result.final_metrics["val_rmse"] > 0


def test_worker_processes_read_the_same_batches(files, tmp_path):
    final = []
    for workers in (0, 2):
        torch.manual_seed(0)
        model = LinearConv().double()
        data = training_windows(model, files / "train.h5", context_frames=1, horizon=2, dtype=torch.float64)
        cfg = TrainConfig(steps=6, batch_size=8, horizon=2, dtype="float64", num_workers=workers)  # 2 epochs of 3 batches
        Trainer(model, cfg, data.train, out_dir=tmp_path / str(workers)).fit()
        final.append(model.conv.weight.detach().clone())
    assert torch.equal(final[0], final[1])
