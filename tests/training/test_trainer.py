"""The training loop: learning, exact resumption, the NaN guard, validation, logs, bad input."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from physdiff import PhysdiffError
from physdiff.training import TrainConfig, Trainer, read_checkpoint, read_log, seed_everything

from ._helpers import LinearConv, advected, windows

TRAJ = advected()
TRAIN, VAL = windows(TRAJ[:4], 5), windows(TRAJ[4:], 5)  # 32 and 16 windows of 5 frames


def config(**overrides) -> TrainConfig:
    base = dict(steps=12, batch_size=4, context_frames=1, horizon=4, dtype="float64", validate_every=4,
                checkpoint_every=4, log_every=1, optimizer={"lr": 1e-2})
    base.update(overrides)
    return TrainConfig(**base)


def model(**kwargs) -> LinearConv:
    seed_everything(0)
    return LinearConv(**kwargs).double()


def params(m: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in m.parameters()])


def test_training_lowers_the_validation_error(tmp_path):
    m = model()
    result = Trainer(m, config(steps=40, validate_every=10, checkpoint_every=20), TRAIN, VAL, out_dir=tmp_path).fit()
    vals = [r["val_rmse"] for r in result.history if r["kind"] == "val"]
    assert result.steps == 40 and result.stopped == "completed" and len(vals) == 4
    assert vals[-1] < 0.6 * vals[0]
    assert result.best_metrics["val_rmse"] == min(vals) and result.best_checkpoint == tmp_path / "best.pt"
    assert read_checkpoint(tmp_path / "best.pt")["step"] == result.best_step


class Crash(Exception):
    pass


def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path):
    # Teacher forcing, a curriculum, a cosine schedule with warm-up, several epochs, global-RNG noise
    # and the NaN guard's snapshots: everything a checkpoint must carry.
    cfg = config(steps=14, checkpoint_every=5, validate_every=3, teacher_forcing={"start": 0.9, "end": 0.1,
                 "decay_steps": 10}, curriculum={"start": 2, "steps": 8}, schedule={"name": "cosine", "warmup_steps": 2},
                 grad_clip=1.0)
    whole = model(noise=1e-3)
    Trainer(whole, cfg, TRAIN, VAL, out_dir=tmp_path / "whole").fit()

    def crash_at_7(step, total, metrics):
        if step == 7:
            raise Crash

    with pytest.raises(Crash):
        Trainer(model(noise=1e-3), cfg, TRAIN, VAL, out_dir=tmp_path / "cut", progress=crash_at_7).fit()
    lines_before = (tmp_path / "cut" / "metrics.jsonl").read_text()
    assert read_checkpoint(tmp_path / "cut" / "last.pt")["step"] == 5
    resumed = LinearConv(noise=1e-3).double()  # other initial weights: the checkpoint's must win
    result = Trainer(resumed, cfg, TRAIN, VAL, out_dir=tmp_path / "cut", resume=True).fit()
    assert result.steps == 14
    assert torch.equal(params(resumed), params(whole))  # bit for bit
    text = (tmp_path / "cut" / "metrics.jsonl").read_text()
    kept = [line for line in lines_before.splitlines() if json.loads(line)["step"] <= 5]
    assert len(kept) < len(lines_before.splitlines())  # the crash came after records of steps 6 and 7
    assert text.splitlines()[: len(kept)] == kept  # what the checkpoint covers is kept as written

    def losses(records):
        return [(r["step"], r["kind"], r.get("loss"), r.get("loss_avg"), r.get("val_rmse"), r.get("lr"),
                 r.get("horizon"), r.get("teacher_forcing")) for r in records if r["kind"] != "event"]

    assert losses(read_log(tmp_path / "cut")) == losses(read_log(tmp_path / "whole"))
    # The superseded records of steps 6 and 7 are gone from both files: what they hold is the resumed run.
    assert [json.loads(line) for line in text.splitlines()] == read_log(tmp_path / "cut")
    rows = (tmp_path / "cut" / "metrics.csv").read_text().splitlines()
    assert len(rows) == 1 + len(text.splitlines()) and [r.split(",")[0] for r in rows[1:]] == [
        str(json.loads(line)["step"]) for line in text.splitlines()]


def test_nan_guard_rolls_back_lowers_the_lr_and_finishes(tmp_path):
    m = model(nan_at=3)  # the third training forward (step 3) returns NaN once
    after, shown = {}, {}

    def progress(step, total, metrics):
        after[step] = params(m).clone()
        shown[step] = metrics["events"]  # what `physdiff train` prints on the terminal

    cfg = config(steps=8, log_every=1, validate_every=100, nan_guard={"lr_factor": 0.5})
    result = Trainer(m, cfg, TRAIN, out_dir=tmp_path, progress=progress).fit()
    assert [(k, len(v)) for k, v in shown.items() if v] == [(3, 1)] and "NaN guard: the loss not finite" in shown[3][0]
    assert result.steps == 8 and result.nan_recoveries == 1 and torch.isfinite(params(m)).all()
    events = [r for r in result.history if r.get("event") == "nan_guard"]
    assert len(events) == 1 and events[0]["step"] == 3 and "learning-rate scale now 0.5" in events[0]["message"]
    lrs = {r["step"]: r["lr"] for r in result.history if r["kind"] == "train"}
    assert lrs[2] == lrs[3] == 1e-2 and lrs[4] == lrs[8] == 5e-3
    # Rolled back to the start of the last finite step (step 2), i.e. the state after step 1.
    assert torch.equal(after[3], after[1])
    assert read_checkpoint(tmp_path / "last.pt")["guard"]["lr_scale"] == 0.5


def test_nan_guard_gives_up_with_advice(tmp_path):
    cfg = config(steps=20, checkpoint_every=2, nan_guard={"max_retries": 3})
    with pytest.raises(PhysdiffError, match=r"not finite for the 4th step in a row.*max_retries = 3.*last.pt"):
        Trainer(model(nan_from=5), cfg, TRAIN, out_dir=tmp_path).fit()
    assert read_checkpoint(tmp_path / "last.pt")["step"] == 6  # written after the rollback of step 6: a good state
    events = [(r["step"], r["event"]) for r in read_log(tmp_path) if r["kind"] == "event"]
    assert events == [(5, "nan_guard"), (6, "nan_guard"), (7, "nan_guard"), (8, "nan_guard_stop")]


def test_disabled_nan_guard_fails_at_once(tmp_path):
    with pytest.raises(PhysdiffError, match="NaN guard is disabled"):
        Trainer(model(nan_at=2), config(nan_guard={"enabled": False}), TRAIN, out_dir=tmp_path).fit()


def test_early_stopping_and_best_model(tmp_path):
    cfg = config(steps=200, validate_every=1, early_stopping_patience=2, optimizer={"lr": 0.5})  # lr far too high
    result = Trainer(model(), cfg, TRAIN, VAL, out_dir=tmp_path).fit()
    assert result.stopped == "early_stopping" and result.steps < 200
    vals = [r["val_rmse"] for r in result.history if r["kind"] == "val"]
    assert result.steps == len(vals) and result.best_step <= result.steps - 2
    assert any(r.get("event") == "early_stopping" for r in result.history)
    assert read_checkpoint(tmp_path / "last.pt")["step"] == result.steps


@pytest.mark.parametrize("options", [
    {"checkpoint_rollout": True, "checkpoint_segment": 2},
    {"detach_every": 2},
    {"teacher_forcing": {"start": 1.0, "end": 0.0, "decay_steps": 4, "kind": "inverse_sigmoid"}},
])
def test_memory_and_teacher_forcing_options_train(tmp_path, options):
    m = model()
    result = Trainer(m, config(steps=6, **options), TRAIN, out_dir=tmp_path).fit()
    losses = [r["loss"] for r in result.history if r["kind"] == "train"]
    assert len(losses) == 6 and all(torch.isfinite(torch.tensor(losses)))


def test_checkpointed_rollout_gives_the_same_gradients_as_plain(tmp_path):
    a, b = model(), model()
    Trainer(a, config(steps=3), TRAIN, out_dir=tmp_path / "a").fit()
    Trainer(b, config(steps=3, checkpoint_rollout=True), TRAIN, out_dir=tmp_path / "b").fit()
    torch.testing.assert_close(params(a), params(b), rtol=0, atol=1e-14)


def test_curriculum_and_teacher_forcing_are_logged(tmp_path):
    cfg = config(steps=8, horizon=4, curriculum={"start": 1, "steps": 6}, teacher_forcing={"start": 1.0, "end": 0.0,
                 "decay_steps": 4})
    history = Trainer(model(), cfg, TRAIN, out_dir=tmp_path).fit().history
    train = [r for r in history if r["kind"] == "train"]
    assert [r["horizon"] for r in train] == [1, 1, 2, 2, 3, 3, 4, 4]
    assert [r["teacher_forcing"] for r in train] == [1.0, 0.75, 0.5, 0.25, 0.0, 0.0, 0.0, 0.0]


def test_auxiliary_loss_is_added_and_logged(tmp_path):
    history = Trainer(model(aux_weight=1.0), config(steps=2), TRAIN, out_dir=tmp_path).fit().history
    first = history[0]
    assert first["aux_loss"] > 0 and first["loss"] > first["aux_loss"]


def test_prediction_loss_of_the_learner_is_added_to_the_mse(tmp_path):
    m = model()
    seen = []

    def prediction_loss(prediction, targets):
        seen.append((prediction.shape, targets.shape))
        return 5.0 + 0 * prediction.sum()

    m.prediction_loss = prediction_loss
    first = Trainer(m, config(steps=1, horizon=2), TRAIN, out_dir=tmp_path).fit().history[0]
    assert first["aux_loss"] == pytest.approx(5.0) and first["loss"] > 5.0
    assert seen[0][0] == seen[0][1] and seen[0][0][1] == 2


def test_log_files(tmp_path):
    Trainer(model(), config(steps=4, log_every=2, validate_every=2), TRAIN, VAL, out_dir=tmp_path).fit()
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [(r["step"], r["kind"]) for r in rows] == [(2, "train"), (2, "val"), (4, "train"), (4, "val")]
    csv_lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert csv_lines[0].startswith("step,kind,time,loss") and len(csv_lines) == 5


def test_compile_failure_falls_back_to_eager(tmp_path, monkeypatch):
    def broken_compile(fn, **kwargs):
        def run(*args):
            raise RuntimeError("no compiler here")
        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    m = model()
    with pytest.warns(UserWarning, match="torch.compile of LinearConv.step failed"):
        result = Trainer(m, config(steps=2, compile=True), TRAIN, out_dir=tmp_path).fit()
    assert result.steps == 2 and "step" not in vars(m)  # the instance's override is gone afterwards


def test_amp_on_cpu_warns_and_trains_in_full_precision(tmp_path):
    with pytest.warns(UserWarning, match="mixed precision needs CUDA"):
        trainer = Trainer(model().float(), config(steps=1, amp=True, dtype="float32", device="cpu"), TRAIN,
                          out_dir=tmp_path)
    assert not trainer.amp and trainer.device.type == "cpu" and next(trainer.model.parameters()).dtype == torch.float32
    trainer.fit()


def test_auto_device_is_cpu_without_cuda(tmp_path):
    trainer = Trainer(model(), config(steps=1), TRAIN, out_dir=tmp_path)
    assert trainer.device == (torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu"))


@pytest.mark.parametrize("make, fragment", [
    (lambda: (model(), config(horizon=5), TRAIN, None), "windows have 5 frames, but context_frames \\+ horizon"),
    (lambda: (model(channels=2), config(), TRAIN, None), "expected frames \\(B, T, 2, \\*space\\)"),
    (lambda: (model(ndim=2), config(), TRAIN, None), "with 2 spatial axes"),
    (lambda: (model(), config(batch_size=64), TRAIN, None), "32 windows, fewer than batch_size = 64"),
    (lambda: (model(), config(), TRAIN, [torch.zeros(5, 1, 8, 8)]), "validation data"),
    (lambda: (torch.nn.Linear(2, 2), config(), TRAIN, None), "expected a physdiff SequenceLearner"),
])
def test_bad_input(tmp_path, make, fragment):
    m, cfg, train, val = make()
    with pytest.raises(PhysdiffError, match=fragment):
        Trainer(m, cfg, train, val, out_dir=tmp_path).fit()


def test_a_used_run_directory_is_never_overwritten(tmp_path):
    Trainer(model(), config(steps=2), TRAIN, out_dir=tmp_path).fit()
    before = (tmp_path / "last.pt").read_bytes()
    with pytest.raises(PhysdiffError, match="already holds a run.*resume=True"):
        Trainer(model(), config(steps=2), TRAIN, out_dir=tmp_path)
    assert (tmp_path / "last.pt").read_bytes() == before


def test_resume_needs_a_checkpoint_unless_auto(tmp_path):
    with pytest.raises(PhysdiffError, match="resume=True but .*last.pt' does not exist"):
        Trainer(model(), config(), TRAIN, out_dir=tmp_path / "new", resume=True)
    assert Trainer(model(), config(steps=1), TRAIN, out_dir=tmp_path / "auto", resume="auto").fit().steps == 1


def test_resume_refuses_other_training_data(tmp_path):
    Trainer(model(), config(steps=2), TRAIN, out_dir=tmp_path).fit()
    with pytest.raises(PhysdiffError, match="trained on 32 training windows, the data given now has 16"):
        Trainer(model(), config(steps=4), VAL, out_dir=tmp_path, resume=True)


def test_resume_refuses_another_training_configuration(tmp_path):
    Trainer(model(), config(steps=2), TRAIN, out_dir=tmp_path).fit()
    with pytest.raises(PhysdiffError, match=r"batch_size: checkpoint 4 vs now 8.*may change on resume"):
        Trainer(model(), config(steps=4, batch_size=8), TRAIN, out_dir=tmp_path, resume=True)
    # More steps is allowed: the run goes on.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert Trainer(model(), config(steps=4), TRAIN, out_dir=tmp_path, resume=True).fit().steps == 4


def test_compile_is_not_combined_with_checkpointing(tmp_path):
    with pytest.warns(UserWarning, match="not used together with checkpoint_rollout"):
        Trainer(model(), config(steps=1, compile=True, checkpoint_rollout=True), TRAIN, out_dir=tmp_path).fit()


def test_tensorboard_is_optional(tmp_path):
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        with pytest.warns(UserWarning, match="tensorboard package is not installed"):
            Trainer(model(), config(steps=1, tensorboard=True), TRAIN, out_dir=tmp_path).fit()
        assert not (tmp_path / "tensorboard").exists()
    else:
        Trainer(model(), config(steps=1, tensorboard=True), TRAIN, out_dir=tmp_path).fit()
        assert any((tmp_path / "tensorboard").iterdir())
    assert (tmp_path / "metrics.jsonl").exists()
