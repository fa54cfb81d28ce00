"""Burgers against the Cole-Hopf solution, gradients through it, its preset and initial states."""

from __future__ import annotations

import math

import pytest
import torch

from physdiff.core import PhysdiffError
from physdiff.integrators import Euler
from physdiff.solvers import Burgers, simulate
from physdiff.testing import ConvergenceStudy, assert_order

L = 2 * math.pi


def cole_hopf_errors(ndim: int, accuracy: int, sizes: tuple[int, ...]) -> ConvergenceStudy:
    """Relative max error at t = 1 of RK4 (dt = 0.01) from the exact state at t = 0, per grid size."""
    hs, errors = [], []
    for n in sizes:
        pde = Burgers(ndim, nu=0.1, spacing=L / n, accuracy=accuracy)
        shape = (n,) * ndim
        u0, exact = pde.cole_hopf(shape, 0.0, amplitude=0.8), pde.cole_hopf(shape, 1.0, amplitude=0.8)
        u1 = simulate(pde, u0, dt=0.01, steps=100, save_every=100, include_initial=False)[:, -1]
        hs.append(L / n)
        errors.append(((u1 - exact).abs().max() / exact.abs().max()).item())
    return ConvergenceStudy(tuple(hs), tuple(errors))


@pytest.mark.parametrize("accuracy, sizes", [(2, (16, 32, 64)), (4, (16, 24, 32, 48))])
def test_2d_solver_converges_to_cole_hopf_at_the_stencil_order(accuracy, sizes):
    study = cole_hopf_errors(2, accuracy, sizes)
    assert_order(study, accuracy, tol=0.3)
    assert study.errors[-1] < (1e-2 if accuracy == 2 else 1e-3)


@pytest.mark.parametrize("accuracy", [2, 4])
def test_1d_solver_converges_to_cole_hopf_at_the_stencil_order(accuracy):
    study = cole_hopf_errors(1, accuracy, (32, 64, 128))
    assert_order(study, accuracy, tol=0.3)


def test_cole_hopf_state_is_a_nonlinear_solution():
    # The advection term matters: dropping it (pure diffusion) misses the exact state by far more.
    pde = Burgers(2, nu=0.1, spacing=L / 48)
    u0, exact = pde.cole_hopf((48, 48), 0.0, amplitude=0.8), pde.cole_hopf((48, 48), 1.0, amplitude=0.8)
    diffused = simulate(lambda u: 0.1 * pde.laplacian(u), u0, dt=0.01, steps=100, save_every=100)[:, -1]
    burgers = simulate(pde, u0, dt=0.01, steps=100, save_every=100)[:, -1]
    assert (diffused - exact).abs().max() > 100 * (burgers - exact).abs().max()


def test_gradients_wrt_viscosity_and_initial_state_match_finite_differences():
    v0 = Burgers(2).initial_condition(1, (6, 6), modes=2, seed=4, dtype=torch.float64).requires_grad_()
    nu = torch.tensor(0.05, dtype=torch.float64, requires_grad=True)

    def trajectory(nu, v):
        return simulate(Burgers(2, nu=nu, spacing=0.1), v, dt=0.01, steps=3, save_every=1)

    assert torch.autograd.gradcheck(trajectory, (nu, v0), fast_mode=True)


def test_percnn_preset_is_stable_at_its_published_step():
    pde = Burgers.percnn_2d()
    assert pde.config() == {"pde": "burgers", "ndim": 2, "nu": 0.005, "spacing": [0.01, 0.01], "accuracy": 4}
    # Forward Euler's diffusion limit 2 / (nu * 2 * (16/3) / dx^2) = 0.00375, 15x the published 0.00025.
    assert pde.stable_dt(Euler) == pytest.approx(0.00375, rel=1e-3)
    u0 = pde.initial_condition(1, (100, 100), seed=0)
    frames = simulate(pde, u0, dt=0.00025, steps=80, save_every=40, integrator=Euler)
    assert torch.isfinite(frames).all()
    # Viscous Burgers obeys a maximum principle: no new extrema.
    assert frames[:, -1].abs().max() <= u0.abs().max() + 1e-4


def test_initial_condition_amplitude_offset_and_channels():
    pde = Burgers(2)
    u = pde.initial_condition(4, (20, 20), amplitude=0.5, dtype=torch.float64)
    assert u.shape == (4, 2, 20, 20)
    assert torch.allclose(u.abs().amax(dim=(2, 3)), torch.full((4, 2), 0.5, dtype=torch.float64))
    assert u.mean(dim=(2, 3)).abs().max() < 1e-12
    shifted = pde.initial_condition(4, (20, 20), amplitude=0.5, offset=0.3, dtype=torch.float64)
    means = shifted.mean(dim=(2, 3))
    assert means.abs().max() <= 0.3 and means.abs().max() > 0.01
    assert Burgers(1).channel_names == ("u",) and Burgers(3).channel_names == ("u", "v", "w")


def test_bad_arguments_are_refused():
    with pytest.raises(PhysdiffError, match="amplitude must lie in"):
        Burgers(2).cole_hopf((8, 8), 0.0, amplitude=1.0)
    with pytest.raises(PhysdiffError, match="2 channels"):
        Burgers(2)(torch.zeros(1, 1, 8, 8))
    with pytest.raises(PhysdiffError, match="ndim"):
        Burgers(4)
