"""FitzHugh-Nagumo and lambda-omega: their right-hand sides, closed-form reaction dynamics, presets."""

from __future__ import annotations

import math

import pytest
import torch

from physdiff.core import PhysdiffError
from physdiff.integrators import RK4, Euler
from physdiff.operators import Laplacian
from physdiff.solvers import FitzHughNagumo, LambdaOmega, simulate


def uniform(u: float, v: float, ndim: int = 2, n: int = 8) -> torch.Tensor:
    return torch.tensor([u, v], dtype=torch.float64).reshape(1, 2, *(1,) * ndim).expand(1, 2, *(n,) * ndim).clone()


# ----------------------------------------------------------------- FitzHugh-Nagumo
@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_fhn_rhs_is_diffusion_plus_the_cubic_reaction(ndim):
    pde = FitzHughNagumo(ndim, Du=0.01, Dv=0.05, alpha=0.1, beta=0.7, spacing=0.1)
    state = pde.initial_condition(2, (10,) * ndim, seed=5, dtype=torch.float64)
    u, v = state[:, :1], state[:, 1:]
    lap = Laplacian(ndim, 0.1, 4)(state)
    expected_u = 0.01 * lap[:, :1] + u - u**3 - v + 0.1
    expected_v = 0.05 * lap[:, 1:] + 0.7 * (u - v)
    assert torch.allclose(pde(state), torch.cat([expected_u, expected_v], dim=1), atol=1e-13)


def test_fhn_uniform_activator_follows_the_bistable_ode():
    # beta = alpha = 0 and v = 0: u' = u - u^3, so u(t)^2 = 1 / (1 + (1/u0^2 - 1) exp(-2t)).
    pde = FitzHughNagumo(2, alpha=0.0, beta=0.0)
    u0, t_end = 0.2, 2.0
    state = simulate(pde, uniform(u0, 0.0), dt=0.01, steps=200, save_every=200)[:, -1]
    exact = 1 / math.sqrt(1 + (1 / u0**2 - 1) * math.exp(-2 * t_end))
    assert torch.allclose(state, uniform(exact, 0.0), atol=1e-9)


def test_fhn_pdebench_preset_runs_stably_at_dt_001():
    pde = FitzHughNagumo.pdebench_2d()
    assert pde.config()["alpha"] == -5e-3 and pde.spacing == (1 / 64, 1 / 64)
    assert pde.stable_dt(RK4) > 0.01
    frames = simulate(pde, pde.initial_condition(1, (32, 32), seed=1), dt=0.01, steps=100, save_every=50)
    assert torch.isfinite(frames).all() and frames.abs().max() <= 1.0 + 1e-6


# ------------------------------------------------------------------- lambda-omega
@pytest.mark.parametrize("ndim", [2, 3])
def test_lambda_omega_rhs_matches_its_equations(ndim):
    pde = LambdaOmega(ndim, D=0.3, beta=1.5, spacing=0.5)
    state = pde.initial_condition(2, (10,) * ndim, seed=2, dtype=torch.float64)
    u, v = state[:, :1], state[:, 1:]
    lap = Laplacian(ndim, 0.5, 4)(state)
    a2 = u * u + v * v
    expected_u = 0.3 * lap[:, :1] + (1 - a2) * u + 1.5 * a2 * v
    expected_v = 0.3 * lap[:, 1:] - 1.5 * a2 * u + (1 - a2) * v
    assert torch.allclose(pde(state), torch.cat([expected_u, expected_v], dim=1), atol=1e-13)


def test_lambda_omega_limit_cycle_rotates_at_frequency_minus_beta():
    # On A = 1, lambda = 0 and omega = -beta: (u, v) = (cos, sin)(phi0 - beta t) exactly.
    pde, phi0, t_end = LambdaOmega(2, beta=1.3), 0.4, 1.0
    state = simulate(pde, uniform(math.cos(phi0), math.sin(phi0)), dt=0.01, steps=100, save_every=100)[:, -1]
    exact = uniform(math.cos(phi0 - 1.3 * t_end), math.sin(phi0 - 1.3 * t_end))
    assert torch.allclose(state, exact, atol=1e-9)


def test_lambda_omega_spiral_is_the_classic_formula_on_the_centred_box():
    pde = LambdaOmega.percnn_2d()
    spiral = pde.spiral((100, 100), dtype=torch.float64)
    # Index (i, j) sits at (x, y) = (-10 + 0.2 i, -10 + 0.2 j).
    x, y = -10 + 0.2 * 70, -10 + 0.2 * 35
    r, theta = math.hypot(x, y), math.atan2(y, x)
    expected = [math.tanh(r * math.cos(theta - r)), math.tanh(r * math.sin(theta - r))]
    assert torch.allclose(spiral[0, :, 70, 35], torch.tensor(expected, dtype=torch.float64), atol=1e-12)


def test_lambda_omega_percnn_preset_relaxes_to_the_limit_cycle_with_euler():
    pde = LambdaOmega.percnn_2d()
    assert pde.stable_dt(Euler) == pytest.approx(0.075, rel=1e-3)
    frames = simulate(pde, pde.spiral((100, 100)), dt=0.0125, steps=400, save_every=400, integrator=Euler)
    amplitude = frames[0, -1].pow(2).sum(0).sqrt()
    assert torch.isfinite(frames).all()
    # Away from the spiral core, |z| settles near the wave amplitude just below 1.
    assert 0.8 < amplitude.median() < 1.0 and amplitude.max() < 1.05


def test_lambda_omega_3d_scroll_wave_stays_constant_along_the_third_axis():
    pde = LambdaOmega(3, spacing=0.5)
    state = pde.initial_condition(1, (16, 16, 6), seed=3, dtype=torch.float64)
    assert torch.equal(state, state[..., :1].expand_as(state))
    final = simulate(pde, state, dt=0.02, steps=20, save_every=20)[:, -1]
    assert (final - final[..., :1]).abs().max() < 1e-14


def test_lambda_omega_refuses_one_dimension_and_bad_arms():
    with pytest.raises(PhysdiffError, match="ndim 2 or 3"):
        LambdaOmega(1)
    with pytest.raises(PhysdiffError, match="arms"):
        LambdaOmega(2).spiral((8, 8), arms=0)
