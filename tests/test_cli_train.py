"""``physdiff train / evaluate / predict``: round trip, resume after an interruption, bad input, torchrun."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from _torchrun import run_torchrun

from physdiff.cli import main
from physdiff.cli import _registry as registry
from physdiff.data import generate, read_info, read_trajectories
from physdiff.solvers import Diffusion, GrayScott
from physdiff.training import evaluate_rollout, load_learner, read_checkpoint, read_log

ROOT = Path(__file__).resolve().parents[1]

#: A tiny ConvLSTM run: 12 x 12 Gray-Scott, frames 1 time unit apart, 9 optimiser steps.
CONFIG = {
    "out": "run",
    "data": {"path": "train.h5", "val_fraction": 0.25},
    "model": {"name": "convlstm", "hidden_channels": [4]},
    "training": {"steps": 9, "batch_size": 4, "context_frames": 2, "horizon": 3, "validate_every": 3,
                 "checkpoint_every": 3, "log_every": 3, "optimizer": {"lr": 3e-3}},
}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # Tiny models: one intra-op thread avoids oversubscription on a loaded 2-core machine.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _toml_value(value) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)  # strings, numbers, booleans and lists of them are the same in TOML


def write_config(path: Path, config: dict) -> Path:
    """``config`` as TOML (``.toml``) or JSON (``.json``)."""
    if path.suffix == ".json":
        path.write_text(json.dumps(config))
        return path
    lines = [f"{k} = {_toml_value(v)}" for k, v in config.items() if not isinstance(v, dict)]
    for section, table in config.items():
        if isinstance(table, dict):
            lines += [f"[{section}]"] + [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def with_changes(**sections) -> dict:
    config = json.loads(json.dumps(CONFIG))
    for section, changes in sections.items():
        if isinstance(changes, dict) and isinstance(config.get(section), dict):
            config[section].update(changes)
        else:
            config[section] = changes
    return config


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Training and test data (Gray-Scott, 2 channels, 2D) and mismatching files."""
    root = tmp_path_factory.mktemp("data")
    gs = dict(shape=(12, 12), dt=0.5, steps=24, save_every=2)
    generate(GrayScott.percnn_2d(), root / "train.h5", n_trajectories=4, seed=0, **gs)
    generate(GrayScott.percnn_2d(), root / "test.h5", n_trajectories=2, seed=10, **gs)
    generate(GrayScott.percnn_2d(), root / "coarse.h5", shape=(12, 12), dt=0.5, steps=24, save_every=3, seed=3)
    generate(Diffusion(1, nu=0.1), root / "line.h5", shape=(16,), dt=0.1, steps=4, save_every=2)
    return root


@pytest.fixture(scope="module")
def trained(files, tmp_path_factory):
    """One complete run through the command line, shared by the tests that only read it."""
    work = tmp_path_factory.mktemp("trained")
    shutil.copy(files / "train.h5", work / "train.h5")
    config = write_config(work / "run.toml", CONFIG)
    assert main(["train", "--config", str(config), "--quiet"]) == 0
    return work


def _hashes(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir()) if p.is_file()}


def test_train_writes_a_run_with_run_json(trained, files):
    run = trained / "run"
    assert sorted(p.name for p in run.iterdir()) == ["best.pt", "last.pt", "metrics.csv", "metrics.jsonl", "run.json"]
    record = json.loads((run / "run.json").read_text())
    info = read_info(files / "train.h5")
    assert record["model"]["name"] == "convlstm" and record["model"]["class"] == "ConvLSTM"
    assert record["model"]["config"]["channels"] == 2 and record["model"]["config"]["ndim"] == 2  # filled from the data
    assert record["data"]["setup_sha256"] == info.provenance.sha256 and record["data"]["channel_names"] == ["u", "v"]
    assert record["frame_step"] == 1 and record["dt"] == 1.0 and record["context_frames"] == 2
    # The statistics the windows were normalised with (TrajectoryWindows: the training file's).
    assert np.allclose(record["normalization"]["mean"], info.mean)
    assert np.allclose(record["normalization"]["std"], info.std)
    assert read_checkpoint(run / "last.pt")["step"] == 9


