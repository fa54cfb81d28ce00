"""``run.json``: what ``physdiff evaluate`` and ``predict`` need besides a checkpoint and a data file.

``physdiff train`` writes it (atomically) into the run directory, next to ``last.pt`` and
``best.pt``: the model's registry name, class and configuration, the training data (path,
provenance hash, channels, grid, sampling interval), the normalisation statistics, the model
frame interval ``dt`` and ``frame_step``, and the training configuration. Documented in
``docs/cli.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from physdiff.core import PhysdiffError
from physdiff.training import sampling_interval, whole_ratio

RUN_FILE = "run.json"
RUN_FORMAT = "physdiff.run"
RUN_VERSION = 1


def run_record(config: Any, model: Any, data: Any, name: str) -> dict[str, Any]:
    """The ``run.json`` content of a training run (``config``: RunConfig, ``data``: WindowData)."""
    from physdiff.training._checkpoint import json_config

    info = data.info
    provenance = info.provenance
    channels = len(info.channel_names)
    return {
        "format": RUN_FORMAT, "version": RUN_VERSION,
        "config_file": str(config.file.resolve()),
        "model": {"name": name, "class": type(model).__name__, "config": json_config(model)},
        "data": {
            "path": str(config.data_path.resolve()),
            "val_path": None if config.val_path is None else str(config.val_path.resolve()),
            "val_fraction": config.val_fraction,
            "val_trajectories": None if config.val_trajectories is None else list(config.val_trajectories),
            "stride": config.stride,
            "setup_sha256": None if provenance is None else provenance.sha256,
            "content_sha256": data.content_sha256,
            "pde": None if provenance is None else provenance.pde_config,
            "shape": list(info.shape), "channel_names": list(info.channel_names),
            "space_shape": list(info.space_shape), "sampling_interval": sampling_interval(info),
        },
        "normalization": {"normalized": bool(data.normalized),
                          "mean": data.mean.reshape(channels).tolist(), "std": data.std.reshape(channels).tolist()},
        "frame_step": data.frame_step, "dt": data.dt,
        "context_frames": config.training.context_frames, "horizon": config.training.horizon,
        "training": config.training.to_dict(),
    }


def read_run(checkpoint: str | Path) -> dict[str, Any]:
    """``run.json`` of the run directory holding ``checkpoint``, checked."""
    path = Path(checkpoint).parent / RUN_FILE
    where = str(path)
    if not Path(checkpoint).is_file():
        raise PhysdiffError(f"checkpoint {str(checkpoint)!r}: no such file; check the path (physdiff train writes "
                            "RUN/best.pt and RUN/last.pt).")
    if not path.is_file():
        raise PhysdiffError(
            f"{where}: missing. evaluate and predict read the normalisation statistics and sampling of the run "
            f"from the run.json that `physdiff train` writes next to its checkpoints; use a checkpoint inside a "
            "physdiff train run directory."
        )
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PhysdiffError(f"{where}: not valid JSON ({exc}); it is corrupt. Rewrite it by resuming the run "
                            "(`physdiff train --config FILE --resume`).") from None
    keys = ("model", "data", "normalization", "frame_step", "dt", "context_frames", "horizon")
    if not isinstance(run, dict) or run.get("format") != RUN_FORMAT or any(k not in run for k in keys):
        raise PhysdiffError(f"{where}: not a physdiff run file (expected format {RUN_FORMAT!r} and the keys "
                            f"{', '.join(keys)}).")
    if not isinstance(run.get("version"), int) or run["version"] > RUN_VERSION:
        raise PhysdiffError(f"{where}: version {run.get('version')!r} is newer than this physdiff reads "
                            f"({RUN_VERSION}); upgrade physdiff.")
    return run


def load_run_model(checkpoint: str | Path, device: str = "cpu") -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """``(model, run, checkpoint_dict)``: the learner rebuilt from ``checkpoint`` (eval mode, on ``device``)
    after checking that it is the model ``run.json`` describes."""
    import torch

    from physdiff.training import load_learner, read_checkpoint

    from . import _registry as registry

    run = read_run(checkpoint)
    model = load_learner(checkpoint, registry.build_learner)
    stored = read_checkpoint(checkpoint)
    described = run["model"]
    if described.get("class") != stored["model_class"] or described.get("config") != stored["model_config"]:
        raise PhysdiffError(
            f"checkpoint {str(checkpoint)!r} holds a {stored['model_class']} with config {stored['model_config']}, "
            f"but the run.json next to it describes a {described.get('class')} with config "
            f"{described.get('config')}; the checkpoint belongs to another run. Keep each checkpoint in its run "
            "directory."
        )
    try:
        model = model.to(torch.device(device))
    except (RuntimeError, TypeError) as exc:
        raise PhysdiffError(f"--device: cannot use {device!r} ({exc}); expected e.g. cpu or cuda:0.") from None
    return model, run, stored


def frame_step_for(run: dict[str, Any], model: Any, info: Any) -> int:
    """File frames per model frame for data ``info``, after checking it matches the trained model.

    Raises:
        PhysdiffError: other channels, another spatial dimension, or a sampling interval the
            model's frame interval is not a whole multiple of.
    """
    where = f"trajectory file {str(info.path)!r}"
    names, trained = list(info.channel_names), run["data"]["channel_names"]
    if len(names) != model.channels or len(info.space_shape) != model.ndim:
        raise PhysdiffError(
            f"{where} holds {len(names)} channel(s) {names} on a {len(info.space_shape)}D grid "
            f"{tuple(info.space_shape)}, but the model ({type(model).__name__}) was trained on {model.channels} "
            f"channel(s) {trained} in {model.ndim}D. Use data of the PDE the model was trained on."
        )
    if names != trained:
        raise PhysdiffError(f"{where}: channels {names}, but the model was trained on channels {trained}; "
                            "use data of the PDE the model was trained on.")
    dt, interval = run["dt"], sampling_interval(info)
    if dt is None or interval is None:
        return 1
    step = whole_ratio(dt, interval)
    if step is None:
        raise PhysdiffError(
            f"{where}: frames every {interval:g} time units, but the model steps {dt:g} (trained on data sampled "
            f"every {run['data']['sampling_interval']}); expected a sampling interval that divides {dt:g}. "
            "Simulate the data with the training data's dt and save interval."
        )
    return step


def statistics(run: dict[str, Any], ndim: int) -> tuple[Any, Any]:
    """The training data's per-channel mean and std as ``(1, 1, C, 1, ...)`` float64 tensors."""
    import torch

    shape = (1, 1, -1) + (1,) * ndim
    norm = run["normalization"]
    return (torch.tensor(norm["mean"], dtype=torch.float64).reshape(shape),
            torch.tensor(norm["std"], dtype=torch.float64).reshape(shape))
