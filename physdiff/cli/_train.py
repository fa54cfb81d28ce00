"""``physdiff train --config FILE [--out DIR] [--resume] [--quiet]``: a training run from a configuration file.

Order of work, so that a bad input never costs anything already written: parse and check the
file, read the data, build the model and the windows, build the :class:`Trainer` (which refuses
a directory that holds a run unless ``--resume``, and a checkpoint of another model or training
configuration), and only then write ``run.json`` and train. Under ``torchrun`` every rank runs
this; only rank 0 prints and writes.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from physdiff.core import PhysdiffError, atomic_write_json


def _is_main() -> bool:
    return os.environ.get("RANK", "0") == "0"


def _grid_spacing(info: Any) -> list[float]:
    """The uniform grid step per axis of a trajectory file."""
    import numpy as np

    spacing = []
    for axis, x in enumerate(info.coordinates):
        steps = np.diff(np.asarray(x, dtype=np.float64))
        if steps.size == 0 or not steps[0] > 0 or not np.allclose(steps, steps[0], rtol=1e-6):
            raise PhysdiffError(f"trajectory file {str(info.path)!r}: axis x{axis} is not a uniform grid; give the "
                                "model's spacing in [model].")
        spacing.append(float(steps[0]))
    return spacing


def filled_options(name: str, options: dict[str, Any], info: Any, where: str) -> dict[str, Any]:
    """``[model]`` options with the arguments of ``FILLED_FROM_DATA`` the file omits taken from the data."""
    from . import _registry as registry
    from ._run_file import sampling_interval

    options = {k: (dict(v) if isinstance(v, dict) else v) for k, v in options.items()}
    for key in registry.FILLED_FROM_DATA.get(name, ()):
        table, _, field = key.rpartition(".")
        target = options
        if table:
            if not isinstance(options.get(table), dict):
                raise PhysdiffError(f"{where}: model: {table}: expected a table of {table} module settings "
                                    f"([model.{table}]), got {options.get(table)!r}.")
            target = options[table]
        if field in target:
            continue
        if field in ("channels", "in_channels"):
            target[field] = len(info.channel_names)
        elif field == "ndim":
            target[field] = len(info.space_shape)
        elif field == "frame_size":
            target[field] = [int(n) for n in info.space_shape]
        elif field == "spacing":
            target[field] = _grid_spacing(info)
        elif field == "grid":
            target[field] = list(info.space_shape)
        elif field == "dt":
            interval = sampling_interval(info)
            if interval is None:
                raise PhysdiffError(f"{where}: model: dt: the data has a single frame, so dt cannot be taken from "
                                    "its sampling interval; give dt in [model].")
            substeps = target.get("substeps", 1)
            target[field] = interval / substeps if isinstance(substeps, int) and substeps > 0 else interval
    return options


def build_model(name: str, options: dict[str, Any], where: str) -> Any:
    from . import _registry as registry

    cls = registry.learner_class(name)
    try:
        return cls(**options)
    except PhysdiffError as exc:
        raise PhysdiffError(f"{where}: model: {exc}") from None
    except (TypeError, ValueError, RuntimeError) as exc:  # e.g. a list where an int belongs, deep in torch
        raise PhysdiffError(f"{where}: model: cannot build {name} ({cls.__name__}) from {options} "
                            f"({type(exc).__name__}: {exc}).") from None


class _TrainProgress:
    """The trainer's ``progress(step, total, metrics)`` as a progress bar showing the loss."""

    def __init__(self, bar: Any) -> None:
        self.bar, self.val = bar, ""

    def __call__(self, step: int, total: int, metrics: dict[str, Any]) -> None:
        if "val_rmse" in metrics:
            self.val = f", val_rmse {metrics['val_rmse']:.3g}"
        loss = metrics.get("loss")
        self.bar(step, total, suffix=f"loss {loss:.3g}{self.val}" if loss is not None else self.val)


