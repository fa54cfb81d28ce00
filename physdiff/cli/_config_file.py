"""The configuration file of ``physdiff train``: TOML (Python >= 3.11) or JSON, checked key by key.

Layout (documented in ``docs/cli.md``)::

    out = "runs/convlstm"              # run directory (relative to this file's folder); --out overrides
    [data]
    path = "gray_scott.h5"             # relative to this file's folder, or absolute
    val_fraction = 0.25                # or val_trajectories = [3], or val_path = "val.h5"
    stride = 1
    [model]
    name = "convlstm"                  # a key of physdiff.cli._registry.LEARNERS
    hidden_channels = [16]             # every other key: a constructor argument
    [training]                         # physdiff.training.TrainConfig fields
    steps = 200

Every error names the file and the key, says what was expected and what was found.
"""

from __future__ import annotations

import inspect
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from physdiff.core import PhysdiffError

SECTIONS = {"data": "a table", "model": "a table", "training": "a table", "out": "a path string, the run directory"}
DATA_KEYS = ("path", "val_fraction", "val_trajectories", "val_path", "stride")


@dataclass(frozen=True)
class RunConfig:
    """A checked training configuration file.

    Attributes:
        file: the configuration file.
        data_path, val_path: trajectory files (resolved against the file's folder).
        val_fraction, val_trajectories, stride: the split and window stride (``training_windows``).
        model_name: the ``LEARNERS`` key; ``model_options``: the other ``[model]`` keys.
        training: the ``[training]`` table as a :class:`~physdiff.training.TrainConfig`.
        out: the run directory from ``out`` (resolved), or None if the file gives none.
        raw: the parsed file, for ``run.json``.
    """

    file: Path
    data_path: Path
    val_fraction: float
    val_trajectories: tuple[int, ...] | None
    val_path: Path | None
    stride: int
    model_name: str
    model_options: dict[str, Any]
    training: Any  # TrainConfig (imported lazily: it pulls in torch)
    out: Path | None
    raw: dict[str, Any]


