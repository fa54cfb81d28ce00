"""The training loop: multi-step rollout loss, NaN guard, validation, checkpoints, resumption.

One step ``s`` (0-based) of :meth:`Trainer.fit`::

    H   = horizon_at(s)                      (curriculum)      p = teacher_forcing_at(s)
    lr  = optimizer.lr * lr_factor(s) * plateau factor * nan_guard.lr_scale   (plateau factor: 1 unless schedule "plateau")
    x   = next global batch (this rank's share)   (b, context_frames + horizon, C, *space)
    u   = model(x[:, :context_frames], H, targets=x[:, context_frames:], teacher_forcing=p, ...)
          (teacher_forcing.per_sample: forcing_mask = rand(b, H - 1) < p instead, one draw per sample and step)
    L   = loss(u, x[:, context_frames:context_frames + H]) + model.auxiliary_loss(context)
          + model.prediction_loss(u, the same truth)
          (loss: mse, l1 or l1 + mse; loss_on_context: u and the truth start at frame 1, covering
          the context phase's one-step predictions too)
    grads averaged over ranks, clipped to grad_clip; applied if L and |grad| are finite,
    otherwise the NaN guard rolls back (see ``_guard.py``).
    reverse_sequences: the same again (same draws or masks) on x.flip(1), a second update.

After the step, with ``step = s + 1`` steps done: a log line every ``log_every`` steps,
validation every ``validate_every`` steps (and at the end), ``last.pt`` every
``checkpoint_every`` steps (and at the end).
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from ..core import PhysdiffError
from ..learners import SequenceLearner
from . import _distributed as D
from ._batches import BatchStream, check_windows
from ._checkpoint import (
    CHECKPOINT_FORMAT, CHECKPOINT_VERSION, check_model, check_resumable, json_config, read_checkpoint,
    save_checkpoint,
)
from ._compile import compiled_step
from ._config import TrainConfig
from ._guard import NanGuard
from ._log import CSV_NAME, JSONL_NAME, MetricsLog, read_log, truncate_log
from ._result import FitResult
from ._rng import global_rng_state, make_generator, seed_everything, set_global_rng_state
from ._schedules import horizon_at, lr_factor, teacher_forcing_at
from ._validation import rollout_metrics

Progress = Callable[[int, int, dict[str, Any]], None]
DTYPES = {"float32": torch.float32, "float64": torch.float64}
LAST, BEST = "last.pt", "best.pt"


def _physdiff_version() -> str:
    try:
        from importlib.metadata import version

        return version("physdiff")
    except Exception:  # not installed (source tree on sys.path)
        return "unknown"


class Trainer:
    """Train a :class:`~physdiff.learners.SequenceLearner` on windows of trajectories.

    Args:
        model: the learner (moved to the configured device and dtype in place).
        config: the :class:`TrainConfig`.
        train_data: a dataset whose items are windows ``(T, C, *space)`` with
            ``T >= context_frames + horizon`` (e.g. :class:`~physdiff.data.TrajectoryWindows`).
        val_data: validation windows, or None (no validation, best model or early stopping).
        out_dir: run directory for ``last.pt``, ``best.pt``, ``metrics.jsonl`` and ``metrics.csv``.
        progress: called on rank 0 after every step as ``progress(step, total_steps, metrics)``.
        resume: False: start a new run (refused if ``out_dir`` already holds one); True: continue
            from ``out_dir/last.pt`` (an error if the directory holds no run); ``"auto"``: continue if
            it exists. A run that stopped before its first checkpoint (logs but no ``last.pt``) has
            nothing to continue: any ``resume`` starts it again from step 0, replacing its logs.

    Raises:
        PhysdiffError: windows that do not fit the model or the configuration, a run directory
            already in use, or a checkpoint of another model, configuration or a corrupt file.
    """

    def __init__(self, model: SequenceLearner, config: TrainConfig, train_data: Dataset,
                 val_data: Dataset | None = None, *, out_dir: str | Path, progress: Progress | None = None,
                 resume: bool | str = False) -> None:
        if not isinstance(model, SequenceLearner):
            raise PhysdiffError(f"Trainer: model: expected a physdiff SequenceLearner, got {type(model).__name__}.")
        if not isinstance(config, TrainConfig):
            raise PhysdiffError(f"Trainer: config: expected a TrainConfig, got {type(config).__name__}.")
        if resume not in (False, True, "auto"):
            raise PhysdiffError(f"Trainer: resume: expected False, True or 'auto', got {resume!r}.")
        self.model, self.config, self.progress = model, config, progress
        self.train_data, self.val_data = train_data, val_data
        self.out_dir = Path(out_dir)
        _, _, local_rank = D.launched_world()
        self.device = D.resolve_device(config.device, local_rank)
        self.dtype = DTYPES[config.dtype]
        self.amp = config.amp and self.device.type == "cuda"
        if config.amp and not self.amp:
            warnings.warn(f"TrainConfig.amp: mixed precision needs CUDA; training on {self.device} in {config.dtype}.",
                          stacklevel=2)
        check_windows(model, train_data, config.context_frames + config.horizon, "training data")
        if config.schedule.name == "plateau" and val_data is None:
            raise PhysdiffError("Trainer: schedule 'plateau' lowers the learning rate when the validation RMSE stops "
                                "improving, but no validation data was given; pass val_data or choose another "
                                "schedule (e.g. 'cosine').")
        if val_data is not None:
            check_windows(model, val_data, config.context_frames + config.horizon, "validation data")
        self.dist = D.setup(self.device)
        try:
            self._build(resume)
        except BaseException:
            D.teardown(self.dist, clean=False)
            raise

    # ------------------------------------------------------------------ setup
    def _build(self, resume: bool | str) -> None:
        cfg, model = self.config, self.model
        model.to(device=self.device, dtype=self.dtype)
        opt = cfg.optimizer
        kind = torch.optim.AdamW if opt.name == "adamw" else torch.optim.Adam
        self.optimizer = kind(model.parameters(), lr=opt.lr, betas=opt.betas, eps=opt.eps, weight_decay=opt.weight_decay)
        self.guard = NanGuard(cfg.nan_guard)
        self.tf_generator = make_generator(cfg.seed + 1_000_003)
        self.stream = BatchStream(self.train_data, cfg.batch_size, make_generator(cfg.seed), rank=self.dist.rank,
                                  world_size=self.dist.world_size, num_workers=cfg.num_workers)
        self.step = 0
        self.best_rmse: float | None = None
        self.best_step: int | None = None
        self.best_metrics: dict[str, float] = {}
        self.last_metrics: dict[str, float] = {}
        self.bad_validations = 0
        # plateau schedule: current factor, best significant val_rmse, validations since one
        self.plateau: dict[str, Any] = {"factor": 1.0, "best": None, "bad": 0}
        self.loss_sum, self.loss_count = 0.0, 0
        self.elapsed = 0.0
        self._fitted = False
        self._events: list[str] = []  # event messages not yet passed to progress
        last = self.out_dir / LAST
        logs = [self.out_dir / name for name in (JSONL_NAME, CSV_NAME) if (self.out_dir / name).exists()]
        restore = last.exists() and resume in (True, "auto")
        if resume is True and not last.exists() and not logs:
            raise PhysdiffError(f"Trainer: resume=True but {str(last)!r} does not exist; start a new run "
                                "(resume=False) or point out_dir at the run to continue.")
        if not restore and last.exists():
            raise PhysdiffError(
                f"Trainer: out_dir {str(self.out_dir)!r} already holds a run (last.pt); pass resume=True to "
                "continue it, or choose another directory (nothing there is overwritten)."
            )
        if self.dist.active:
            torch.distributed.barrier()  # every rank has looked before rank 0 creates files
        if restore:
            self._restore(last)
        else:
            seed_everything(cfg.seed)
            D.broadcast_parameters(model, self.dist)
        dropped = 0
        if self.dist.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            if restore:
                dropped = truncate_log(self.out_dir, self.step)  # rows the interrupted run wrote after last.pt
            else:
                for path in logs:  # a start that never reached its first checkpoint: its logs describe nothing
                    path.unlink(missing_ok=True)
        self.log = MetricsLog(self.out_dir, enabled=self.dist.is_main, tensorboard=cfg.tensorboard)
        self.history: list[dict[str, Any]] = read_log(self.out_dir) if restore and self.dist.is_main else []
        if restore:
            removed = f"; removed {dropped} log record(s) the interrupted run wrote after it" if dropped else ""
            self._record({"step": self.step, "kind": "event", "event": "resumed",
                          "message": f"resumed from {LAST} at step {self.step}{removed}"})
        elif logs:
            self._record({"step": 0, "kind": "event", "event": "restarted",
                          "message": f"the earlier run in {self.out_dir} stopped before its first checkpoint "
                                     f"(step {cfg.checkpoint_every}), so it started again from step 0"})

    def _restore(self, path: Path) -> None:
        ckpt = read_checkpoint(path)
        where = f"checkpoint {str(path)!r}"
        check_model(ckpt, self.model, path)
        check_resumable(ckpt, self.config, path)
        self.model.load_state_dict(ckpt["model_state"])
        self.optimizer.load_state_dict(ckpt["optimizer_state"])
        self.guard.load_state_dict(ckpt["guard"])
        order = ckpt["data_order"]
        if len(order["permutation"]) not in (0, len(self.train_data)):  # type: ignore[arg-type]
            raise PhysdiffError(
                f"{where}: the run was trained on {len(order['permutation'])} training windows, the data given now has "
                f"{len(self.train_data)}; resume with the same training data."  # type: ignore[arg-type]
            )
        self.stream.load_state_dict(order)
        self.tf_generator.set_state(ckpt["rng"]["teacher_forcing"])
        set_global_rng_state(ckpt["rng"]["global"])
        self.step = int(ckpt["step"])
        p = ckpt["progress"]
        self.best_rmse, self.best_step = p["best_rmse"], p["best_step"]
        self.best_metrics, self.last_metrics = dict(p["best_metrics"]), dict(p["last_metrics"])
        self.bad_validations = int(p["bad_validations"])
        self.plateau = dict(p.get("plateau", self.plateau))  # absent in checkpoints older than the schedule
        self.loss_sum, self.loss_count, self.elapsed = float(p["loss_sum"]), int(p["loss_count"]), float(p["elapsed"])

    # ------------------------------------------------------------------ checkpoints and logs
    def _payload(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
            "model_class": type(self.model).__name__, "model_config": json_config(self.model),
            "model_state": self.model.state_dict(), "step": self.step,
            "physdiff_version": _physdiff_version(), "torch_version": str(torch.__version__),
        }

    def _save_last(self) -> None:
        if not self.dist.is_main:
            return
        payload = self._payload()
        payload.update({
            "train_config": self.config.to_dict(), "optimizer_state": self.optimizer.state_dict(),
            "world_size": self.dist.world_size,
            "schedule": {"lr": self.optimizer.param_groups[0]["lr"], "lr_scale": self.guard.lr_scale},
            "guard": self.guard.state_dict(), "data_order": self.stream.state_dict(),
            "rng": {"global": global_rng_state(), "teacher_forcing": self.tf_generator.get_state()},
            "progress": {"best_rmse": self.best_rmse, "best_step": self.best_step, "best_metrics": self.best_metrics,
                         "last_metrics": self.last_metrics, "bad_validations": self.bad_validations,
                         "plateau": dict(self.plateau),
                         "loss_sum": self.loss_sum, "loss_count": self.loss_count, "elapsed": self._elapsed()},
        })
        save_checkpoint(self.out_dir / LAST, payload)

    def _save_best(self, metrics_: dict[str, float]) -> None:
        if self.dist.is_main and self.config.keep_best:
            payload = self._payload()
            payload.update({"metrics": dict(metrics_), "train_config": self.config.to_dict()})
            save_checkpoint(self.out_dir / BEST, payload)

    def _elapsed(self) -> float:
        return self.elapsed + (time.perf_counter() - self._t0 if hasattr(self, "_t0") else 0.0)

    def _record(self, record: dict[str, Any]) -> None:
        record.setdefault("time", round(self._elapsed(), 3))
        self.history.append(record)
        self.log.write(record)
        if record["kind"] == "event" and self.dist.is_main:
            self._events.append(str(record.get("message", record.get("event"))))

    # ------------------------------------------------------------------ one step
    def _autocast(self) -> contextlib.AbstractContextManager:
        return torch.autocast("cuda", dtype=torch.bfloat16) if self.amp else contextlib.nullcontext()

    def _train_step(self) -> dict[str, Any]:
        cfg, s = self.config, self.step
        batch = self.stream.next().to(self.device, self.dtype)
        horizon = horizon_at(cfg.curriculum, s, cfg.horizon)
        p = teacher_forcing_at(cfg.teacher_forcing, s)
        lr = cfg.optimizer.lr * lr_factor(cfg.schedule, s, cfg.steps) * self.plateau["factor"] * self.guard.lr_scale
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        forcing: dict[str, Any] = {}  # the same draws for the forward and the reversed pass
        if cfg.teacher_forcing.per_sample:
            if p > 0 and horizon > 1:
                draws = torch.rand(batch.shape[0], horizon - 1, generator=self.tf_generator)
                forcing["forcing_mask"] = draws < p
        elif p > 0:
            forcing = {"teacher_forcing": p, "generator": self.tf_generator}
        before = self.tf_generator.get_state()
        record: dict[str, Any] = {"step": s + 1, "kind": "train", "lr": lr, "horizon": horizon, "teacher_forcing": p}
        passes = [("", batch)] + ([("_reversed", batch.flip(1))] if cfg.reverse_sequences else [])
        for suffix, windows in passes:
            if suffix and "generator" in forcing:  # replay the forward pass's per-step draws
                replay = torch.Generator()
                replay.set_state(before)
                forcing = {**forcing, "generator": replay}
            total_value, aux_value, grad_norm, skipped = self._update(windows, horizon, forcing, s, lr)
            record[f"loss{suffix}"] = total_value
            record[f"grad_norm{suffix}"] = grad_norm
            if aux_value is not None:
                record[f"aux_loss{suffix}"] = aux_value
            if skipped:
                record["skipped"] = True
        self.step = s + 1
        return record

    def _loss(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        kind = self.config.loss
        if kind == "mse":
            return F.mse_loss(prediction, target)
        if kind == "l1":
            return F.l1_loss(prediction, target)
        return F.mse_loss(prediction, target) + F.l1_loss(prediction, target)

    def _update(self, batch: torch.Tensor, horizon: int, forcing: dict[str, Any], s: int,
                lr: float) -> tuple[float, float | None, float, bool]:
        """One forward/backward pass and optimiser update: ``(loss, aux loss, gradient norm, skipped)``."""
        cfg, model = self.config, self.model
        context = batch[:, : cfg.context_frames]
        targets = batch[:, cfg.context_frames : cfg.context_frames + horizon]
        self.guard.begin_step(model, self.optimizer)
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            prediction = model(context, horizon, targets=targets if forcing else None, **forcing,
                               checkpoint=cfg.checkpoint_rollout, checkpoint_every=cfg.checkpoint_segment,
                               detach_every=cfg.detach_every, return_context=cfg.loss_on_context)
            # With loss_on_context the predictions start at frame 1 (the context phase's one-step outputs).
            truth = batch[:, 1 : cfg.context_frames + horizon] if cfg.loss_on_context else targets
            loss = self._loss(prediction.to(truth.dtype), truth)
            aux = model.auxiliary_loss(context)
            extra = model.prediction_loss(prediction.to(truth.dtype), truth)
            if extra is not None:
                aux = extra if aux is None else aux + extra
            total = loss if aux is None else loss + aux
        total.backward()
        D.average_gradients(model, self.dist)
        params = [q for q in model.parameters() if q.grad is not None]
        if cfg.grad_clip is not None:
            grad_norm = float(torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip))
        elif params:
            grad_norm = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(q.grad) for q in params])))
        else:
            grad_norm = 0.0
        values = [float(total.detach()), 0.0 if aux is None else float(aux.detach())]
        total_value, aux_value = (v / self.dist.world_size for v in D.all_sum(values, self.dist, self.device))
        if math.isfinite(total_value) and math.isfinite(grad_norm):
            self.optimizer.step()
            self.guard.succeeded()
            return total_value, None if aux is None else aux_value, grad_norm, False
        what = "the loss" if not math.isfinite(total_value) else "the gradient norm"
        try:
            message = self.guard.failed(model, self.optimizer, s + 1, what)
        except PhysdiffError as exc:
            self._record({"step": s + 1, "kind": "event", "event": "nan_guard_stop", "lr": lr, "message": str(exc)})
            raise
        self._record({"step": s + 1, "kind": "event", "event": "nan_guard", "lr": lr, "message": message})
        return total_value, None if aux is None else aux_value, grad_norm, True

    # ------------------------------------------------------------------ validation
    def validate(self) -> dict[str, float]:
        """Free rollout over ``horizon`` on the validation windows: ``val_rmse`` (over all entries) and
        ``val_nrmse`` (mean relative L2 per frame). Windows are split across distributed ranks and
        the sums reduced, so every rank gets the same numbers. Empty without validation data."""
        if self.val_data is None:
            return {}
        cfg = self.config
        return rollout_metrics(self.model, self.val_data, context_frames=cfg.context_frames, horizon=cfg.horizon,
                               batch_size=cfg.val_batch_size or cfg.batch_size, device=self.device, dtype=self.dtype,
                               autocast=self._autocast, dist=self.dist)

    def _after_validation(self, values: dict[str, float]) -> str | None:
        """Log, keep the best model, step the plateau schedule; the reason to stop, if any
        (``"early_stopping"`` or ``"converged"``)."""
        self.last_metrics = values
        self._record({"step": self.step, "kind": "val", **values})
        rmse = values["val_rmse"]
        if math.isfinite(rmse) and (self.best_rmse is None or rmse < self.best_rmse):
            self.best_rmse, self.best_step = rmse, self.step
            self.best_metrics = dict(values)
            self.bad_validations = 0
            self._save_best(values)
        else:
            self.bad_validations += 1
        if self.config.schedule.name == "plateau" and self._plateau_converged(rmse):
            return "converged"
        patience = self.config.early_stopping_patience
        if patience is not None and self.bad_validations >= patience:
            self._record({"step": self.step, "kind": "event", "event": "early_stopping",
                          "message": f"no better val_rmse in {patience} validations; best "
                                     f"{self.best_rmse:g} at step {self.best_step}"})
            return "early_stopping"
        return None

    def _plateau_converged(self, rmse: float) -> bool:
        """One validation of the plateau schedule (see :class:`ScheduleConfig`): lower the factor
        after ``patience`` validations without a significant improvement; True once that happens
        at the floor."""
        sched, state = self.config.schedule, self.plateau
        if math.isfinite(rmse) and (state["best"] is None or rmse < (1.0 - sched.threshold) * state["best"]):
            state["best"], state["bad"] = rmse, 0
            return False
        state["bad"] += 1
        if state["bad"] < sched.patience:
            return False
        state["bad"] = 0
        if state["factor"] <= sched.min_factor:
            self._record({"step": self.step, "kind": "event", "event": "converged",
                          "message": f"no val_rmse {sched.threshold:.0%} below {state['best']:g} in {sched.patience} "
                                     f"validations at the lowest learning rate; best {self.best_rmse:g} at step "
                                     f"{self.best_step}"})
            state["converged"] = True
            return True
        lowered = state["factor"] * sched.gamma
        # snap to the floor within rounding (1 * 0.1 * 0.1 is 0.010000000000000002, not 0.01)
        state["factor"] = sched.min_factor if lowered <= sched.min_factor * (1 + 1e-9) else lowered
        self._record({"step": self.step, "kind": "event", "event": "plateau",
                      "message": f"no val_rmse {sched.threshold:.0%} below {state['best']:g} in {sched.patience} "
                                 f"validations; learning-rate factor lowered to {state['factor']:g}"})
        return False

    def _converged_before(self) -> bool:
        """Whether a resumed run had already converged under the plateau schedule."""
        return self.config.schedule.name == "plateau" and bool(self.plateau.get("converged"))

    # ------------------------------------------------------------------ the loop
    def fit(self) -> FitResult:
        """Train until ``config.steps`` steps are done or early stopping; see the module docstring.

        Raises:
            PhysdiffError: the NaN guard gave up (``last.pt`` holds the last checkpointed state).
        """
        if self._fitted:
            raise PhysdiffError("Trainer.fit: this trainer has already run; create a new Trainer with resume=True "
                                "to continue the run.")
        self._fitted = True
        cfg = self.config
        stopped = "completed"
        final_loss: float | None = None
        self._t0 = time.perf_counter()
        self.model.train()
        patience = cfg.early_stopping_patience
        clean = False
        try:
            if patience is not None and self.bad_validations >= patience:
                stopped = "early_stopping"
            if self._converged_before():
                stopped = "converged"
            with compiled_step(self.model, cfg.compile, cfg.checkpoint_rollout):
                while stopped == "completed" and self.step < cfg.steps:
                    record = self._train_step()
                    step = self.step
                    if not record.get("skipped"):
                        final_loss = record["loss"]
                        self.loss_sum += record["loss"]
                        self.loss_count += 1
                    if step % cfg.log_every == 0 or step == cfg.steps:
                        record["loss_avg"] = self.loss_sum / self.loss_count if self.loss_count else None
                        self.loss_sum, self.loss_count = 0.0, 0
                        self._record(dict(record))
                    shown = {k: record[k] for k in ("loss", "lr", "horizon", "teacher_forcing", "grad_norm")}
                    if self.val_data is not None and (step % cfg.validate_every == 0 or step == cfg.steps):
                        values = self.validate()
                        shown.update(values)
                        stopped = self._after_validation(values) or stopped
                    if step % cfg.checkpoint_every == 0 or step == cfg.steps or stopped != "completed":
                        self._save_last()
                    if self.progress is not None and self.dist.is_main:
                        shown["events"], self._events = self._events, []  # NaN guard, resume, early stopping
                        self.progress(step, cfg.steps, shown)
            if not (self.out_dir / LAST).exists():
                self._save_last()  # e.g. resumed at the end: make sure a checkpoint exists
            clean = True
        finally:
            self.elapsed = self._elapsed()
            del self._t0
            self.log.close()
            D.teardown(self.dist, clean=clean)
        best = self.out_dir / BEST
        return FitResult(
            steps=self.step, stopped=stopped, final_loss=final_loss, final_metrics=dict(self.last_metrics),
            best_metrics=dict(self.best_metrics),
            best_step=self.best_step, nan_recoveries=self.guard.recoveries, history=list(self.history),
            last_checkpoint=self.out_dir / LAST, best_checkpoint=best if best.exists() else None,
        )
