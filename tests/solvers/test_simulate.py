"""simulate() and the PDE contract, checked on every finite-difference PDE."""

from __future__ import annotations

import json

import pytest
import torch

from physdiff.core import PhysdiffError
from physdiff.integrators import RK4, Euler, Heun
from physdiff.solvers import PDE, Burgers, Diffusion, FitzHughNagumo, GrayScott, LambdaOmega, simulate

PDES = {
    "diffusion": lambda: Diffusion(2, nu=0.1, spacing=0.1),
    "gray-scott": lambda: GrayScott(2),
    "gray-scott-3d": lambda: GrayScott.percnn_3d(),
    "burgers": lambda: Burgers(2, nu=0.05, spacing=0.1),
    "burgers-1d": lambda: Burgers(1, nu=0.05, spacing=0.1),
    "fitzhugh-nagumo": lambda: FitzHughNagumo.pdebench_2d(),
    "lambda-omega": lambda: LambdaOmega.percnn_2d(),
}
NAMES = list(PDES)


def build(name: str) -> PDE:
    return PDES[name]()


def small_state(pde: PDE, batch: int = 2, seed: int = 0, dtype=torch.float64) -> torch.Tensor:
    return pde.initial_condition(batch, (10,) * pde.ndim, seed=seed, dtype=dtype)


def safe_dt(pde: PDE) -> float:
    return 0.5 * pde.stable_dt(RK4)


class ListSink:
    def __init__(self) -> None:
        self.frames: list[torch.Tensor] = []

    def append(self, states: torch.Tensor) -> None:
        self.frames.append(states.clone())


# ------------------------------------------------------------------ stability
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("integrator", [Euler, RK4], ids=lambda m: m.__name__)
def test_unstable_dt_is_refused_with_the_limit_in_the_message(name, integrator):
    pde = build(name)
    limit = pde.stable_dt(integrator)
    with pytest.raises(PhysdiffError, match=f"stability limit {limit:.4g}") as info:
        simulate(pde, small_state(pde), dt=1.01 * limit, steps=1, integrator=integrator)
    assert f"dt <= {limit:.4g}" in str(info.value)
    simulate(pde, small_state(pde), dt=0.99 * limit, steps=1, integrator=integrator)  # just below: accepted


def test_blow_up_is_reported_at_the_step_it_is_found():
    pde = Diffusion(2, nu=1.0, spacing=1.0)
    checkerboard = (-1.0) ** (torch.arange(8)[:, None] + torch.arange(8)[None, :])
    u0 = checkerboard[None, None].float()
    dt = 10 * pde.stable_dt(Euler)  # the checkerboard grows by |1 - 8 dt| = 19 per step
    u, first_bad = u0, None
    for n in range(1, 100):
        u = Euler(pde)(u, dt)
        if not torch.isfinite(u).all():
            first_bad = n
            break
    assert first_bad is not None
    with pytest.raises(PhysdiffError, match=f"by step {first_bad} of 100"):
        simulate(pde, u0, dt=dt, steps=100, integrator=Euler, check_stability=False)
    # Checked at save points only: the reported step is the first saved one after the blow-up.
    reported = -(-first_bad // 10) * 10
    with pytest.raises(PhysdiffError, match=f"by step {reported} of 100"):
        simulate(pde, u0, dt=dt, steps=100, save_every=10, integrator=Euler, check_stability=False)


# ------------------------------------------------------------ saving and sinks
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("save_every, include_initial, frames", [(1, True, 7), (2, True, 4), (3, False, 2), (6, False, 1)])
def test_saved_trajectory_shape(name, save_every, include_initial, frames):
    pde = build(name)
    u0 = small_state(pde)
    out = simulate(pde, u0, dt=safe_dt(pde), steps=6, save_every=save_every, include_initial=include_initial)
    assert out.shape == (2, frames, pde.channels, *u0.shape[2:])
    if include_initial:
        assert torch.equal(out[:, 0], u0)


@pytest.mark.parametrize("name", NAMES)
def test_sink_receives_the_same_frames_as_memory(name):
    pde = build(name)
    u0, dt = small_state(pde), safe_dt(pde)
    in_memory = simulate(pde, u0, dt=dt, steps=6, save_every=2)
    sink = ListSink()
    last = simulate(pde, u0, dt=dt, steps=6, save_every=2, sink=sink)
    assert [f.shape[1] for f in sink.frames] == [1, 1, 1, 1]
    assert torch.equal(torch.cat(sink.frames, dim=1), in_memory)
    assert torch.equal(last, in_memory[:, -1])


def test_progress_is_called_at_every_saved_frame():
    pde = build("diffusion")
    calls: list[tuple[int, int]] = []
    simulate(pde, small_state(pde), dt=safe_dt(pde), steps=6, save_every=3, progress=lambda n, total: calls.append((n, total)))
    assert calls == [(3, 6), (6, 6)]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_float32_and_float64_are_kept_and_agree(name, dtype):
    pde = build(name)
    u0 = small_state(pde, dtype=dtype)
    out = simulate(pde, u0, dt=safe_dt(pde), steps=4, save_every=4, integrator=Heun)
    assert out.dtype == dtype and torch.isfinite(out).all()
    reference = simulate(pde, small_state(pde), dt=safe_dt(pde), steps=4, save_every=4, integrator=Heun)
    assert torch.allclose(out.double(), reference, atol=1e-4 if dtype == torch.float32 else 0)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [({"steps": 0}, "steps: expected a positive int"), ({"steps": 5, "save_every": 2}, "must divide steps"),
     ({"steps": 4, "save_every": True}, "save_every: expected a positive int")],
)
def test_bad_counts_are_refused(kwargs, fragment):
    pde = build("diffusion")
    with pytest.raises(PhysdiffError, match=fragment):
        simulate(pde, small_state(pde), dt=safe_dt(pde), **kwargs)


