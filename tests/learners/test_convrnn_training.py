"""The minimal ConvRNNs through the trainer and the command line: train, resume, evaluate, predict."""

from __future__ import annotations

import json

import pytest
import torch

from physdiff.cli import _registry as registry
from physdiff.cli import main
from physdiff.data import generate, read_trajectories
from physdiff.solvers import GrayScott
from physdiff.training import TrainConfig, Trainer, load_learner, read_log
from physdiff.learners import MinConvGRU

CONFIG = """
out = "run"
[data]
path = "train.h5"
val_fraction = 0.25
[model]
name = "{name}"
hidden_channels = [4, 4]
{extra}
[training]
steps = 12
batch_size = 4
context_frames = 3
horizon = 2
validate_every = 4
checkpoint_every = 4
log_every = 4
optimizer = {{ lr = 3e-3 }}
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    generate(GrayScott.percnn_2d(), root / "train.h5", shape=(10, 10), dt=0.5, steps=16, save_every=2,
             n_trajectories=4, seed=0)
    return root


@pytest.mark.parametrize("name, extra", [("minconvlstm", ""), ("convrnn", 'cell = "convgru"')])
def test_cli_train_evaluate_predict(data, tmp_path, monkeypatch, name, extra):
    torch.set_num_threads(1)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train.h5").write_bytes((data / "train.h5").read_bytes())
    (tmp_path / "run.toml").write_text(CONFIG.format(name=name, extra=extra))
    assert main(["train", "--config", "run.toml", "--quiet"]) == 0
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["model"]["config"]["grid"] == [10, 10] and record["model"]["config"]["channels"] == 2
    model = load_learner(tmp_path / "run" / "best.pt", registry.build_learner)
    assert type(model).__name__ == {"minconvlstm": "MinConvLSTM", "convrnn": "ConvRNN"}[name]
    assert main(["evaluate", "run/best.pt", "--data", "train.h5", "--out", "eval"]) == 0
    assert main(["predict", "run/best.pt", "--data", "train.h5", "--out", "p.h5", "--steps", "4"]) == 0
    assert read_trajectories(tmp_path / "p.h5").shape[1] == 3 + 4


def test_trainer_lowers_the_loss_and_resumes_exactly(data, tmp_path):
    torch.set_num_threads(1)
    frames = read_trajectories(data / "train.h5")  # (4, 9, 2, 10, 10)
    windows = [frames[i, s: s + 5] for i in range(4) for s in range(5)]
    config = TrainConfig(steps=30, batch_size=4, context_frames=3, horizon=2, validate_every=10, log_every=10,
                         checkpoint_every=10, optimizer={"lr": 1e-2}, seed=0)

    def make():
        torch.manual_seed(0)
        return MinConvGRU(2, 2, [4], grid=(10, 10))

    Trainer(make(), config, windows, windows[:4], out_dir=tmp_path / "a").fit()
    losses = [r["loss_avg"] for r in read_log(tmp_path / "a") if r.get("kind") == "train"]
    assert losses[-1] < 0.5 * losses[0]
    # an interrupted run (20 steps) resumed to 30 ends with the same weights
    Trainer(make(), TrainConfig(**{**config.to_dict(), "steps": 20}), windows, windows[:4], out_dir=tmp_path / "b").fit()
    resumed = make()
    Trainer(resumed, config, windows, windows[:4], out_dir=tmp_path / "b", resume=True).fit()
    full = load_learner(tmp_path / "a" / "last.pt", registry.build_learner)
    for p, q in zip(full.parameters(), resumed.parameters()):
        torch.testing.assert_close(p, q)
