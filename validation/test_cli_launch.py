"""``physdiff train --nproc-per-node 2``: a real two-process launch (about 30 s on a loaded 2-core machine,
too long for the unit tests; the checks before the launch are in tests/test_cli_recovery.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from physdiff.data import generate
from physdiff.solvers import GrayScott
from physdiff.training import read_checkpoint

CONFIG = {
    "out": "run",
    "data": {"path": "train.h5", "val_fraction": 0.25},
    "model": {"name": "convlstm", "hidden_channels": [4]},
    "training": {"steps": 3, "batch_size": 4, "context_frames": 2, "horizon": 3, "validate_every": 3,
                 "checkpoint_every": 3, "log_every": 3},
}


def test_nproc_per_node_trains_in_two_processes(tmp_path, figures):
    generate(GrayScott.percnn_2d(), tmp_path / "train.h5", shape=(12, 12), dt=0.5, steps=24, save_every=2,
             n_trajectories=4)
    (tmp_path / "run.json").write_text(json.dumps(CONFIG))
    command = [sys.executable, "-m", "physdiff", "train", "--config", str(tmp_path / "run.json"), "--nproc-per-node",
               "2", "--threads", "1", "--quiet", "--overwrite"]
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    for attempt in range(3):  # as tests/_torchrun.py: a launch on a loaded machine can time out
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=240)
        if done.returncode == 0:
            break
    figures(f"launch attempts {attempt + 1}")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("3 steps (completed)") == 1 and "Traceback" not in done.stderr
    assert read_checkpoint(tmp_path / "run" / "last.pt")["world_size"] == 2
