"""2D Navier-Stokes over long horizons: an exact nonlinear flow at 256^2, the FNO forcing run to
T = 50 at 64^2 (stationarity, enstrophy budget, resolution, time step, float32), and the orders in
dt of the Crank-Nicolson/Euler scheme and of ETDRK4 on that forced turbulent-ish flow.

Enstrophy ``Z = <w^2> / 2`` (``<.>`` the box mean) obeys
``dZ/dt = <f w> - nu <|grad w|^2>`` (injection minus dissipation): advection conserves ``Z``
exactly in continuous space, so the budget tests the signs of forcing and viscosity and the
discrete advection's (near-)conservation together.
"""

from __future__ import annotations

import math

import pytest
import torch

from physdiff.operators import spectral_derivative
from physdiff.solvers import NavierStokes2D
from physdiff.testing import ConvergenceStudy, assert_order

SHELL = [(3, 4), (4, 3), (5, 0), (0, 5), (3, -4), (4, -3)]  # every mode with |q| = 5 up to sign


def resample(w: torch.Tensor, m: int) -> torch.Tensor:
    """Spectral interpolation of a periodic ``(..., n, n)`` field to ``m^2`` points.

    Keeps the modes ``|q_x|, |q_y| < min(n, m) / 2`` (the Nyquist lines are dropped, so the result
    is real and resampling back returns the same field).
    """
    n = w.shape[-1]
    c = min(n, m) // 2
    src = torch.tensor(list(range(c)) + list(range(n - c + 1, n)))
    dst = torch.tensor(list(range(c)) + list(range(m - c + 1, m)))
    spectrum = torch.fft.fft2(w, norm="forward")
    out = torch.zeros(*w.shape[:-2], m, m, dtype=spectrum.dtype)
    out[..., dst[:, None], dst] = spectrum[..., src[:, None], src]
    return torch.fft.ifft2(out, norm="forward").real


