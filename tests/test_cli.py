"""The physdiff command line: simulate, info, regenerate, plot, stencil; and the name registry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from physdiff.cli import main
from physdiff.cli import _registry as registry
from physdiff.data import generate, read_info, read_trajectories
from physdiff.solvers import GrayScott

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """The one subprocess run: `python -m physdiff simulate ...` exactly as a user types it."""
    out = tmp_path_factory.mktemp("cli") / "tmp.h5"
    command = [sys.executable, "-m", "physdiff", "simulate", "gray-scott", "--preset", "percnn-2d", "--grid", "16",
               "--steps", "4", "--save-every", "2", "--n-traj", "2", "--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return out, result


def test_simulate_writes_the_file_and_a_progress_bar(simulated):
    out, result = simulated
    assert f"wrote {out}" in result.stdout and "100% (4/4 steps)" in result.stderr
    info = read_info(out)
    assert info.shape == (2, 3, 2, 16, 16) and info.dtype == "float32"
    setup = info.provenance.setup
    assert setup["pde"] == GrayScott.percnn_2d().config() and setup["integrator"] == "rk4" and setup["dt"] == 0.5
    assert setup["initial_condition"]["seeds"] == [0, 1]


def test_info_describes_the_file(simulated, capsys):
    out, _ = simulated
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    for fragment in ("(2, 3, 2, 16, 16)", "gray-scott", "rk4, dt 0.5, 4 steps, save every 2", "seeds [0, 1]",
                     read_info(out).provenance.sha256, "u: mean", "accuracy 4"):
        assert fragment in text


def test_info_without_a_file_prints_versions(capsys):
    assert main(["info"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("physdiff ") and "torch" in text and "devices" in text


def test_regenerate_reproduces_bit_for_bit(simulated, tmp_path, capsys):
    out, _ = simulated
    copy = tmp_path / "new.h5"
    assert main(["regenerate", str(out), "--out", str(copy), "--quiet"]) == 0
    assert "bit for bit" in capsys.readouterr().out
    assert torch.equal(read_trajectories(out), read_trajectories(copy))


def test_plot_writes_pngs_and_a_gif(simulated, tmp_path, capsys):
    from PIL import Image

    out, _ = simulated
    assert main(["plot", str(out), "--out", str(tmp_path / "plots"), "--trajectory", "1"]) == 0
    pngs = sorted((tmp_path / "plots").glob("frame_*.png"))
    assert [p.name for p in pngs] == ["frame_0000.png", "frame_0001.png", "frame_0002.png"]
    with Image.open(tmp_path / "plots" / "trajectory.gif") as gif:
        assert gif.n_frames == 3
    assert "wrote 3 frames" in capsys.readouterr().out


@pytest.mark.parametrize("ndim", [1, 3])
def test_plot_draws_1d_curves_and_3d_mid_planes(tmp_path, ndim):
    from physdiff.cli._plot import plot_trajectory

    generate(GrayScott(ndim, spacing=0.01 if ndim == 1 else 100 / 48, Du=0.2 if ndim == 3 else 2e-5,
                       Dv=0.1 if ndim == 3 else 5e-6), tmp_path / "f.h5", shape=(6,) * ndim, dt=0.5, steps=2)
    written = plot_trajectory(tmp_path / "f.h5", tmp_path / "p", max_frames=2)
    assert [p.name for p in written] == ["frame_0000.png", "frame_0001.png", "trajectory.gif"]
    assert all(p.stat().st_size > 0 for p in written)


def test_simulate_in_process_with_options(tmp_path, capsys):
    out = tmp_path / "f.h5"
    args = ["simulate", "gray-scott", "--preset", "percnn-3d", "--grid", "5x6x7", "--steps", "2", "--dtype", "float64",
            "--integrator", "euler", "--seed", "7", "--compression", "lzf", "--quiet", "--out", str(out)]
    assert main(args) == 0
    info = read_info(out)
    assert info.shape == (1, 3, 2, 5, 6, 7) and info.dtype == "float64" and info.compression == "lzf"
    assert info.provenance.setup["integrator"] == "euler" and info.provenance.seeds == [7]
    assert capsys.readouterr().err == ""  # --quiet: no progress bar


@pytest.mark.parametrize(
    "args, message",
    [
        (["simulate", "gray-scott", "--preset", "nope", "--out", "x.h5"], "unknown preset 'nope'"),
        (["simulate", "gray-scott", "--grid", "8x8x8", "--out", "x.h5"], "expected 1 or 2 positive sizes"),
        (["simulate", "gray-scott", "--grid", "abc", "--out", "x.h5"], "--grid: expected N"),
        (["simulate", "gray-scott", "--grid", "8", "--dt", "100", "--steps", "1", "--out", "x.h5"], "stability limit"),
        (["info", "missing.h5"], "trajectory file 'missing.h5': no such file"),
        (["regenerate", "missing.h5", "--out", "y.h5"], "'missing.h5': no such file"),
        (["plot", "missing.h5", "--out", "plots"], "'missing.h5': no such file"),
    ],
)
def test_errors_exit_2_with_a_message(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing half-written


def test_unknown_pde_is_rejected_by_argparse(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["simulate", "no-such-pde", "--out", "x.h5"])
    assert exit_.value.code == 2 and "gray-scott" in capsys.readouterr().err


def test_stencil_still_works(capsys):
    assert main(["stencil", "2", "2"]) == 0
    assert "-2" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(registry.INTEGRATORS))
def test_integrator_names_are_the_names_stored_in_files(name):
    from physdiff.data import integrator_name

    assert integrator_name(registry.integrator_class(name)) == name


@pytest.mark.parametrize("entry, preset", [(e, p) for e in registry.PDES.values() for p in e.presets],
                         ids=lambda x: getattr(x, "name", str(x)))
def test_every_preset_builds_and_rebuilds_from_its_config(entry, preset):
    pde = preset.build(preset.grid)
    config = pde.config()
    assert config["pde"] == entry.name and len(preset.grid) == pde.ndim
    assert json.dumps(registry.pde_from_config(json.loads(json.dumps(config))).config()) == json.dumps(config)
    assert preset.integrator in registry.INTEGRATORS and preset.steps % preset.save_every == 0
    limit = pde.stable_dt(registry.integrator_class(preset.integrator))
    assert limit is None or preset.dt <= limit


@pytest.mark.parametrize("lookup, bad, message", [
    (registry.pde_entry, "nope", "unknown PDE 'nope'"),
    (registry.integrator_class, "rk5", "unknown integrator 'rk5'"),
    (registry.pde_from_config, {"nu": 1}, "with a 'pde' name"),
])
def test_registry_lookups_list_the_known_names(lookup, bad, message):
    from physdiff import PhysdiffError

    with pytest.raises(PhysdiffError, match=message):
        lookup(bad)


def test_the_cli_imports_no_plotting_or_hdf5_until_used():
    probe = ("import sys; from physdiff.cli import build_parser; build_parser(); "
             "print(sorted(m for m in ('matplotlib', 'h5py') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_a_closed_pipe_ends_quietly():
    """``physdiff info | head -1``: no BrokenPipeError traceback when the reader stops early."""
    import subprocess
    import sys

    # The read end is closed before the command writes anything: every write hits EPIPE.
    process = subprocess.Popen(
        [sys.executable, "-m", "physdiff", "stencil", "1", "8"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait() == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
