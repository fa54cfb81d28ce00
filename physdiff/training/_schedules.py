"""Per-step schedules: learning-rate factor, horizon curriculum, teacher-forcing probability.

All are pure functions of the 0-based step index ``s``, so a resumed run recomputes them
exactly and nothing about them needs to be stored in a checkpoint.
"""

from __future__ import annotations

import math

from ._config import CurriculumConfig, ScheduleConfig, TeacherForcingConfig


def lr_factor(schedule: ScheduleConfig, step: int, total_steps: int) -> float:
    """Factor multiplying the base learning rate at step ``step`` of a ``total_steps`` run."""
    warmup = schedule.warmup_steps
    factor = (step + 1) / warmup if step < warmup else 1.0
    s = max(step - warmup, 0)
    if schedule.name == "cosine":
        span = max(total_steps - warmup - 1, 1)
        m = schedule.min_factor
        factor *= m + (1.0 - m) * 0.5 * (1.0 + math.cos(math.pi * min(s / span, 1.0)))
    elif schedule.name == "step":
        factor *= schedule.gamma ** (s // schedule.step_size)
    return factor


def horizon_at(curriculum: CurriculumConfig, step: int, horizon: int) -> int:
    """Unroll length at step ``step``: from ``curriculum.start`` up to ``horizon``."""
    if curriculum.start is None:
        return horizon
    x = min(step / curriculum.steps, 1.0)
    if curriculum.kind == "step":
        x = math.floor(x * curriculum.stages) / curriculum.stages
    return curriculum.start + math.floor((horizon - curriculum.start) * x + 1e-9)


def teacher_forcing_at(tf: TeacherForcingConfig, step: int) -> float:
    """Teacher-forcing probability at step ``step``."""
    x = step / tf.decay_steps
    if tf.kind == "linear":
        p = tf.start + (tf.end - tf.start) * min(x, 1.0)
    elif tf.kind == "exponential":
        p = tf.end + (tf.start - tf.end) * math.exp(-5.0 * x)
    else:  # inverse_sigmoid
        p = tf.end + (tf.start - tf.end) / (1.0 + math.exp(min(10.0 * (x - 0.5), 700.0)))
    return min(max(p, 0.0), 1.0)
