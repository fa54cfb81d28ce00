"""The burst layout of a trajectory file: which frames form PIMRL's micro bursts, stored with the data.

A file whose frames are saved every micro interval ``dt`` can carry a :class:`BurstSpec`;
:class:`physdiff.data.BurstWindows` then serves windows that lie inside one burst, and a
learner that needs bursts can refuse a file without one. The spec is stored as the root
attribute ``burst``, the canonical JSON ``{"burst_every":E,"burst_length":L,"macro_every":K}``
(see ``docs/data_format.md``); files without it (older ones included) read as ``burst=None``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import torch

from ..core import PhysdiffError
from ._format import canonical_json
from ._sampling import BurstSample, _positive_int, burst_sample


@dataclass(frozen=True)
class BurstSpec:
    """Burst sampling of a trajectory saved every ``dt``: the same rules as :func:`burst_sample`.

    Burst ``j`` is frames ``j * burst_every + i`` for ``0 <= i < burst_length``; only bursts that
    fit entirely in the trajectory count. The macro view is every ``macro_every``-th frame
    (``Dt = macro_every * dt``).

    Attributes:
        burst_length: frames per burst, >= 2 (a burst holds at least one micro step).
        burst_every: frames between burst starts, >= ``burst_length`` (bursts never overlap).
        macro_every: the macro stride ``k`` in frames, >= 1.

    Raises:
        PhysdiffError: a count that is not a positive int, ``burst_length < 2``, or overlapping bursts.
    """

    burst_length: int
    burst_every: int
    macro_every: int

    def __post_init__(self) -> None:
        where = "BurstSpec"
        for name in ("burst_length", "burst_every", "macro_every"):
            _positive_int(getattr(self, name), name, where)
        if self.burst_length < 2:
            raise PhysdiffError(
                f"{where}: burst_length: expected >= 2 frames (one micro step), got {self.burst_length}."
            )
        if self.burst_every < self.burst_length:
            raise PhysdiffError(
                f"{where}: burst_every={self.burst_every} < burst_length={self.burst_length} would overlap bursts; "
                "use burst_every >= burst_length (bursts are separated by gaps)."
            )

    def starts(self, n_frames: int) -> range:
        """First frames of the bursts that fit entirely in ``n_frames`` frames."""
        return range(0, n_frames - self.burst_length + 1, self.burst_every)

    def check_frames(self, n_frames: int, where: str) -> None:
        """Refuse trajectories too short to hold one whole burst."""
        if self.burst_length > n_frames:
            raise PhysdiffError(
                f"{where}: burst: burst_length={self.burst_length} exceeds the trajectories' {n_frames} frames; "
                "no burst would fit. Use a shorter burst or save more frames."
            )

    def sample(self, trajectory: torch.Tensor, *, dt: float) -> BurstSample:
        """:func:`burst_sample` of ``trajectory`` ``(B, T, C, *space)`` with this spec."""
        return burst_sample(trajectory, dt=dt, **asdict(self))

    def to_json(self) -> str:
        """The stored form: canonical JSON of the three counts."""
        return canonical_json(asdict(self))

    @classmethod
    def from_json(cls, text: str, where: str) -> "BurstSpec":
        """Parse the stored form; ``where`` names the file in errors.

        Raises:
            PhysdiffError: text that is not a JSON object of exactly the three counts, or invalid counts.
        """
        try:
            value: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PhysdiffError(f"{where}: the 'burst' attribute is not valid JSON ({exc}).") from exc
        keys = ("burst_every", "burst_length", "macro_every")
        if not isinstance(value, dict) or tuple(sorted(value)) != keys:
            raise PhysdiffError(
                f"{where}: the 'burst' attribute is {text!r}; expected a JSON object with exactly the keys {keys}."
            )
        try:
            return cls(**value)
        except PhysdiffError as exc:
            raise PhysdiffError(f"{where}: the 'burst' attribute is invalid: {exc}") from None
