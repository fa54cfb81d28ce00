"""The package as users get it: build the wheel and sdist, install the wheel into a clean venv, run it.

Runs ``validation/check_wheel.sh`` (also ``make wheel``), which checks the metadata (license
file, README description, classifiers), installs the wheel with the pinned torch into a fresh
virtual environment and runs ``physdiff info``, ``physdiff stencil``, ``physdiff simulate`` and the
inverse-problem example from outside the repository. Minutes: it installs torch and the tested set.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "check_wheel.sh"


def test_wheel_installs_and_runs(figures):
    start = time.perf_counter()
    result = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "check_wheel: OK" in result.stdout
    assert "MISSING" not in result.stdout
    figures(f"wheel built, installed into a clean venv and run in {time.perf_counter() - start:.0f} s")