# --------------------------------------------------------- initial conditions
@pytest.mark.parametrize("name", NAMES)
def test_seeded_initial_conditions_are_reproducible_distinct_and_private(name):
    pde = build(name)
    rng = torch.get_rng_state()
    first, again, other = small_state(pde, seed=7), small_state(pde, seed=7), small_state(pde, seed=8)
    assert torch.equal(torch.get_rng_state(), rng)  # the global RNG was not touched
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert not torch.equal(first[0], first[1])  # samples of one batch differ
    assert first.shape == (2, pde.channels, *(10,) * pde.ndim) and first.dtype == torch.float64


@pytest.mark.parametrize("name", NAMES)
def test_initial_condition_rejects_a_wrong_number_of_grid_sizes(name):
    pde = build(name)
    with pytest.raises(PhysdiffError, match="grid sizes"):
        pde.initial_condition(1, (10,) * (pde.ndim + 1))


@pytest.mark.parametrize("name", [n for n in NAMES if n != "gray-scott" and n != "gray-scott-3d"])
def test_initial_condition_rejects_a_bad_batch(name):
    with pytest.raises(PhysdiffError, match="batch"):
        build(name).initial_condition(0, (10,) * build(name).ndim)


# ------------------------------------------------------------- the contract
@pytest.mark.parametrize("name", NAMES)
def test_wrong_channel_count_and_ndim_are_refused(name):
    pde = build(name)
    u = small_state(pde)
    with pytest.raises(PhysdiffError, match=f"{pde.channels} channels"):
        pde(torch.cat([u, u[:, :1]], dim=1))
    with pytest.raises(PhysdiffError, match=f"{pde.ndim} spatial axes"):
        pde(u[..., 0])
    with pytest.raises(PhysdiffError, match="channels"):
        simulate(pde, torch.cat([u, u[:, :1]], dim=1), dt=safe_dt(pde), steps=1)


@pytest.mark.parametrize("name", NAMES)
def test_config_is_json_serialisable_and_round_trips(name):
    pde = build(name)
    config = json.loads(json.dumps(pde.config()))
    rebuilt = type(pde)(**{k: v for k, v in config.items() if k != "pde"})
    assert rebuilt.config() == config
    u = small_state(pde)
    assert torch.equal(rebuilt(u), pde(u))


@pytest.mark.parametrize("name", NAMES)
def test_rhs_keeps_shape_dtype_and_device(name):
    pde = build(name)
    for dtype in (torch.float32, torch.float64):
        u = small_state(pde, dtype=dtype)
        du = pde(u)
        assert du.shape == u.shape and du.dtype == dtype and du.device == u.device


def test_a_non_finite_initial_state_is_named_as_the_input_before_any_step():
    pde = build("gray-scott")
    u0 = small_state(pde)
    u0[1, 0, 2, 3] = float("nan")
    with pytest.raises(PhysdiffError, match=r"initial state u0 holds 1 non-finite value\(s\) \(NaN or Inf\), the "
                                            r"first at index \(1, 0, 2, 3\).*the input is at fault, not the time step"):
        simulate(pde, u0, dt=safe_dt(pde), steps=5)
