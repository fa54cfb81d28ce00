"""TrajectoryWriter: streaming, statistics, and the atomic-write guarantee."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from physdiff import PhysdiffError
from physdiff.data import TrajectoryFile, TrajectoryWriter, read_trajectories
from physdiff.integrators import RK4
from physdiff.solvers import GrayScott, simulate


def _writer(path, shape=(3, 4, 2, 5, 6), dtype=torch.float64):
    n, t, c, *space = shape
    return TrajectoryWriter(path, n_trajectories=n, n_frames=t, channel_names=["u", "v"][:c], space_shape=space, dtype=dtype)


def _data(shape=(3, 4, 2, 5, 6)):
    return torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3)) * 2 + 1


@pytest.mark.parametrize("blocks", [[(3, 4)], [(3, 1)] * 4, [(2, 2), (2, 2), (1, 4)], [(1, 1)] * 12])
def test_blocks_of_any_size_fill_the_file_in_order(tmp_path, blocks):
    data, path = _data(), tmp_path / "f.h5"
    with _writer(path) as writer:
        n = t = 0
        for b, k in blocks:
            writer.append(data[n : n + b, t : t + k])
            t += k
            if t == 4:
                n, t = n + b, 0
    assert torch.equal(read_trajectories(path), data)
    with TrajectoryFile(path) as f:
        flat = data.permute(2, 0, 1, 3, 4).reshape(2, -1).numpy()
        np.testing.assert_allclose(f.info.mean, flat.mean(axis=1), rtol=1e-13)  # streamed = two-pass
        np.testing.assert_allclose(f.info.std, flat.std(axis=1), rtol=1e-12)
    assert os.listdir(tmp_path) == ["f.h5"]


def test_as_simulate_sink_equals_the_in_memory_trajectory(tmp_path):
    pde = GrayScott.percnn_2d()
    u0 = pde.initial_condition(2, (8, 8), seed=1, dtype=torch.float64)
    expected = simulate(pde, u0, dt=0.5, steps=4, save_every=2, integrator=RK4)
    with _writer(tmp_path / "s.h5", shape=(2, 3, 2, 8, 8)) as writer:
        simulate(pde, u0, dt=0.5, steps=4, save_every=2, integrator=RK4, sink=writer)
    assert torch.equal(read_trajectories(tmp_path / "s.h5"), expected)


def test_states_are_cast_to_the_storage_dtype(tmp_path):
    data = _data()
    with _writer(tmp_path / "f.h5", dtype=torch.float32) as writer:
        writer.append(data)
    stored = read_trajectories(tmp_path / "f.h5")
    assert stored.dtype == torch.float32 and torch.equal(stored, data.float())


def test_an_exception_mid_write_leaves_no_file_and_no_temporary(tmp_path):
    data = _data()
    with pytest.raises(RuntimeError, match="boom"):
        with _writer(tmp_path / "f.h5") as writer:
            writer.append(data[:, :2])
            assert len(os.listdir(tmp_path)) == 1  # the temporary file exists while writing
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_a_failed_write_keeps_the_previous_file(tmp_path):
    path, data = tmp_path / "f.h5", _data()
    with _writer(path) as writer:
        writer.append(data)
    with pytest.raises(RuntimeError):
        with _writer(path) as writer:
            writer.append(-data[:, :1])
            raise RuntimeError("interrupted")
    assert torch.equal(read_trajectories(path), data) and os.listdir(tmp_path) == ["f.h5"]


def test_missing_frames_refuse_to_produce_a_file(tmp_path):
    with pytest.raises(PhysdiffError, match="only 9 of 12 trajectory-frames"):
        with _writer(tmp_path / "f.h5") as writer:
            writer.append(_data()[:2])
            writer.append(_data()[2:, :1])
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "chunks, match",
    [
        ([torch.zeros(3, 4, 2, 5, 5)], r"expected states shaped \(B, k, C, \*space\)"),
        ([torch.zeros(3, 4, 1, 5, 6)], "expected states shaped"),
        ([torch.zeros(3, 5, 2, 5, 6)], "would exceed the announced 4"),
        ([torch.zeros(4, 1, 2, 5, 6)], "would exceed the announced 3"),
        ([torch.zeros(2, 1, 2, 5, 6), torch.zeros(1, 1, 2, 5, 6)], "this block has 2 trajectories"),
        ([torch.full((3, 1, 2, 5, 6), float("nan"))], "NaN or Inf"),
    ],
)
def test_bad_appends_are_refused(tmp_path, chunks, match):
    with pytest.raises(PhysdiffError, match=match):
        with _writer(tmp_path / "f.h5") as writer:
            for chunk in chunks:
                writer.append(chunk)
    assert os.listdir(tmp_path) == []


def test_append_outside_the_with_block_is_refused(tmp_path):
    writer = _writer(tmp_path / "f.h5")
    with pytest.raises(PhysdiffError, match="outside the 'with' block"):
        writer.append(_data())
    with writer:
        writer.append(_data())
    with pytest.raises(PhysdiffError, match="outside the 'with' block"):
        writer.append(_data())  # after the file is finished
    with pytest.raises(PhysdiffError, match="writes one file once"):
        with writer:
            pass
    assert os.listdir(tmp_path) == ["f.h5"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_trajectories": 0}, "n_trajectories: expected a positive int"),
        ({"space_shape": ()}, "space_shape"),
        ({"channel_names": []}, "channel_names"),
        ({"compression": "zstd"}, "compression"),
        ({"time": [0.0, 1.0]}, "time: expected 4 values"),
        ({"dtype": torch.float16}, "float32 or float64"),
    ],
)
def test_bad_arguments_are_refused(tmp_path, kwargs, match):
    args = {"n_trajectories": 3, "n_frames": 4, "channel_names": ["u"], "space_shape": (5,), **kwargs}
    with pytest.raises(PhysdiffError, match=match):
        TrajectoryWriter(tmp_path / "f.h5", **args)


def test_a_missing_directory_is_created_and_a_file_as_directory_is_named(tmp_path):
    with TrajectoryWriter(tmp_path / "no" / "f.h5", n_trajectories=1, n_frames=1, channel_names=["u"],
                          space_shape=(4,)) as writer:
        writer.append(torch.zeros(1, 1, 1, 4))
    assert writer.written.path == tmp_path / "no" / "f.h5" and (tmp_path / "no" / "f.h5").is_file()
    (tmp_path / "file").write_text("x")
    with pytest.raises(PhysdiffError, match="is not a directory"):
        TrajectoryWriter(tmp_path / "file" / "f.h5", n_trajectories=1, n_frames=1, channel_names=["u"], space_shape=(4,))


KILLED = textwrap.dedent(
    """
    import os, sys, torch
    from physdiff.data import TrajectoryWriter
    with TrajectoryWriter(sys.argv[1], n_trajectories=2, n_frames=4, channel_names=["u"], space_shape=(8, 8)) as w:
        w.append(torch.ones(2, 2, 1, 8, 8))
        w._file.flush()  # as much as possible on disk: the worst case for a reader
        os._exit(3)  # killed: no cleanup code runs
    """
)


def test_a_killed_writer_leaves_nothing_that_looks_complete(tmp_path):
    path = tmp_path / "f.h5"
    result = subprocess.run([sys.executable, "-c", KILLED, str(path)], capture_output=True, text=True)
    assert result.returncode == 3, result.stderr
    assert not path.exists()
    leftovers = os.listdir(tmp_path)
    assert len(leftovers) == 1 and leftovers[0].startswith(".f.h5.") and leftovers[0].endswith(".tmp")
    with pytest.raises(PhysdiffError, match="incomplete|truncated or corrupt") as error:
        TrajectoryFile(tmp_path / leftovers[0])
    assert leftovers[0] in str(error.value)
