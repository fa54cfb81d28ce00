"""Per-sample time steps, gradients through a step, and dtype/device preservation."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from physdiff.integrators import (
    FIXED_STEP_METHODS,
    RK4,
    AdaptiveRK2,
    BogackiShampine,
    DormandPrince,
    PiBlock,
    rollout,
)

from ._problems import DampedTanh

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def integrators(rhs, channels=2, ndim=1):
    torch.manual_seed(0)
    return [m(rhs) for m in FIXED_STEP_METHODS] + [
        BogackiShampine(rhs), DormandPrince(rhs), AdaptiveRK2(rhs, channels=channels, ndim=ndim),
    ]


NAMES = [type(i).__name__ for i in integrators(lambda u: u)]


@settings(max_examples=15, deadline=None)
@given(
    dts=st.lists(st.floats(-0.5, 0.5, allow_nan=False), min_size=3, max_size=3),
    which=st.sampled_from(range(len(NAMES))),
)
def test_per_sample_dt_equals_looping_over_samples(dts, which):
    integrator = integrators(DampedTanh(2, 1))[which].double()
    u = torch.linspace(-2, 2, 3 * 2 * 5, dtype=torch.float64).reshape(3, 2, 5)
    batched = integrator(u, torch.tensor(dts, dtype=torch.float64))
    looped = torch.cat([integrator(u[i : i + 1], dt) for i, dt in enumerate(dts)])
    torch.testing.assert_close(batched, looped, rtol=1e-13, atol=1e-15)


def test_gradcheck_rk4_step_wrt_state_rhs_parameter_and_dt():
    integrator = RK4(DampedTanh(2, 1)).double()
    rate = integrator.rhs.rate.detach().clone().requires_grad_(True)
    u = torch.randn(2, 2, 4, dtype=torch.float64, requires_grad=True)
    dt = torch.tensor([0.3, 0.1], dtype=torch.float64, requires_grad=True)

    def step(u, dt, rate):
        return torch.func.functional_call(integrator, {"rhs.rate": rate}, (u, dt))

    assert torch.autograd.gradcheck(step, (u, dt, rate))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("index", range(len(NAMES)), ids=NAMES)
def test_dtype_and_device_are_preserved(index, dtype, device):
    integrator = integrators(PiBlock(2, ndim=1))[index].to(dtype=dtype, device=device)
    u = torch.randn(2, 2, 6, dtype=dtype, device=device)
    dt64 = torch.tensor([0.1, 0.2], dtype=torch.float64, device=device)  # a float64 step must not promote
    for dt in (0.1, dt64):
        out = integrator(u, dt)
        assert out.dtype == dtype and out.device == u.device
    assert rollout(integrator, u, 2, 0.1, checkpoint=True).dtype == dtype


@pytest.mark.parametrize("device", DEVICES)
def test_adaptive_solve_preserves_dtype_and_device(device):
    u = torch.ones(1, 1, 3, device=device)
    result = DormandPrince(lambda u: -u, rtol=1e-4).solve(u, 0.0, 1.0)
    assert result.state.dtype == torch.float32 and result.state.device == u.device
    torch.testing.assert_close(result.state, torch.full_like(u, 0.36787944), rtol=1e-4, atol=0)


def test_complex_state_for_spectral_solvers():
    # du/dt = i w u in Fourier space: |u| is conserved up to the method's error.
    u = torch.ones(1, 1, 4, dtype=torch.complex128)
    out = RK4(lambda u: 1j * u)(u, torch.tensor([0.1], dtype=torch.float64))
    assert out.dtype == torch.complex128
    torch.testing.assert_close(out, torch.exp(torch.tensor(0.1j)).to(torch.complex128) * u, rtol=1e-6, atol=0)
