"""TrajectoryWindows: windows, normalisation from the file's statistics, DataLoader workers."""

from __future__ import annotations

import pickle

import pytest
import torch
from torch.utils.data import DataLoader

from physdiff import PhysdiffError
from physdiff.data import TrajectoryWindows, TrajectoryWriter

N, T, C, SPACE = 3, 7, 2, (4, 5)


@pytest.fixture(scope="module")
def data():
    gen = torch.Generator().manual_seed(5)
    scale, offset = torch.tensor([1.0, 3.0]).reshape(1, 1, 2, 1, 1), torch.tensor([2.0, -1.0]).reshape(1, 1, 2, 1, 1)
    return torch.randn(N, T, C, *SPACE, dtype=torch.float64, generator=gen) * scale + offset


@pytest.fixture(scope="module")
def path(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("windows") / "w.h5"
    with TrajectoryWriter(path, n_trajectories=N, n_frames=T, channel_names=["a", "b"], space_shape=SPACE,
                          dtype=torch.float64) as writer:
        writer.append(data)
    return path


@pytest.mark.parametrize("length, stride, frame_step", [(1, 1, 1), (3, 1, 1), (3, 2, 1), (7, 1, 1), (2, 3, 2), (3, 1, 3)])
def test_windows_are_the_expected_frames(path, data, length, stride, frame_step):
    ds = TrajectoryWindows(path, length, stride, normalize=False, frame_step=frame_step, dtype=torch.float64)
    span = (length - 1) * frame_step + 1
    starts = list(range(0, T - span + 1, stride))
    assert len(ds) == N * len(starts)
    for index, (n, s) in enumerate((n, s) for n in range(N) for s in starts):
        assert torch.equal(ds[index], data[n, s : s + span : frame_step])


def test_normalisation_uses_the_file_statistics(path, data):
    ds = TrajectoryWindows(path, 1, 1, dtype=torch.float64)  # every frame exactly once
    everything = torch.cat([ds[i] for i in range(len(ds))])
    per_channel = everything.transpose(0, 1).reshape(C, -1)
    torch.testing.assert_close(per_channel.mean(dim=1), torch.zeros(C, dtype=torch.float64), atol=1e-12, rtol=0)
    torch.testing.assert_close(per_channel.std(dim=1, unbiased=False), torch.ones(C, dtype=torch.float64), atol=1e-12, rtol=0)
    raw = TrajectoryWindows(path, 3, 2, normalize=False, dtype=torch.float64)
    normed = TrajectoryWindows(path, 3, 2, dtype=torch.float64)
    torch.testing.assert_close(normed.denormalize(normed[4]), raw[4], rtol=1e-14, atol=1e-14)


def test_a_subset_of_trajectories_shares_the_whole_file_normalisation(path, data):
    train = TrajectoryWindows(path, 2, 1, trajectories=[2], normalize=False, dtype=torch.float64)
    assert len(train) == T - 1 and torch.equal(train[0], data[2, 0:2])
    full, part = TrajectoryWindows(path, 2), TrajectoryWindows(path, 2, trajectories=[0])
    assert torch.equal(full.mean, part.mean) and torch.equal(full.std, part.std)


def test_items_are_float32_by_default(path):
    assert TrajectoryWindows(path, 2)[0].dtype == torch.float32


def _batches(ds, workers):
    loader = DataLoader(ds, batch_size=4, shuffle=False, num_workers=workers)
    return [batch for batch in loader]


def test_dataloader_workers_give_the_same_batches(path):
    ds = TrajectoryWindows(path, 3, 1)
    first = ds[0]  # the parent now holds an open handle when the workers fork
    serial, parallel = _batches(ds, 0), _batches(ds, 2)
    assert len(serial) == len(parallel) == -(-len(ds) // 4)
    for a, b in zip(serial, parallel):
        assert torch.equal(a, b)
    assert torch.equal(serial[0][0], first)


def test_pickling_drops_the_handle(path):
    ds = TrajectoryWindows(path, 2)
    item = ds[1]
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._file is None and torch.equal(clone[1], item)
    ds.close()
    assert torch.equal(ds[1], item)  # reopens after close


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"length": 0}, "length: expected a positive int"),
        ({"length": 8}, "spans 8 frames, but the trajectories have 7"),
        ({"length": 3, "frame_step": 4}, "spans 9 frames"),
        ({"length": 2, "stride": 0}, "stride: expected a positive int"),
        ({"length": 2, "trajectories": [0, 3]}, r"indices \[3\] out of range"),
    ],
)
def test_bad_arguments(path, kwargs, match):
    with pytest.raises(PhysdiffError, match=match):
        TrajectoryWindows(path, **kwargs)


def test_index_out_of_range_is_an_index_error(path):
    ds = TrajectoryWindows(path, 7)
    with pytest.raises(IndexError):
        ds[len(ds)]
