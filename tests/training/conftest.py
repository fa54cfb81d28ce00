"""Training tests run tiny problems: one intra-op thread avoids thread contention on a busy machine
(two threads on a loaded 2-core machine made a 16-point convolution ~1000x slower)."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
