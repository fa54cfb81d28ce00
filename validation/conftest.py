"""Validation studies: each test records its measured figures, printed together after the run.

``pytest -q`` captures what tests print, so the studies do not print directly: they call the
``figures`` fixture (``figures("order 3.98")``; ``figures.sci(errors)`` formats a list), and
the figures of every study that ran, passed or failed, appear in a "validation figures"
section at the end of the report, with the machine, the load average and each study's wall
time (setup, where the module-scoped runs a study shares happen, and the test itself). A
failing study therefore still shows what it measured before its assertion.
"""

from __future__ import annotations

import datetime
import os
import platform

import pytest
import torch

_RECORDS: list[tuple[str, list[str]]] = []
_DURATIONS: dict[str, dict[str, float]] = {}


class Figures:
    """Collects the lines of one study; ``figures(line)`` adds one, ``figures.table(...)`` several."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    def table(self, header: str, rows: list[str]) -> None:
        self.lines.append(header)
        self.lines.extend("  " + row for row in rows)

    @staticmethod
    def sci(values, digits: int = 2) -> str:
        """``[1.20e-03, 3.40e-05]``: a sequence of floats in scientific notation."""
        return "[" + ", ".join(f"{float(v):.{digits}e}" for v in values) + "]"


@pytest.fixture
def figures(request):
    record = Figures()
    yield record
    _RECORDS.append((request.node.nodeid, record.lines))


def pytest_runtest_logreport(report):
    # setup includes the module-scoped runs a study shares, charged to the first test using them
    _DURATIONS.setdefault(report.nodeid, {})[report.when] = report.duration


def _machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (
        f"{platform.machine()} {platform.system()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"{torch.get_num_threads()} torch threads, load average now {load}, "
        f"{datetime.datetime.now().isoformat(timespec='minutes')}"
    )


def pytest_terminal_summary(terminalreporter):
    if not _RECORDS:
        return
    terminalreporter.section("validation figures")
    terminalreporter.write_line(_machine())
    for nodeid, lines in _RECORDS:
        terminalreporter.write_line("")
        terminalreporter.write_line(nodeid)
        for line in lines:
            terminalreporter.write_line("    " + line)
        phases = _DURATIONS.get(nodeid, {})
        terminalreporter.write_line(
            f"    wall time: setup (shared runs) {phases.get('setup', 0.0):.1f} s + test {phases.get('call', 0.0):.1f} s"
        )
