"""Messages of the command line that used to point the wrong way (issue 14, section 4)."""

from __future__ import annotations

import pytest

from physdiff.cli import _ProgressBar, main


def test_stencil_0_is_the_exact_identity(capsys):
    assert main(["stencil", "0"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == ["derivative 0, accuracy exact (no truncation error)", "       0  1"]


@pytest.mark.parametrize("terminal", [False, True])
def test_progress_is_plain_lines_off_a_terminal(capsys, terminal):
    bar = _ProgressBar("train", terminal=terminal)
    for step in range(1, 101):
        bar(step, 100, suffix=f"loss {1 / step:.2f}")
        if step == 37:
            bar.message("physdiff: NaN guard: ...")
    err = capsys.readouterr().err
    if terminal:  # redrawn in place, once per percent
        assert err.count("\r") == 100 and err.endswith("100% (100/100 steps) loss 0.01\n")
    else:  # a log file: the first step, then one line per 10 %, no carriage returns; the event on its own line
        assert "\r" not in err
        assert err.splitlines() == [f"train: {p:3d}% ({p}/100 steps) loss {1 / p:.2f}" for p in (1, 10, 20, 30)] + [
            "physdiff: NaN guard: ...", "train:  38% (38/100 steps) loss 0.03"] + [
            f"train: {p:3d}% ({p}/100 steps) loss {1 / p:.2f}" for p in (40, 50, 60, 70, 80, 90, 100)]
