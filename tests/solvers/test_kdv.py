"""KdV: a soliton travels one period and returns, conservation, spectral vs finite differences,
explicit-step stability limits, seeded initial conditions and bad input."""

from __future__ import annotations

import json
import math

import pytest
import torch

from physdiff.core import PhysdiffError
from physdiff.integrators import RK4, SSPRK3, Euler, Heun
from physdiff.integrators import imaginary_stability_limit
from physdiff.solvers import KdV, simulate
from physdiff.testing import observed_order

# One period of travel of a c = 2 soliton on [0, 30): T = 15, 1500 ETDRK4 steps on 128 points.
LENGTH, N, SPEED, DT = 30.0, 128, 2.0, 0.01


@pytest.fixture(scope="module")
def one_period():
    kdv = KdV(length=LENGTH, n=N)
    u0 = kdv.soliton(SPEED, x0=LENGTH / 2)
    steps = round(LENGTH / SPEED / DT)
    return kdv, u0, kdv.stepper(DT)(u0, steps=steps)


def test_soliton_returns_to_its_initial_profile_after_one_period(one_period):
    _, u0, u = one_period
    # measured 7.4e-6 (amplitude 1): time error of ETDRK4 at dt = 0.01 plus the periodic tail (~1e-9)
    assert (u - u0).abs().max().item() < 2e-5


def test_mass_and_momentum_are_conserved(one_period):
    kdv, u0, u = one_period
    h = LENGTH / N
    mass0, mass = h * u0.sum(), h * u.sum()
    momentum0, momentum = h * (u0 * u0).sum(), h * (u * u).sum()
    assert abs(mass - mass0) < 1e-12 * abs(mass0)  # k = 0 mode is untouched: rounding only
    assert abs(momentum - momentum0) < 2e-6 * momentum0  # measured 8e-7: the time error of ETDRK4


@pytest.mark.parametrize("a, b, c", [(6.0, 1.0, 1.5), (1.0, 0.5, 0.8), (-2.0, 2.0, 2.0)])
def test_soliton_formula_is_a_travelling_wave_for_general_coefficients(a, b, c):
    kdv = KdV(a=a, b=b, length=60.0, n=512)
    u = kdv.soliton(c, x0=30.0)
    k = torch.fft.rfftfreq(512, 60.0 / 512 / (2 * math.pi), dtype=torch.float64)
    u_x = torch.fft.irfft(1j * k * torch.fft.rfft(u), n=512)
    # u(x - c t) solves u_t = -c u_x; the tail at half a period is below 1e-12 for these (a, b, c)
    assert (kdv(u) + c * u_x).abs().max() < 1e-10 * u.abs().max() * c


def test_spectral_and_finite_difference_right_hand_sides_agree_at_the_stencil_order():
    sizes, differences = (128, 256, 512), []
    for n in sizes:
        spectral, fd = KdV(length=LENGTH, n=n), KdV(length=LENGTH, n=n, method="finite-difference", accuracy=4)
        u = spectral.soliton(SPEED, x0=10.0)
        differences.append((spectral(u) - fd(u)).abs().max().item())
    assert observed_order([LENGTH / n for n in sizes], differences) > 3.5  # measured 3.9 (accuracy 4)


def test_spectral_and_finite_difference_trajectories_agree_within_discretisation_error():
    spectral = KdV(length=LENGTH, n=256)
    fd = KdV(length=LENGTH, n=256, method="finite-difference")
    u0 = spectral.soliton(SPEED, x0=10.0)
    exact = spectral.soliton(SPEED, x0=10.0, t=1.0)
    us, uf = spectral.stepper(DT)(u0, steps=100), fd.stepper(DT)(u0, steps=100)
    assert (us - exact).abs().max() < 1e-6  # spectral in space: time error only
    assert (uf - exact).abs().max() < 3e-5  # measured 1.5e-5: the FD spatial error
    assert (uf - us).abs().max() < 3e-5


def test_forward_with_rk4_agrees_with_the_etdrk_stepper_to_fourth_order():
    kdv = KdV(length=LENGTH, n=64)
    u0 = kdv.initial_condition(2, seed=3, dtype=torch.float64)
    differences = []
    for refine in (1, 2):  # same end time, half the step: both methods are fourth order
        dt, steps = 0.5 * kdv.stable_dt(RK4) / refine, 10 * refine
        explicit = simulate(kdv, u0, dt=dt, steps=steps, save_every=steps, include_initial=False)[:, -1]
        differences.append((explicit - kdv.stepper(dt)(u0, steps=steps)).abs().max().item())
    assert differences[0] < 1e-8  # measured 4.5e-10
    assert differences[1] < differences[0] / 10  # measured ratio 17


