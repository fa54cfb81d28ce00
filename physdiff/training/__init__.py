"""Training of sequence learners: configuration, the training loop, checkpoints, evaluation.

* :class:`TrainConfig` (with :class:`OptimizerConfig`, :class:`ScheduleConfig`,
  :class:`CurriculumConfig`, :class:`TeacherForcingConfig`, :class:`NanGuardConfig`): frozen,
  validated dataclasses; ``from_dict(mapping, where)`` reads a parsed configuration file.
* :class:`Trainer`: multi-step rollout loss with teacher forcing and a horizon curriculum,
  gradient checkpointing or truncated BPTT, a NaN guard, validation, best model, early stopping,
  atomic checkpoints and exact resumption, JSON-lines/CSV logs, data parallelism under torchrun.
* :func:`evaluate_rollout`, :func:`load_learner`, :func:`load_weights`: evaluation of trained models.
* :func:`training_windows`: train/validation windows from trajectory files, matched to a learner.

This layer imports ``core``, ``operators``, ``integrators``, ``learners``, ``metrics`` and
``data``. Documented in ``docs/training.md``.
"""

from ._checkpoint import CHECKPOINT_FORMAT as CHECKPOINT_FORMAT
from ._checkpoint import CHECKPOINT_VERSION as CHECKPOINT_VERSION
from ._checkpoint import load_learner as load_learner
from ._checkpoint import load_weights as load_weights
from ._checkpoint import read_checkpoint as read_checkpoint
from ._checkpoint import save_checkpoint as save_checkpoint
from ._config import CurriculumConfig as CurriculumConfig
from ._config import NanGuardConfig as NanGuardConfig
from ._config import OptimizerConfig as OptimizerConfig
from ._config import ScheduleConfig as ScheduleConfig
from ._config import TeacherForcingConfig as TeacherForcingConfig
from ._config import TrainConfig as TrainConfig
from ._datasets import WindowData as WindowData
from ._datasets import sampling_interval as sampling_interval
from ._datasets import training_windows as training_windows
from ._datasets import whole_ratio as whole_ratio
from ._evaluate import RolloutEvaluation as RolloutEvaluation
from ._evaluate import evaluate_rollout as evaluate_rollout
from ._log import read_log as read_log
from ._rng import seed_everything as seed_everything
from ._schedules import horizon_at as horizon_at
from ._schedules import lr_factor as lr_factor
from ._schedules import teacher_forcing_at as teacher_forcing_at
from ._trainer import FitResult as FitResult
from ._trainer import Trainer as Trainer

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "CurriculumConfig",
    "FitResult",
    "NanGuardConfig",
    "OptimizerConfig",
    "RolloutEvaluation",
    "ScheduleConfig",
    "TeacherForcingConfig",
    "TrainConfig",
    "Trainer",
    "WindowData",
    "evaluate_rollout",
    "horizon_at",
    "load_learner",
    "load_weights",
    "lr_factor",
    "read_checkpoint",
    "read_log",
    "sampling_interval",
    "save_checkpoint",
    "seed_everything",
    "teacher_forcing_at",
    "training_windows",
    "whole_ratio",
]
