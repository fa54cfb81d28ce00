"""Atomic checkpoints, validated loading, and rebuilding a learner from a checkpoint.

A checkpoint is a ``torch.save`` dict (readable with ``weights_only=True``: tensors, numbers,
strings, lists, tuples and dicts only) with at least::

    format         "physdiff.checkpoint"       version   CHECKPOINT_VERSION
    model_class    type(model).__name__        model_config   model.config() (JSON types)
    model_state    model.state_dict()          step           optimiser steps done

Training checkpoints (``last.pt``) add the optimiser, the NaN-guard state, every RNG state
and the data order; ``best.pt`` adds the validation metrics. See ``docs/training.md``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..core import PhysdiffError, atomic_write

#: The ``format`` entry every physdiff checkpoint carries.
CHECKPOINT_FORMAT = "physdiff.checkpoint"
#: Version of the checkpoint layout this release writes and reads.
CHECKPOINT_VERSION = 1


def json_config(model: nn.Module) -> dict[str, Any]:
    """``model.config()`` in plain JSON types (tuples become lists), as stored in checkpoints."""
    where = type(model).__name__
    config = getattr(model, "config", None)
    if config is None:
        raise PhysdiffError(f"{where}: has no config() method; checkpoints need one to rebuild the model.")
    try:
        return json.loads(json.dumps(config(), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise PhysdiffError(f"{where}: config() is not JSON-serialisable ({exc}); return plain numbers, "
                            "strings, lists and dicts.") from exc


def save_checkpoint(path: str | os.PathLike, payload: Mapping[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically (:func:`physdiff.core.atomic_write`: a temporary file in
    the same directory, flushed, fsynced, renamed over ``path``). A crash at any point leaves either
    the old file or the new one, never a half-written checkpoint."""
    return atomic_write(path, lambda handle: torch.save(dict(payload), handle))


def read_checkpoint(path: str | os.PathLike, map_location: str | torch.device | None = "cpu") -> dict[str, Any]:
    """Load and validate a physdiff checkpoint (safely: ``weights_only=True``).

    Raises:
        PhysdiffError: a missing, truncated, corrupt or foreign file, or a newer format version.
    """
    path = Path(path)
    where = f"checkpoint {str(path)!r}"
    if not path.is_file():
        raise PhysdiffError(f"{where}: no such file; check the path (training writes last.pt and best.pt).")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, UnpicklingError, EOFError, zipfile errors, ...
        raise PhysdiffError(
            f"{where}: cannot be read ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
            "the file is truncated or corrupt. Use another checkpoint (best.pt or an older copy)."
        ) from exc
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise PhysdiffError(f"{where}: not a physdiff checkpoint (no format = {CHECKPOINT_FORMAT!r}).")
    if not isinstance(data.get("version"), int) or data["version"] > CHECKPOINT_VERSION:
        raise PhysdiffError(f"{where}: format version {data.get('version')!r} is newer than this physdiff reads "
                            f"({CHECKPOINT_VERSION}); upgrade physdiff.")
    for key in ("model_class", "model_config", "model_state", "step"):
        if key not in data:
            raise PhysdiffError(f"{where}: missing entry {key!r}; the file is not a complete physdiff checkpoint.")
    return data


def check_model(checkpoint: Mapping[str, Any], model: nn.Module, path: str | os.PathLike) -> None:
    """Refuse a checkpoint written for another model class or configuration, naming what differs."""
    where = f"checkpoint {str(Path(path))!r}"
    name = type(model).__name__
    if checkpoint["model_class"] != name:
        raise PhysdiffError(f"{where}: holds a {checkpoint['model_class']} model, but the model given is a {name}. "
                            "Build the model the checkpoint was trained with.")
    stored, current = checkpoint["model_config"], json_config(model)
    # a learner that renamed a constructor argument lists {old: new} in renamed_config_keys, so that
    # checkpoints written before the rename (and built through the old name, a deprecated alias) load
    renamed = getattr(type(model), "renamed_config_keys", {})
    stored = {renamed.get(k, k): v for k, v in stored.items()}
    if stored != current:
        keys = sorted(set(stored) | set(current))
        diffs = [f"{k}: checkpoint {stored.get(k, '<absent>')!r} vs model {current.get(k, '<absent>')!r}"
                 for k in keys if stored.get(k, "<absent>") != current.get(k, "<absent>")]
        raise PhysdiffError(f"{where}: the {name} configuration differs from the model's: " + "; ".join(diffs) +
                            ". Build the model with the checkpoint's model_config.")