def _kind(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def parse_file(path: Path) -> dict[str, Any]:
    """The file's top-level table (TOML by suffix ``.toml``, JSON by ``.json``)."""
    where = str(path)
    if not path.is_file():
        raise PhysdiffError(f"{where}: no such configuration file; check the path (examples: examples/configs/).")
    suffix = path.suffix.lower()
    if suffix == ".toml":
        if sys.version_info < (3, 11):
            raise PhysdiffError(
                f"{where}: reading TOML needs Python >= 3.11 (tomllib); this is Python "
                f"{'.'.join(str(v) for v in sys.version_info[:2])}. Write the same tables as a JSON file "
                '({"data": {...}, "model": {...}, "training": {...}}) or use a newer Python.'
            )
        import tomllib

        try:
            with open(path, "rb") as handle:
                parsed = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise PhysdiffError(f"{where}: not valid TOML ({exc}).") from None
    elif suffix == ".json":
        try:
            parsed = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise PhysdiffError(f"{where}: not valid JSON ({exc}).") from None
    else:
        raise PhysdiffError(f"{where}: expected a .toml or .json configuration file, got suffix {suffix or 'none'!r}.")
    if not isinstance(parsed, dict):
        raise PhysdiffError(f"{where}: expected a table of sections at the top, got {type(parsed).__name__}.")
    return parsed


def _table(parsed: dict[str, Any], key: str, where: str, required: bool) -> dict[str, Any]:
    if key not in parsed:
        if required:
            raise PhysdiffError(f"{where}: missing [{key}] table; see examples/configs/ and docs/cli.md.")
        return {}
    value = parsed[key]
    if not isinstance(value, dict):
        raise PhysdiffError(f"{where}: {key}: expected a table, got {_kind(value)}.")
    return value


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _path(base: Path, value: Any, where: str, key: str) -> Path:
    if not isinstance(value, str) or not value:
        raise PhysdiffError(f"{where}: {key}: expected a path string (relative to the configuration file's folder, "
                            f"or absolute), got {_kind(value)}.")
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _data(table: dict[str, Any], base: Path, where: str) -> dict[str, Any]:
    unknown = [k for k in table if k not in DATA_KEYS]
    if unknown:
        raise PhysdiffError(f"{where}: data: unknown key {unknown[0]!r}; expected one of {', '.join(DATA_KEYS)}.")
    if "path" not in table:
        raise PhysdiffError(f"{where}: data: missing key 'path' (the training trajectory file, e.g. made by "
                            "`physdiff simulate ... --out FILE.h5`).")
    out: dict[str, Any] = {"data_path": _path(base, table["path"], where, "data: path"), "val_fraction": 0.0,
                           "val_trajectories": None, "val_path": None, "stride": 1}
    fraction = table.get("val_fraction", 0.0)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 <= fraction < 1.0:
        raise PhysdiffError(f"{where}: data: val_fraction: expected a number in [0, 1), got {_kind(fraction)}.")
    out["val_fraction"] = float(fraction)
    if "val_trajectories" in table:
        ids = table["val_trajectories"]
        if not isinstance(ids, list) or not all(_int(i) and i >= 0 for i in ids):
            raise PhysdiffError(f"{where}: data: val_trajectories: expected a list of trajectory indices "
                                f"(ints >= 0), got {_kind(ids)}.")
        out["val_trajectories"] = tuple(ids)
    if "val_path" in table:
        out["val_path"] = _path(base, table["val_path"], where, "data: val_path")
    stride = table.get("stride", 1)
    if not _int(stride) or stride < 1:
        raise PhysdiffError(f"{where}: data: stride: expected a positive int (model frames between window "
                            f"starts), got {_kind(stride)}.")
    out["stride"] = stride
    return out


def _model(table: dict[str, Any], where: str) -> tuple[str, dict[str, Any]]:
    from . import _registry as registry

    if "name" not in table:
        raise PhysdiffError(f"{where}: model: missing key 'name'; expected one of {sorted(registry.LEARNERS)}.")
    name = table["name"]
    if not isinstance(name, str):
        raise PhysdiffError(f"{where}: model: name: expected a string, one of {sorted(registry.LEARNERS)}, "
                            f"got {_kind(name)}.")
    try:
        cls = registry.learner_class(name)
    except PhysdiffError as exc:
        raise PhysdiffError(f"{where}: model: name: {exc}") from None
    options = {k: v for k, v in table.items() if k != "name"}
    accepted = [p.name for p in inspect.signature(cls).parameters.values() if p.kind is not p.VAR_KEYWORD]
    unknown = [k for k in options if k not in accepted]
    if unknown:
        raise PhysdiffError(f"{where}: model: unknown key {unknown[0]!r} for {name} ({cls.__name__}); expected "
                            f"name or one of {', '.join(accepted)}.")
    return name, options


def load_run_config(path: str | Path) -> RunConfig:
    """Read and check a training configuration file (see the module docstring).

    Raises:
        PhysdiffError: a missing or unparsable file, an unknown section or key, a wrong type,
            an unknown model name; the message names the file and the key.
    """
    from physdiff.training import TrainConfig

    file = Path(path)
    where = str(file)
    parsed = parse_file(file)
    unknown = [k for k in parsed if k not in SECTIONS]
    if unknown:
        raise PhysdiffError(f"{where}: unknown top-level key {unknown[0]!r}; expected "
                            + ", ".join(f"{k} ({v})" for k, v in SECTIONS.items()) + ".")
    base = file.resolve().parent
    data = _data(_table(parsed, "data", where, True), base, where)
    name, options = _model(_table(parsed, "model", where, True), where)
    training = TrainConfig.from_dict(_table(parsed, "training", where, False), f"{where}: training")
    out = _path(base, parsed["out"], where, "out") if "out" in parsed else None
    return RunConfig(file=file, model_name=name, model_options=options, training=training, out=out, raw=parsed,
                     **data)
