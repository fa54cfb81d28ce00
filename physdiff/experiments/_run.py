"""Run one comparison: make the data, train every learner (resumably), evaluate long rollouts.

Layout of the output folder (every file written atomically; rerunning the same command
skips what is complete and resumes an interrupted training from its last checkpoint)::

    OUT/data/train.h5, OUT/data/test.h5          trajectories (train + validation, held-out test)
    OUT/runs/micro-pretraining/seedS/             PIMRL's micro pretraining on the bursts (last.pt, metrics.jsonl,
                                                  ...), shared by PIMRL and its ablations: same data, seed and budget
    OUT/runs/ARM/seedS/macro/                     the macro-scale training run
    OUT/runs/ARM/seedS/result.json                test metrics, parameter count, training time
    OUT/runs/ARM/seedS/rollout.pt                 the first test trajectory's prediction (for plots)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..core import PhysdiffError, atomic_write, atomic_write_json
from ..data import BurstWindows, generate, read_info, read_trajectories
from ..learners import SequenceLearner
from ..training import (
    OptimizerConfig,
    ScheduleConfig,
    TrainConfig,
    Trainer,
    evaluate_rollout,
    load_weights,
    read_log,
    seed_everything,
    training_windows,
)
from ._arms import Arm, arms
from ._setups import ExperimentSetup

#: Plateau protocol (``ExperimentSetup.macro_schedule = "plateau"``): factor multiplying the
#: learning rate at each plateau.
PLATEAU_GAMMA = 0.2
#: Plateau protocol: the lowest learning-rate factor (1 % of ``lr``, reached after 3 reductions);
#: a plateau there ends the run.
PLATEAU_FLOOR = 0.01
#: Plateau protocol: a validation counts as progress if its RMSE is this fraction below the best so far.
PLATEAU_THRESHOLD = 0.01

#: ``progress(message)`` for status lines, ``bar(done, total)`` for the current training.
Report = Callable[[str], None]
Bar = Callable[[int, int], None]


@dataclass(frozen=True)
class ExperimentData:
    """Paths and layout of one setup's data."""

    train: Path
    test: Path
    spacing: tuple[float, ...]
    channels: int
    val_ids: tuple[int, ...]
    train_ids: tuple[int, ...]


def _same_data(info: Any, setup: ExperimentSetup, pde: Any, count: int, seed: int) -> bool:
    """Whether an existing file was made by this setup (its provenance, not only its shape)."""
    made = info.provenance.setup if info.provenance is not None else {}
    return (tuple(info.shape[:2]) == (count, setup.frames) and tuple(info.space_shape) == setup.shape
            and info.burst == setup.burst and made.get("pde") == pde.config()
            and made.get("burn_in", 0) == setup.burn_in and made.get("save_every") == setup.save_every
            and made.get("initial_condition", {}).get("options") == setup.ic_options
            and made.get("initial_condition", {}).get("seeds", [None])[0] == seed)


def make_data(setup: ExperimentSetup, folder: Path, *, report: Report = print) -> ExperimentData:
    """Generate (or reuse, if complete and of the same shape) the training and test files."""
    folder.mkdir(parents=True, exist_ok=True)
    pde = setup.build_pde()
    common = dict(shape=setup.shape, dt=setup.dt / setup.save_every, steps=(setup.frames - 1) * setup.save_every,
                  save_every=setup.save_every, integrator=setup.integrator, dtype=torch.float32,
                  burst=setup.burst, burn_in=setup.burn_in, ic_options=setup.ic_options)
    files = {"train": (folder / "train.h5", setup.n_train + setup.n_val, setup.seed),
             "test": (folder / "test.h5", setup.n_test, setup.seed + 1000)}
    for name, (path, count, seed) in files.items():
        if path.exists():
            try:
                if _same_data(read_info(path), setup, pde, count, seed):
                    continue
            except PhysdiffError:
                pass
            report(f"{path}: not the data this setup makes ({count} trajectories of {setup.frames} frames from "
                   f"seed {seed}, {setup.title}); regenerating.")
        report(f"simulating {setup.title}: {count} {name} trajectories of {setup.frames} frames on {setup.shape}")
        generate(pde, path, n_trajectories=count, seed=seed, **common)
    info = read_info(files["train"][0])
    spacing = tuple(float(c[1] - c[0]) for c in info.coordinates)
    train_ids = tuple(range(setup.n_train))
    val_ids = tuple(range(setup.n_train, setup.n_train + setup.n_val))
    return ExperimentData(files["train"][0], files["test"][0], spacing, info.shape[2], val_ids, train_ids)


