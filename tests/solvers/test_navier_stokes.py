"""2D Navier-Stokes (vorticity): Taylor-Green decay, the Crank-Nicolson factor and its order,
dealiasing, forcing, GRF initial conditions, dtypes, batching and bad input."""

from __future__ import annotations

import json
import math

import pytest
import torch

from physdiff.core import PhysdiffError
from physdiff.integrators import RK4
from physdiff.solvers import NavierStokes2D, simulate
from physdiff.testing import observed_order

N = 16


def taylor_green(ns: NavierStokes2D, m: int = 1, batch: int = 1) -> tuple[torch.Tensor, float]:
    """``w = 2 k cos(k x) cos(k y)``, ``k = 2 pi m / L``: a Laplacian eigenfunction, decay rate ``2 nu k^2``."""
    x, y = ns.grid.mesh()
    k = 2 * math.pi * m / ns.length
    w = (2 * k * torch.cos(k * x) * torch.cos(k * y))[None, None].repeat(batch, 1, 1, 1)
    return w, 2 * k * k


@pytest.mark.parametrize("m", [1, 3])
def test_advection_of_a_single_mode_vanishes(m):
    ns = NavierStokes2D(n=N, forcing=False)
    w, _ = taylor_green(ns, m)
    advection = ns.advection_hat(torch.fft.rfft2(w))
    assert advection.abs().max() < 1e-13 * torch.fft.rfft2(w).abs().max()


def test_crank_nicolson_decay_is_its_rational_factor_to_rounding():
    nu, dt, steps = 1e-3, 1e-2, 100
    ns = NavierStokes2D(nu=nu, n=N, forcing=False)
    w0, k2 = taylor_green(ns)
    a = dt * nu * k2
    expected = w0 * ((1 - a / 2) / (1 + a / 2)) ** steps
    w = ns.step(w0, dt, steps=steps)
    assert (w - expected).abs().max() < 1e-12 * w0.abs().max()
    # against the exact exp(-2 nu k^2 t): measured relative error 3.8e-9 at t = 1 (about t (nu k2)^3 dt^2 / 12)
    exact = w0 * math.exp(-nu * k2 * dt * steps)
    assert (w - exact).abs().max() < 1e-8 * w0.abs().max()


def test_crank_nicolson_converges_to_the_exact_decay_at_second_order():
    nu, t_end = 1e-2, 1.0
    ns = NavierStokes2D(nu=nu, n=N, forcing=False)
    w0, k2 = taylor_green(ns)
    exact = w0 * math.exp(-nu * k2 * t_end)
    dts = [0.1, 0.05, 0.025]
    errors = [(ns.step(w0, dt, steps=round(t_end / dt)) - exact).abs().max().item() for dt in dts]
    assert observed_order(dts, errors) == pytest.approx(2.0, abs=0.05)


def test_etdrk_stepper_decays_taylor_green_exactly_and_forward_is_the_rhs():
    nu = 1e-3
    ns = NavierStokes2D(nu=nu, n=N, forcing=False)
    w0, k2 = taylor_green(ns, m=2)
    assert torch.allclose(ns(w0), -nu * k2 * w0, atol=1e-12 * w0.abs().max())
    w = ns.stepper(0.05)(w0, steps=20)
    assert (w - w0 * math.exp(-nu * k2 * 1.0)).abs().max() < 1e-12 * w0.abs().max()


