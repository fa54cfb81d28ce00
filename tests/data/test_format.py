"""The HDF5 schema: layout, attributes, canonical JSON and the setup hash."""

from __future__ import annotations

import hashlib

import h5py
import numpy as np
import pytest
import torch

from physdiff import PhysdiffError
from physdiff.data import Provenance, TrajectoryFile, TrajectoryWriter, canonical_json, config_hash
from physdiff.data._format import SCHEMA, SCHEMA_VERSION, dtype_name

SETUP = {
    "pde": {"pde": "toy", "nu": 0.1, "spacing": [0.5, 0.25]}, "integrator": "rk4", "dt": 0.1, "steps": 4,
    "save_every": 2, "include_initial": True, "shape": [4, 3], "spacing": [0.5, 0.25], "accuracy": 2,
    "initial_condition": {"name": "Toy.initial_condition", "options": {}, "seeds": [7, 8]}, "batch_size": 2,
    "dtype": "float64",
}
PROVENANCE = Provenance(setup=SETUP, physdiff_version="0.1.0", torch_version="2.13.0", device="cpu")


def _write(path, data, **kwargs):
    n, t, c, *space = data.shape
    with TrajectoryWriter(path, n_trajectories=n, n_frames=t, channel_names=[f"c{i}" for i in range(c)],
                          space_shape=space, dtype=data.dtype, **kwargs) as writer:
        writer.append(data)


def test_canonical_json_is_key_order_and_whitespace_free():
    a = {"b": [1.5, "x"], "a": {"z": 1, "y": 0.1}}
    b = {"a": {"y": 0.1, "z": 1}, "b": [1.5, "x"]}
    assert canonical_json(a) == canonical_json(b) == '{"a":{"y":0.1,"z":1},"b":[1.5,"x"]}'


def test_config_hash_is_sha256_of_the_canonical_text():
    expected = hashlib.sha256(b'{"a":1,"b":[1.5,"x"]}').hexdigest()
    assert config_hash({"b": [1.5, "x"], "a": 1}) == expected


@pytest.mark.parametrize("value", [0.1, 1e-17, 2 / 3, 123456789.123456789])
def test_floats_round_trip_through_the_canonical_text(value):
    import json

    assert json.loads(canonical_json({"x": value}))["x"] == value


@pytest.mark.parametrize("bad", [{"x": float("nan")}, {"x": float("inf")}, {"x": torch.ones(1)}, {"x": {1, 2}}])
def test_canonical_json_refuses_non_json(bad):
    with pytest.raises(PhysdiffError, match="JSON-serialisable"):
        canonical_json(bad)


@pytest.mark.parametrize("compression", ["gzip", "lzf", None])
def test_layout_datasets_chunks_and_attributes(tmp_path, compression):
    data = torch.randn(2, 3, 2, 4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    path = tmp_path / "f.h5"
    _write(path, data, time=[0.0, 0.2, 0.4], coordinates=[[0, 0.5, 1, 1.5], [0, 0.25, 0.5]],
           provenance=PROVENANCE, compression=compression)
    with h5py.File(path, "r") as f:
        ds = f["trajectories"]
        assert ds.shape == (2, 3, 2, 4, 3) and ds.dtype == np.float64
        assert ds.chunks == (1, 1, 2, 4, 3)  # one chunk per trajectory-frame
        assert ds.compression == compression
        np.testing.assert_array_equal(ds[()], data.numpy())
        np.testing.assert_array_equal(f["time"][()], [0.0, 0.2, 0.4])
        np.testing.assert_array_equal(f["x0"][()], [0, 0.5, 1, 1.5])
        np.testing.assert_array_equal(f["x1"][()], [0, 0.25, 0.5])
        attrs = f.attrs
        assert attrs["schema"] == SCHEMA and attrs["schema_version"] == SCHEMA_VERSION
        assert bool(attrs["complete"]) is True
        assert list(attrs["channel_names"]) == ["c0", "c1"]
        flat = data.permute(2, 0, 1, 3, 4).reshape(2, -1).numpy()
        np.testing.assert_allclose(attrs["channel_mean"], flat.mean(axis=1), rtol=1e-13)
        np.testing.assert_allclose(attrs["channel_std"], flat.std(axis=1), rtol=1e-12)
        assert attrs["setup_sha256"] == config_hash(SETUP)
        assert attrs["integrator"] == "rk4" and attrs["accuracy"] == 2 and attrs["save_every"] == 2
        assert attrs["dt"] == 0.1 and list(attrs["seeds"]) == [7, 8] and attrs["dtype"] == "float64"
        assert attrs["initial_condition"] == "Toy.initial_condition" and list(attrs["spacing"]) == [0.5, 0.25]
        assert attrs["physdiff_version"] == "0.1.0" and attrs["pde"] == "toy"


def test_provenance_round_trips_through_the_file(tmp_path):
    path = tmp_path / "f.h5"
    _write(path, torch.zeros(2, 3, 2, 4, 3, dtype=torch.float64), provenance=PROVENANCE)
    with TrajectoryFile(path) as f:
        assert f.info.provenance == PROVENANCE
        assert f.info.provenance.sha256 == config_hash(SETUP)


def test_a_file_without_provenance_reads_as_none(tmp_path):
    path = tmp_path / "f.h5"
    _write(path, torch.zeros(1, 2, 1, 5))
    with TrajectoryFile(path) as f:
        assert f.info.provenance is None and f.info.dtype == "float32"


def test_not_applicable_fields_are_absent_attributes():
    setup = {**SETUP, "accuracy": None, "spacing": None}
    attrs = Provenance(setup, "0.1.0", "2.13.0", "cpu").to_attrs()
    assert "accuracy" not in attrs and "spacing" not in attrs


def test_storage_dtypes_are_float32_and_float64_only():
    assert dtype_name(torch.float32) == "float32" and dtype_name(torch.float64) == "float64"
    with pytest.raises(PhysdiffError, match="float32 or float64"):
        dtype_name(torch.bfloat16)
