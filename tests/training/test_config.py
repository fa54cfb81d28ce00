"""Configuration dataclasses and the per-step schedules."""

from __future__ import annotations

import math

import pytest

from physdiff import PhysdiffError
from physdiff.training import (
    CurriculumConfig, ScheduleConfig, TeacherForcingConfig, TrainConfig, horizon_at, lr_factor, teacher_forcing_at,
)


def test_from_dict_round_trip_and_coercion():
    cfg = TrainConfig.from_dict({"steps": 5, "grad_clip": 1, "optimizer": {"name": "adamw", "betas": [0.8, 0.9]},
                                 "teacher_forcing": {"start": 1, "kind": "exponential"}}, "run.toml")
    assert cfg.grad_clip == 1.0 and isinstance(cfg.grad_clip, float) and cfg.optimizer.betas == (0.8, 0.9)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert TrainConfig(optimizer={"lr": 0.1}).optimizer.lr == 0.1  # nested sections also as mappings


@pytest.mark.parametrize("mapping, fragment", [
    ({"stepz": 3}, r"run.toml: TrainConfig: unknown key 'stepz'; expected one of steps, "),
    ({"steps": "3"}, r"run.toml: TrainConfig: steps: expected int, got '3' \(str\)"),
    ({"steps": 2.0}, r"steps: expected int, got 2.0 \(float\)"),
    ({"compile": 1}, r"compile: expected bool, got 1 \(int\)"),
    ({"grad_clip": "big"}, r"grad_clip: expected float or None"),
    ({"optimizer": {"lr": "fast"}}, r"run.toml: optimizer: OptimizerConfig: lr: expected float"),
    ({"optimizer": {"momentum": 0.9}}, r"run.toml: optimizer: OptimizerConfig: unknown key 'momentum'"),
    ({"optimizer": {"betas": [0.9]}}, r"betas: expected \[float, float\]"),
    ({"optimizer": 3}, r"optimizer: expected a mapping \(OptimizerConfig fields\)"),
    ({"optimizer": {"name": "sgd"}}, r"name: expected one of 'adam', 'adamw'"),
    ({"steps": 0}, r"run.toml: TrainConfig: steps: expected a finite number >= 1, got 0"),
    ({"dtype": "float16"}, r"dtype: expected one of 'float32', 'float64'"),
    ({"teacher_forcing": {"start": 1.5}}, r"start: expected a probability in \[0, 1\]"),
    ({"schedule": {"name": "linear"}}, r"name: expected one of 'constant', 'cosine', 'step'"),
    ({"horizon": 2, "curriculum": {"start": 3}}, r"curriculum.start: expected at most horizon = 2"),
    ({"amp": True, "dtype": "float64"}, r"amp: .*dtype 'float64'"),
    ({"nan_guard": {"lr_factor": 0.0}}, r"lr_factor: expected a number in \(0, 1\]"),
])
def test_bad_settings_name_the_key_and_the_file(mapping, fragment):
    with pytest.raises(PhysdiffError, match=fragment):
        TrainConfig.from_dict(mapping, "run.toml")


def test_not_a_mapping():
    with pytest.raises(PhysdiffError, match="run.toml: TrainConfig: expected a mapping"):
        TrainConfig.from_dict([("steps", 1)], "run.toml")


@pytest.mark.parametrize("schedule, expected", [
    (ScheduleConfig(), [1.0] * 5),
    (ScheduleConfig(name="step", step_size=2, gamma=0.5), [1.0, 1.0, 0.5, 0.5, 0.25]),
    (ScheduleConfig(name="cosine"), [1.0, 0.5 * (1 + math.cos(math.pi / 4)), 0.5, 0.5 * (1 + math.cos(3 * math.pi / 4)), 0.0]),
    (ScheduleConfig(name="cosine", min_factor=0.2, warmup_steps=2), [0.5, 1.0, 1.0, 0.6, 0.2]),
])
def test_lr_factor(schedule, expected):
    got = [lr_factor(schedule, s, 5) for s in range(5)]
    assert got == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("curriculum, expected", [
    (CurriculumConfig(), [8] * 6),
    (CurriculumConfig(start=2, steps=4), [2, 3, 5, 6, 8, 8]),
    (CurriculumConfig(start=2, steps=4, kind="step", stages=2), [2, 2, 5, 5, 8, 8]),
])
def test_horizon_curriculum(curriculum, expected):
    assert [horizon_at(curriculum, s, 8) for s in range(6)] == expected


@pytest.mark.parametrize("kind, at_half", [("linear", 0.5), ("exponential", math.exp(-2.5)), ("inverse_sigmoid", 0.5)])
def test_teacher_forcing_decays_from_start_to_end(kind, at_half):
    tf = TeacherForcingConfig(start=1.0, end=0.0, decay_steps=10, kind=kind)
    values = [teacher_forcing_at(tf, s) for s in range(0, 21)]
    assert values[0] == pytest.approx(1.0, abs=0.01) and values[5] == pytest.approx(at_half)
    assert values[10] == pytest.approx(0.0, abs=0.01) and all(a >= b for a, b in zip(values, values[1:]))
