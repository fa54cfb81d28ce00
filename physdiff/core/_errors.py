"""The single exception type of physdiff."""

from __future__ import annotations


class PhysdiffError(ValueError):
    """Raised for every invalid input to physdiff.

    Messages follow one pattern: what was expected, what was received, and how
    to fix it. It subclasses :class:`ValueError`, so ``except ValueError`` keeps
    working for callers that do not know about physdiff.
    """
