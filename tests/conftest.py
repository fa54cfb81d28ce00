"""Test configuration: CI runs hypothesis derandomized, so a landing never depends on luck.

Locally, hypothesis explores new examples on every run (and remembers failures in .hypothesis/).
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """Run the suite on one intra-op thread.

    Why: the tests use tiny tensors, where threading buys nothing, and on a shared 2-core
    machine two spinning OpenMP threads per process made small convolutions 25-1000x slower.
    Tests that measure threading set it themselves.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