def test_stable_dt_is_the_imaginary_axis_limit_over_the_largest_symbol():
    assert imaginary_stability_limit(Euler.TABLEAU) == 0.0 and imaginary_stability_limit(Heun.TABLEAU) == 0.0
    assert imaginary_stability_limit(RK4.TABLEAU) == pytest.approx(2 * math.sqrt(2), abs=1e-3)
    assert imaginary_stability_limit(SSPRK3.TABLEAU) == pytest.approx(math.sqrt(3), abs=1e-3)
    kdv = KdV(length=LENGTH, n=N)
    k_max = 2 * math.pi * (N // 2 - 1) / LENGTH  # the Nyquist mode has no odd derivative
    assert kdv.stable_dt(RK4) == pytest.approx(2 * math.sqrt(2) / k_max**3, rel=1e-3)
    with pytest.raises(PhysdiffError, match="Euler is unstable for KdV at any dt.*e.g. SSPRK3 or RK4"):
        simulate(kdv, kdv.soliton(1.0), dt=1e-6, steps=1, integrator=Euler)


def test_random_initial_conditions_are_seeded_smooth_and_mean_zero():
    kdv = KdV(length=LENGTH, n=N)
    a = kdv.initial_condition(3, (N,), seed=7, dtype=torch.float64)
    assert a.shape == (3, 1, N) and a.dtype == torch.float64
    assert torch.equal(a, kdv.initial_condition(3, seed=7, dtype=torch.float64))
    assert not torch.equal(a, kdv.initial_condition(3, seed=8, dtype=torch.float64))
    assert not torch.equal(a[0], a[1])
    assert a.mean(-1).abs().max() < 1e-14
    spectrum = torch.fft.rfft(a).abs()
    assert spectrum[..., 4:].max() < 1e-10 * spectrum.max()  # only modes 1..3


def test_gradient_flows_to_the_coefficients_through_forward():
    a = torch.tensor(6.0, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    for method in ("spectral", "finite-difference"):
        kdv = KdV(a=a, b=b, length=LENGTH, n=64, method=method)
        kdv(kdv.soliton(1.0, x0=10.0)).square().sum().backward()
    assert a.grad != 0 and b.grad != 0


def test_float32_state_uses_float32_coefficients():
    kdv = KdV(length=LENGTH, n=64)
    u64 = kdv.soliton(SPEED, x0=10.0)
    u32 = kdv.stepper(DT)(u64.float(), steps=50)
    assert u32.dtype == torch.float32
    assert torch.allclose(u32.double(), kdv.stepper(DT)(u64, steps=50), atol=1e-5)


def test_config_is_json_serialisable():
    config = KdV(a=torch.tensor(3.0), length=20.0, n=64, method="finite-difference").config()
    assert json.loads(json.dumps(config)) == {
        "pde": "kdv", "a": 3.0, "b": 1.0, "length": 20.0, "n": 64, "method": "finite-difference", "accuracy": 4,
    }


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda: KdV(n=4), "n: expected an int >= 8"),
        (lambda: KdV(method="fd"), "method: expected one of"),
        (lambda: KdV(length=-1.0), "length"),
        (lambda: KdV(n=64).soliton(-1.0), "c/b > 0"),
        (lambda: KdV(n=64, b=0.0).soliton(1.0), "c/b > 0"),
        (lambda: KdV(n=64, method="finite-difference")(torch.zeros(1, 1, 32)), "expected 64 grid points"),
        (lambda: KdV(n=64)(torch.zeros(1, 1, 32)), "expected 64 grid points"),
        (lambda: KdV(n=64)(torch.zeros(1, 2, 64)), "channels"),
        (lambda: KdV(n=64).initial_condition(1, (32,)), "expected shape"),
        (lambda: KdV(n=64).stepper(0.0), "finite nonzero"),
    ],
)
def test_bad_input_is_refused(make, fragment):
    with pytest.raises(PhysdiffError, match=fragment):
        make()
