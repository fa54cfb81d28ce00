"""Burst metadata: BurstSpec, its storage in trajectory files, BurstWindows, generate/regenerate and --burst."""

from __future__ import annotations

import pickle

import h5py
import pytest
import torch

from physdiff import PhysdiffError
from physdiff.cli import main
from physdiff.data import (
    BurstSpec, BurstWindows, TrajectoryWindows, TrajectoryWriter, burst_sample, generate, read_info, regenerate,
)
from physdiff.integrators import RK4
from physdiff.solvers import GrayScott

N, T, C, SPACE = 2, 13, 2, (3, 4)
SPEC = BurstSpec(burst_length=3, burst_every=5, macro_every=5)  # bursts at frames 0-2, 5-7, 10-12


@pytest.fixture(scope="module")
def data():
    gen = torch.Generator().manual_seed(7)
    return torch.randn(N, T, C, *SPACE, dtype=torch.float64, generator=gen) * 2.0 + 1.0


def _write(path, data, burst=None):
    with TrajectoryWriter(path, n_trajectories=data.shape[0], n_frames=data.shape[1], channel_names=["a", "b"],
                          space_shape=data.shape[3:], dtype=torch.float64, burst=burst) as writer:
        writer.append(data)
    return path


@pytest.fixture(scope="module")
def burst_file(tmp_path_factory, data):
    return _write(tmp_path_factory.mktemp("burst") / "b.h5", data, SPEC)


@pytest.fixture(scope="module")
def plain_file(tmp_path_factory, data):
    return _write(tmp_path_factory.mktemp("plain") / "p.h5", data)


# ------------------------------------------------------------------------------------------- the spec
@pytest.mark.parametrize(
    "args, fragment",
    [
        ((1, 4, 2), "burst_length: expected >= 2"),
        ((3, 2, 2), "would overlap bursts"),
        ((3, 4, 0), "macro_every: expected a positive int"),
        ((3.0, 4, 2), "burst_length: expected a positive int"),
        ((3, True, 2), "burst_every: expected a positive int"),
    ],
)
def test_spec_validation_follows_burst_sample(args, fragment):
    with pytest.raises(PhysdiffError, match=fragment):
        BurstSpec(*args)


def test_spec_json_round_trip_is_canonical():
    text = SPEC.to_json()
    assert text == '{"burst_every":5,"burst_length":3,"macro_every":5}'
    assert BurstSpec.from_json(text, "here") == SPEC
    assert list(SPEC.starts(T)) == [0, 5, 10] and list(SPEC.starts(12)) == [0, 5]


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("{not json", "not valid JSON"),
        ('{"burst_length":3,"burst_every":5}', "exactly the keys"),
        ("[3,5,5]", "exactly the keys"),
        ('{"burst_every":5,"burst_length":1,"macro_every":5}', "is invalid: BurstSpec: burst_length"),
    ],
)
def test_spec_from_bad_json(text, fragment):
    with pytest.raises(PhysdiffError, match=fragment):
        BurstSpec.from_json(text, "file 'x.h5'")


# ------------------------------------------------------------------------------------------- storage
def test_writer_stores_and_reader_returns_the_spec(burst_file):
    assert read_info(burst_file).burst == SPEC
    with h5py.File(burst_file, "r") as file:
        assert file.attrs["burst"] == SPEC.to_json()


def test_file_without_the_attribute_still_opens(plain_file, data):
    with h5py.File(plain_file, "r") as file:
        assert "burst" not in file.attrs  # exactly what files written before burst metadata look like
    info = read_info(plain_file)
    assert info.burst is None and info.shape == (N, T, C, *SPACE)
    assert torch.equal(TrajectoryWindows(plain_file, 2, normalize=False, dtype=torch.float64)[0], data[0, :2])


@pytest.mark.parametrize(
    "burst, fragment",
    [((3, 5, 5), "expected a BurstSpec"), (BurstSpec(14, 14, 1), "exceeds the trajectories' 13 frames")],
)
def test_writer_rejects_bad_bursts(tmp_path, burst, fragment):
    with pytest.raises(PhysdiffError, match=fragment):
        TrajectoryWriter(tmp_path / "x.h5", n_trajectories=1, n_frames=T, channel_names=["a"], space_shape=(2,),
                         burst=burst)


@pytest.mark.parametrize(
    "stored, fragment",
    [
        ('{"burst_every":5,"burst_length":3}', "exactly the keys"),
        ('{"burst_every":20,"burst_length":20,"macro_every":1}', "exceeds the trajectories' 13 frames"),
    ],
)
def test_reader_refuses_an_edited_burst_attribute(tmp_path, data, stored, fragment):
    path = _write(tmp_path / "e.h5", data, SPEC)
    with h5py.File(path, "r+") as file:
        file.attrs["burst"] = stored
    with pytest.raises(PhysdiffError, match=f"e.h5.*{fragment}"):
        read_info(path)