def _check_same_data(out: Path, record: dict[str, Any]) -> None:
    """On resume: the data and its statistics must be those of the run (the checkpoint checks the rest)."""
    import json

    from ._run_file import RUN_FILE

    path = out / RUN_FILE
    if not path.is_file():
        return
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return  # rewritten below from the checked configuration
    if not isinstance(old, dict):
        return
    # Paths may change (a moved run or data directory); the data itself may not.
    same = ("setup_sha256", "shape", "channel_names", "sampling_interval", "val_fraction", "val_trajectories", "stride")
    before = {key: old.get("data", {}).get(key) for key in same}
    now = {key: record["data"][key] for key in same}
    for what, a, b in (("data", before, now), ("normalization", old.get("normalization"), record["normalization"]),
                       ("frame_step", old.get("frame_step"), record["frame_step"])):
        if a != b:
            raise PhysdiffError(f"{path}: the run was trained with {what} {a}, the configuration now gives {b}; "
                                "resume with the run's data, or start a new run in another directory.")


def _check_run_directory(out: Path, resume: bool, record: dict[str, Any]) -> None:
    """A new run never writes into a directory holding one; a resumed run needs its last.pt and data."""
    held = [name for name in ("last.pt", "metrics.jsonl") if (out / name).exists()]
    if not resume and held:
        raise PhysdiffError(f"run directory {str(out)!r} already holds a run ({', '.join(held)}); continue it with "
                            "--resume, or choose another --out. Nothing there was changed.")
    if resume:
        if not (out / "last.pt").is_file():
            raise PhysdiffError(f"--resume: {str(out / 'last.pt')!r} does not exist, so there is no run to continue; "
                                "start a new run without --resume, or give the run's directory with --out.")
        _check_same_data(out, record)


def train_command(args: argparse.Namespace) -> int:
    import torch

    from physdiff.data import read_info
    from physdiff.training import Trainer, seed_everything, training_windows

    from . import _progress
    from ._config_file import load_run_config
    from ._run_file import RUN_FILE, run_record

    if args.threads is not None:
        if args.threads < 1:
            raise PhysdiffError(f"--threads: expected a positive int, got {args.threads}.")
        torch.set_num_threads(args.threads)
    config = load_run_config(args.config)
    where = str(config.file)
    out = Path(args.out) if args.out is not None else config.out
    if out is None:
        out = config.file.resolve().parent / "runs" / config.file.stem
    try:
        info = read_info(config.data_path)
    except PhysdiffError as exc:
        raise PhysdiffError(f"{where}: data: path: {exc}") from None
    options = filled_options(config.model_name, config.model_options, info, where)
    seed_everything(config.training.seed)  # the initial weights depend on the seed only
    model = build_model(config.model_name, options, where)
    cfg = config.training
    try:
        data = training_windows(
            model, config.data_path, context_frames=cfg.context_frames, horizon=cfg.horizon,
            val_fraction=config.val_fraction, val_trajectories=config.val_trajectories, val_path=config.val_path,
            stride=config.stride, dtype=torch.float64 if cfg.dtype == "float64" else torch.float32,
        )
    except PhysdiffError as exc:
        raise PhysdiffError(f"{where}: {exc}") from None
    record = run_record(config, model, data, config.model_name)
    _check_run_directory(out, args.resume, record)
    main = _is_main()
    with _progress(args.quiet or not main, f"train {config.model_name}") as bar:
        trainer = Trainer(model, cfg, data.train, data.val, out_dir=out,
                          progress=None if bar is None else _TrainProgress(bar), resume=bool(args.resume))
        if main:
            atomic_write_json(out / RUN_FILE, record)
        try:
            result = trainer.fit()
        except KeyboardInterrupt:
            if bar is not None:
                bar.close()
            if main:
                print(f"physdiff: interrupted; {out / 'last.pt'} holds the last checkpoint. Continue with "
                      f"`physdiff train --config {args.config} --out {out} --resume`.", file=sys.stderr)
            return 130
    if not main:
        return 0
    units = "normalised units" if data.normalized else "data units"
    checkpoints = " and ".join(str(p) for p in (result.best_checkpoint, result.last_checkpoint) if p is not None)
    if result.best_metrics:
        print(f"{result.steps} steps ({result.stopped}); best val_rmse {result.best_metrics['val_rmse']:.4g} "
              f"({units}) at step {result.best_step}; checkpoints {checkpoints}")
    else:
        print(f"{result.steps} steps ({result.stopped}); no validation data; checkpoint {checkpoints}")
    return 0
