"""Shallow water on the sphere over days: Williamson case 2 for five days at two resolutions, and
the Galewsky jet for six days at T42, T63 and T85 (conservation, barotropic roll-up, resolution).

The unit tests run Williamson 2 for six steps and check the Galewsky state at t = 0. Here RK4
at ``stable_dt`` (rounded down to a whole number of steps per day), float64, no hyperdiffusion.
Vorticity is compared between resolutions on the spherical-harmonic coefficients (orthonormal,
so independent of the grid) of the degrees both grids keep.
"""

from __future__ import annotations

import math

import pytest
import torch

from physdiff.integrators import RK4
from physdiff.solvers import ShallowWaterSphere, simulate

DAY = 86400.0


def daily(pde: ShallowWaterSphere, u0: torch.Tensor, days: int) -> tuple[torch.Tensor, float]:
    """States at t = 0, 1, ..., ``days`` days and the step used (the largest stable one that divides a day)."""
    per_day = math.ceil(DAY / pde.stable_dt(RK4))
    return simulate(pde, u0, dt=DAY / per_day, steps=per_day * days, save_every=per_day), DAY / per_day


def eddy_vorticity(frames: torch.Tensor) -> torch.Tensor:
    """Max |zeta - zonal mean of zeta| per frame of sample 0: zero for a zonally symmetric flow."""
    zeta = frames[0, :, 1]
    return (zeta - zeta.mean(-1, keepdim=True)).abs().amax((-1, -2))


@pytest.mark.parametrize("nlat", [32, 64])
def test_williamson2_tilted_stays_steady_for_five_days(nlat, figures):
    pde = ShallowWaterSphere(nlat, 2 * nlat, axis_tilt=math.pi / 4)
    u0 = pde.initial_condition(1, kind="williamson2", dtype=torch.float64)
    frames, dt = daily(pde, u0, 5)
    u5 = frames[:, -1]
    zeta_scale = u0[:, 1].abs().max()
    errors = {
        "h": ((u5[:, 0] - u0[:, 0]).abs().max() / u0[:, 0].abs().max()).item(),
        "zeta": ((u5[:, 1] - u0[:, 1]).abs().max() / zeta_scale).item(),
        "delta / max|zeta|": ((u5[:, 2] - u0[:, 2]).abs().max() / zeta_scale).item(),
    }
    mass = ((pde.mass(u5) - pde.mass(u0)) / pde.mass(u0)).abs().item()
    energy = ((pde.energy(u5) - pde.energy(u0)) / pde.energy(u0)).abs().item()
    figures(f"Williamson 2, alpha = pi/4, {nlat}x{2 * nlat} Gauss (lmax {pde.lmax}), RK4 dt = {dt:.0f} s, 5 days")
    figures("relative max errors after 5 days: " + ", ".join(f"{k} {v:.1e}" for k, v in errors.items()))
    figures(f"relative drift: mass {mass:.1e}, energy {energy:.1e}")
    assert errors["h"] < 1e-10 and errors["zeta"] < 1e-9 and errors["delta / max|zeta|"] < 1e-9
    assert mass < 1e-14 and energy < 1e-12


@pytest.fixture(scope="module")
def galewsky():
    """Vorticity and invariants of the Galewsky run at T42 (64x128), T63 (96x192) and T85
    (128x256, the resolution of Galewsky et al.'s reference), 6 days, and of the unperturbed jet
    at T42 for 3 days. T85 is most of the cost (about 80 s on one core)."""
    out = {}
    runs = (("T42", 64, True, 6), ("T63", 96, True, 6), ("T85", 128, True, 6), ("T42 jet", 64, False, 3))
    for name, nlat, perturbation, days in runs:
        pde = ShallowWaterSphere(nlat, 2 * nlat)
        u0 = pde.initial_condition(1, kind="galewsky", perturbation=perturbation, dtype=torch.float64)
        frames, dt = daily(pde, u0, days)
        out[name] = {
            "pde": pde, "dt": dt, "zeta": frames[0, :, 1], "eddy": eddy_vorticity(frames),
            "mass": pde.mass(frames[0]), "energy": pde.energy(frames[0]),
        }
    return out


def test_galewsky_conserves_mass_and_energy_and_rolls_up(galewsky, figures):
    for name, run in galewsky.items():
        mass = ((run["mass"] - run["mass"][0]) / run["mass"][0]).abs().max().item()
        energy = (run["energy"] - run["energy"][0]) / run["energy"][0]
        figures(f"{name}: {run['pde'].nlat}x{run['pde'].nlon}, lmax {run['pde'].lmax}, dt {run['dt']:.0f} s; "
                f"mass drift {mass:.1e}; energy drift per day {figures.sci(energy[1:], 1)}")
        figures(f"    max |zeta| per day {figures.sci(run['zeta'].abs().amax((-1, -2)))}")
        figures(f"    eddy vorticity per day {figures.sci(run['eddy'])}")
        assert mass < 1e-14
        assert energy.abs().max() < 1e-6  # no hyperdiffusion: the drift is the time error (measured 2e-7)
    for name in ("T42", "T63", "T85"):
        eddy, zeta_max = galewsky[name]["eddy"], galewsky[name]["zeta"].abs().amax((-1, -2))
        # Barotropic instability: eddies grow from the height bump by more than 20x from day 1
        # to day 5 and the jet rolls up into vortices stronger than the jet's own shear.
        assert eddy[5] > 20 * eddy[1]
        assert zeta_max[-1] > 1.3 * zeta_max[0]
    jet = galewsky["T42 jet"]
    # Unperturbed, the jet stays zonal to round-off: nothing seeds the instability in 3 days.
    assert (jet["eddy"] < 1e-12 * jet["zeta"][0].abs().max()).all()


def test_galewsky_converges_towards_t85_until_the_roll_up(galewsky, figures):
    reference = galewsky["T85"]
    c_ref = reference["pde"].transforms.to_spectral(reference["zeta"])
    gaps = {}
    for name in ("T42", "T63"):
        c = galewsky[name]["pde"].transforms.to_spectral(galewsky[name]["zeta"])
        ref = c_ref[..., : c.shape[-2], : c.shape[-1]]  # the degrees and orders both keep
        gaps[name] = [((a - b).abs().pow(2).sum().sqrt() / b.abs().pow(2).sum().sqrt()).item() for a, b in zip(c, ref)]
        figures(f"{name} vs T85: relative L2 gap of zeta's coefficients l < {c.shape[-2]}, per day {figures.sci(gaps[name])}")
    zeta = reference["zeta"][-1]
    figures(f"T85 day 6: zeta in [{zeta.min().item():.3e}, {zeta.max().item():.3e}] 1/s")
    assert max(gaps["T42"][:4]) < 0.03 and max(gaps["T63"][:4]) < 0.01  # days 0-3
    # Convergence: T63 is at least 1.5x closer to T85 than T42 on days 1-5 (measured 2-3x).
    assert all(g63 < g42 / 1.5 for g42, g63 in zip(gaps["T42"][1:6], gaps["T63"][1:6]))
    # The eddy amplitude at day 5 agrees within 30 % although the vortices' positions differ.
    for name in ("T42", "T63"):
        assert abs(galewsky[name]["eddy"][5] / reference["eddy"][5] - 1) < 0.3, name
