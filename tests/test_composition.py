"""The layers work together: operators as known physics inside integrators and Pi-blocks."""

from __future__ import annotations

import math

import torch

from physdiff.integrators import RK4, Euler, PiBlock, rollout
from physdiff.operators import Laplacian, SpectralLaplacian


def _grid(n: int) -> tuple[torch.Tensor, torch.Tensor, float]:
    h = 2 * math.pi / n
    x = torch.arange(n, dtype=torch.float64) * h
    X, Y = torch.meshgrid(x, x, indexing="ij")
    return X, Y, h


def test_pi_block_with_laplacian_and_zero_pi_is_one_euler_diffusion_step():
    """PeRCNN's cell with the learnable branch off is the FD diffusion step it hard-codes."""
    X, Y, h = _grid(24)
    u = torch.stack([torch.sin(X) * torch.cos(Y), torch.cos(2 * X)])[None]
    lap = Laplacian(2, h, accuracy=4)
    block = PiBlock(2, ndim=2, known_term=lap, coefficient_bound=0.4, coefficient_init=[0.2, 0.1]).double()
    torch.nn.init.zeros_(block.output.weight)
    torch.nn.init.zeros_(block.output.bias)
    dt = 0.05
    coefficient = block.coefficient.detach()
    # The parameter was created in float32 before .double(): c is 0.2, 0.1 to float32 precision.
    torch.testing.assert_close(coefficient.flatten(), torch.tensor([0.2, 0.1], dtype=torch.float64), rtol=1e-7, atol=0)
    expected = u + dt * coefficient.reshape(1, 2, 1, 1) * lap(u)
    torch.testing.assert_close(Euler(block)(u, dt), expected, rtol=1e-12, atol=1e-12)


def test_fd_and_spectral_heat_solves_agree_within_discretisation_error():
    X, Y, h = _grid(32)
    u0 = (torch.sin(X) * torch.cos(2 * Y) + 0.5 * torch.cos(3 * X))[None, None]
    nu, dt, steps = 0.05, 0.02, 50
    exact = (torch.sin(X) * torch.cos(2 * Y) * math.exp(-5 * nu * 1.0) + 0.5 * torch.cos(3 * X) * math.exp(-9 * nu))
    fd = rollout(RK4(lambda u: nu * Laplacian(2, h, 6)(u)), u0, steps, dt)[:, -1]
    spectral_lap = SpectralLaplacian(2, 2 * math.pi)
    spectral = rollout(RK4(lambda u: nu * spectral_lap(u)), u0, steps, dt)[:, -1]
    # The spectral Laplacian is exact on these modes: only the RK4 error (~1e-9) remains.
    assert (spectral[0, 0] - exact).abs().max() < 1e-8
    # 6th-order FD on 32 points: error ~ nu t k^8 h^6 / 560 for the k = 3 mode, about 2e-4.
    fd_error = (fd[0, 0] - exact).abs().max().item()
    assert 1e-6 < fd_error < 1e-3