TRAINING_KEYS = ("train_config", "optimizer_state", "guard", "rng", "data_order", "progress")


def check_resumable(checkpoint: Mapping[str, Any], config: Any, path: str | os.PathLike) -> None:
    """Refuse to resume from a checkpoint that is not a training checkpoint, or whose training
    configuration differs from ``config`` (a :class:`TrainConfig`) in more than ``RESUMABLE_CHANGES``."""
    where = f"checkpoint {str(Path(path))!r}"
    missing = [k for k in TRAINING_KEYS if k not in checkpoint]
    if missing:
        raise PhysdiffError(f"{where}: not a training checkpoint (missing {missing}); resume from last.pt, "
                            "or load weights only with load_weights().")
    current, free = config.to_dict(), config.RESUMABLE_CHANGES
    # Fields added to TrainConfig after a checkpoint was written take their defaults there.
    stored = _with_defaults(checkpoint["train_config"], type(config)().to_dict())
    diffs = [f"{k}: checkpoint {stored.get(k)!r} vs now {current.get(k)!r}" for k in current
             if k not in free and stored.get(k) != current.get(k)]
    if diffs:
        raise PhysdiffError(f"{where}: the training configuration differs from the checkpoint's: " + "; ".join(diffs)
                            + ". Only " + ", ".join(free) + " may change on resume.")


def _with_defaults(stored: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """``stored`` with the keys it lacks taken from ``defaults`` (recursively for sections)."""
    merged = dict(stored)
    for key, value in defaults.items():
        if key not in merged:
            merged[key] = value
        elif isinstance(value, Mapping) and isinstance(merged[key], Mapping):
            merged[key] = _with_defaults(merged[key], value)
    return merged


def load_weights(model: nn.Module, path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint's weights into ``model`` after checking its class and configuration.

    Returns:
        The checkpoint dict (step, metrics, configs), for information.

    Raises:
        PhysdiffError: an unreadable checkpoint, another model class or configuration, or
            parameters that do not fit.
    """
    checkpoint = read_checkpoint(path)
    _load_state(model, checkpoint, path)
    return checkpoint


def _load_state(model: nn.Module, checkpoint: Mapping[str, Any], path: str | os.PathLike) -> None:
    check_model(checkpoint, model, path)
    try:
        model.load_state_dict(checkpoint["model_state"])
    except RuntimeError as exc:
        raise PhysdiffError(f"checkpoint {str(Path(path))!r}: its weights do not fit the model ({exc}).") from exc


Builder = Callable[[str, dict[str, Any]], nn.Module]


def load_learner(path: str | os.PathLike, builder: Builder) -> nn.Module:
    """Rebuild the model stored in a checkpoint and load its weights (on the CPU, in eval mode).

    Args:
        path: a checkpoint written by the trainer (``last.pt`` or ``best.pt``).
        builder: maps ``(model_class, model_config)`` to a new model, e.g. a registry lookup
            ``lambda name, config: REGISTRY[name](**config)``.

    Raises:
        PhysdiffError: an unreadable checkpoint, a builder that fails or returns something else,
            or weights that do not fit.
    """
    checkpoint = read_checkpoint(path)
    name, config = checkpoint["model_class"], checkpoint["model_config"]
    try:
        model = builder(name, dict(config))
    except PhysdiffError:
        raise
    except Exception as exc:
        raise PhysdiffError(f"checkpoint {str(Path(path))!r}: cannot build a {name} from its model_config "
                            f"{config!r} ({type(exc).__name__}: {exc}).") from exc
    if not isinstance(model, nn.Module):
        raise PhysdiffError(f"checkpoint {str(Path(path))!r}: the builder returned {type(model).__name__}, "
                            "expected an nn.Module.")
    dtypes = {t.dtype for t in checkpoint["model_state"].values() if isinstance(t, torch.Tensor) and t.is_floating_point()}
    if len(dtypes) == 1:
        model = model.to(dtypes.pop())  # float64 checkpoints come back as float64 models
    _load_state(model, checkpoint, path)
    return model.eval()
