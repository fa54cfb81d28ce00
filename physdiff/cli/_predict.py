"""``physdiff predict CHECKPOINT --data FILE.h5 --out PRED.h5``: roll a trained learner out into a trajectory file.

Each trajectory of ``FILE`` gives its first ``--context`` model frames (the file may hold only
those); the output holds those context frames followed by ``--steps`` predicted frames, with
times continuing the data's sampling. The file is a normal physdiff trajectory file, written
atomically. Its provenance records the checkpoint (path, SHA-256, step, model), the data and
the context: the ``integrator`` is ``learner:CLASS`` and the initial condition
``learner-rollout``, so ``physdiff info`` shows where the frames came from (``regenerate``
cannot rebuild such a file: it reruns PDEs, not learners).
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from physdiff.core import PhysdiffError

BATCH = 8  # trajectories per forward pass


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _provenance(args: argparse.Namespace, run: dict[str, Any], stored: dict[str, Any], info: Any, model: Any, *,
                context: int, steps: int, frame_step: int, dt: float) -> Any:
    import torch

    import physdiff
    from physdiff.data import Provenance

    source = info.provenance
    checkpoint = Path(args.checkpoint)
    n = info.n_trajectories
    seeds = source.seeds if source is not None and len(source.seeds) == n else list(range(n))
    setup = {
        "pde": source.pde_config if source is not None else (run["data"].get("pde") or {"pde": "unknown"}),
        "integrator": f"learner:{stored['model_class']}",
        "dt": dt, "steps": context + steps - 1, "save_every": 1, "include_initial": True,
        "shape": list(info.space_shape), "spacing": None if source is None else source.setup.get("spacing"),
        "accuracy": None,
        "initial_condition": {"name": "learner-rollout", "seeds": seeds, "options": {
            "checkpoint": str(checkpoint.resolve()), "checkpoint_sha256": _sha256(checkpoint),
            "checkpoint_step": stored["step"], "model_class": stored["model_class"],
            "model_config": stored["model_config"], "data": str(Path(args.data).resolve()),
            "data_setup_sha256": None if source is None else source.sha256, "context_frames": context,
            "predicted_frames": steps, "frame_step": frame_step, "normalized": bool(model.normalized_data),
        }},
        "batch_size": BATCH, "dtype": info.dtype,
    }
    return Provenance(setup=setup, physdiff_version=physdiff.__version__, torch_version=str(torch.__version__),
                      device=str(args.device))


def predict_command(args: argparse.Namespace) -> int:
    import torch

    from physdiff.data import TrajectoryFile, TrajectoryWriter, read_info

    from ._evaluate import rollout_frames
    from ._run_file import frame_step_for, load_run_model, statistics

    data, out = Path(args.data), Path(args.out)
    if out.resolve() == data.resolve():
        raise PhysdiffError(f"--out {str(out)!r} is the input data file; write the predictions to another file.")
    model, run, stored = load_run_model(args.checkpoint, args.device)
    info = read_info(data)
    frame_step = frame_step_for(run, model, info)
    context, steps = rollout_frames(run, info, frame_step, args.context, args.steps, default_steps=run["horizon"],
                                    targets=False)
    dt = run["dt"] if run["dt"] is not None else 1.0
    mean, std = statistics(run, model.ndim)
    normalize = bool(model.normalized_data)
    device = next(iter(model.parameters())).device
    dtype = next(iter(model.parameters())).dtype
    n = info.n_trajectories
    time = float(info.time[0]) + dt * np.arange(context + steps)
    provenance = _provenance(args, run, stored, info, model, context=context, steps=steps, frame_step=frame_step,
                             dt=dt)
    frames = slice(0, (context - 1) * frame_step + 1, frame_step)
    with TrajectoryFile(data) as source, TrajectoryWriter(
        out, n_trajectories=n, n_frames=context + steps, channel_names=info.channel_names,
        space_shape=info.space_shape, dtype=torch.float64 if info.dtype == "float64" else torch.float32, time=time,
        coordinates=info.coordinates, provenance=provenance,
    ) as writer:
        for start in range(0, n, BATCH):
            first = torch.from_numpy(np.ascontiguousarray(source.read(slice(start, start + BATCH), frames)))
            x = first.to(device, dtype)
            if normalize:
                x = (x - mean.to(x)) / std.to(x)
            prediction = model.predict(x, steps)
            if normalize:
                prediction = prediction * std.to(prediction) + mean.to(prediction)
            writer.append(torch.cat([first.to(prediction), prediction], dim=1))
    print(f"wrote {out}: {n} trajector{'y' if n == 1 else 'ies'} of {context} context + {steps} predicted frames "
          f"({dt:g} apart) by {stored['model_class']} {args.checkpoint} (step {stored['step']})")
    return 0
