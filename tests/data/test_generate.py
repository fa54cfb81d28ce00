"""generate() with provenance, and regenerate() reproducing a file bit for bit on the CPU."""

from __future__ import annotations

import os

import h5py
import numpy as np
import pytest
import torch

import physdiff
from physdiff import PhysdiffError
from physdiff.data import TrajectoryWriter, config_hash, generate, read_info, read_trajectories, regenerate
from physdiff.integrators import RK4, Euler, Heun
from physdiff.solvers import GrayScott, simulate

INTEGRATORS = {"euler": Euler, "heun": Heun, "rk4": RK4}


def _pde(config):
    return GrayScott(**{k: v for k, v in config.items() if k != "pde"})


def _regenerate(path, out, **kwargs):
    return regenerate(path, out, resolve_pde=_pde, resolve_integrator=INTEGRATORS.__getitem__, **kwargs)


def test_round_trip_with_provenance(tmp_path):
    pde = GrayScott.percnn_2d()
    info = generate(pde, tmp_path / "gs.h5", shape=(8, 6), dt=0.5, steps=6, save_every=3, integrator=Heun,
                    n_trajectories=3, seed=10, dtype=torch.float64, batch_size=2)
    u0 = torch.cat([pde.initial_condition(1, (8, 6), seed=s, dtype=torch.float64) for s in (10, 11, 12)])
    expected = simulate(pde, u0, dt=0.5, steps=6, save_every=3, integrator=Heun)
    stored = read_trajectories(tmp_path / "gs.h5")
    torch.testing.assert_close(stored, expected, rtol=1e-15, atol=1e-15)
    assert info.shape == (3, 3, 2, 8, 6) and info.channel_names == ("u", "v")
    np.testing.assert_array_equal(info.time, [0.0, 1.5, 3.0])
    np.testing.assert_allclose(info.coordinates[1], 0.01 * np.arange(6), rtol=1e-15)
    setup = info.provenance.setup
    assert setup["pde"] == pde.config() and setup["integrator"] == "heun"
    assert (setup["dt"], setup["steps"], setup["save_every"], setup["batch_size"]) == (0.5, 6, 3, 2)
    assert setup["initial_condition"] == {"name": "GrayScott.initial_condition", "options": {}, "seeds": [10, 11, 12]}
    assert setup["accuracy"] == 4 and setup["spacing"] == [0.01, 0.01] and setup["dtype"] == "float64"
    assert info.provenance.physdiff_version == physdiff.__version__ and info.provenance.device == "cpu"
    assert info.provenance.sha256 == config_hash(setup)


def test_each_trajectory_depends_only_on_its_seed(tmp_path):
    pde = GrayScott.percnn_2d()
    run = dict(shape=(8, 8), dt=0.5, steps=2, save_every=1, dtype=torch.float64)
    generate(pde, tmp_path / "three.h5", n_trajectories=3, seed=0, **run)
    generate(pde, tmp_path / "one.h5", n_trajectories=1, seed=2, **run)
    third, alone = read_trajectories(tmp_path / "three.h5", 2), read_trajectories(tmp_path / "one.h5", 0)
    torch.testing.assert_close(third, alone, rtol=1e-15, atol=0)


@pytest.mark.parametrize("dtype, integrator", [(torch.float32, RK4), (torch.float64, Euler)])
def test_regenerate_reproduces_bit_for_bit(tmp_path, dtype, integrator):
    original, copy = tmp_path / "a.h5", tmp_path / "b.h5"
    generate(GrayScott.percnn_2d(), original, shape=(10, 10), dt=0.5, steps=4, save_every=2, integrator=integrator,
             n_trajectories=2, seed=3, dtype=dtype)
    result = _regenerate(original, copy)
    assert result.identical and result.max_abs_diff == 0.0 and result.device == "cpu"
    assert torch.equal(read_trajectories(original), read_trajectories(copy))
    with h5py.File(original, "r") as a, h5py.File(copy, "r") as b:
        assert dict(a.attrs).keys() == dict(b.attrs).keys()
        for key in a.attrs:
            assert np.array_equal(a.attrs[key], b.attrs[key]), key
    assert original.read_bytes() == copy.read_bytes()  # no timestamps: even the bytes agree


