"""The plateau schedule: the learning rate falls when validation stalls, the run ends when it stalls at the floor."""

from __future__ import annotations

import pytest
import torch

from physdiff import PhysdiffError
from physdiff.training import (
    ScheduleConfig,
    TrainConfig,
    Trainer,
    read_checkpoint,
    read_log,
)

from ._helpers import LinearConv
from .test_trainer import TRAIN, VAL, config, model, params

PLATEAU = {"name": "plateau", "gamma": 0.1, "min_factor": 0.01, "patience": 2, "threshold": 0.01}


def lrs(records):
    return [r["lr"] for r in records if r["kind"] == "train"]


def test_the_factor_falls_on_plateaus_and_the_run_converges(tmp_path):
    # lr 0.5 is far too high for LinearConv: the validation error stalls at once, so the factor
    # must fall 1 -> 0.1 -> 0.01 (2 validations each) and 2 more validations end the run.
    cfg = config(steps=500, validate_every=1, optimizer={"lr": 0.5}, schedule=PLATEAU)
    result = Trainer(model(), cfg, TRAIN, VAL, out_dir=tmp_path).fit()
    assert result.stopped == "converged" and result.steps < 500
    events = [r["event"] for r in result.history if r["kind"] == "event"]
    assert events == ["plateau", "plateau", "converged"]
    seen = sorted(set(lrs(result.history)), reverse=True)
    assert seen == pytest.approx([0.5, 0.05, 0.005])
    assert read_checkpoint(tmp_path / "last.pt")["step"] == result.steps
    # the learning rate drops right after the plateau event's validation
    first_drop = next(r["step"] for r in result.history if r.get("event") == "plateau")
    by_step = {r["step"]: r["lr"] for r in result.history if r["kind"] == "train"}
    assert by_step[first_drop] == pytest.approx(0.5) and by_step[first_drop + 1] == pytest.approx(0.05)


def test_steady_improvement_keeps_the_full_learning_rate(tmp_path):
    # A learnable problem at a sound lr improves by more than 1 % per validation: no plateau.
    cfg = config(steps=40, validate_every=10, checkpoint_every=20, schedule=PLATEAU)
    result = Trainer(model(), cfg, TRAIN, VAL, out_dir=tmp_path).fit()
    assert result.stopped == "completed"
    assert set(lrs(result.history)) == {1e-2}


def test_resume_continues_the_same_schedule(tmp_path):
    cfg = config(steps=30, validate_every=1, checkpoint_every=3, optimizer={"lr": 0.5},
                 schedule={**PLATEAU, "patience": 3})
    whole = model()
    done = Trainer(whole, cfg, TRAIN, VAL, out_dir=tmp_path / "whole").fit()
    assert done.stopped == "converged"

    class Crash(Exception):
        pass

    def crash(step, total, metrics):
        if step == 8:  # after the first plateau (step 3 + 3 bad validations), mid-way through the second
            raise Crash

    with pytest.raises(Crash):
        Trainer(model(), cfg, TRAIN, VAL, out_dir=tmp_path / "cut", progress=crash).fit()
    resumed = LinearConv().double()
    result = Trainer(resumed, cfg, TRAIN, VAL, out_dir=tmp_path / "cut", resume=True).fit()
    assert (result.steps, result.stopped) == (done.steps, "converged")
    assert torch.equal(params(resumed), params(whole))
    assert lrs(read_log(tmp_path / "cut")) == lrs(read_log(tmp_path / "whole"))
    # resuming a converged run trains nothing more
    again = Trainer(LinearConv().double(), cfg, TRAIN, VAL, out_dir=tmp_path / "cut", resume=True).fit()
    assert (again.steps, again.stopped) == (done.steps, "converged")


def test_plateau_needs_validation_data(tmp_path):
    with pytest.raises(PhysdiffError, match="no validation data"):
        Trainer(model(), config(schedule=PLATEAU), TRAIN, out_dir=tmp_path)


@pytest.mark.parametrize("bad, field", [({"gamma": 1.0}, "gamma"), ({"min_factor": 0.0}, "min_factor"),
                                        ({"threshold": 1.0}, "threshold"), ({"patience": 0}, "patience")])
def test_plateau_settings_are_checked(bad, field):
    with pytest.raises(PhysdiffError, match=f"ScheduleConfig: {field}: expected"):
        TrainConfig(schedule={**PLATEAU, **bad})
    assert ScheduleConfig(**PLATEAU).name == "plateau"
