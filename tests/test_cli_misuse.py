"""Every misuse of every subcommand: exit status 2, a message, no traceback, and no file left behind.

The commands run in this process (one interpreter start for all of them): a traceback would be
an exception escaping ``main``, which fails the test. One case also runs as a subprocess, to
check stderr as a user sees it.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from physdiff.cli import main
from physdiff.core import PhysdiffError
from physdiff.data import generate
from physdiff.solvers import GrayScott

ROOT = Path(__file__).resolve().parents[1]
SIM = ["simulate", "gray-scott", "--grid", "8", "--steps", "2", "--save-every", "1", "--quiet"]
CHECKPOINT = "run/best.pt"  # never read: every case below fails before the checkpoint would be

CASES = [
    # The device is checked once, up front, for every command that takes one.
    (SIM + ["--device", "cuda", "--out", "new.h5"], "--device: 'cuda', but this torch sees no CUDA device"),
    (SIM + ["--device", "cuda:7", "--out", "new.h5"], "--device: 'cuda:7'"),
    (SIM + ["--device", "mps", "--out", "new.h5"], "--device: 'mps' is not available here"),
    (SIM + ["--device", "foo", "--out", "new.h5"], "--device: 'foo' is not a device name"),
    (SIM + ["--device", "meta", "--out", "new.h5"], "--device: 'meta' is not available here"),
    (["regenerate", "data.h5", "--out", "new.h5", "--device", "cuda"], "--device: 'cuda'"),
    (["evaluate", CHECKPOINT, "--data", "data.h5", "--device", "cuda:7"], "--device: 'cuda:7'"),
    (["predict", CHECKPOINT, "--data", "data.h5", "--out", "new.h5", "--device", "mps"], "--device: 'mps'"),
    # Outputs: checked before any work, one rule for every command.
    (SIM + ["--out", "folder"], "--out 'folder' is a directory; expected a file path"),
    (SIM + ["--out", "/proc/x.h5"], "--out '/proc/x.h5': cannot write in '/proc'"),
    (SIM + ["--out", "precious.txt/x.h5"], "is a file, so it cannot hold the output"),
    (SIM + ["--out", "precious.txt"], "--out 'precious.txt' already exists; pass --overwrite to replace it"),
    (["regenerate", "data.h5", "--out", "precious.txt"], "already exists; pass --overwrite"),
    (["predict", CHECKPOINT, "--data", "data.h5", "--out", "precious.txt"], "already exists; pass --overwrite"),
    (["evaluate", CHECKPOINT, "--data", "data.h5", "--out", "precious.txt"], "is a file; expected a directory"),
    (["plot", "data.h5", "--out", "precious.txt"], "--out 'precious.txt' is a file; expected a directory"),
    (["plot", "data.h5", "--out", "full"], "--out 'full' already holds files (keep.png); pass --overwrite"),
    (["moving-mnist", "--sequences", "1", "--out", "precious.txt"], "already exists; pass --overwrite"),
    (["moving-mnist", "--sequences", "1", "--out", "folder"], "is a directory; expected a file path"),
    (["regenerate", "data.h5", "--out", "data.h5", "--overwrite"], "out must differ from the original file"),
    (["predict", CHECKPOINT, "--data", "data.h5", "--out", "data.h5", "--overwrite"], "is the input data file"),
    # Threads, on every command.
    (SIM + ["--threads", "0", "--out", "new.h5"], "--threads: expected a positive int, got 0"),
    (["info", "--threads", "-1"], "--threads: expected a positive int"),
    (["plot", "data.h5", "--out", "p", "--threads", "0"], "--threads: expected a positive int"),
    # Messages that name the way out.
    (SIM[:2] + ["--grid", "4", "--out", "new.h5"], "--grid 4: the stencil spans 5 samples along axis 0"),
    (["simulate", "kdv", "--integrator", "euler", "--out", "new.h5"], "unstable for kdv (periodic-40) at any time"),
    (["info", ".data.h5.a1b2c3-999999.x8y9z0.tmp"], "is the temporary file of an unfinished write of"),
    (["info", "missing.h5"], "'missing.h5': no such file"),
    (["stencil", "2", "--offsets=a,b"], "offset: expected an exact rational number"),
    (["stencil", "2", "0"], "accuracy: expected an integer order of accuracy >= 1"),
    (["train", "--config", "missing.toml"], "missing.toml"),
    (["train", "--config", "missing.toml", "--threads", "0"], "--threads: expected a positive int"),
    (["evaluate", CHECKPOINT, "--data", "data.h5"], "checkpoint 'run/best.pt': no such file"),
    # argparse's own errors: exit 2 with the usage line.
    (SIM + ["--threads", "many", "--out", "new.h5"], "argument --threads: invalid int value: 'many'"),
    (["simulate", "gray-scott"], "the following arguments are required: --out"),
]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("misuse") / "data.h5"
    generate(GrayScott.percnn_2d(), path, shape=(8, 8), dt=0.5, steps=2, save_every=1, compression=None)
    return path


def _files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize("args, message", CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_misuse_exits_2_with_a_message_and_leaves_nothing(data, tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.h5").write_bytes(data.read_bytes())
    (tmp_path / "precious.txt").write_text("not ours")
    (tmp_path / "folder").mkdir()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.png").write_bytes(b"x")
    (tmp_path / ".data.h5.a1b2c3-999999.x8y9z0.tmp").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)  # cut by kill -9
    before = _files(tmp_path)
    try:
        code = main(args)
    except SystemExit as exit_:  # argparse
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err, err
    assert err.startswith(("physdiff: error: ", "usage: physdiff")) and "Traceback" not in err
    assert _files(tmp_path) == before  # nothing written, nothing replaced, no temporary left


def test_a_bad_device_as_a_user_sees_it(tmp_path):
    result = subprocess.run([sys.executable, "-m", "physdiff", *SIM, "--device", "cuda:7", "--out",
                             str(tmp_path / "x.h5")], capture_output=True, text=True, cwd=ROOT,
                            env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert result.returncode == 2 and result.stderr.startswith("physdiff: error: --device: 'cuda:7'")
    assert "Traceback" not in result.stderr and list(tmp_path.iterdir()) == []


def test_a_new_subcommand_gets_the_shared_checks(tmp_path, capsys):
    """A subcommand added the plain argparse way still gets --threads, the device check and the output rule."""
    import argparse

    from physdiff.cli._common import add_shared_options, check_common

    parser = argparse.ArgumentParser(prog="physdiff")
    sub = parser.add_subparsers(dest="command")
    new = sub.add_parser("simulate-something")
    new.add_argument("--out", required=True)
    new.add_argument("--device")
    add_shared_options(sub)
    (tmp_path / "taken.h5").write_text("x")
    args = parser.parse_args(["simulate-something", "--out", str(tmp_path / "taken.h5"), "--threads", "1"])
    with pytest.raises(PhysdiffError, match="already exists; pass --overwrite"):
        check_common(args)
    args = parser.parse_args(["simulate-something", "--out", str(tmp_path / "taken.h5"), "--overwrite",
                              "--device", "cuda:99"])
    with pytest.raises(PhysdiffError, match="--device: 'cuda:99'"):
        check_common(args)
