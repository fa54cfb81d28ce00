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
        if field in target or (field == "grid" and "frame_size" in target):  # frame_size: deprecated grid
            continue
        if field in ("channels", "in_channels"):
            target[field] = len(info.channel_names)
        elif field == "ndim":
            target[field] = len(info.space_shape)
        elif field == "spacing":
            target[field] = _grid_spacing(info)
        elif field == "grid":
            target[field] = [int(n) for n in info.space_shape]
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
    """The trainer's ``progress(step, total, metrics)``: the bar (None with --quiet) showing the loss,
    and the trainer's events (NaN guard, resume, early stopping) on their own lines of stderr."""

    def __init__(self, bar: Any) -> None:
        self.bar, self.val = bar, ""

    def __call__(self, step: int, total: int, metrics: dict[str, Any]) -> None:
        for message in metrics.get("events", ()):
            if self.bar is not None:
                self.bar.message(f"physdiff: {message}")
            else:
                print(f"physdiff: {message}", file=sys.stderr)
        if self.bar is None:
            return
        if "val_rmse" in metrics:
            self.val = f", val_rmse {metrics['val_rmse']:.3g}"
        loss = metrics.get("loss")
        self.bar(step, total, suffix=f"loss {loss:.3g}{self.val}" if loss is not None else self.val)


#: Set by --nproc-per-node for its workers: the N of the command that launched them.
LAUNCHED = "PHYSDIFF_NPROC_PER_NODE"

#: What a training run writes into its directory (all that --overwrite deletes).
RUN_FILES = ("last.pt", "best.pt", "metrics.jsonl", "metrics.csv", "run.json")