def relative_l2(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-sample ``||a - b|| / ||b||``."""
    axes = tuple(range(1, a.dim()))
    return (a - b).pow(2).sum(axes).sqrt() / b.pow(2).sum(axes).sqrt()


def test_shell_flow_at_256_squared_is_an_exact_nonlinear_solution(figures):
    # Any vorticity built from modes of one wavenumber magnitude is an eigenfunction of the
    # Laplacian, so w = |k|^2 psi and u.grad w = J(psi, w) = 0: it decays as exp(-nu |k|^2 t)
    # although each product of two modes is non-zero (a generalised Taylor-Green flow).
    nu, n = 1e-3, 256
    ns = NavierStokes2D(nu=nu, n=n, forcing=False)
    x, y = ns.grid.mesh()
    gen = torch.Generator().manual_seed(0)
    w0 = torch.zeros(n, n, dtype=torch.float64)
    for qx, qy in SHELL:
        amplitude, phase = torch.rand(2, generator=gen, dtype=torch.float64)
        w0 += amplitude * torch.cos(2 * math.pi * (qx * x + qy * y) + 2 * math.pi * phase)
    w0 = w0[None, None]
    rate = nu * (2 * math.pi * 5) ** 2
    w_hat = torch.fft.rfft2(w0)
    advection = (ns.advection_hat(w_hat).abs().max() / w_hat.abs().max()).item()

    dt, t_end = 1e-2, 10.0
    steps = round(t_end / dt)
    a = dt * rate
    cn = ns.step(w0, dt, steps=steps)
    cn_factor = ((1 - a / 2) / (1 + a / 2)) ** steps
    cn_vs_factor = ((cn - cn_factor * w0).abs().max() / (cn_factor * w0).abs().max()).item()
    exact = math.exp(-rate * t_end) * w0
    cn_vs_exact = ((cn - exact).abs().max() / exact.abs().max()).item()
    predicted = abs(cn_factor / math.exp(-rate * t_end) - 1)  # ~ t rate^3 dt^2 / 12
    etd = ns.stepper(0.04)(w0, steps=round(t_end / 0.04))
    etd_vs_exact = ((etd - exact).abs().max() / exact.abs().max()).item()

    figures(f"shell |q| = 5 (6 random modes), 256^2, nu = {nu}, no forcing, t = {t_end}")
    figures(f"dealiased advection / max|w_hat|: {advection:.1e}")
    figures(f"CN dt = {dt}: vs its rational factor {cn_vs_factor:.1e}; vs exp(-nu k^2 t) {cn_vs_exact:.2e} "
            f"(predicted {predicted:.2e})")
    figures(f"ETDRK4 dt = 0.04: vs exp(-nu k^2 t) {etd_vs_exact:.1e}")
    assert advection < 1e-13
    assert cn_vs_factor < 1e-11
    assert cn_vs_exact == pytest.approx(predicted, rel=0.01)
    assert etd_vs_exact < 1e-10


@pytest.fixture(scope="module")
def fno_run():
    """The FNO setting (nu = 1e-3, 64^2, CN dt = 1e-2) from two GRF samples to T = 50, float64,
    with the enstrophy budget every 0.1 time units; and the same start at 128^2, at dt = 5e-3
    and in float32, kept at t = 1, 10, 50."""
    ns, fine = NavierStokes2D(nu=1e-3, n=64), NavierStokes2D(nu=1e-3, n=128)
    # The same field on both grids: drop the 64^2 Nyquist lines, then interpolate.
    w = resample(ns.initial_condition(2, seed=0, dtype=torch.float64), 64)
    x, y = ns.grid.mesh()
    phase = 2 * math.pi * (x + y) / ns.length
    f = 0.1 * (torch.sin(phase) + torch.cos(phase))  # the FNO forcing, as documented

    def budget(w):
        grad2 = spectral_derivative(w, (1, 0), ns.length) ** 2 + spectral_derivative(w, (0, 1), ns.length) ** 2
        return torch.stack([0.5 * w.pow(2).mean((1, 2, 3)), ns.nu * grad2.mean((1, 2, 3)), (f * w).mean((1, 2, 3))])

    states = {"64": {}, "128": {}, "half dt": {}, "float32": {}}
    runs = {"64": w, "128": resample(w, 128), "half dt": w, "float32": w.float()}
    series = [budget(w)]
    for k in range(1, 501):  # 0.1 time units each
        runs["64"] = ns.step(runs["64"], 1e-2, steps=10)
        series.append(budget(runs["64"]))
        if k % 10 == 0:
            t = k // 10
            runs["128"] = fine.step(runs["128"], 1e-2, steps=100)
            runs["half dt"] = ns.step(runs["half dt"], 5e-3, steps=200)
            runs["float32"] = ns.step(runs["float32"], 1e-2, steps=100)
            if t in (1, 10, 50):
                for name in states:
                    states[name][t] = runs[name]
    return {"series": torch.stack(series, dim=1), "states": states, "final": runs["64"]}


def test_fno_run_to_t_50_is_finite_stationary_and_closes_its_enstrophy_budget(fno_run, figures):
    series = fno_run["series"]  # (3, 501, B): Z, dissipation, injection at t = 0, 0.1, ..., 50
    Z, D, P = series
    t = torch.arange(series.shape[1], dtype=torch.float64) * 0.1
    means = {(a, b): Z[(t >= a) & (t < b)].mean(0) for a, b in ((10, 20), (20, 30), (30, 40), (40, 50))}
    start, end = 100, 500  # t = 10 .. 50
    change = Z[end] - Z[start]
    # trapezoid rule over the 0.1 samples: its error (~1e-5 here) is well below the tolerance
    net = torch.trapezoid(P[start:end + 1] - D[start:end + 1], dx=0.1, dim=0)
    dissipated = torch.trapezoid(D[start:end + 1], dx=0.1, dim=0)
    mismatch = ((change - net).abs() / dissipated)
    figures("FNO setting: nu = 1e-3, 64^2, CN/Euler dt = 1e-2, 2 GRF samples, T = 50, float64")
    figures.table("mean enstrophy Z = <w^2>/2 per window (sample 0, sample 1)", [
        f"t in [{a}, {b}): {m[0]:.4f}, {m[1]:.4f}" for (a, b), m in means.items()
    ])
    figures(f"t = 10..50: Z change {figures.sci(change)}, integral of injection - dissipation {figures.sci(net)}, "
            f"dissipated {figures.sci(dissipated)}; budget mismatch / dissipated {figures.sci(mismatch)}")
    assert torch.isfinite(fno_run["final"]).all()
    late, later = means[(30, 40)], means[(40, 50)]
    assert ((later - late).abs() / late).max() < 0.2  # statistically stationary (measured <= 10 %)
    assert (Z[start:].min(0).values > 0.5 * later).all()  # no decay towards rest
    assert mismatch.max() < 0.02


def test_fno_run_is_spatially_converged_and_carries_a_first_order_time_error(fno_run, figures):
    states = fno_run["states"]
    rows, gaps = [], {}
    for t in (1, 10, 50):
        reference = states["64"][t]
        gaps[t] = {
            "128": relative_l2(resample(states["128"][t], 64), reference),
            "half dt": relative_l2(states["half dt"][t], reference),
            "float32": relative_l2(states["float32"][t].double(), reference),
        }
        rows.append(f"t = {t:2d}: " + "; ".join(f"{k} {figures.sci(v)}" for k, v in gaps[t].items()))
    figures.table("relative L2 difference to the 64^2, dt = 1e-2, float64 run (sample 0, sample 1)", rows)
    # 64^2 resolves nu = 1e-3 spectrally: 128^2 agrees to round-off growth, far below the time error.
    assert max(g["128"].max() for g in gaps.values()) < 1e-6
    # The CN/Euler step's time error is what the FNO data carry: about 1e-3 of the field early,
    # growing to ~1e-2 by T = 50 (measured 0.9 %), halving dt changes the state by that much.
    assert gaps[1]["half dt"].max() < 5e-3 and gaps[50]["half dt"].max() < 0.05
    assert gaps[50]["float32"].max() < 1e-3


def test_orders_in_dt_on_the_forced_flow(figures):
    ns = NavierStokes2D(nu=1e-3, n=64)
    w0 = ns.initial_condition(1, seed=3, dtype=torch.float64)
    t_end = 2.0
    reference = ns.stepper(1e-3)(w0, steps=round(t_end / 1e-3))
    cn_dts = [0.02, 0.01, 0.005, 0.0025]
    cn = [(ns.step(w0, dt, steps=round(t_end / dt)) - reference).abs().max().item() for dt in cn_dts]
    etd_dts = [0.04, 0.02, 0.01, 0.005]
    etd = [(ns.stepper(dt)(w0, steps=round(t_end / dt)) - reference).abs().max().item() for dt in etd_dts]
    cn_study, etd_study = ConvergenceStudy(tuple(cn_dts), tuple(cn)), ConvergenceStudy(tuple(etd_dts), tuple(etd))
    figures(f"forced GRF flow, 64^2, nu = 1e-3, t = {t_end}, against ETDRK4 at dt = 1e-3 (max |w0| "
            f"{w0.abs().max().item():.2f})")
    figures(f"CN/Euler step, dt = {cn_dts}: {figures.sci(cn)}, order {cn_study.order:.2f}")
    figures(f"ETDRK4, dt = {etd_dts}: {figures.sci(etd)}, order {etd_study.order:.2f}")
    assert_order(cn_study, 1, tol=0.15)
    assert_order(etd_study, 4, tol=0.3)
