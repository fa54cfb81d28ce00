"""Two gloo processes under torchrun train exactly like one process on the same global batches."""

from __future__ import annotations

from pathlib import Path

import torch

from _torchrun import run_torchrun  # tests/ is on sys.path (pytest rootdir insertion)

from physdiff.training import read_checkpoint, read_log

from .ddp_script import run

SCRIPT = Path(__file__).with_name("ddp_script.py")


def test_two_processes_equal_one(tmp_path):
    done = run_torchrun([str(SCRIPT), str(tmp_path / "ddp")])
    assert done.returncode == 0, done.stderr[-3000:]
    single = run(str(tmp_path / "single"))
    assert single.steps == 6
    a, b = read_checkpoint(tmp_path / "ddp" / "last.pt"), read_checkpoint(tmp_path / "single" / "last.pt")
    assert a["step"] == b["step"] == 6 and (a["world_size"], b["world_size"]) == (2, 1)
    for name, value in b["model_state"].items():
        torch.testing.assert_close(a["model_state"][name], value, rtol=0, atol=1e-10)
    losses = [[(r["step"], r["kind"], r.get("loss", r.get("val_rmse"))) for r in read_log(tmp_path / run_dir)]
              for run_dir in ("ddp", "single")]
    assert [x[:2] for x in losses[0]] == [x[:2] for x in losses[1]] and len(losses[0]) == 8
    for (_, _, x), (_, _, y) in zip(*losses):
        assert abs(x - y) < 1e-10
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == ["best.pt", "last.pt", "metrics.csv", "metrics.jsonl"]
