"""The one HDF5 schema of physdiff trajectory files: names, provenance and the setup hash.

Layout (documented in ``docs/data_format.md``)::

    /trajectories   (N, T, C, *space)  chunks (1, 1, C, *space), gzip (default) or lzf
    /time           (T,)               float64, in the PDE's time unit
    /x0, /x1, ...   (space[a],)        float64, sample positions per spatial axis
    attrs           schema, schema_version, complete, channel_names, channel_mean,
                    channel_std, the provenance (see :class:`Provenance`) and,
                    optionally, burst (see :class:`physdiff.data.BurstSpec`)

The setup hash is ``sha256(canonical_json(setup))`` where :func:`canonical_json`
sorts keys, uses no whitespace, ASCII only and rejects NaN/Inf: the same setup
always gives the same 64-hex-digit string, on any machine.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import torch

from ..core import PhysdiffError

#: The ``schema`` attribute every physdiff trajectory file carries.
SCHEMA = "physdiff.trajectories"
#: Version of the trajectory-file layout this release writes and reads.
SCHEMA_VERSION = 1

TRAJECTORIES = "trajectories"
TIME = "time"
#: Optional root attribute: the canonical JSON of a :class:`physdiff.data.BurstSpec`.
BURST = "burst"

#: Storage dtypes, by the name written to the file. HDF5 has no bfloat16.
DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "float64": torch.float64}

COMPRESSIONS = ("gzip", "lzf", None)


def coordinate_name(axis: int) -> str:
    """Dataset name of the sample positions of spatial axis ``axis``: ``x0``, ``x1``, ..."""
    return f"x{axis}"


def dtype_name(dtype: torch.dtype) -> str:
    """The file's name for a storage dtype; raises for dtypes HDF5 files cannot hold."""
    for name, value in DTYPES.items():
        if value == dtype:
            return name
    raise PhysdiffError(f"trajectory files: expected dtype float32 or float64, got {dtype}. Cast the states first.")


def canonical_json(value: Any) -> str:
    """The one JSON text of ``value``: sorted keys, no whitespace, ASCII, no NaN/Inf.

    Floats are written with Python's shortest round-trip ``repr``, so parsing and
    re-serialising gives the same text (and the same hash).
    """
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise PhysdiffError(
            f"provenance: expected a JSON-serialisable setup (numbers, strings, lists, dicts; finite floats), "
            f"got {value!r}: {exc}. Convert tensors with float() / .tolist() first."
        ) from exc


