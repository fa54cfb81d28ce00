"""``physdiff train`` after a crash and on bad data: every message names a command that works."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import h5py
import pytest
import torch

from test_cli_train import CONFIG, with_changes, write_config

from physdiff.cli import main
from physdiff.cli import _train
from physdiff.data import generate
from physdiff.solvers import GrayScott
from physdiff.training import read_checkpoint, read_log


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("recovery") / "train.h5"
    generate(GrayScott.percnn_2d(), path, shape=(12, 12), dt=0.5, steps=24, save_every=2, n_trajectories=4)
    return path


def _interrupt_at(monkeypatch, at: int) -> None:
    calls = _train._TrainProgress.__call__

    def interrupt(self, step, total, metrics):  # Ctrl-C
        calls(self, step, total, metrics)
        if step == at:
            raise KeyboardInterrupt

    monkeypatch.setattr(_train._TrainProgress, "__call__", interrupt)


def _command(err: str) -> list[str]:
    """The command a message tells the user to run, as main()'s argv."""
    words = shlex.split(re.search(r"`(physdiff train [^`]*)`", err).group(1))
    return words[1:]


def _consistent_logs(run: Path) -> list[dict]:
    """metrics.jsonl holds exactly the effective records, and metrics.csv the same rows."""
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert lines == read_log(run)
    rows = (run / "metrics.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == [str(r["step"]) for r in lines]
    return lines


def test_a_run_stopped_before_its_first_checkpoint_restarts_with_the_command_named(data, tmp_path, monkeypatch,
                                                                                   capsys):
    shutil.copy(data, tmp_path / "train.h5")
    config = write_config(tmp_path / "run.toml", CONFIG)  # checkpoint_every 3
    _interrupt_at(monkeypatch, 2)
    assert main(["train", "--config", str(config), "--threads", "1"]) == 130
    err = capsys.readouterr().err
    assert "interrupted before the first checkpoint (step 3), so there is nothing to continue" in err
    command = _command(err)
    assert command[-2:] == ["--threads", "1"] and "--resume" not in command
    monkeypatch.undo()
    run = tmp_path / "run"
    assert not (run / "last.pt").exists() and (run / "metrics.jsonl").exists()  # as kill -9 leaves it too
    shutil.copytree(run, tmp_path / "copy")
    assert main([*command, "--quiet"]) == 0  # the named command
    assert "started again from step 0" in capsys.readouterr().err  # said on the terminal, even with --quiet
    records = _consistent_logs(run)
    assert [r["step"] for r in records if r["kind"] == "train"] == [3, 6, 9]
    # --resume on such a directory starts it again too (no dead end), with the same result.
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "copy"), "--resume", "--quiet"]) == 0
    a, b = read_checkpoint(run / "last.pt"), read_checkpoint(tmp_path / "copy" / "last.pt")
    assert all(torch.equal(a["model_state"][k], v) for k, v in b["model_state"].items())