def _config(setup: ExperimentSetup, horizon: int, context: int, seed: int, device: str, *,
            micro: bool = False) -> TrainConfig:
    """At most ``setup.steps`` Adam steps at ``setup.lr`` (cosine decay over them), stopping after
    ``setup.patience`` validations without a better validation RMSE, or with
    ``setup.macro_schedule == "plateau"`` until the plateau schedule finds no improvement at its
    lowest learning rate; ``micro=True``: the same with the ``micro_*`` settings and
    ``micro_schedule`` (a PeRCNN trained on its own)."""
    if micro:
        steps, lr = setup.micro_steps, setup.lr if setup.micro_lr is None else setup.micro_lr
        every, patience, name = setup.micro_validate_every, setup.micro_patience, setup.micro_schedule
    else:
        steps, lr, every, patience, name = setup.steps, setup.lr, setup.validate_every, setup.patience, setup.macro_schedule
    schedule = ScheduleConfig(name="cosine", min_factor=0.1)
    if name == "plateau":
        schedule = ScheduleConfig(name="plateau", gamma=PLATEAU_GAMMA, min_factor=PLATEAU_FLOOR,
                                  patience=patience, threshold=PLATEAU_THRESHOLD)
        patience = None  # the schedule's own rule ends the run
    every = max(1, min(every, steps))
    return TrainConfig(
        steps=steps, batch_size=setup.batch_size, context_frames=context, horizon=horizon,
        optimizer=OptimizerConfig(name="adam", lr=lr), schedule=schedule,
        grad_clip=1.0, validate_every=every, checkpoint_every=every, early_stopping_patience=patience,
        log_every=max(1, min(every, steps // 20)), seed=seed, device=device,
    )


def _fit(model: SequenceLearner, cfg: TrainConfig, train: Any, val: Any, out: Path,
         bar: Bar | None) -> tuple[float, dict[str, Any]]:
    """Train (resuming if ``out`` holds a run), reload the best validated weights.

    Returns:
        Seconds spent now, and ``{"steps": steps trained, "max_steps": the budget, "stopped":
        "early_stopping", "converged" (plateau schedule) or "completed" (the budget ran out first)}``.
    """
    start = time.perf_counter()
    progress = None if bar is None else (lambda step, total, _metrics: bar(step, total))
    trainer = Trainer(model, cfg, train, val, out_dir=out, progress=progress, resume="auto")
    result = trainer.fit()
    best = out / "best.pt"
    if best.exists():
        load_weights(model, best)
    return time.perf_counter() - start, {"steps": result.steps, "max_steps": cfg.steps, "stopped": result.stopped}


def train_arm(
    arm: Arm, setup: ExperimentSetup, data: ExperimentData, seed: int, folder: Path, *, device: str = "auto",
    bar_factory: Callable[[str], Bar] | None = None, micro_folder: Path | None = None,
) -> tuple[SequenceLearner, float, tuple[torch.Tensor, torch.Tensor], dict[str, Any]]:
    """Build ``arm``'s model with ``seed`` and train it (micro pretraining first if the arm has one).

    The micro pretraining runs in ``micro_folder`` (default ``folder / "micro"``); arms that
    share one reuse its finished run (the same data, seed and budget give the same module), and
    its seconds count for every arm that uses it.

    Returns:
        The trained model (best validated weights), the training seconds, the training data's
        per-channel ``(mean, std)`` (the normalisation of black-box learners), and how each stage
        ended (``{"macro": {...}, "micro": {...}}``, see :func:`_fit`).
    """
    seed_everything(seed)
    model = arm.build(setup, data.channels, data.spacing)

    def bar(stage: str) -> Bar | None:
        return bar_factory(f"{arm.label} seed {seed} {stage}") if bar_factory else None

    seconds, stages = 0.0, {}
    if arm.pretrain_micro:
        micro = model.micro
        length = setup.burst.burst_length
        train = BurstWindows(data.train, length, trajectories=data.train_ids, normalize=False)
        val = BurstWindows(data.train, length, trajectories=data.val_ids, normalize=False)
        cfg = _config(setup, length - 1, 1, seed, device, micro=True)
        micro_out = folder / "micro" if micro_folder is None else micro_folder
        spent, stages["micro"] = _fit(micro, cfg, train, val, micro_out, bar("(bursts)"))
        seconds += _recorded_seconds(micro_out, spent)
        if not setup.finetune_micro:
            # Measured on 3D Gray-Scott: fine-tuned inside the macro training, the micro module's
            # diffusivities drifted (0.17 -> 0.14 for Du = 0.2) and its own rollout blew up (max |u|
            # 78 after 44 steps); the pretrained one stayed finite. See docs/design_decisions.md.
            micro.requires_grad_(False)
    windows = training_windows(model, data.train, context_frames=setup.context_frames, horizon=setup.horizon,
                               val_trajectories=data.val_ids)
    cfg = _config(setup, setup.horizon, setup.context_frames, seed, device, micro=arm.physics_budget)
    if arm.pretrain_micro and not setup.finetune_micro and getattr(model, "mode", None) == "micro_only":
        # PIMRL micro only with a frozen micro module: the pretrained PeRCNN is the whole model.
        stages["macro"] = {"steps": 0, "max_steps": setup.steps, "stopped": "nothing to train"}
        return model, seconds, (windows.mean, windows.std), stages
    spent, stages["macro"] = _fit(model, cfg, windows.train, windows.val, folder / "macro", bar("(macro)"))
    return model, seconds + _recorded_seconds(folder / "macro", spent), (windows.mean, windows.std), stages


def parameter_count(model: SequenceLearner) -> int:
    """Learned parameters of the modules that make the predictions, frozen ones included (PIMRL's
    pretrained micro module counts; the module an ablation never runs does not)."""
    mode = getattr(model, "mode", None)
    used = model.micro if mode == "micro_only" else model.macro if mode == "macro_only" else model
    return sum(p.numel() for p in used.parameters())


def _recorded_seconds(run: Path, spent_now: float) -> float:
    """Training seconds of a run: the time its log records (all sessions, so a reused run counts in
    full), or ``spent_now`` if it has no log."""
    times = [r["time"] for r in read_log(run) if isinstance(r.get("time"), (int, float))]
    return max(times) if times else spent_now


def evaluate_arm(
    model: SequenceLearner, setup: ExperimentSetup, data: ExperimentData, statistics: tuple[torch.Tensor, torch.Tensor]
) -> tuple[dict[str, Any], torch.Tensor]:
    """Roll out every test trajectory at the macro interval; metrics in physical units."""
    test = read_trajectories(data.test)[:, :: setup.k]
    mean, std = statistics
    result = evaluate_rollout(model, test.to(torch.float32), context_frames=setup.context_frames, dt=setup.macro_dt,
                              mean=mean, std=std)
    return result.summary(), result.predictions[0]


def _fingerprint(path: Path) -> str | None:
    provenance = read_info(path).provenance
    return None if provenance is None else provenance.sha256


def _check_runs_match_data(out: Path, data: ExperimentData) -> None:
    """Refuse to mix runs trained on other data (e.g. after a setup change regenerated it) with new ones."""
    record = out / "runs" / "data.json"
    current = {"train": _fingerprint(data.train), "test": _fingerprint(data.test)}
    if record.exists():
        stored = json.loads(record.read_text())
        if stored != current:
            raise PhysdiffError(
                f"{out / 'runs'}: these runs were trained on other data (provenance {stored}, now {current}); "
                "their results cannot be mixed with new ones. Use another output folder, or move the runs folder "
                "away to retrain."
            )
        return
    atomic_write_json(record, current)


def _check_finished_run_matches_setup(arm: Arm, setup: ExperimentSetup, data: ExperimentData, folder: Path,
                                      micro_folder: Path) -> None:
    """Refuse to reuse a finished run whose model the setup now builds differently (e.g. another
    ``init_gain`` after a setup change): its result would silently sit beside runs of the new setup."""
    model = arm.build(setup, data.channels, data.spacing)
    stages = [(folder / "macro" / "best.pt", model)]
    if arm.pretrain_micro:
        stages.append((micro_folder / "best.pt", model.micro))
    for checkpoint, module in stages:
        if not checkpoint.exists():
            continue
        try:
            load_weights(module, checkpoint)
        except PhysdiffError as exc:
            raise PhysdiffError(
                f"{folder}: this finished run was trained with another {arm.label} configuration than the setup "
                f"builds now ({exc}). Its result cannot be mixed with new ones: move the run folder away (and the "
                "micro pretraining it used) to retrain it, or use another output folder."
            ) from exc


def run_experiment(
    setup: ExperimentSetup, out: str | Path, *, seeds: Sequence[int] = (0,), models: Sequence[Arm] | None = None,
    device: str = "auto", report: Report = print, bar_factory: Callable[[str], Bar] | None = None,
) -> list[dict[str, Any]]:
    """Train and evaluate every arm for every seed on ``setup``; return one result dict per (arm, seed).

    Each result holds ``model``, ``label``, ``seed``, ``rmse``, ``mae``, ``nrmse``, ``hct_mean``,
    ``artefact_ratio``, ``params``, ``train_seconds``, ``training`` (steps trained and whether
    early stopping ended each stage) and the error/correlation curves over the test rollouts.
    """
    out = Path(out)
    models = arms(ablations=True) if models is None else tuple(models)
    data = make_data(setup, out / "data", report=report)
    _check_runs_match_data(out, data)
    results = []
    # Seeds outermost: an interrupted run has every model at the first seeds, not some models only.
    for seed in seeds:
        for arm in models:
            folder = out / "runs" / arm.name / f"seed{seed}"
            done = folder / "result.json"
            micro_folder = out / "runs" / "micro-pretraining" / f"seed{seed}"
            if done.exists():
                _check_finished_run_matches_setup(arm, setup, data, folder, micro_folder)
                results.append(json.loads(done.read_text()))
                report(f"{arm.label} (seed {seed}): done earlier, RMSE {results[-1]['rmse']:.4g}")
                continue
            model, seconds, statistics, stages = train_arm(
                arm, setup, data, seed, folder, device=device, bar_factory=bar_factory, micro_folder=micro_folder)
            summary, rollout = evaluate_arm(model, setup, data, statistics)
            summary.update(model=arm.name, label=arm.label, seed=seed, train_seconds=seconds,
                           params=parameter_count(model),
                           setup=setup.name, macro_dt=setup.macro_dt, training=stages)
            atomic_write(folder / "rollout.pt", lambda handle, r=rollout: torch.save(r, handle))
            atomic_write_json(done, summary)
            report(f"{arm.label} (seed {seed}): RMSE {summary['rmse']:.4g}, HCT {summary['hct_mean']:.4g}, "
                   f"{seconds:.0f} s")
            results.append(summary)
    return results
