"""The one output rule, file modes, temporaries of killed writers, concurrent writers, regenerate on a corrupt file."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

import physdiff.data._writer as writer_module
from physdiff.cli import main
from physdiff.core import atomic_write_json, remove_stale_temporaries
from physdiff.data import generate, read_info, read_trajectories
from physdiff.solvers import GrayScott

SIM = ["simulate", "gray-scott", "--grid", "8", "--steps", "2", "--save-every", "1", "--quiet"]


def test_existing_outputs_are_replaced_only_with_overwrite(tmp_path, capsys):
    precious = tmp_path / "precious.txt"
    precious.write_text("mine")
    assert main([*SIM, "--out", str(precious)]) == 2
    assert precious.read_text() == "mine"
    assert main([*SIM, "--seed", "3", "--out", str(precious), "--overwrite"]) == 0
    assert read_info(precious).provenance.seeds == [3]
    capsys.readouterr()
    plots = tmp_path / "plots"
    plots.mkdir()
    (plots / "frame_0005.png").write_bytes(b"an older plot's frame")
    (plots / "notes.txt").write_text("mine")
    assert main(["plot", str(precious), "--out", str(plots), "--max-frames", "2"]) == 2
    assert "already holds files (frame_0005.png, notes.txt); pass --overwrite" in capsys.readouterr().err
    assert main(["plot", str(precious), "--out", str(plots), "--max-frames", "2", "--overwrite"]) == 0
    assert sorted(p.name for p in plots.iterdir()) == ["frame_0000.png", "frame_0001.png", "notes.txt",
                                                       "trajectory.gif"]


def test_missing_output_directories_are_created_by_every_command(tmp_path, capsys):
    out = tmp_path / "a" / "b" / "data.h5"
    assert main([*SIM, "--out", str(out)]) == 0
    assert main(["regenerate", str(out), "--out", str(tmp_path / "c" / "d" / "again.h5"), "--quiet"]) == 0
    assert (tmp_path / "c" / "d" / "again.h5").is_file()  # plot, evaluate and train: tests of those commands


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_atomic_writes_respect_the_umask(tmp_path, umask):
    previous = os.umask(umask)
    try:
        atomic_write_json(tmp_path / "run.json", {"a": 1})
        generate(GrayScott.percnn_2d(), tmp_path / "data.h5", shape=(8, 8), dt=0.5, steps=1)
        (tmp_path / "plain.txt").write_text("x")
    finally:
        os.umask(previous)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == {"run.json": 0o666 & ~umask, "data.h5": 0o666 & ~umask, "plain.txt": 0o666 & ~umask}


KILLED = textwrap.dedent(
    """
    import os, sys, torch
    from physdiff.data import TrajectoryWriter
    with TrajectoryWriter(sys.argv[1], n_trajectories=1, n_frames=4, channel_names=["u"], space_shape=(8,)) as w:
        w.append(torch.ones(1, 2, 1, 8))
        w._file.flush()
        os._exit(3)  # kill -9: no cleanup runs
    """
)


def test_temporaries_of_killed_writers_are_named_by_info_and_removed_by_the_next_write(tmp_path, capsys):
    target = tmp_path / "data.h5"
    assert subprocess.run([sys.executable, "-c", KILLED, str(target)]).returncode == 3
    (stale,) = tmp_path.iterdir()
    assert main(["info", str(stale)]) == 2
    err = capsys.readouterr().err
    assert f"is the temporary file of an unfinished write of {str(target)!r}" in err and "Regenerate" not in err
    # A temporary of a live process (this test's parent: it exists) and one of another host stay.
    live = tmp_path / f".data.h5.{stale.name.split('.')[3].split('-')[0]}-{os.getppid()}.abc123.tmp"
    other_host = tmp_path / ".data.h5.000000-999999.abc123.tmp"
    live.write_bytes(b"busy")
    other_host.write_bytes(b"elsewhere")
    assert main([*SIM, "--out", str(target)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other_host.name, "data.h5"])
    assert remove_stale_temporaries(target) == []


def test_simulate_reports_the_file_it_wrote_when_another_process_replaces_it(tmp_path, monkeypatch, capsys):
    out = tmp_path / "data.h5"
    other = tmp_path / "other.h5"
    generate(GrayScott.percnn_2d(), other, shape=(8, 8), dt=0.5, steps=2, seed=7)
    replace = os.replace

    def concurrent_replace(src, dst):  # another `simulate` renames its file onto `out` right after ours
        replace(src, dst)
        if Path(dst) == out:
            replace(other, out)

    monkeypatch.setattr(writer_module.os, "replace", concurrent_replace)
    assert main([*SIM, "--out", str(out)]) == 0
    monkeypatch.undo()
    ours = generate(GrayScott.percnn_2d(), tmp_path / "ours.h5", shape=(8, 8), dt=0.5, steps=2, seed=0)
    assert read_info(out).provenance.seeds == [7]  # the file now is the other process's ...
    assert f"setup sha256 {ours.provenance.sha256}" in capsys.readouterr().out  # ... the report is ours


def test_regenerate_of_a_corrupt_file_says_where_the_valid_copy_is(tmp_path, capsys):
    path = tmp_path / "data.h5"
    generate(GrayScott.percnn_2d(), path, shape=(8, 8), dt=0.5, steps=2, compression="gzip")
    with h5py.File(path, "r") as file:
        offset = file["trajectories"].id.get_chunk_info(1).byte_offset
    with open(path, "r+b") as handle:  # damage one compressed chunk: the header still reads
        handle.seek(offset)
        handle.write(b"\xff" * 64)
    copy = tmp_path / "new.h5"
    assert main(["regenerate", str(path), "--out", str(copy), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"the regenerated file {str(copy)!r} was written and is complete and valid" in err
    assert "the file is corrupt" in err
    assert np.isfinite(read_trajectories(copy).numpy()).all()
