"""AdaptiveRK2: exact reduction to Euler/Heun, the learned gate, gradients and input checks."""

from __future__ import annotations

import pytest
import torch

from physdiff.core import PhysdiffError
from physdiff.integrators import AdaptiveRK2, Euler, Heun, PiBlock
from physdiff.testing import assert_order, integrator_convergence

from ._problems import DampedTanh, rotation_logistic, rotation_logistic_exact


def nonlinear_rhs(ndim: int) -> PiBlock:
    torch.manual_seed(0)
    return PiBlock(2, hidden=4, n_branches=2, kernel_size=3, ndim=ndim, init_gain=1.0).double()


@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize(("gate", "reference"), [(0.0, Euler), (1.0, Heun)], ids=["euler", "heun"])
def test_fixed_gate_reduces_exactly(ndim, gate, reference):
    rhs = nonlinear_rhs(ndim)
    u = torch.randn((2, 2) + (5,) * ndim, dtype=torch.float64)
    dt = torch.tensor([0.1, -0.05], dtype=torch.float64)
    integrator = AdaptiveRK2(rhs, channels=2, ndim=ndim, gate=gate).double()
    for step in (0.1, dt):
        assert torch.equal(integrator(u, step), reference(rhs)(u, step))


@pytest.mark.parametrize(("gate", "order"), [(0.0, 1), (1.0, 2), (0.5, 1)])
def test_fixed_gate_convergence_order(gate, order):
    integrator = AdaptiveRK2(rotation_logistic, gate=gate)
    dts = [2.0**-k for k in range(5, 9)]
    study = integrator_convergence(integrator, rotation_logistic_exact(0.0), 1.0, rotation_logistic_exact(1.0), dts)
    assert_order(study, order, tol=0.3)


def test_learned_gate_is_per_pixel_per_channel_in_unit_interval():
    integrator = AdaptiveRK2(DampedTanh(3, 2), channels=3, ndim=2, gate_kernel_size=5)
    u = torch.randn(2, 3, 6, 7)
    a = integrator.gate(u)
    assert a.shape == u.shape and bool(((a > 0) & (a < 1)).all())
    assert a.std() > 0  # depends on the pixel


def test_parameters_of_rhs_and_gate_are_registered_and_trained():
    rhs = DampedTanh(2, 1)
    integrator = AdaptiveRK2(rhs, channels=2, ndim=1)
    names = {name for name, _ in integrator.named_parameters()}
    assert names == {"rhs.rate", "rhs.weight", "gate_conv.weight", "gate_conv.bias"}
    integrator(torch.randn(3, 2, 8), 0.1).square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in integrator.parameters())


def test_gradcheck_through_state_rhs_parameters_and_gate_parameters():
    torch.manual_seed(1)
    integrator = AdaptiveRK2(DampedTanh(2, 1), channels=2, ndim=1, gate_kernel_size=3).double()
    names = [name for name, _ in integrator.named_parameters()]
    params = [p.detach().clone().requires_grad_(True) for p in integrator.parameters()]
    u = torch.randn(2, 2, 6, dtype=torch.float64, requires_grad=True)
    dt = torch.tensor([0.2, 0.3], dtype=torch.float64, requires_grad=True)

    def step(u, dt, *params):
        return torch.func.functional_call(integrator, dict(zip(names, params)), (u, dt))

    assert torch.autograd.gradcheck(step, (u, dt, *params))


def test_fixed_gate_can_be_switched_on_a_trained_model():
    integrator = AdaptiveRK2(DampedTanh(2, 1), channels=2, ndim=1).double()
    u = torch.randn(1, 2, 4, dtype=torch.float64)
    integrator.fixed_gate = 1.0
    assert torch.equal(integrator(u, 0.1), Heun(integrator.rhs)(u, 0.1))
    integrator.fixed_gate = None
    assert not torch.equal(integrator(u, 0.1), Heun(integrator.rhs)(u, 0.1))


def test_circular_gate_is_shift_equivariant():
    torch.manual_seed(2)
    integrator = AdaptiveRK2(DampedTanh(1, 2), channels=1, ndim=2, gate_kernel_size=3).double()
    u = torch.randn(1, 1, 6, 6, dtype=torch.float64)
    shifted = torch.roll(u, (2, -1), (2, 3))
    torch.testing.assert_close(integrator(shifted, 0.1), torch.roll(integrator(u, 0.1), (2, -1), (2, 3)))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(channels=2, ndim=2, gate_kernel_size=4), "odd"),
        (dict(channels=2, ndim=2, gate_kernel_size=0), "odd"),
        (dict(channels=2, ndim=2, gate_kernel_size=3.0), "odd"),
        (dict(channels=0, ndim=2), "channels"),
        (dict(channels=2, ndim=4), "ndim"),
        (dict(channels=2), "together"),
        (dict(), "learned gate needs channels and ndim"),
        (dict(gate=1.5), r"\[0, 1\]"),
        (dict(gate=-0.1), r"\[0, 1\]"),
        (dict(gate=float("nan")), r"\[0, 1\]"),
        (dict(gate=True), r"\[0, 1\]"),
        (dict(channels=2, ndim=2, padding_mode="periodic"), "padding_mode"),
    ],
)
def test_invalid_construction_raises(kwargs, match):
    with pytest.raises(PhysdiffError, match=match):
        AdaptiveRK2(DampedTanh(2, 2), **kwargs)