def config_hash(setup: Any) -> str:
    """SHA-256 (hex) of :func:`canonical_json` of ``setup``, UTF-8 encoded."""
    return hashlib.sha256(canonical_json(setup).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Provenance:
    """How a trajectory file was made: everything needed to regenerate it.

    ``setup`` is the hashed part (what was computed); the versions and the device
    say where and with what it was computed, and are not hashed, so a file
    regenerated with a later physdiff still has the same :attr:`sha256`.

    ``setup`` keys: ``pde`` (``pde.config()``), ``integrator`` (name), ``dt``,
    ``steps``, ``save_every``, ``include_initial``, ``shape`` (grid points per
    axis), ``spacing`` (per axis, or None), ``accuracy`` (stencil order, or None),
    ``initial_condition`` (``{"name", "options", "seeds"}``), ``batch_size`` and
    ``dtype``.
    """

    setup: dict[str, Any]
    physdiff_version: str
    torch_version: str
    device: str

    @property
    def sha256(self) -> str:
        return config_hash(self.setup)

    @property
    def is_video(self) -> bool:
        """Whether the file holds video frames made by a generator (``setup["kind"] == "video"``,
        e.g. Moving MNIST) rather than the states of a PDE."""
        return self.setup.get("kind") == "video"

    @property
    def pde_config(self) -> dict[str, Any]:
        """The PDE's ``config()``; for video files ``{"pde": generator name, **options}``."""
        if self.is_video:
            return {"pde": self.setup["generator"], **self.setup["options"]}
        return self.setup["pde"]

    @property
    def seeds(self) -> list[int]:
        """The initial conditions' seeds; for video files the sequence indices (under ``setup["seed"]``)."""
        if self.is_video:
            first = int(self.setup["first_index"])
            return list(range(first, first + int(self.setup["n_sequences"])))
        return list(self.setup["initial_condition"]["seeds"])

    def to_attrs(self) -> dict[str, Any]:
        """HDF5 attributes: the canonical ``setup`` JSON, its hash, and flat copies for other tools."""
        setup = self.setup
        if self.is_video:
            return self._video_attrs()
        attrs: dict[str, Any] = {
            "setup": canonical_json(setup),
            "setup_sha256": self.sha256,
            "pde": setup["pde"]["pde"],
            "pde_config": canonical_json(setup["pde"]),
            "integrator": setup["integrator"],
            "dt": float(setup["dt"]),
            "steps": int(setup["steps"]),
            "save_every": int(setup["save_every"]),
            "initial_condition": setup["initial_condition"]["name"],
            "seeds": list(setup["initial_condition"]["seeds"]),
            "dtype": setup["dtype"],
            # str(): torch.__version__ is a str subclass that h5py cannot store.
            "physdiff_version": str(self.physdiff_version),
            "torch_version": str(self.torch_version),
            "device": str(self.device),
        }
        # HDF5 attributes cannot hold None: absent means "not applicable" (e.g. spectral PDEs have no stencil).
        if setup.get("accuracy") is not None:
            attrs["accuracy"] = int(setup["accuracy"])
        if setup.get("spacing") is not None:
            attrs["spacing"] = [float(h) for h in setup["spacing"]]
        return attrs

    def _video_attrs(self) -> dict[str, Any]:
        setup = self.setup
        attrs: dict[str, Any] = {
            "setup": canonical_json(setup), "setup_sha256": self.sha256, "kind": "video",
            "generator": setup["generator"], "generator_options": canonical_json(setup["options"]),
            "n_sequences": int(setup["n_sequences"]), "first_index": int(setup["first_index"]),
            "dtype": setup["dtype"], "physdiff_version": str(self.physdiff_version),
            "torch_version": str(self.torch_version), "device": str(self.device),
        }
        if setup.get("seed") is not None:
            attrs["seed"] = int(setup["seed"])
        return attrs

    @classmethod
    def from_attrs(cls, attrs: Any, where: str) -> "Provenance | None":
        """Read back from HDF5 attributes; None if the file has no provenance.

        Raises:
            PhysdiffError: unparsable setup JSON or a hash that does not match it (edited or corrupt file).
        """
        if "setup" not in attrs:
            return None
        for key in ("setup_sha256", "physdiff_version", "torch_version", "device"):
            if key not in attrs:
                raise PhysdiffError(f"{where}: has a 'setup' attribute but no '{key}' attribute; the provenance is incomplete.")
        try:
            setup = json.loads(_text(attrs["setup"]))
        except json.JSONDecodeError as exc:
            raise PhysdiffError(f"{where}: the 'setup' attribute is not valid JSON ({exc}).") from exc
        provenance = cls(
            setup=setup, physdiff_version=_text(attrs["physdiff_version"]),
            torch_version=_text(attrs["torch_version"]), device=_text(attrs["device"]),
        )
        stored = _text(attrs["setup_sha256"])
        if provenance.sha256 != stored:
            raise PhysdiffError(
                f"{where}: the setup hash does not match: stored {stored}, computed {provenance.sha256}. "
                "The 'setup' attribute was edited or corrupted; regenerate the file from a trusted copy."
            )
        return provenance


def _text(value: Any) -> str:
    """An HDF5 string attribute as ``str`` (h5py may return bytes for fixed-length strings)."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