def test_evaluate_scores_like_the_library_and_draws(trained, files, capsys):
    checkpoint = trained / "run" / "best.pt"
    out = trained / "eval"
    capsys.readouterr()
    assert main(["evaluate", str(checkpoint), "--data", str(files / "test.h5"), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    for fragment in ("RMSE", "MAE", "nRMSE", "HCT", "artefact", "2 trajectories, 2 context frame(s), 11 predicted frames"):
        assert fragment in text
    metrics = json.loads((out / "metrics.json").read_text())
    # The same numbers as evaluate_rollout on a model rebuilt by hand, in physical units.
    record = json.loads((trained / "run" / "run.json").read_text())
    model = load_learner(checkpoint, registry.build_learner)
    shape = (1, 1, 2, 1, 1)
    expected = evaluate_rollout(model, read_trajectories(files / "test.h5"), context_frames=2, dt=1.0,
                                mean=torch.tensor(record["normalization"]["mean"]).reshape(shape),
                                std=torch.tensor(record["normalization"]["std"]).reshape(shape))
    assert metrics["rmse"] == pytest.approx(expected.rmse, rel=1e-6) and metrics["n_steps"] == 11
    assert metrics["hct"] == pytest.approx(expected.hct.tolist()) and len(metrics["error_curve"]) == 11
    assert metrics["artefact_ratio"] == pytest.approx(expected.artefact_ratio, rel=1e-6)
    for name in ("rollout.png", "error_curve.png", "correlation_curve.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"


def test_predict_writes_context_and_rollout(trained, files, tmp_path, capsys):
    checkpoint = trained / "run" / "best.pt"
    assert main(["predict", str(checkpoint), "--data", str(files / "test.h5"), "--out", str(tmp_path / "p.h5"),
                 "--steps", "5"]) == 0
    assert "2 context + 5 predicted frames" in capsys.readouterr().out
    info, predicted = read_info(tmp_path / "p.h5"), read_trajectories(tmp_path / "p.h5")
    truth = read_trajectories(files / "test.h5")
    assert predicted.shape == (2, 7, 2, 12, 12) and list(info.time) == [0, 1, 2, 3, 4, 5, 6]
    assert torch.equal(predicted[:, :2], truth[:, :2])
    options = info.provenance.setup["initial_condition"]["options"]
    assert options["checkpoint_sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert info.provenance.setup["integrator"] == "learner:ConvLSTM" and options["context_frames"] == 2
    capsys.readouterr()
    assert main(["info", str(tmp_path / "p.h5")]) == 0  # a prediction's provenance, not a simulation's
    described = capsys.readouterr().out
    assert "physdiff predict: ConvLSTM rolled out 5 frames 1 apart after 2 context frame(s)" in described
    assert f"{checkpoint} (step " in described and "stencil" not in described and "batch size" not in described
    # A file holding only the context frames predicts the same frames (default: the training horizon).
    context_only = tmp_path / "context.h5"
    from physdiff.data import TrajectoryWriter

    with TrajectoryWriter(context_only, n_trajectories=2, n_frames=2, channel_names=("u", "v"), space_shape=(12, 12),
                          time=[0.0, 1.0]) as writer:
        writer.append(truth[:, :2])
    assert main(["predict", str(checkpoint), "--data", str(context_only), "--out", str(tmp_path / "q.h5")]) == 0
    again = read_trajectories(tmp_path / "q.h5")
    assert again.shape[1] == 2 + 3
    torch.testing.assert_close(again, predicted[:, :5], rtol=0, atol=1e-6)


def test_interrupted_run_resumes_exactly_and_extends(files, tmp_path, monkeypatch, capsys):
    from physdiff.cli import _train

    shutil.copy(files / "train.h5", tmp_path / "train.h5")
    config = write_config(tmp_path / "run.toml", CONFIG)
    calls = _train._TrainProgress.__call__

    def interrupt(self, step, total, metrics):  # Ctrl-C after step 5 (last.pt was written at step 3)
        calls(self, step, total, metrics)
        if step == 5:
            raise KeyboardInterrupt

    monkeypatch.setattr(_train._TrainProgress, "__call__", interrupt)
    assert main(["train", "--config", str(config)]) == 130
    err = capsys.readouterr().err
    assert "loss" in err and "interrupted" in err and "--resume" in err
    assert read_checkpoint(tmp_path / "run" / "last.pt")["step"] == 3
    monkeypatch.undo()
    assert main(["train", "--config", str(config), "--quiet", "--resume"]) == 0
    assert main(["train", "--config", str(config), "--quiet", "--out", str(tmp_path / "straight")]) == 0
    resumed = read_checkpoint(tmp_path / "run" / "last.pt")
    straight = read_checkpoint(tmp_path / "straight" / "last.pt")
    for name, value in straight["model_state"].items():
        assert torch.equal(resumed["model_state"][name], value), name
    # A second resume with more steps continues the same run.
    write_config(config, with_changes(training={"steps": 12}))
    assert main(["train", "--config", str(config), "--quiet", "--resume"]) == 0
    assert read_checkpoint(tmp_path / "run" / "last.pt")["step"] == 12
    assert [r["step"] for r in read_log(tmp_path / "run") if r["kind"] == "val"] == [3, 6, 9, 12]
    assert json.loads((tmp_path / "run" / "run.json").read_text())["training"]["steps"] == 12


def test_a_json_config_trains_the_same_run(trained, tmp_path):
    shutil.copy(trained / "train.h5", tmp_path / "train.h5")
    config = write_config(tmp_path / "run.json", with_changes(training={"steps": 9}))
    assert main(["train", "--config", str(config), "--quiet"]) == 0
    a, b = read_checkpoint(tmp_path / "run" / "last.pt"), read_checkpoint(trained / "run" / "last.pt")
    assert all(torch.equal(a["model_state"][k], v) for k, v in b["model_state"].items())


@pytest.mark.parametrize("config, message", [
    (with_changes(bogus=1), "unknown top-level key 'bogus'"),
    (with_changes(data={"paht": "x.h5"}), "data: unknown key 'paht'"),
    (with_changes(data={"stride": "2"}), "data: stride: expected a positive int"),
    (with_changes(data={"path": 3}), "data: path: expected a path string"),
    (with_changes(model={"name": "lstm"}), "model: name: unknown model 'lstm'; expected one of"),
    (with_changes(model={"hidden": 3}), "model: unknown key 'hidden' for convlstm"),
    (with_changes(model={"hidden_channels": "four"}),
     "model: ConvLSTM: hidden_channels: expected a non-empty tuple of positive ints (one per layer), got 'four'"),
    (with_changes(training={"steps": "many"}), "training: TrainConfig: steps: expected int, got 'many'"),
    (with_changes(training={"optimizer": {"lr": "fast"}}), "training: optimizer: OptimizerConfig: lr: expected float"),
    (with_changes(model={"channels": 3}), "holds 2 channel(s) ['u', 'v'] on a 2D grid (12, 12), but the model"),
    (with_changes(training={"horizon": 20}), "but the file's trajectories have only 13"),
    (with_changes(data={"path": "missing.h5"}), "data: path: trajectory file"),
    ("[data\npath = 1", "not valid TOML"),
])
def test_bad_configs_exit_2_and_write_nothing(files, tmp_path, capsys, config, message):
    shutil.copy(files / "train.h5", tmp_path / "train.h5")
    path = tmp_path / "run.toml"
    if isinstance(config, str):
        path.write_text(config)
    else:
        write_config(path, config)
    assert main(["train", "--config", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"physdiff: error: {path}") and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.toml", "train.h5"]


def test_toml_needs_python_311(tmp_path, monkeypatch, capsys):
    path = write_config(tmp_path / "run.toml", CONFIG)
    monkeypatch.setattr(sys, "version_info", (3, 10, 12, "final", 0))
    assert main(["train", "--config", str(path)]) == 2
    assert "needs Python >= 3.11 (tomllib); this is Python 3.10. Write the same tables as a JSON file" in \
        capsys.readouterr().err


def test_an_existing_run_is_refused_without_resume_and_left_intact(trained, capsys):
    before = _hashes(trained / "run")
    assert main(["train", "--config", str(trained / "run.toml"), "--quiet"]) == 2
    err = capsys.readouterr().err
    command = f"physdiff train --config {trained / 'run.toml'} --out {trained / 'run'}"
    assert f"already holds a run (last.pt, metrics.jsonl); continue it with `{command} --resume`" in err
    assert f"start it over with `{command} --overwrite`" in err
    assert _hashes(trained / "run") == before
    assert main(["train", "--config", str(trained / "run.toml"), "--out", str(trained / "nothing"), "--resume"]) == 2
    assert "there is no run to continue" in capsys.readouterr().err and not (trained / "nothing").exists()


@pytest.mark.parametrize("changes, message", [
    ({"model": {"hidden_channels": [6]}}, "hidden_channels: checkpoint [4] vs model [6]"),
    ({"data": {"path": "test.h5"}}, "run.json: the run was trained on other data; differing: data.content_sha256 (run: "),
    ({"training": {"horizon": 2}}, "training configuration differs from the checkpoint's: horizon"),
])
def test_resume_with_another_model_or_data_is_refused(trained, files, tmp_path, capsys, changes, message):
    shutil.copytree(trained / "run", tmp_path / "run")
    for name in ("train.h5", "test.h5"):
        shutil.copy(files / name, tmp_path / name)
    before = _hashes(tmp_path / "run")
    config = write_config(tmp_path / "run.toml", with_changes(**changes))
    assert main(["train", "--config", str(config), "--quiet", "--resume"]) == 2
    assert message in capsys.readouterr().err
    assert _hashes(tmp_path / "run") == before


def _corrupt(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:500])


def _foreign(path: Path) -> None:
    checkpoint = torch.load(path, weights_only=True)
    torch.save({**checkpoint, "model_class": "Mystery"}, path)


def _other_run(path: Path) -> None:
    record = json.loads((path.parent / "run.json").read_text())
    record["model"]["config"]["hidden_channels"] = [8]
    (path.parent / "run.json").write_text(json.dumps(record))


@pytest.mark.parametrize("command", ["evaluate", "predict"])
@pytest.mark.parametrize("change, data, extra, message", [
    (None, "line.h5", [], "holds 1 channel(s) ['u'] on a 1D grid (16,), but the model (ConvLSTM) was trained on 2"),
    (None, "coarse.h5", [], "frames every 1.5 time units, but the model steps 1"),
    (None, "test.h5", ["--context", "20"], "--context 20 model frames, but the file holds only 13"),
    (_corrupt, "test.h5", [], "the file is truncated or corrupt"),
    (_foreign, "test.h5", [], "holds a Mystery model, which the command line cannot rebuild"),
    (_other_run, "test.h5", [], "the checkpoint belongs to another run"),
    (lambda p: (p.parent / "run.json").unlink(), "test.h5", [], "run.json: missing"),
])
def test_bad_evaluate_and_predict_input_exits_2(trained, files, tmp_path, capsys, command, change, data, extra,
                                                message):
    shutil.copytree(trained / "run", tmp_path / "run")
    checkpoint = tmp_path / "run" / "best.pt"
    if change is not None:
        change(checkpoint)
    args = [command, str(checkpoint), "--data", str(files / data), "--out", str(tmp_path / "out"), *extra]
    assert main(args if command == "predict" else [*args, "--no-plots"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("extra, message", [
    (["--steps", "12"], "--context 2 + --steps 12 = 14 model frames, but the file holds only 13"),
    (["--trajectories", "0,5"], "--trajectories: index 5 out of range"),
])
def test_evaluate_refuses_rollouts_longer_than_the_data(trained, files, tmp_path, capsys, extra, message):
    args = ["evaluate", str(trained / "run" / "best.pt"), "--data", str(files / "test.h5"),
            "--out", str(tmp_path / "e")]
    assert main([*args, *extra]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "e").exists()


@pytest.mark.parametrize("ndim", [1, 3])
def test_evaluation_plots_in_1d_and_3d(tmp_path, ndim):
    from physdiff.cli._evaluation_plots import plot_evaluation

    space = (8,) * ndim
    truth = torch.rand(2, 5, 1, *space)
    evaluation = SimpleNamespace(targets=truth, predictions=truth + 0.1, time=torch.arange(1.0, 6.0),
                                 error_curve=torch.full((5,), 0.1), correlation_curve=torch.rand(2, 5))
    info = SimpleNamespace(space_shape=space, coordinates=[np.arange(8.0)] * ndim, channel_names=("u",))
    written = plot_evaluation(evaluation, info, tmp_path, ids=[0, 1], t0=0.0, title="t")
    assert [p.name for p in written] == ["rollout.png", "error_curve.png", "correlation_curve.png"]
    assert all(p.stat().st_size > 1000 for p in written)


def test_torchrun_two_processes_write_one_run(files, tmp_path):
    shutil.copy(files / "train.h5", tmp_path / "train.h5")
    config = write_config(tmp_path / "run.toml", with_changes(training={"steps": 3}))
    done = run_torchrun(["-m", "physdiff", "train", "--config", str(config), "--quiet"], cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("3 steps (completed); best val_rmse") == 1  # rank 0 only
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "best.pt", "last.pt", "metrics.csv", "metrics.jsonl", "run.json"]
    assert read_checkpoint(tmp_path / "run" / "last.pt")["world_size"] == 2
