"""The heat equation against its closed form: exact discrete decay, continuous decay within the
stencil error, and the observed orders of the assembled solver in dt and in dx."""

from __future__ import annotations

import math

import pytest
import torch

from physdiff.core import PhysdiffError
from physdiff.integrators import RK4, Euler, Heun, stability_polynomial
from physdiff.solvers import Diffusion, simulate
from physdiff.testing import ConvergenceStudy, assert_order

L = 2 * math.pi
MODE = (1, 2)  # cos(x) sin(2y): |k|^2 = 5 on [0, 2 pi)^2


def mode(n: int, ndim: int = 2, m: tuple[int, ...] = MODE) -> tuple[torch.Tensor, float]:
    """A real Fourier mode prod_a trig(m_a x_a) on n^ndim points of the 2 pi box, float64."""
    h = L / n
    coords = torch.meshgrid(*([torch.arange(n, dtype=torch.float64) * h] * ndim), indexing="ij")
    field = torch.cos(m[0] * coords[0])
    for a in range(1, ndim):
        field = field * torch.sin(m[a] * coords[a])
    return field[None, None], h


def run(pde, u0, dt: float, steps: int, integrator=RK4) -> torch.Tensor:
    return simulate(pde, u0, dt=dt, steps=steps, save_every=steps, integrator=integrator, include_initial=False)[:, -1]


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("accuracy", [2, 4, 6])
def test_fourier_mode_is_an_eigenvector_with_the_discrete_symbol(ndim, accuracy):
    m = (1, 2, 1)[:ndim]
    u0, h = mode(8 if ndim == 3 else 16, ndim, m)
    pde = Diffusion(ndim, nu=0.3, spacing=h, accuracy=accuracy)
    rate = pde.decay_rate(m)
    assert torch.allclose(pde(u0), -rate * u0, rtol=0, atol=1e-12)
    # Central second-difference symbols lie below theta^2, so the discrete decay is slower.
    assert 0 < rate < pde.decay_rate(m, discrete=False)


@pytest.mark.parametrize("integrator", [Euler, Heun, RK4], ids=lambda m: m.__name__)
def test_time_exact_decay_is_the_stability_polynomial_of_the_discrete_rate(integrator):
    # n steps multiply the mode by R(-rate dt)^n exactly, R the method's stability polynomial.
    u0, h = mode(16)
    pde, dt, steps = Diffusion(2, nu=0.3, spacing=h, accuracy=4), 0.05, 20
    z = -pde.decay_rate(MODE) * dt
    factor = sum(c * z**i for i, c in enumerate(stability_polynomial(integrator.TABLEAU)))
    assert torch.allclose(run(pde, u0, dt, steps, integrator), factor**steps * u0, rtol=0, atol=1e-12)


@pytest.mark.parametrize("accuracy, expected", [(2, 2), (4, 4)])
def test_continuous_decay_within_stencil_error_and_order_in_dx(accuracy, expected):
    t_end, steps, hs, errors = 0.2, 100, [], []
    for n in (8, 16, 32, 64):
        u0, h = mode(n)
        pde = Diffusion(2, nu=1.0, spacing=h, accuracy=accuracy)
        error = (run(pde, u0, t_end / steps, steps) - math.exp(-5 * t_end) * u0).abs().max().item()
        stencil_error = abs(math.exp(-5 * t_end) - math.exp(-pde.decay_rate(MODE) * t_end))
        # The whole error is the symbol's: RK4's share at dt = 0.002 is below 1e-9.
        assert error == pytest.approx(stencil_error, rel=1e-3, abs=1e-10)
        hs.append(h)
        errors.append(error)
    assert_order(ConvergenceStudy(tuple(hs), tuple(errors)), expected, tol=0.3)


@pytest.mark.parametrize("integrator, expected", [(Euler, 1), (Heun, 2), (RK4, 4)], ids=["Euler", "Heun", "RK4"])
def test_order_in_dt_at_fixed_grid(integrator, expected):
    # Reference: the exact solution of the semi-discrete system, exp(-rate t) times the mode.
    u0, h = mode(16)
    pde, t_end = Diffusion(2, nu=0.5, spacing=h, accuracy=4), 1.0
    exact = math.exp(-pde.decay_rate(MODE) * t_end) * u0
    dts = [t_end / n for n in (20, 40, 80, 160)]
    errors = [(run(pde, u0, dt, round(t_end / dt), integrator) - exact).abs().max().item() for dt in dts]
    assert_order(ConvergenceStudy(tuple(dts), tuple(errors)), expected, tol=0.2)


def test_stable_dt_is_the_real_stability_limit_over_the_largest_eigenvalue():
    # Accuracy 2 in 2D: the largest |eigenvalue| is nu * 8 / h^2 (the checkerboard); Euler's limit is 2.
    pde = Diffusion(2, nu=0.5, spacing=0.1, accuracy=2)
    assert pde.stable_dt(Euler) == pytest.approx(2 / (0.5 * 8 / 0.01), rel=1e-3)
    assert pde.stable_dt(None) is None
    assert pde.stable_dt(RK4) > pde.stable_dt(Euler)


def test_decay_rate_and_initial_condition_reject_bad_input():
    pde = Diffusion(2)
    with pytest.raises(PhysdiffError, match="2 wavenumbers"):
        pde.decay_rate((1.0,))
    with pytest.raises(PhysdiffError, match="modes=4 needs at least 9 points"):
        pde.initial_condition(1, (8, 16))
    with pytest.raises(PhysdiffError, match="modes: expected a positive int"):
        pde.initial_condition(1, (16, 16), modes=0)


def test_initial_condition_is_a_zero_mean_band_limited_field_of_unit_peak():
    u = Diffusion(2).initial_condition(3, (20, 24), modes=3, dtype=torch.float64)
    assert u.shape == (3, 1, 20, 24)
    assert torch.allclose(u.abs().amax(dim=(2, 3)), torch.ones(3, 1, dtype=torch.float64))
    spectrum = torch.fft.fftn(u, dim=(2, 3)).abs()
    assert spectrum[:, :, 0, 0].max() < 1e-10  # zero mean
    assert spectrum[:, :, 4:-3].max() < 1e-10 and spectrum[:, :, :, 4:-3].max() < 1e-10  # |m_a| <= 3