def test_resume_checks_the_data_values_and_keeps_the_logs_consistent(data, tmp_path, monkeypatch, capsys):
    shutil.copy(data, tmp_path / "train.h5")
    config = write_config(tmp_path / "run.toml", with_changes(training={"log_every": 1}))
    _interrupt_at(monkeypatch, 5)
    assert main(["train", "--config", str(config)]) == 130
    err = capsys.readouterr().err
    assert f"{tmp_path / 'run' / 'last.pt'} holds the checkpoint of step 3" in err
    command = _command(err)
    monkeypatch.undo()
    original = (tmp_path / "train.h5").read_bytes()
    with h5py.File(tmp_path / "train.h5", "r+") as file:  # a hand edit: same provenance, other values
        file["trajectories"][0, 1, 0, 0, 0] += 0.25
    assert main([*command, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "differing: data.content_sha256 (run: " in err and "holds other values than when the run started" in err
    (tmp_path / "train.h5").write_bytes(original)
    assert main([*command, "--quiet"]) == 0
    assert "resumed from last.pt at step 3; removed 2 log record(s)" in capsys.readouterr().err
    records = _consistent_logs(tmp_path / "run")
    assert [r["step"] for r in records if r["kind"] == "train"] == list(range(1, 10))


def test_non_finite_data_is_refused_or_flagged_by_every_command(data, tmp_path, monkeypatch, capsys):
    bad = tmp_path / "train.h5"
    shutil.copy(data, bad)
    with h5py.File(bad, "r+") as file:
        file["trajectories"][1, 3, 1, 5, 7] = float("nan")
    config = write_config(tmp_path / "run.toml", CONFIG)
    assert main(["train", "--config", str(config), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"trajectory file {str(bad)!r}: 1 non-finite value (NaN or Inf) in trajectory [1]; the first at " \
           "trajectory 1, frame 3 (t = 3), channel v" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.toml", "train.h5"]
    assert main(["info", str(bad)]) == 0
    assert "NOT FINITE: 1 non-finite value" in capsys.readouterr().out
    assert main(["plot", str(bad), "--out", str(tmp_path / "p"), "--trajectory", "1", "--max-frames", "2"]) == 0
    assert "warning: " in (err := capsys.readouterr().err) and "frame 3 (t = 3), channel v" in err
    good = tmp_path / "good"
    good.mkdir()
    shutil.copy(data, good / "train.h5")
    write_config(good / "run.toml", with_changes(training={"steps": 3}))
    assert main(["train", "--config", str(good / "run.toml"), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(good / "run" / "best.pt"), "--data", str(bad), "--no-plots"]) == 2
    assert "the first at trajectory 1, frame 3, channel v" in capsys.readouterr().err
    assert not (good / "run" / "eval_train").exists()


def test_nproc_per_node_checks_once_then_launches(data, tmp_path, capsys):
    shutil.copy(data, tmp_path / "train.h5")
    config = write_config(tmp_path / "run.toml", with_changes(training={"steps": 3, "batch_size": 3}))
    # Checked before any process starts: no torchrun traceback, nothing written.
    assert main(["train", "--config", str(config), "--nproc-per-node", "2"]) == 2
    assert "--nproc-per-node 2: batch_size 3 is not a multiple of 2" in capsys.readouterr().err
    assert main(["train", "--config", str(tmp_path / "missing.toml"), "--nproc-per-node", "2"]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.toml", "train.h5"]



def test_a_workers_messages_name_the_launching_command(monkeypatch, tmp_path):
    from argparse import Namespace

    monkeypatch.setenv(_train.LAUNCHED, "2")  # what --nproc-per-node 2 gives its workers
    args = Namespace(config="run.toml", threads=1, nproc_per_node=None)
    assert _train._command(args, tmp_path / "run") == (
        f"physdiff train --config run.toml --out {tmp_path / 'run'} --threads 1 --nproc-per-node 2")


def test_nan_guard_events_and_its_give_up_reach_the_terminal_with_a_command(data, tmp_path, capsys):
    shutil.copy(data, tmp_path / "train.h5")
    blow_up = {"steps": 3, "optimizer": {"lr": 1e30}}  # the first update blows the weights up
    config = write_config(tmp_path / "run.toml", with_changes(training=blow_up))
    assert main(["train", "--config", str(config), "--quiet"]) == 0
    err = capsys.readouterr().err  # printed as it happened, despite --quiet
    assert err.startswith("physdiff: NaN guard: the loss not finite at step 2; restored the model and optimiser")
    config = write_config(tmp_path / "off.toml", with_changes(training={**blow_up, "nan_guard": {"enabled": False}}))
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "off"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "step 2: the loss is not finite and the NaN guard is disabled" in err
    assert f"start the run over with `physdiff train --config {config} --out {tmp_path / 'off'} --overwrite`" in err
