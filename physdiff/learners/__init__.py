"""Sequence learners built from physdiff operators and integrators.

Every learner implements :class:`SequenceLearner` (warm up on context frames, roll out
future frames, teacher forcing, state carry-over, checkpointing). This layer may import
``operators``, ``integrators`` and ``core``, and never ``solvers``, ``data`` or ``training``.
"""

from ._base import SequenceLearner as SequenceLearner
from ._base import detach_state as detach_state

__all__: list[str] = ["SequenceLearner", "detach_state"]
