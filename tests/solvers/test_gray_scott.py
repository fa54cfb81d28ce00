"""Gray-Scott: observed orders of the assembled solver, gradients through it, presets and provenance."""

from __future__ import annotations

import json
import math

import pytest
import torch

from physdiff.core import PhysdiffError
from physdiff.integrators import RK4, Euler, Heun
from physdiff.solvers import GrayScott, simulate
from physdiff.testing import ConvergenceStudy, assert_order

BOX = 0.32  # with PeRCNN's Du = 2e-5 the box mode diffuses at a rate comparable to the reaction


def smooth_state(n: int) -> tuple[torch.Tensor, float]:
    """A smooth periodic (u, v) on n^2 points of [0, BOX)^2 with sin/cos perturbations, float64."""
    h = BOX / n
    x = torch.arange(n, dtype=torch.float64) * (2 * math.pi / n)
    X, Y = torch.meshgrid(x, x, indexing="ij")
    u = 1 - 0.3 * (1 + torch.sin(X) * torch.cos(Y))
    v = 0.25 + 0.2 * torch.cos(X + 0.3) * torch.sin(Y)
    return torch.stack([u, v])[None], h


def final(pde, u0, dt, steps, integrator=RK4):
    return simulate(pde, u0, dt=dt, steps=steps, save_every=steps, integrator=integrator, include_initial=False)[:, -1]


T_END = 40.0


@pytest.fixture(scope="module")
def dt_reference():
    u0, h = smooth_state(16)
    pde = GrayScott(2, spacing=h, accuracy=4)
    return pde, u0, final(pde, u0, T_END / 640, 640)


@pytest.mark.parametrize("integrator, expected", [(Euler, 1), (Heun, 2), (RK4, 4)], ids=["Euler", "Heun", "RK4"])
def test_order_in_dt_against_a_fine_step_reference(dt_reference, integrator, expected):
    pde, u0, reference = dt_reference
    t_end = T_END
    dts = [t_end / n for n in (20, 40, 80, 160)]
    errors = [(final(pde, u0, dt, round(t_end / dt), integrator) - reference).abs().max().item() for dt in dts]
    assert_order(ConvergenceStudy(tuple(dts), tuple(errors)), expected, tol=0.25)


@pytest.mark.parametrize("accuracy, sizes, expected", [(2, (16, 32, 64), 2), (4, (24, 32, 48, 64), 4)])
def test_order_in_dx_against_an_eighth_order_stencil(accuracy, sizes, expected):
    # Same grid, same dt: the difference is the accuracy-p stencil's error (the O(h^8) one is negligible).
    # Short horizon: GS amplifies perturbations, which keeps longer runs out of the asymptotic regime.
    hs, errors = [], []
    for n in sizes:
        u0, h = smooth_state(n)
        low = final(GrayScott(2, spacing=h, accuracy=accuracy), u0, 0.125, 8)
        high = final(GrayScott(2, spacing=h, accuracy=8), u0, 0.125, 8)
        hs.append(h)
        errors.append((low - high).abs().max().item())
    assert_order(ConvergenceStudy(tuple(hs), tuple(errors)), expected, tol=0.3)


def test_gradient_wrt_initial_state_matches_finite_differences():
    pde = GrayScott(2, Du=0.2, Dv=0.1, F=0.025, k=0.055, spacing=1.0)
    u0 = pde.initial_condition(1, (6, 6), seed=1, dtype=torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(lambda u: final(pde, u, 0.5, 3), (u0,), fast_mode=True)


def test_gradient_wrt_physical_parameters_matches_finite_differences():
    u0 = GrayScott(2).initial_condition(1, (6, 6), seed=1, dtype=torch.float64)
    params = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in (0.2, 0.1, 0.025, 0.055)]

    def trajectory(Du, Dv, F, k):
        pde = GrayScott(2, Du=Du, Dv=Dv, F=F, k=k, spacing=1.0)
        return simulate(pde, u0, dt=0.5, steps=3, save_every=1)

    assert torch.autograd.gradcheck(trajectory, params, fast_mode=True)


@pytest.mark.parametrize("preset", [GrayScott.percnn_2d, GrayScott.percnn_3d], ids=["2d", "3d"])
def test_config_is_json_and_round_trips_into_the_constructor(preset):
    pde = preset(F=torch.tensor(0.03))
    config = json.loads(json.dumps(pde.config()))
    assert config["pde"] == "gray-scott" and config["F"] == pytest.approx(0.03)
    rebuilt = GrayScott(**{k: v for k, v in config.items() if k != "pde"})
    assert rebuilt.config() == config


def test_percnn_presets_are_stable_at_their_published_step():
    assert GrayScott.percnn_2d().stable_dt(Euler) > 0.5
    assert GrayScott.percnn_3d().stable_dt(Euler) > 0.5
    pde = GrayScott.percnn_2d()
    state = simulate(pde, pde.initial_condition(1, (32, 32), seed=2), dt=0.5, steps=40, save_every=40, integrator=Euler)
    assert torch.isfinite(state).all() and state.min() > -0.1 and state.max() < 1.1


def test_rest_state_is_an_equilibrium_and_a_uniform_state_follows_the_reaction():
    pde = GrayScott(2)
    rest = torch.cat([torch.ones(1, 1, 8, 8), torch.zeros(1, 1, 8, 8)], dim=1).double()
    assert pde(rest).abs().max() < 1e-15
    u, v = 0.6, 0.3
    uniform = torch.cat([torch.full((1, 1, 8, 8), u), torch.full((1, 1, 8, 8), v)], dim=1).double()
    expected = torch.tensor([-u * v * v + 0.04 * (1 - u), u * v * v - 0.1 * v], dtype=torch.float64)
    assert torch.allclose(pde(uniform)[0, :, 3, 3], expected, atol=1e-15)


def test_wrong_channels_and_dimensions_are_refused():
    pde = GrayScott(2)
    with pytest.raises(PhysdiffError, match="2 channels"):
        pde(torch.zeros(1, 3, 8, 8))
    with pytest.raises(PhysdiffError, match="2 spatial axes"):
        pde(torch.zeros(1, 2, 8))
