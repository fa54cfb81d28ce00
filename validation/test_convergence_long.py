"""Observed orders of Gray-Scott and Burgers in dx and dt: four grids, 2D and 3D, longer horizons.

The unit tests measure Gray-Scott's order in dx over t = 1 (2D) and Burgers' against Cole-Hopf
at t = 1 (1D, 2D). Here: Gray-Scott over t = 10 in 2D and 3D, Burgers against Cole-Hopf in a
more nonlinear regime to t = 5 at accuracy 2, 4, 6 (2D) and in 3D, and the order in dt of
every explicit method on both PDEs in 2D and 3D. Float64 throughout; errors in the max norm;
orders are least-squares slopes of log(error) against log(step).

Gray-Scott's box is 0.08 (PeRCNN's 2D parameters, Du = 2e-5): on PeRCNN's 1.0 box the
reaction sharpens the smooth state into fronts a few cells wide within t = 5, and the observed
orders drop to 1.3-2.7 (measured with a 0.32 box): the asymptotic regime needs the front
width, about sqrt(Du / reaction rate) ~ 0.01, to span many cells.
"""

from __future__ import annotations

import math

import pytest
import torch

from physdiff.integrators import RK4, SSPRK3, Euler, Heun
from physdiff.solvers import Burgers, GrayScott, simulate
from physdiff.testing import ConvergenceStudy, assert_order

GS_BOX, GS_T = 0.08, 10.0
METHODS = [(Euler, 1), (Heun, 2), (SSPRK3, 3), (RK4, 4)]


def final(pde, u0, dt, t_end, integrator=RK4):
    steps = round(t_end / dt)
    return simulate(pde, u0, dt=dt, steps=steps, save_every=steps, include_initial=False, integrator=integrator)[:, -1]


def smooth_gray_scott_state(n: int, ndim: int) -> torch.Tensor:
    """A smooth periodic (u, v) on n^ndim points, u in [0.4, 1], v in [0.05, 0.45]; float64."""
    x = torch.arange(n, dtype=torch.float64) * (2 * math.pi / n)
    axes = torch.meshgrid(*([x] * ndim), indexing="ij")
    shape_u = torch.sin(axes[0]) * torch.cos(axes[1])
    shape_v = torch.cos(axes[0] + 0.3) * torch.sin(axes[1])
    if ndim == 3:
        shape_u = shape_u * torch.cos(axes[2] + 0.2)
        shape_v = shape_v * torch.cos(axes[2])
    return torch.stack([1 - 0.3 * (1 + shape_u), 0.25 + 0.2 * shape_v])[None]


@pytest.mark.parametrize("ndim, sizes, dt", [(2, (24, 32, 48, 64), 0.0125), (3, (12, 16, 24, 32), 0.04)])
@pytest.mark.parametrize("accuracy", [2, 4])
def test_gray_scott_order_in_dx_over_ten_time_units(ndim, sizes, dt, accuracy, figures):
    # Same grid, same dt: the difference to accuracy 8 is the accuracy-p stencil's error.
    hs, errors = [], []
    for n in sizes:
        u0, h = smooth_gray_scott_state(n, ndim), GS_BOX / n
        low = final(GrayScott(ndim, spacing=h, accuracy=accuracy), u0, dt, GS_T)
        high = final(GrayScott(ndim, spacing=h, accuracy=8), u0, dt, GS_T)
        hs.append(h)
        errors.append((low - high).abs().max().item())
    study = ConvergenceStudy(tuple(hs), tuple(errors))
    figures(f"Gray-Scott {ndim}D, box {GS_BOX}, t = {GS_T}, accuracy {accuracy} vs 8, N = {sizes}: "
            f"errors {figures.sci(errors)}, order {study.order:.2f}")
    assert_order(study, accuracy, tol=0.35)


@pytest.mark.parametrize("ndim, n", [(2, 24), (3, 16)])
def test_gray_scott_order_in_dt_of_every_method_over_ten_time_units(ndim, n, figures):
    u0, pde = smooth_gray_scott_state(n, ndim), GrayScott(ndim, spacing=GS_BOX / n, accuracy=4)
    dts = [GS_T / m for m in (100, 200, 400, 800)]
    reference = final(pde, u0, dts[-1] / 4, GS_T)
    figures(f"Gray-Scott {ndim}D, {n}^{ndim}, t = {GS_T}, dt = {dts[0]} .. {dts[-1]}, against RK4 at dt = {dts[-1] / 4}")
    for integrator, expected in METHODS:
        errors = [(final(pde, u0, dt, GS_T, integrator) - reference).abs().max().item() for dt in dts]
        study = ConvergenceStudy(tuple(dts), tuple(errors))
        figures(f"  {integrator.__name__:7s} errors {figures.sci(errors)}, order {study.order:.2f}")
        assert_order(study, expected, tol=0.25)