def _differences(a: Any, b: Any, prefix: str = "") -> list[str]:
    """``key (run: A, now: B)`` for every leaf that differs between two nested dicts."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for key in sorted(set(a) | set(b), key=str)
                for d in _differences(a.get(key), b.get(key), f"{prefix}{key}.")]
    return [] if a == b else [f"{prefix.rstrip('.')} (run: {a!r}, now: {b!r})"]


def _check_same_data(out: Path, record: dict[str, Any]) -> None:
    """On resume: the data (setup and values) and its statistics must be those of the run (the checkpoint
    checks the rest)."""
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
    # Paths may change (a moved run or data directory); the data itself may not. A run.json written
    # before content checksums existed has none: then only the rest is compared.
    same = ("setup_sha256", "content_sha256", "shape", "channel_names", "sampling_interval", "val_fraction",
            "val_trajectories", "stride")
    old_data = old.get("data", {}) if isinstance(old.get("data"), dict) else {}
    keys = [k for k in same if k != "content_sha256" or old_data.get(k) is not None]
    before = {"data": {key: old_data.get(key) for key in keys}, "normalization": old.get("normalization"),
              "frame_step": old.get("frame_step")}
    now = {"data": {key: record["data"][key] for key in keys}, "normalization": record["normalization"],
           "frame_step": record["frame_step"]}
    differing = _differences(before, now)
    if differing:
        names = [d.split(" ", 1)[0] for d in differing]
        hint = (" The file was made with the same setup but holds other values than when the run started "
                "(edited or damaged?)." if names == ["data.content_sha256"] else "")
        raise PhysdiffError(f"{path}: the run was trained on other data; differing: {'; '.join(differing)}.{hint} "
                            "Resume with the run's data, or start a new run in another directory.")


def _check_run_directory(out: Path, args: argparse.Namespace, record: dict[str, Any]) -> None:
    """A new run never writes over a run unless --overwrite; a resumed run needs its data (and last.pt,
    except after a start that never reached its first checkpoint: that one starts again)."""
    base = _command(args, out)
    if args.resume and args.overwrite:
        raise PhysdiffError("--resume continues the run in the directory, --overwrite deletes it; give one of them.")
    if args.overwrite:
        return
    if not args.resume and (out / "last.pt").exists():
        raise PhysdiffError(f"run directory {str(out)!r} already holds a run (last.pt, metrics.jsonl); continue it "
                            f"with `{base} --resume`, start it over with `{base} --overwrite`, or choose another "
                            "--out. Nothing there was changed.")
    if args.resume:
        if not (out / "last.pt").is_file() and not any((out / name).exists() for name in RUN_FILES):
            raise PhysdiffError(f"--resume: {str(out / 'last.pt')!r} does not exist, so there is no run to continue; "
                                f"start a new run with `{base}`, or give the run's directory with --out.")
        _check_same_data(out, record)


def _command(args: argparse.Namespace, out: Path) -> str:
    """The train command for this configuration and run directory (for messages that say what to run)."""
    import shlex

    words = ["physdiff", "train", "--config", str(args.config), "--out", str(out)]
    if args.threads is not None:
        words += ["--threads", str(args.threads)]
    nproc = getattr(args, "nproc_per_node", None) or os.environ.get(LAUNCHED)  # a worker names its launcher's N
    if nproc is not None:
        words += ["--nproc-per-node", str(nproc)]
    return " ".join(shlex.quote(w) for w in words)


def _interrupted(args: argparse.Namespace, out: Path, checkpoint_every: int) -> str:
    """The Ctrl-C message: a command that works, whether or not a checkpoint exists yet."""
    base = _command(args, out)
    last = out / "last.pt"
    if last.is_file():
        from physdiff.training import read_checkpoint

        step = read_checkpoint(last)["step"]
        return f"physdiff: interrupted; {last} holds the checkpoint of step {step}. Continue with `{base} --resume`."
    return (f"physdiff: interrupted before the first checkpoint (step {checkpoint_every}), so there is nothing to "
            f"continue; start again with `{base}` (it replaces the logs of this start).")


def _launch(args: argparse.Namespace, cfg: Any, out: Path) -> int:
    """``--nproc-per-node N``: run this command in N processes through torchrun's launcher.

    Why not plain ``torchrun``: it works too, but any error of the workers (a missing file,
    a used run directory) ends in torchrun's own ``ChildFailedError`` traceback. Here the
    configuration, data and run directory were checked before launching, and a worker's
    failure is one line naming the ranks, below the workers' own messages.
    """
    n = args.nproc_per_node
    if n < 1:
        raise PhysdiffError(f"--nproc-per-node: expected a positive number of processes, got {n}.")
    if cfg.batch_size % n:
        raise PhysdiffError(f"--nproc-per-node {n}: batch_size {cfg.batch_size} is not a multiple of {n}; every "
                            "process trains on an equal share of each batch. Change one of them.")
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    worker = ["train", "--config", str(args.config), "--out", str(out)]
    worker += [flag for flag, on in (("--resume", args.resume), ("--overwrite", args.overwrite),
                                     ("--quiet", args.quiet)) if on]
    if args.threads is not None:
        worker += ["--threads", str(args.threads)]
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads or 1))  # torchrun's default, without its warning
    os.environ[LAUNCHED] = str(n)  # inherited by the workers, so their messages name this command
    launch = get_args_parser().parse_args(["--standalone", f"--nproc_per_node={n}", "--module", "physdiff", *worker])
    try:
        run(launch)
    except ChildFailedError as exc:
        codes = {rank: failure.exitcode for rank, failure in exc.failures.items()}
        if set(codes.values()) == {130}:
            return 130  # Ctrl-C: rank 0 printed how to continue
        raise PhysdiffError(f"training failed in {len(codes)} of {n} processes (rank: exit status {codes}); their "
                            "messages are above.") from None
    except KeyboardInterrupt:
        return 130
    return 0


def train_command(args: argparse.Namespace) -> int:
    import torch

    from physdiff.data import read_info
    from physdiff.training import Trainer, seed_everything, training_windows

    from . import _progress
    from ._common import RUN, check_output
    from ._config_file import load_run_config
    from ._run_file import RUN_FILE, run_record

    config = load_run_config(args.config)
    where = str(config.file)
    out = Path(args.out) if args.out is not None else config.out
    if out is None:
        out = config.file.resolve().parent / "runs" / config.file.stem
    if args.out is None:  # main checked a given --out; the configured one follows the same rule
        check_output(out, RUN, args.overwrite)
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
    _check_run_directory(out, args, record)
    if args.nproc_per_node is not None and "WORLD_SIZE" not in os.environ:
        return _launch(args, cfg, out)  # everything above was checked once, here, before any process starts
    if args.overwrite:  # every rank deletes (missing_ok), so no rank can see a file another has not yet removed
        for name in RUN_FILES:
            (out / name).unlink(missing_ok=True)
    main = _is_main()
    with _progress(args.quiet or not main, f"train {config.model_name}") as bar:
        trainer = Trainer(model, cfg, data.train, data.val, out_dir=out, progress=_TrainProgress(bar),
                          resume=bool(args.resume))
        if main:
            atomic_write_json(out / RUN_FILE, record)
        try:
            result = trainer.fit()
        except PhysdiffError as exc:  # the NaN guard gave up: the settings must change, so the run starts over
            raise PhysdiffError(f"{exc} After changing the configuration, start the run over with "
                                f"`{_command(args, out)} --overwrite`.") from None
        except KeyboardInterrupt:
            if bar is not None:
                bar.close()
            if main:
                print(_interrupted(args, out, cfg.checkpoint_every), file=sys.stderr)
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
