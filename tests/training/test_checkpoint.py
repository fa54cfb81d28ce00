"""Checkpoints: atomic writes, their contents, refusal of other models and corrupt files, rebuilding."""

from __future__ import annotations

import pytest
import torch

from physdiff import PhysdiffError
from physdiff.training import (
    CHECKPOINT_FORMAT, TrainConfig, Trainer, load_learner, load_weights, read_checkpoint, save_checkpoint,
)

from ._helpers import LinearConv, advected, build, windows

TRAIN = windows(advected(n=2), 3)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    torch.manual_seed(0)
    model = LinearConv(kernel_size=5).double()
    cfg = TrainConfig(steps=3, batch_size=4, horizon=2, dtype="float64", checkpoint_every=1, validate_every=1)
    Trainer(model, cfg, TRAIN, TRAIN[:4], out_dir=out).fit()
    return out, model


def test_contents(run):
    out, model = run
    ckpt = read_checkpoint(out / "last.pt")
    assert ckpt["format"] == CHECKPOINT_FORMAT and ckpt["model_class"] == "LinearConv" and ckpt["step"] == 3
    assert ckpt["model_config"] == {"channels": 1, "ndim": 1, "kernel_size": 5, "time_step": None, "nan_at": None,
                                    "nan_from": None, "aux_weight": 0.0, "noise": 0.0}
    assert set(ckpt) >= {"optimizer_state", "train_config", "guard", "rng", "data_order", "schedule", "progress"}
    assert set(ckpt["rng"]["global"]) >= {"torch", "python", "numpy"} and "teacher_forcing" in ckpt["rng"]
    assert TrainConfig.from_dict(ckpt["train_config"]).steps == 3
    for name, value in model.state_dict().items():
        assert torch.equal(ckpt["model_state"][name], value)
    assert not list(out.glob(".*.tmp"))  # no temporary files left behind


def test_load_learner_and_load_weights(run):
    out, model = run
    rebuilt = load_learner(out / "best.pt", build)
    assert isinstance(rebuilt, LinearConv) and not rebuilt.training and rebuilt.conv.weight.dtype == torch.float64
    assert torch.equal(rebuilt.conv.weight, read_checkpoint(out / "best.pt")["model_state"]["conv.weight"])
    fresh = LinearConv(kernel_size=5).double()
    info = load_weights(fresh, out / "last.pt")
    assert info["step"] == 3 and torch.equal(fresh.conv.weight, model.conv.weight)
    x = torch.randn(2, 1, 1, 16, dtype=torch.float64)
    torch.testing.assert_close(fresh.predict(x, 3), model.predict(x, 3), rtol=0, atol=0)


@pytest.mark.parametrize("other, fragment", [
    (lambda: torch.nn.Linear(1, 1), "holds a LinearConv model, but the model given is a Linear"),
    (lambda: LinearConv(kernel_size=3), "kernel_size: checkpoint 5 vs model 3"),
])
def test_another_model_is_refused(run, other, fragment):
    out, _ = run
    with pytest.raises(PhysdiffError, match=fragment):
        load_weights(other(), out / "last.pt")


def test_resume_with_another_model_is_refused(run, tmp_path):
    out, _ = run
    target = tmp_path / "run"
    target.mkdir()
    (target / "last.pt").write_bytes((out / "last.pt").read_bytes())
    cfg = TrainConfig(steps=4, batch_size=4, horizon=2, dtype="float64", checkpoint_every=1, validate_every=1)
    with pytest.raises(PhysdiffError, match=r"last.pt'.*kernel_size: checkpoint 5 vs model 3"):
        Trainer(LinearConv(kernel_size=3), cfg, TRAIN, out_dir=target, resume=True)


@pytest.mark.parametrize("damage, fragment", [
    (lambda b: b[: len(b) // 2], "truncated or corrupt"),
    (lambda b: b"garbage" * 10, "truncated or corrupt"),
    (lambda b: b"", "truncated or corrupt"),
])
def test_corrupt_checkpoints_are_refused(run, tmp_path, damage, fragment):
    out, _ = run
    bad = tmp_path / "bad.pt"
    bad.write_bytes(damage((out / "last.pt").read_bytes()))
    with pytest.raises(PhysdiffError, match=f"checkpoint '.*bad.pt'.*{fragment}"):
        load_learner(bad, build)
    with pytest.raises(PhysdiffError, match="bad.pt"):
        load_weights(LinearConv(kernel_size=5), bad)


def test_foreign_and_missing_files(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(PhysdiffError, match="not a physdiff checkpoint"):
        read_checkpoint(tmp_path / "foreign.pt")
    with pytest.raises(PhysdiffError, match="no such file"):
        read_checkpoint(tmp_path / "missing.pt")


def test_best_checkpoint_cannot_resume(run, tmp_path):
    out, _ = run
    target = tmp_path / "run"
    target.mkdir()
    (target / "last.pt").write_bytes((out / "best.pt").read_bytes())
    cfg = TrainConfig(steps=4, batch_size=4, horizon=2, dtype="float64")
    with pytest.raises(PhysdiffError, match="not a training checkpoint"):
        Trainer(LinearConv(kernel_size=5).double(), cfg, TRAIN, out_dir=target, resume=True)


def test_builder_failure_is_reported(run):
    out, _ = run

    def broken(name, config):
        raise KeyError(name)

    with pytest.raises(PhysdiffError, match="cannot build a LinearConv"):
        load_learner(out / "last.pt", broken)


def test_an_interrupted_save_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"format": CHECKPOINT_FORMAT, "version": 1, "step": 1})
    before = path.read_bytes()

    def dies_halfway(obj, handle, *args, **kwargs):
        handle.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt  # e.g. Ctrl-C while writing

    monkeypatch.setattr(torch, "save", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"format": CHECKPOINT_FORMAT, "version": 1, "step": 2})
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["last.pt"]
