"""Every way a trajectory file can be wrong gives a PhysdiffError that names the file and the problem."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch

from physdiff import PhysdiffError
from physdiff.data import Provenance, TrajectoryFile, TrajectoryWriter, config_hash, read_info, read_trajectories

SETUP = {
    "pde": {"pde": "toy"}, "integrator": "rk4", "dt": 0.1, "steps": 2, "save_every": 1, "include_initial": True,
    "shape": [4, 3], "spacing": None, "accuracy": None,
    "initial_condition": {"name": "Toy.initial_condition", "options": {}, "seeds": [0, 1]}, "batch_size": 2,
    "dtype": "float32",
}


@pytest.fixture
def good(tmp_path):
    path = tmp_path / "good.h5"
    with TrajectoryWriter(path, n_trajectories=2, n_frames=3, channel_names=["u", "v"], space_shape=(4, 3),
                          provenance=Provenance(SETUP, "0.1.0", "2.13.0", "cpu")) as writer:
        writer.append(torch.rand(2, 3, 2, 4, 3, generator=torch.Generator().manual_seed(0)))
    return path


def _edit(path, action):
    with h5py.File(path, "r+") as f:
        action(f)
    return path


def _set(key, value):
    return lambda f: f.attrs.__setitem__(key, value)


def _replace(name, data):
    def action(f):
        del f[name]
        f[name] = data
    return action


def _setup_edit(f):  # consistent hash, inconsistent with the data: 3 seeds for 2 trajectories
    setup = {**SETUP, "initial_condition": {**SETUP["initial_condition"], "seeds": [0, 1, 2]}}
    f.attrs["setup"] = json.dumps(setup)
    f.attrs["setup_sha256"] = config_hash(setup)


CORRUPTIONS = {
    "incomplete": (_set("complete", False), "incomplete file"),
    "no schema": (lambda f: f.attrs.__delitem__("schema"), "missing attribute 'schema'"),
    "other schema": (_set("schema", "someone.else"), "not a physdiff trajectory file"),
    "newer schema": (_set("schema_version", 99), "newer than this physdiff reads"),
    "no time": (lambda f: f.__delitem__("time"), "missing dataset 'time'"),
    "no x1": (lambda f: f.__delitem__("x1"), "missing dataset 'x1'"),
    "no trajectories": (lambda f: f.__delitem__("trajectories"), "missing dataset 'trajectories'"),
    "no mean": (lambda f: f.attrs.__delitem__("channel_mean"), "missing attribute 'channel_mean'"),
    "short time": (_replace("time", np.zeros(2)), r"dataset 'time' has shape \(2,\), expected \(3,\)"),
    "long x0": (_replace("x0", np.zeros(5)), r"dataset 'x0' has shape \(5,\), expected \(4,\)"),
    "3 channel names": (_set("channel_names", ["a", "b", "c"]), "attribute 'channel_names' has shape"),
    "std per wrong axis": (_set("channel_std", np.ones(3)), "attribute 'channel_std' has shape"),
    "integer data": (_replace("trajectories", np.zeros((2, 3, 2, 4, 3), dtype=np.int32)), "expected float32 or float64"),
    "edited setup": (_set("setup", json.dumps({**SETUP, "dt": 0.2})), "setup hash does not match"),
    "setup vs data": (_setup_edit, "provenance describes"),
    "bad setup json": (_set("setup", "{not json"), "not valid JSON"),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_each_corruption_is_named(good, case):
    action, message = CORRUPTIONS[case]
    path = _edit(good, action)
    with pytest.raises(PhysdiffError, match=message) as error:
        TrajectoryFile(path)
    assert str(path) in str(error.value)


def test_missing_file(tmp_path):
    path = tmp_path / "absent.h5"
    with pytest.raises(PhysdiffError, match="no such file") as error:
        read_info(path)
    assert str(path) in str(error.value)


def test_a_directory_is_not_a_file(tmp_path):
    with pytest.raises(PhysdiffError, match="expected a file") as error:
        read_info(tmp_path)
    assert str(tmp_path) in str(error.value)


def test_not_hdf5(tmp_path):
    path = tmp_path / "notes.h5"
    path.write_text("not an hdf5 file\n" * 100)
    with pytest.raises(PhysdiffError, match="not an HDF5 file") as error:
        read_info(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9])
def test_truncated_file(good, keep):
    payload = good.read_bytes()
    good.write_bytes(payload[: int(len(payload) * keep)])
    with pytest.raises(PhysdiffError, match="truncated or corrupt") as error:
        read_trajectories(good)
    assert str(good) in str(error.value)


def test_a_valid_file_reads(good):
    info = read_info(good)
    assert info.shape == (2, 3, 2, 4, 3) and info.channel_names == ("u", "v") and info.provenance.seeds == [0, 1]


def test_an_out_of_range_trajectory_is_named(good):
    with TrajectoryFile(good) as f, pytest.raises(PhysdiffError, match="trajectory index 5 out of range for 2") as error:
        f.read(5)
    assert str(good) in str(error.value)
