"""Typed, frozen, validated training configuration (no file format: the CLI reads files).

Every class accepts its fields as keyword arguments (nested sections also as mappings) and
has :meth:`from_dict` for configuration files: unknown keys and wrong types are refused with
a :class:`PhysdiffError` naming the key, the expected type and where the mapping came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ..core import PhysdiffError
from ._section import Section, at_least, choice, fail, positive, probability


@dataclass(frozen=True)
class OptimizerConfig(Section):
    """Adam or AdamW (decoupled weight decay), with learning rate ``lr`` before any schedule."""

    name: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8

    def _validate(self) -> None:
        choice(self, "name", ("adam", "adamw"))
        positive(self, "lr")
        at_least(self, "weight_decay", 0.0)
        positive(self, "eps")
        if not all(0.0 <= b < 1.0 for b in self.betas):
            raise fail(self, "betas", "two numbers in [0, 1)")


@dataclass(frozen=True)
class ScheduleConfig(Section):
    """Learning-rate factor per step ``s`` (0-based), times ``lr``.

    * ``constant``: 1.
    * ``cosine``: ``m + (1 - m) (1 + cos(pi s' / S')) / 2`` with ``m = min_factor``, ``s' = s - warmup_steps``,
      ``S' = steps - warmup_steps - 1``: from 1 down to ``m`` at the run's last step.
    * ``step``: ``gamma ** floor(s' / step_size)`` (StepLR).
    * ``plateau``: driven by the validation RMSE instead of the step (needs validation data;
      ReduceLROnPlateau with a stopping rule). The factor starts at 1; a validation is
      *significant* if its RMSE is below ``(1 - threshold)`` times the best significant one so far.
      After ``patience`` validations in a row without a significant one the factor is multiplied
      by ``gamma`` (floored at ``min_factor``) and the count starts again; once the factor is at
      ``min_factor``, ``patience`` more such validations end the run (``stopped = "converged"``):
      the validation error has stopped improving at every learning rate tried. ``steps`` is then
      only a cap. The factor and the count are saved in ``last.pt``, so a resumed run continues
      the same schedule.

    A linear warm-up multiplies by ``(s + 1) / warmup_steps`` for ``s < warmup_steps``.
    """

    name: str = "constant"
    warmup_steps: int = 0
    step_size: int = 1000
    gamma: float = 0.5
    min_factor: float = 0.0
    patience: int = 5
    threshold: float = 0.01

    def _validate(self) -> None:
        choice(self, "name", ("constant", "cosine", "step", "plateau"))
        at_least(self, "warmup_steps", 0)
        at_least(self, "step_size", 1)
        positive(self, "gamma")
        if not 0.0 <= self.min_factor <= 1.0:
            raise fail(self, "min_factor", "a number in [0, 1]")
        at_least(self, "patience", 1)
        if not 0.0 <= self.threshold < 1.0:
            raise fail(self, "threshold", "a number in [0, 1)")
        if self.name == "plateau" and not (self.gamma < 1.0 and self.min_factor > 0.0):
            raise fail(self, "gamma" if self.gamma >= 1.0 else "min_factor",
                       "gamma < 1 and min_factor > 0 for the plateau schedule (the factor must fall to a floor)")


@dataclass(frozen=True)
class CurriculumConfig(Section):
    """Horizon curriculum: the unroll length grows from ``start`` to the run's ``horizon`` over ``steps``.

    ``start = None`` disables it (always the full horizon). ``linear``: ``h(s) = start + floor((H - start)
    min(s / steps, 1))``; ``step``: the same growth in ``stages`` equal jumps (PeRCNN's 200 -> 400 -> 800 style).
    """

    start: int | None = None
    steps: int = 1000
    kind: str = "linear"
    stages: int = 4

    def _validate(self) -> None:
        at_least(self, "start", 1, optional=True)
        at_least(self, "steps", 1)
        choice(self, "kind", ("linear", "step"))
        at_least(self, "stages", 1)


@dataclass(frozen=True)
class TeacherForcingConfig(Section):
    """Probability that an unrolled step takes the true frame as input, decaying from ``start`` to ``end``.

    With ``x = s / decay_steps``: ``linear`` ``p = start + (end - start) min(x, 1)``; ``exponential``
    ``p = end + (start - end) exp(-5 x)``; ``inverse_sigmoid`` ``p = end + (start - end) / (1 + exp(10 (x - 1/2)))``
    (both within 1 % of ``end`` at ``x = 1``). The default ``start = end = 0`` is free rollout.

    ``per_sample = false``: one draw per unrolled step, shared by the batch. ``per_sample = true``:
    scheduled sampling as in MoDeRNN and PredRNN, a draw per sample and step (a mask
    ``(B, horizon - 1)``); ``start = 1, end = 0, kind = "linear"`` is their linear schedule.
    """

    start: float = 0.0
    end: float = 0.0
    decay_steps: int = 1000
    kind: str = "linear"
    per_sample: bool = False

    def _validate(self) -> None:
        probability(self, "start")
        probability(self, "end")
        at_least(self, "decay_steps", 1)
        choice(self, "kind", ("linear", "exponential", "inverse_sigmoid"))


@dataclass(frozen=True)
class NanGuardConfig(Section):
    """Recovery from a non-finite loss or gradient norm (see ``docs/training.md``).

    The model and optimiser go back to their state at the start of the last finite step, the
    learning rate is multiplied by ``lr_factor`` (for the rest of the run), and training goes on
    with the next batch; after ``max_retries`` consecutive failures the run stops with an error.
    """

    enabled: bool = True
    lr_factor: float = 0.5
    max_retries: int = 5

    def _validate(self) -> None:
        if not 0.0 < self.lr_factor <= 1.0:
            raise fail(self, "lr_factor", "a number in (0, 1]")
        at_least(self, "max_retries", 1)


@dataclass(frozen=True)
class TrainConfig(Section):
    """Everything a training run needs besides the model and the data.

    Attributes:
        steps: optimiser steps (iterations) of the whole run.
        batch_size: windows per global batch (split evenly across distributed ranks).
        context_frames: frames given to the model before it predicts.
        horizon: frames predicted (unrolled) per window; the loss (``loss``) is taken over them.
        loss: ``"mse"`` (mean squared error over every entry), ``"l1"`` (mean absolute error) or
            ``"l1_mse"`` (their sum: MoDeRNN's L1 + L2 loss, up to a constant factor).
        loss_on_context: also score the one-step predictions made during the context phase
            (frames ``1 .. context_frames - 1``, each from the true frame before it), so the loss
            covers every one-step prediction (PhyDNet, SwinLSTM); false: the future frames only.
        reverse_sequences: reverse-sequence augmentation (MoDeRNN): every step makes a second
            forward/backward pass and optimiser update on the time-reversed windows, with the same
            teacher-forcing draws or masks. A step then costs two updates.
        checkpoint_rollout: gradient checkpointing of the unroll (the learner's ``checkpoint=True``).
        checkpoint_segment: steps per checkpointed segment (None: ``ceil(sqrt(horizon))``).
        detach_every: truncated backpropagation through time every this many unrolled steps.
        grad_clip: maximum global gradient norm (None: no clipping).
        validate_every, checkpoint_every, log_every: in steps.
        val_batch_size: windows per validation batch (None: ``batch_size``).
        early_stopping_patience: validations without a better validation RMSE before stopping (None: never).
        keep_best: write ``best.pt`` whenever the validation RMSE improves.
        seed: seeds the data order, teacher forcing and the global RNGs.
        device: ``"auto"`` (CUDA if available, else CPU), or a torch device string.
        dtype: ``"float32"`` or ``"float64"`` (model and data).
        compile: ``torch.compile`` the learner's ``step`` (falls back to eager, with a warning, if it fails).
        amp: bfloat16 autocast on CUDA; ignored with a warning on other devices.
        num_workers: DataLoader worker processes reading windows (0: the main process).
        tensorboard: also write TensorBoard events if ``torch.utils.tensorboard`` is installed.
    """

    steps: int = 1000
    batch_size: int = 8
    context_frames: int = 1
    horizon: int = 1
    loss: str = "mse"
    loss_on_context: bool = False
    reverse_sequences: bool = False
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    teacher_forcing: TeacherForcingConfig = field(default_factory=TeacherForcingConfig)
    nan_guard: NanGuardConfig = field(default_factory=NanGuardConfig)
    grad_clip: float | None = None
    checkpoint_rollout: bool = False
    checkpoint_segment: int | None = None
    detach_every: int | None = None
    validate_every: int = 100
    val_batch_size: int | None = None
    early_stopping_patience: int | None = None
    checkpoint_every: int = 100
    keep_best: bool = True
    log_every: int = 10
    seed: int = 0
    device: str = "auto"
    dtype: str = "float32"
    compile: bool = False
    amp: bool = False
    num_workers: int = 0
    tensorboard: bool = False

    #: Fields that may differ when a run is resumed (they do not change what a step computes).
    RESUMABLE_CHANGES: ClassVar[tuple[str, ...]] = (
        "steps", "validate_every", "checkpoint_every", "log_every", "early_stopping_patience", "keep_best",
        "device", "compile", "num_workers", "tensorboard", "val_batch_size",
    )

    def _validate(self) -> None:
        for name in ("steps", "batch_size", "context_frames", "horizon", "validate_every", "checkpoint_every",
                     "log_every"):
            at_least(self, name, 1)
        for name in ("checkpoint_segment", "detach_every", "val_batch_size", "early_stopping_patience"):
            at_least(self, name, 1, optional=True)
        positive(self, "grad_clip", optional=True)
        at_least(self, "num_workers", 0)
        choice(self, "dtype", ("float32", "float64"))
        choice(self, "loss", ("mse", "l1", "l1_mse"))
        if self.curriculum.start is not None and self.curriculum.start > self.horizon:
            raise PhysdiffError(
                f"TrainConfig: curriculum.start: expected at most horizon = {self.horizon}, got {self.curriculum.start}."
            )
        if self.amp and self.dtype != "float32":
            raise PhysdiffError(
                f"TrainConfig: amp: mixed precision lowers float32 work to bfloat16; with dtype {self.dtype!r} it would "
                "do nothing. Use dtype 'float32' with amp, or amp = false."
            )