def test_advection_is_dealiased_and_velocity_is_divergence_free_with_curl_w():
    ns = NavierStokes2D(n=N)
    w = ns.initial_condition(2, seed=1, dtype=torch.float64)
    advection = ns.advection_hat(torch.fft.rfft2(w))
    q = torch.fft.fftfreq(N, 1 / N).abs()
    outside = (3 * q[:, None] >= N) | (3 * torch.arange(N // 2 + 1)[None, :] >= N)
    assert advection[..., outside].abs().max() == 0 and advection[..., ~outside].abs().max() > 1e-3
    uv = ns.velocity(w)
    spectrum = torch.fft.rfft2(uv)
    kx = 2 * math.pi * torch.fft.fftfreq(N, 1 / N)[:, None].double()
    ky = 2 * math.pi * torch.arange(N // 2 + 1)[None, :].double()
    kx[N // 2], ky[:, -1] = 0, 0  # odd derivatives of the Nyquist modes vanish on the grid
    divergence = torch.fft.irfft2(1j * kx * spectrum[:, 0] + 1j * ky * spectrum[:, 1], s=(N, N))
    curl_hat = 1j * kx * spectrum[:, 1] - 1j * ky * spectrum[:, 0]
    assert divergence.abs().max() < 1e-12
    # the curl is w on every mode off the Nyquist row and column (where odd derivatives vanish)
    inner = torch.ones(N, N // 2 + 1, dtype=torch.bool)
    inner[N // 2], inner[:, -1] = False, False
    assert torch.allclose(curl_hat[..., inner], torch.fft.rfft2(w)[:, 0][..., inner], atol=1e-11)


def test_forcing_drives_rest_to_the_discrete_steady_state():
    nu, dt, steps = 1e-2, 0.5, 40
    ns = NavierStokes2D(nu=nu, n=N)
    x, y = ns.grid.mesh()
    phase = 2 * math.pi * (x + y)
    f = 0.1 * (torch.sin(phase) + torch.cos(phase))
    # f is a Laplacian eigenfunction (|k|^2 = 8 pi^2): its advection vanishes and each mode obeys
    # w_hat_{n+1} = r w_hat_n + dt f_hat / (1 + a/2): w_n = (1 - r^n) f / (nu |k|^2)
    a = dt * nu * 8 * math.pi**2
    r = (1 - a / 2) / (1 + a / 2)
    w = ns.step(torch.zeros(1, 1, N, N, dtype=torch.float64), dt, steps=steps)
    assert torch.allclose(w[0, 0], (1 - r**steps) * f / (nu * 8 * math.pi**2), atol=1e-13)
    assert NavierStokes2D(n=N, forcing=False).step(torch.zeros(1, 1, N, N), dt).abs().max() == 0


def test_gaussian_random_field_is_seeded_reproducible_and_mean_zero():
    ns = NavierStokes2D(n=N)
    w = ns.initial_condition(3, (N, N), seed=5, dtype=torch.float64)
    assert w.shape == (3, 1, N, N)
    assert torch.equal(w, ns.initial_condition(3, seed=5, dtype=torch.float64))
    assert not torch.equal(w, ns.initial_condition(3, seed=6, dtype=torch.float64))
    assert not torch.equal(w[0], w[1])
    assert w.mean(dim=(-2, -1)).abs().max() < 1e-15
    assert torch.equal(ns.initial_condition(3, seed=5), w.float())  # same field in every dtype
    # the spectrum follows sqrt(2) sigma (4 pi^2 |q|^2 + tau^2)^(-alpha/2): |q| = 1 modes dominate
    power = torch.fft.fft2(w).abs().square().mean(dim=(0, 1))
    assert power[0, 1] > 5 * power[0, 4] and power[0, 0] < 1e-20 * power[0, 1]


def test_float32_follows_float64_and_batch_equals_per_sample():
    ns = NavierStokes2D(n=N)
    w64 = ns.initial_condition(3, seed=2, dtype=torch.float64)
    out64 = ns.step(w64, 1e-2, steps=20)
    out32 = ns.step(w64.float(), 1e-2, steps=20)
    assert out32.dtype == torch.float32
    assert (out32.double() - out64).abs().max() < 1e-5 * w64.abs().max()
    per_sample = torch.cat([ns.step(w64[i : i + 1], 1e-2, steps=20) for i in range(3)])
    assert torch.allclose(out64, per_sample, atol=1e-14)


def test_batched_and_separate_inverse_transforms_agree(monkeypatch):
    from physdiff.solvers import _navier_stokes

    ns = NavierStokes2D(n=N)
    w = ns.initial_condition(2, seed=9, dtype=torch.float64)
    batched = ns.step(w, 1e-2, steps=5)
    monkeypatch.setattr(_navier_stokes, "_STACK_LIMIT", 0)  # large-problem path: four separate calls
    assert torch.allclose(ns.step(w, 1e-2, steps=5), batched, atol=1e-14)


def test_step_is_first_order_consistent_with_rk4_on_forward():
    ns = NavierStokes2D(n=N)
    w0 = ns.initial_condition(1, seed=4, dtype=torch.float64)
    reference = simulate(ns, w0, dt=1e-3, steps=100, save_every=100, include_initial=False, integrator=RK4)[:, -1]
    errors = [(ns.step(w0, dt, steps=round(0.1 / dt)) - reference).abs().max().item() for dt in (0.02, 0.01, 0.005)]
    assert observed_order([0.02, 0.01, 0.005], errors) == pytest.approx(1.0, abs=0.2)  # explicit Euler advection


def test_gradient_flows_to_viscosity_and_state():
    nu = torch.tensor(1e-2, dtype=torch.float64, requires_grad=True)
    ns = NavierStokes2D(nu=nu, n=N)
    w0 = ns.initial_condition(1, seed=0, dtype=torch.float64).requires_grad_(True)
    ns.step(w0, 0.05, steps=3).square().sum().backward()
    assert nu.grad is not None and nu.grad != 0 and w0.grad.abs().sum() > 0


def test_config_and_stable_dt():
    ns = NavierStokes2D(nu=1e-3, n=64)
    assert json.loads(json.dumps(ns.config())) == {
        "pde": "navier-stokes-2d", "nu": 1e-3, "n": 64, "length": 1.0, "forcing": "fno",
    }
    assert ns.stable_dt(RK4) == pytest.approx(2.785 / (1e-3 * 2 * (64 * math.pi) ** 2), rel=1e-2)
    assert ns.stable_dt(None) is None


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda: NavierStokes2D(n=4), "n: expected an int >= 8"),
        (lambda: NavierStokes2D(n=N, forcing=torch.zeros(3, 3)), "forcing: expected a tensor of shape"),
        (lambda: NavierStokes2D(n=N, forcing="fno"), "forcing: expected True, False"),
        (lambda: NavierStokes2D(n=N).step(torch.zeros(1, 1, 8, 8), 0.01), "spatial shape"),
        (lambda: NavierStokes2D(n=N).step(torch.zeros(1, 1, N, N), -0.01), "dt: expected a finite positive"),
        (lambda: NavierStokes2D(n=N).step(torch.zeros(1, 1, N, N), 0.01, steps=0), "steps"),
        (lambda: NavierStokes2D(n=N).initial_condition(1, (8, 8)), "expected shape"),
        (lambda: NavierStokes2D(n=N).initial_condition(1, tau=-1.0), "tau"),
        (lambda: NavierStokes2D(n=N)(torch.zeros(1, 2, N, N)), "channels"),
    ],
)
def test_bad_input_is_refused(make, fragment):
    with pytest.raises(PhysdiffError, match=fragment):
        make()