def test_regenerate_detects_a_difference(tmp_path):
    original = tmp_path / "a.h5"
    generate(GrayScott.percnn_2d(), original, shape=(8, 8), dt=0.5, steps=2, n_trajectories=1, dtype=torch.float64)
    with h5py.File(original, "r+") as f:
        f["trajectories"][0, 1, 0, 0, 0] += 1e-9
    result = _regenerate(original, tmp_path / "b.h5")
    assert not result.identical and 5e-10 < result.max_abs_diff < 2e-9


def test_regenerate_refuses_a_file_without_provenance(tmp_path):
    path = tmp_path / "plain.h5"
    with TrajectoryWriter(path, n_trajectories=1, n_frames=1, channel_names=["u"], space_shape=(4,)) as w:
        w.append(torch.zeros(1, 1, 1, 4))
    with pytest.raises(PhysdiffError, match="no provenance"):
        _regenerate(path, tmp_path / "b.h5")


def test_regenerate_refuses_a_pde_that_rebuilds_differently(tmp_path):
    path = tmp_path / "a.h5"
    generate(GrayScott.percnn_2d(), path, shape=(8, 8), dt=0.5, steps=1)
    with pytest.raises(PhysdiffError, match="rebuilt PDE reports config"):
        regenerate(path, tmp_path / "b.h5", resolve_pde=lambda c: GrayScott.percnn_2d(F=0.05),
                   resolve_integrator=INTEGRATORS.__getitem__)
    with pytest.raises(PhysdiffError, match="out must differ"):
        _regenerate(path, path)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"dt": 5.0}, "exceeds the explicit stability limit"),
        ({"shape": (8,)}, "expected 2 grid sizes"),
        ({"steps": 3, "save_every": 2}, "must divide steps"),
        ({"n_trajectories": 0}, "n_trajectories: expected a positive int"),
        ({"dt": float("nan")}, "dt: expected a finite positive"),
        ({"ic_options": {"noise": torch.ones(1)}}, "JSON-serialisable"),
    ],
)
def test_bad_runs_write_nothing(tmp_path, kwargs, match):
    args = {"shape": (8, 8), "dt": 0.5, "steps": 2, **kwargs}
    with pytest.raises(PhysdiffError, match=match):
        generate(GrayScott.percnn_2d(), tmp_path / "x.h5", **args)
    assert os.listdir(tmp_path) == []


def test_progress_counts_steps_over_all_batches(tmp_path):
    calls = []
    generate(GrayScott.percnn_2d(), tmp_path / "p.h5", shape=(6, 6), dt=0.5, steps=4, save_every=2,
             n_trajectories=3, batch_size=2, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(2, 8), (4, 8), (6, 8), (8, 8)]
    assert read_info(tmp_path / "p.h5").provenance.setup["batch_size"] == 2


def test_burn_in_skips_the_transient_and_regenerates(tmp_path):
    pde = GrayScott.percnn_2d()
    run = dict(shape=(8, 8), dt=0.5, save_every=2, integrator=Heun, n_trajectories=2, seed=4, dtype=torch.float64)
    generate(pde, tmp_path / "long.h5", steps=10, **run)
    info = generate(pde, tmp_path / "late.h5", steps=6, burn_in=4, **run)
    # Frame j of the burned-in file is frame j + 2 of the long run (4 steps = 2 saved frames later).
    torch.testing.assert_close(read_trajectories(tmp_path / "late.h5"), read_trajectories(tmp_path / "long.h5")[:, 2:],
                               rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(info.time, [2.0, 3.0, 4.0, 5.0], rtol=1e-15)
    assert info.provenance.setup["burn_in"] == 4
    assert "burn_in" not in read_info(tmp_path / "long.h5").provenance.setup  # old hashes unchanged
    assert _regenerate(tmp_path / "late.h5", tmp_path / "again.h5").identical
    with pytest.raises(PhysdiffError, match="burn_in"):
        generate(pde, tmp_path / "bad.h5", steps=6, burn_in=-1, **run)
