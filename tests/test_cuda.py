"""The CUDA paths: solver steps, operators, training with and without autocast, resume with the CUDA RNG,
CPU against GPU in float64, device "auto", nccl (two GPUs), and the command line on CUDA.

Every test here is marked ``cuda`` and skipped without a CUDA device; ``benchmarks/gpu_check.sh``
runs them (``pytest -m cuda``). ``PHYSDIFF_TEST_DEVICE=cpu`` runs the same tests on the CPU, a dry
run that checks the tests themselves where no GPU exists (the CUDA-only assertions are then
skipped); it says nothing about CUDA.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
import torch

from physdiff.cli import main
from physdiff.cli._common import check_device
from physdiff.data import generate, read_info, read_trajectories, regenerate
from physdiff.integrators import RK4
from physdiff.operators import Laplacian, SpectralDerivative
from physdiff.solvers import GrayScott, KdV, NavierStokes2D, simulate
from physdiff.training import TrainConfig, Trainer, read_checkpoint, seed_everything
from physdiff.training._distributed import resolve_device

from training._helpers import LinearConv, advected, windows

DEVICE = os.environ.get("PHYSDIFF_TEST_DEVICE", "cuda")
ON_CUDA = DEVICE.startswith("cuda")
pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(ON_CUDA and not torch.cuda.is_available(), reason="needs a CUDA device"),
]
ROOT = Path(__file__).resolve().parents[1]
# CPU and GPU float64 differ only by rounding order (FMA, reduction trees, cuFFT vs pocketfft).
FLOAT64 = dict(rtol=1e-11, atol=1e-13)


@pytest.fixture(autouse=True)
def _deterministic():
    """cuDNN picks among algorithms by timing; for bit-exact resumption it must always pick the same one."""
    before = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    yield
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before


def _on(device: str, module: torch.nn.Module) -> torch.nn.Module:
    return module.to(device)


@pytest.mark.parametrize("name", ["gray-scott", "kdv", "navier-stokes"])
def test_solver_steps_match_the_cpu_in_float64(name):
    build = {"gray-scott": lambda: GrayScott.percnn_2d(), "kdv": lambda: KdV(length=40.0, n=64),
             "navier-stokes": lambda: NavierStokes2D(nu=1e-3, n=32)}[name]
    shape = {"gray-scott": (24, 24), "kdv": (64,), "navier-stokes": (32, 32)}[name]
    cpu = build()
    u0 = cpu.initial_condition(2, shape, seed=0, dtype=torch.float64)
    dt = 0.5 * cpu.stable_dt(RK4) if cpu.stable_dt(RK4) is not None else 1e-3
    expected = simulate(cpu, u0, dt=dt, steps=6, save_every=2)
    gpu = _on(DEVICE, build())
    got = simulate(gpu, u0.to(DEVICE), dt=dt, steps=6, save_every=2)
    assert got.device.type == torch.device(DEVICE).type
    torch.testing.assert_close(got.cpu(), expected, **FLOAT64)


@pytest.mark.parametrize("method", ["shift", "conv", "compiled"])
@pytest.mark.parametrize("ndim", [2, 3])
def test_finite_difference_operators_match_the_cpu_in_float64(method, ndim):
    u = torch.randn(2, 3, *(16,) * ndim, dtype=torch.float64, generator=torch.Generator().manual_seed(ndim))
    cpu = Laplacian(ndim, spacing=0.1, accuracy=4, method=method)
    gpu = _on(DEVICE, Laplacian(ndim, spacing=0.1, accuracy=4, method=method))
    torch.testing.assert_close(gpu(u.to(DEVICE)).cpu(), cpu(u), **FLOAT64)


def test_spectral_derivative_and_its_gradient_match_the_cpu_in_float64():
    x = torch.randn(2, 1, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    results = []
    for device in ("cpu", DEVICE):
        u = x.to(device).requires_grad_(True)
        d = _on(device, SpectralDerivative(3, length=40.0))(u)
        (grad,) = torch.autograd.grad(d.square().sum(), u)
        results.append((d.detach().cpu(), grad.cpu()))
    for a, b in zip(*results):
        torch.testing.assert_close(b, a, **FLOAT64)


def _config(**overrides) -> TrainConfig:
    base = dict(steps=4, batch_size=4, context_frames=1, horizon=3, dtype="float64", validate_every=2,
                checkpoint_every=2, log_every=1, optimizer={"lr": 1e-2}, device=DEVICE)
    base.update(overrides)
    return TrainConfig(**base)


TRAJ = advected()
TRAIN, VAL = windows(TRAJ[:4], 4), windows(TRAJ[4:], 4)


@pytest.mark.parametrize("amp", [False, True])
def test_one_training_step_with_and_without_autocast(tmp_path, amp):
    seed_everything(0)
    model = LinearConv()
    before = [p.detach().clone() for p in model.parameters()]
    trainer = Trainer(model, _config(steps=1, dtype="float32", amp=amp), TRAIN, VAL, out_dir=tmp_path)
    assert trainer.device.type == torch.device(DEVICE).type and trainer.amp == (amp and ON_CUDA)
    result = trainer.fit()
    loss = [r for r in result.history if r["kind"] == "train"][0]["loss"]
    assert result.steps == 1 and result.nan_recoveries == 0 and loss > 0 and torch.isfinite(torch.tensor(loss))
    assert all(p.device.type == torch.device(DEVICE).type for p in model.parameters())
    assert any(not torch.equal(p.detach().cpu(), b) for p, b in zip(model.parameters(), before))


def test_resume_restores_the_cuda_rng_bit_for_bit(tmp_path):
    cfg = _config(steps=6)

    def model():
        seed_everything(0)
        return LinearConv(noise=1e-3).double()  # noise from the global RNG of the model's device

    whole = model()
    Trainer(whole, cfg, TRAIN, VAL, out_dir=tmp_path / "whole").fit()

    class Crash(Exception):
        pass

    def crash_at_3(step, total, metrics):
        if step == 3:
            raise Crash

    with pytest.raises(Crash):
        Trainer(model(), cfg, TRAIN, VAL, out_dir=tmp_path / "cut", progress=crash_at_3).fit()
    if ON_CUDA:
        assert "cuda" in read_checkpoint(tmp_path / "cut" / "last.pt")["rng"]["global"]
    torch.manual_seed(12345)  # disturb every RNG: the checkpoint's states must win
    resumed = LinearConv(noise=1e-3).double()
    Trainer(resumed, cfg, TRAIN, VAL, out_dir=tmp_path / "cut", resume=True).fit()
    for a, b in zip(resumed.parameters(), whole.parameters()):
        assert torch.equal(a.detach().cpu(), b.detach().cpu())


def test_generate_on_the_gpu_matches_the_cpu_and_regenerates_bit_for_bit(tmp_path):
    from physdiff.cli import _registry as registry

    options = dict(shape=(16, 16), dt=0.5, steps=8, save_every=4, n_trajectories=2, dtype=torch.float64)
    cpu = generate(GrayScott.percnn_2d(), tmp_path / "cpu.h5", **options)
    gpu = generate(GrayScott.percnn_2d(), tmp_path / "gpu.h5", device=DEVICE, **options)
    assert gpu.provenance.device == str(torch.device(DEVICE)) and gpu.provenance.sha256 == cpu.provenance.sha256
    torch.testing.assert_close(read_trajectories(tmp_path / "gpu.h5"), read_trajectories(tmp_path / "cpu.h5"),
                               **FLOAT64)
    again = regenerate(tmp_path / "gpu.h5", tmp_path / "again.h5", resolve_pde=registry.pde_from_config,
                       resolve_integrator=registry.integrator_class)
    assert again.device == str(torch.device(DEVICE)) and again.identical  # same device: same bits


def test_device_auto_picks_the_gpu():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto", 0).type == expected and check_device("auto") == expected
    if ON_CUDA:
        assert check_device("cuda:0") == "cuda:0"


def test_the_command_line_on_the_device(tmp_path, capsys):
    out = tmp_path / "data.h5"
    assert main(["simulate", "gray-scott", "--grid", "16", "--steps", "4", "--save-every", "2", "--quiet",
                 "--device", DEVICE, "--dtype", "float64", "--out", str(out)]) == 0
    assert read_info(out).provenance.device == str(torch.device(DEVICE))
    assert main(["regenerate", str(out), "--out", str(tmp_path / "again.h5"), "--quiet"]) == 0
    assert "bit for bit" in capsys.readouterr().out


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="nccl needs two GPUs")
def test_nccl_two_processes_train_one_run(tmp_path):
    from _torchrun import run_torchrun
    from test_cli_train import CONFIG, with_changes, write_config

    generate(GrayScott.percnn_2d(), tmp_path / "train.h5", shape=(12, 12), dt=0.5, steps=24, save_every=2,
             n_trajectories=4)
    config = write_config(tmp_path / "run.toml", with_changes(training={"steps": 3, "device": "auto"}))
    done = run_torchrun(["-m", "physdiff", "train", "--config", str(config), "--quiet"], cwd=str(ROOT))
    assert done.returncode == 0, done.stderr[-3000:]
    assert read_checkpoint(tmp_path / "run" / "last.pt")["world_size"] == 2
    shutil.rmtree(tmp_path / "run")
