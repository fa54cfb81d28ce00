"""examples/gray_scott_3d.py (the README's main job) runs end to end at toy size and prints its table."""

from __future__ import annotations

import importlib.util
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "gray_scott_3d.py"


def test_main_job_runs_and_prints_the_table(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("gray_scott_3d_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--grid", "8", "--scale", "0.005", "--out", str(tmp_path), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("model"))
    assert header.split()[:3] == ["model", "RMSE", "HCT"]
    assert "artefact ratio" in header
    for label in ("PIMRL", "PeRCNN", "ConvLSTM", "FNO"):
        assert any(line.startswith(label) for line in out.splitlines()), label
    assert (tmp_path / "plots" / "slices.png").exists() and (tmp_path / "plots" / "curves.png").exists()