# Burgers against Cole-Hopf, 2D: nu = 0.02 and amplitude 0.95 (phi down to 0.05) give fronts
# about 4x steeper than the unit tests' nu = 0.1, 0.8; t = 5 is five viscous times of the box.
@pytest.mark.parametrize("accuracy", [2, 4, 6])
def test_burgers_2d_against_cole_hopf_to_t_5(accuracy, figures):
    nu, amplitude, t_end, sizes = 0.02, 0.95, 5.0, (48, 64, 96, 128)
    hs, errors = [], []
    for n in sizes:
        h = 2 * math.pi / n
        pde = Burgers(2, nu=nu, spacing=h, accuracy=accuracy)
        u = final(pde, pde.cole_hopf((n, n), 0.0, amplitude=amplitude), 0.005, t_end)
        exact = pde.cole_hopf((n, n), t_end, amplitude=amplitude)
        hs.append(h)
        errors.append(((u - exact).abs().max() / exact.abs().max()).item())
    study = ConvergenceStudy(tuple(hs), tuple(errors))
    figures(f"Burgers 2D vs Cole-Hopf, nu {nu}, amplitude {amplitude}, t = {t_end}, RK4 dt = 0.005, "
            f"accuracy {accuracy}, N = {sizes}: relative errors {figures.sci(errors)}, order {study.order:.2f}")
    assert_order(study, accuracy, tol=0.3)


@pytest.mark.parametrize("accuracy", [2, 4])
def test_burgers_3d_against_cole_hopf(accuracy, figures):
    nu, amplitude, t_end, sizes = 0.1, 0.8, 1.0, (16, 24, 32, 48)
    hs, errors = [], []
    for n in sizes:
        h = 2 * math.pi / n
        pde = Burgers(3, nu=nu, spacing=h, accuracy=accuracy)
        u = final(pde, pde.cole_hopf((n,) * 3, 0.0, amplitude=amplitude), 0.02, t_end)
        exact = pde.cole_hopf((n,) * 3, t_end, amplitude=amplitude)
        hs.append(h)
        errors.append(((u - exact).abs().max() / exact.abs().max()).item())
    study = ConvergenceStudy(tuple(hs), tuple(errors))
    figures(f"Burgers 3D vs Cole-Hopf, nu {nu}, amplitude {amplitude}, t = {t_end}, RK4 dt = 0.02, "
            f"accuracy {accuracy}, N = {sizes}: relative errors {figures.sci(errors)}, order {study.order:.2f}")
    assert_order(study, accuracy, tol=0.3)


@pytest.mark.parametrize("ndim, n", [(2, 48), (3, 20)])
def test_burgers_order_in_dt_of_every_method_on_random_data(ndim, n, figures):
    # Random velocities of unit peak on [0, 1)^ndim, nu = 0.02 (cell Reynolds number ~ 1).
    pde = Burgers(ndim, nu=0.02, spacing=1.0 / n, accuracy=4)
    u0 = pde.initial_condition(1, (n,) * ndim, seed=7, dtype=torch.float64)
    t_end = 0.2
    dts = [t_end / m for m in (50, 100, 200, 400)]
    reference = final(pde, u0, dts[-1] / 4, t_end)
    figures(f"Burgers {ndim}D random data, {n}^{ndim}, nu 0.02, t = {t_end}, dt = {dts[0]} .. {dts[-1]}, "
            f"stable_dt(Euler) = {pde.stable_dt(Euler):.2e}")
    for integrator, expected in METHODS:
        errors = [(final(pde, u0, dt, t_end, integrator) - reference).abs().max().item() for dt in dts]
        study = ConvergenceStudy(tuple(dts), tuple(errors))
        figures(f"  {integrator.__name__:7s} errors {figures.sci(errors)}, order {study.order:.2f}")
        assert_order(study, expected, tol=0.25)