@pytest.mark.parametrize(
    ("shape", "dtype", "match"),
    [
        ((1, 3, 4, 4), torch.float32, "2 channels"),
        ((1, 2, 4), torch.float32, "2 spatial axes"),
        ((1, 2, 4, 4), torch.float64, "dtype"),
    ],
)
def test_state_that_does_not_fit_the_gate_raises(shape, dtype, match):
    integrator = AdaptiveRK2(lambda u: -u, channels=2, ndim=2)
    with pytest.raises(PhysdiffError, match=match):
        integrator(torch.zeros(shape, dtype=dtype), 0.1)


# ----------------------------------------------------------------- the ARK (stage-gated) form


@pytest.mark.parametrize("ndim", [1, 2])
def test_stages_form_with_gate_half_and_identity_maps_is_heun(ndim):
    rhs = nonlinear_rhs(ndim)
    u = torch.randn((2, 2) + (5,) * ndim, dtype=torch.float64)
    integrator = AdaptiveRK2(rhs, channels=2, ndim=ndim, form="stages", gate=0.5).double()
    for step in (0.1, torch.tensor([0.1, -0.05], dtype=torch.float64)):
        assert torch.equal(integrator(u, step), Heun(rhs)(u, step))
    integrator.fixed_gate = 1.0  # all weight on k1: forward Euler
    torch.testing.assert_close(integrator(u, 0.1), Euler(rhs)(u, 0.1), rtol=0, atol=0)


def test_stages_form_learned_gate_and_maps_follow_the_formula():
    """u + dt (g W1(k1) + (1 - g) W2(k2)), g = sigmoid(Conv1x1([k1, k2])), recomputed by hand."""
    torch.manual_seed(4)
    rhs = DampedTanh(4, 2)
    integrator = AdaptiveRK2(rhs, channels=4, ndim=2, gate_kernel_size=1, form="stages", stage_maps="learned").double()
    u = torch.randn(2, 4, 5, 5, dtype=torch.float64)
    k1 = rhs(u)
    k2 = rhs(u + 0.3 * k1)
    w, b = integrator.gate_conv.weight[:, :, 0, 0], integrator.gate_conv.bias
    g = torch.sigmoid(torch.einsum("oc,bchw->bohw", w, torch.cat([k1, k2], 1)) + b[:, None, None])
    w1, w2 = integrator.stage_maps
    expected = u + 0.3 * (g * w1(k1) + (1 - g) * w2(k2))
    torch.testing.assert_close(integrator(u, 0.3), expected)
    assert isinstance(w1[1], torch.nn.GroupNorm) and w1[1].num_groups == 4
    names = {n.split(".")[0] for n, _ in integrator.named_parameters()}
    assert names == {"rhs", "gate_conv", "stage_maps"}


def test_stages_form_gradcheck():
    torch.manual_seed(5)
    integrator = AdaptiveRK2(DampedTanh(2, 1), channels=2, ndim=1, form="stages", stage_maps="learned").double()
    names = [name for name, _ in integrator.named_parameters()]
    params = [p.detach().clone().requires_grad_(True) for p in integrator.parameters()]
    u = torch.randn(2, 2, 6, dtype=torch.float64, requires_grad=True)

    def step(u, *params):
        return torch.func.functional_call(integrator, dict(zip(names, params)), (u, 0.2))

    assert torch.autograd.gradcheck(step, (u, *params))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(form="ark"), "form"),
        (dict(channels=2, ndim=2, stage_maps="learned"), "only the 'stages' form"),
        (dict(form="stages", stage_maps="learned", gate=0.5), "needs channels and ndim"),
        (dict(channels=2, ndim=2, form="stages", stage_maps=(torch.nn.Identity(),)), "two nn.Modules"),
    ],
)
def test_invalid_stage_configurations_raise(kwargs, match):
    with pytest.raises(PhysdiffError, match=match):
        AdaptiveRK2(DampedTanh(2, 2), **kwargs)