# ------------------------------------------------------------------------------------------- windows
@pytest.mark.parametrize("length", [1, 2, 3])
def test_burst_windows_are_burst_sample_micro_frames(burst_file, data, length):
    micro = burst_sample(data, dt=0.1, burst_length=3, burst_every=5, macro_every=5).micro  # (N, bursts, L, ...)
    ds = BurstWindows(burst_file, length, normalize=False, dtype=torch.float64)
    expected = [micro[n, j, o : o + length] for n in range(N) for j in range(3) for o in range(3 - length + 1)]
    assert len(ds) == len(expected) == N * 3 * (3 - length + 1)
    for index, window in enumerate(expected):
        assert torch.equal(ds[index], window)
    assert ds.burst == SPEC and isinstance(ds, TrajectoryWindows)


def test_burst_windows_share_selection_and_normalisation(burst_file):
    ds = BurstWindows(burst_file, 2, trajectories=[1], dtype=torch.float64)
    full = TrajectoryWindows(burst_file, 2, dtype=torch.float64)
    assert ds.windows == [(1, s) for s in (0, 1, 5, 6, 10, 11)]
    assert torch.equal(ds[2], full[full.windows.index((1, 5))])  # same frames, same normalisation
    raw = BurstWindows(burst_file, 2, normalize=False, dtype=torch.float64)
    torch.testing.assert_close(ds.denormalize(ds[0]), raw[raw.windows.index((1, 0))], rtol=1e-14, atol=1e-14)
    clone = pickle.loads(pickle.dumps(ds))  # spawn workers: the handle is not pickled
    assert clone._file is None and torch.equal(clone[5], ds[5])
    ds.close()


def test_burst_windows_errors(burst_file, plain_file):
    with pytest.raises(PhysdiffError, match=r"expected a file with burst metadata.*but it has none.*--burst L,E,K"):
        BurstWindows(plain_file, 2)
    with pytest.raises(PhysdiffError, match="does not fit in a burst of burst_length=3"):
        BurstWindows(burst_file, 4)
    with pytest.raises(PhysdiffError, match="BurstWindows.*length: expected a positive int"):
        BurstWindows(burst_file, 0)
    with pytest.raises(PhysdiffError, match="out of range"):
        BurstWindows(burst_file, 2, trajectories=[5])
    with pytest.raises(IndexError, match="BurstWindows"):
        BurstWindows(burst_file, 3)[6]


# ------------------------------------------------------------------------------ generate and the CLI
def test_generate_stores_the_burst_and_regenerate_keeps_it(tmp_path):
    pde = GrayScott.percnn_2d()
    spec = BurstSpec(2, 3, 3)
    info = generate(pde, tmp_path / "g.h5", shape=(6, 6), dt=0.5, steps=6, dtype=torch.float64, burst=spec)
    assert info.burst == spec
    plain = generate(pde, tmp_path / "p.h5", shape=(6, 6), dt=0.5, steps=6, dtype=torch.float64)
    assert plain.burst is None and plain.provenance.sha256 == info.provenance.sha256  # outside the setup hash
    again = regenerate(tmp_path / "g.h5", tmp_path / "again.h5",
                       resolve_pde=lambda c: GrayScott(**{k: v for k, v in c.items() if k != "pde"}),
                       resolve_integrator={"rk4": RK4}.__getitem__)
    assert again.identical and read_info(again.path).burst == spec
    assert BurstWindows(tmp_path / "g.h5", 2).dt == 0.5
    assert (tmp_path / "g.h5").read_bytes() == (tmp_path / "again.h5").read_bytes()


def test_cli_simulate_burst(tmp_path, capsys):
    out = tmp_path / "c.h5"
    assert main(["simulate", "gray-scott", "--grid", "6", "--steps", "8", "--burst", "3,4,2", "--quiet",
                 "--out", str(out)]) == 0
    assert read_info(out).burst == BurstSpec(3, 4, 2)
    assert len(BurstWindows(out, 3)) == 2  # 9 frames: bursts at 0 and 4


@pytest.mark.parametrize(
    "burst, message",
    [("3,4", "--burst: expected L,E,K"), ("a,b,c", "--burst: expected L,E,K"), ("3,2,2", "--burst 3,2,2: BurstSpec"),
     ("9,9,1", "exceeds the trajectories' 3 frames")],
)
def test_cli_simulate_bad_burst(tmp_path, monkeypatch, capsys, burst, message):
    monkeypatch.chdir(tmp_path)
    assert main(["simulate", "gray-scott", "--grid", "6", "--steps", "2", "--burst", burst, "--quiet",
                 "--out", "x.h5"]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
