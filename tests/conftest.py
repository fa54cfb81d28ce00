"""Test configuration: CI runs hypothesis derandomized, so a landing never depends on luck.

Locally, hypothesis explores new examples on every run (and remembers failures in .hypothesis/).
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
