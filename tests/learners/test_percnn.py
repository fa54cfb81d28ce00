"""PeRCNN: equivalence with the reference solvers, gradients, configuration, upscaler, expression read-back."""

from __future__ import annotations

import json

import pytest
import sympy
import torch
import torch.nn.functional as F
from torch.func import functional_call

from physdiff.core import PhysdiffError
from physdiff.integrators import RK4, AdaptiveRK2, Euler, PiBlock
from physdiff.learners import PeRCNN, Upscaler, integrator_names, interpolation_target, pi_block_expressions, \
    pretrain_upscaler
from physdiff.solvers import Diffusion, GrayScott

DU, DV, FEED, KILL = 2e-5, 5e-6, 0.04, 0.06


def gray_scott_percnn(ndim: int = 2, **kwargs) -> PeRCNN:
    """A PeRCNN whose Pi-block is exactly the Gray-Scott reaction polynomial, in float64.

    Branch products (hidden = 4): [u*v*v, u*1*1, v*1*1, 1*1*1]; output weights
    du: [-1, -F, 0, F], dv: [1, 0, -(F + k), 0].
    """
    model = PeRCNN(2, ndim, dt=0.5, spacing=0.01, hidden=4, coefficient_init=[DU, DV], **kwargs).double()
    pi = model.pi
    with torch.no_grad():
        for conv in (*pi.branches, pi.output):
            conv.weight.zero_()
            conv.bias.zero_()
        first, second, third = (conv.weight.flatten(2) for conv in pi.branches)
        first[0, 0], first[1, 0], first[2, 1] = 1.0, 1.0, 1.0
        pi.branches[0].bias[3] = 1.0
        for weight, conv in ((second, pi.branches[1]), (third, pi.branches[2])):
            weight[0, 1] = 1.0
            conv.bias[1:] = 1.0
        out = pi.output.weight.flatten(1)
        out[0] = torch.tensor([-1.0, -FEED, 0.0, FEED], dtype=torch.float64)
        out[1] = torch.tensor([1.0, 0.0, -(FEED + KILL), 0.0], dtype=torch.float64)
        # theta was created in float32; set it exactly in float64 (unbounded: c = theta).
        model.rhs.theta.copy_(torch.tensor([DU, DV], dtype=torch.float64))
    return model


# ----------------------------------------------------------------- equivalence with the solvers
@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("bounded", [False, True])
def test_laplacian_only_percnn_is_one_euler_step_of_diffusion(ndim, bounded):
    nu, dt, h = 0.3, 0.01, 0.2
    extra = {"coefficient_bound": 1.0} if bounded else {}
    model = PeRCNN(1, ndim, dt=dt, spacing=h, pi_block=False, coefficient_init=nu, **extra).double()
    with torch.no_grad():  # exact float64 coefficient (the float32 theta rounds nu)
        model.rhs.theta.fill_(torch.logit(torch.tensor(nu, dtype=torch.float64)).item() if bounded else nu)
    pde = Diffusion(ndim, nu=nu, spacing=h, accuracy=4)
    u = pde.initial_condition(2, (6,) * ndim, modes=2, dtype=torch.float64)
    assert not any(name.startswith("integrator.rhs.pi") for name, _ in model.named_parameters())
    torch.testing.assert_close(model.step(u, None)[0], Euler(pde)(u, dt), rtol=0, atol=1e-14)


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_exact_gray_scott_block_reproduces_one_euler_step(ndim):
    model = gray_scott_percnn(ndim)
    pde = GrayScott(ndim, Du=DU, Dv=DV, F=FEED, k=KILL, spacing=0.01, accuracy=4)
    u = pde.initial_condition(2, (10,) * ndim, seed=1, dtype=torch.float64)
    error = (model.step(u, None)[0] - pde.step(u, 0.5, integrator=Euler)).abs().max()
    assert error < 1e-14


def test_rk4_substeps_match_the_solver_and_time_step():
    model = gray_scott_percnn(2, integrator=RK4, substeps=3)
    assert model.time_step == 1.5 and model.config()["integrator"] == "RK4"
    pde = GrayScott(2, Du=DU, Dv=DV, F=FEED, k=KILL, spacing=0.01, accuracy=4)
    u = pde.initial_condition(1, (12, 12), seed=2, dtype=torch.float64)
    error = (model(u, 2)[:, -1] - pde.step(u, 0.5, integrator=RK4, steps=6)).abs().max()
    assert error < 1e-13


# ----------------------------------------------------------------- expression read-back
def _coefficients(expr, names=("u", "v")) -> dict:
    """Monomial -> float coefficient, with Lap(s) replaced by the symbol L_s."""
    symbols = sympy.symbols(names)
    laps = sympy.symbols([f"L_{n}" for n in names])
    lap = sympy.Function("Lap")
    expr = expr.subs({lap(s): ls for s, ls in zip(symbols, laps)})
    return {k: float(v) for k, v in sympy.Poly(expr, *symbols, *laps).as_dict().items()}


def _assert_same_polynomial(got, expected):
    a, b = _coefficients(got), _coefficients(expected)
    assert a.keys() == b.keys(), (got, expected)
    for key in a:
        assert abs(a[key] - b[key]) <= 1e-14 * max(1.0, abs(b[key])), (key, got, expected)


def test_exact_gray_scott_block_reads_back_the_reaction_terms():
    u, v = sympy.symbols("u v")
    lap = sympy.Function("Lap")
    du, dv = pi_block_expressions(gray_scott_percnn())
    _assert_same_polynomial(du, -u * v**2 + FEED - FEED * u + DU * lap(u))
    _assert_same_polynomial(dv, u * v**2 - (FEED + KILL) * v + DV * lap(v))
    assert "u*v**2" in str(du) and "1.0*u" not in str(du)  # integral coefficients print as integers


def test_threshold_prunes_and_digits_round():
    model = gray_scott_percnn()
    with torch.no_grad():
        model.pi.output.weight[1, 1] = 3e-7  # a spurious u term in dv
        model.pi.output.weight[1, 2] = -0.123456  # the v term in dv
    names = ("a", "b")
    u_term, v_term = (1, 0, 0, 0), (0, 1, 0, 0)
    kept = _coefficients(pi_block_expressions(model, names)[1], names)
    pruned = _coefficients(pi_block_expressions(model, names, threshold=1e-6)[1], names)
    assert kept[u_term] == pytest.approx(3e-7, rel=1e-12) and u_term not in pruned
    rounded = _coefficients(pi_block_expressions(model, names, threshold=1e-6, digits=2)[1], names)
    assert kept[v_term] == pytest.approx(-0.123456, rel=1e-14) and rounded[v_term] == -0.12


def test_expression_of_a_bare_piblock_and_pi_only_model():
    block = PiBlock(1, hidden=1, n_branches=2, ndim=1)
    with torch.no_grad():
        for conv in block.branches:
            conv.weight.fill_(2.0)
            conv.bias.fill_(1.0)
        block.output.weight.fill_(1.0)
        block.output.bias.fill_(0.0)
    (expr,) = pi_block_expressions(block)
    x = sympy.Symbol("u")
    assert sympy.expand(expr - (2 * x + 1) ** 2) == 0
    no_laplacian = PeRCNN(2, 2, dt=0.1, spacing=1.0, known_term=None)
    assert all("Lap" not in str(e) for e in pi_block_expressions(no_laplacian))


@pytest.mark.parametrize(("model", "kwargs", "match"), [
    (PeRCNN(2, 2, dt=0.1, spacing=1.0, kernel_size=3), {}, "1x1"),
    (PeRCNN(2, 2, dt=0.1, spacing=1.0), {"channel_names": ["u"]}, "channel_names"),
    (PeRCNN(2, 2, dt=0.1, spacing=1.0), {"channel_names": ["u", "u"]}, "distinct"),
    (PeRCNN(2, 2, dt=0.1, spacing=1.0), {"threshold": -1.0}, "threshold"),
    (PeRCNN(2, 2, dt=0.1, spacing=1.0), {"digits": 0}, "digits"),
    (torch.nn.Linear(2, 2), {}, "PeRCNN"),
])
def test_expression_errors(model, kwargs, match):
    with pytest.raises(PhysdiffError, match=match):
        pi_block_expressions(model, **kwargs)


# ----------------------------------------------------------------- gradients
def _tiny(ndim: int, **kwargs) -> PeRCNN:
    torch.manual_seed(ndim)
    return PeRCNN(2, ndim, dt=0.05, spacing=1.0, hidden=2, accuracy=2, coefficient_bound=[0.5, 0.4],
                  init_gain=1.0, **kwargs).double()


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_forward_backward_every_parameter_gets_a_gradient(ndim):
    model = _tiny(ndim, upscale_factor=2)
    context = torch.rand((2, 2, 2) + (4,) * ndim, dtype=torch.float64)
    out = model(context, 3)
    assert out.shape == (2, 3, 2) + (4,) * ndim
    (out.square().mean() + model.auxiliary_loss(context)).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_float64_gradcheck_through_the_state_and_every_parameter(ndim):
    model = _tiny(ndim, substeps=2)
    names = [n for n, _ in model.named_parameters()]
    u = torch.rand((1, 2) + (3,) * ndim, dtype=torch.float64, requires_grad=True)

    def rollout(u, *params):
        return functional_call(model, dict(zip(names, params)), (u, 2))

    params = tuple(p.detach().clone().requires_grad_() for p in model.parameters())
    assert torch.autograd.gradcheck(rollout, (u, *params))


# ----------------------------------------------------------------- configuration
@pytest.mark.parametrize("kwargs", [
    {},
    {"coefficient_bound": [4e-5, 1e-5], "coefficient_init": [2e-5, 5e-6], "integrator": RK4, "substeps": 2},
    {"pi_block": False, "coefficient_init": 0.1, "accuracy": 2},
    {"known_term": None, "kernel_size": 3, "n_branches": 2, "hidden": 3, "integrator": "Heun"},
    {"upscale_factor": 4, "upscaler_hidden": 3, "spacing": [0.5, 0.25]},
])
def test_config_is_json_and_rebuilds_the_model(kwargs):
    kwargs = {"spacing": 0.5, **kwargs}
    model = PeRCNN(2, 2, dt=0.1, **kwargs)
    config = json.loads(json.dumps(model.config()))
    clone = PeRCNN(**config)
    assert clone.config() == model.config()
    clone.load_state_dict(model.state_dict())
    context = torch.rand(1, 2, 8, 8)
    torch.testing.assert_close(clone(context, 2), model(context, 2))


def test_integrator_by_class_or_name_and_class_attributes():
    assert {"Euler", "Heun", "RK4", "SSPRK3"} <= set(integrator_names())
    assert PeRCNN(1, 1, dt=0.1, spacing=1.0, integrator=RK4).integrator_class is RK4
    assert PeRCNN(1, 1, dt=0.1, spacing=1.0, integrator="SSPRK3").config()["integrator"] == "SSPRK3"
    assert PeRCNN.normalized_data is False and PeRCNN.supported_ndims == (1, 2, 3)
    model = PeRCNN(2, 2, dt=0.1, spacing=1.0, coefficient_bound=[0.5, 0.2])
    torch.testing.assert_close(model.coefficient, torch.tensor([0.25, 0.1]))
    assert model.auxiliary_loss(torch.rand(1, 2, 8, 8)) is None


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"dt": 0.0}, "dt"),
    ({"substeps": 0}, "substeps"),
    ({"known_term": "gradient"}, "known_term"),
    ({"known_term": None, "pi_block": False}, "nothing to learn"),
    ({"known_term": None, "coefficient_init": 0.1}, "need known_term"),
    ({"coefficient_bound": -1.0}, "positive upper bounds"),
    ({"coefficient_bound": [1.0, 2.0, 3.0]}, "one per channel"),
    ({"coefficient_bound": 1.0, "coefficient_init": 1.5}, "strictly inside"),
    ({"coefficient_init": "x"}, "coefficient_init"),
    ({"integrator": "Leapfrog"}, "Euler"),
    ({"integrator": AdaptiveRK2}, "RK4"),
    ({"upscale_factor": 3}, "power of two"),
    ({"hidden": 0}, "hidden"),
    ({"pi_block": False, "n_branches": 0}, "n_branches"),
    ({"kernel_size": 2}, "kernel_size"),
    ({"pi_block": 1}, "pi_block"),
])
def test_invalid_construction_raises(kwargs, match):
    with pytest.raises(PhysdiffError, match=match):
        PeRCNN(2, 2, **{"dt": 0.1, "spacing": 1.0, **kwargs})


def test_wrong_input_raises():
    model = PeRCNN(2, 2, dt=0.1, spacing=1.0, upscale_factor=4)
    with pytest.raises(PhysdiffError, match="channels"):
        model(torch.rand(1, 3, 8, 8), 1)
    with pytest.raises(PhysdiffError, match="divisible by 4"):
        model(torch.rand(1, 2, 8, 10), 1)
    with pytest.raises(PhysdiffError, match="PeRCNN.step"):
        model.step(torch.rand(1, 3, 8, 8), None)


# ----------------------------------------------------------------- upscaler
@pytest.mark.parametrize("ndim", [1, 2, 3])
@pytest.mark.parametrize("factor", [2, 4])
def test_upscaler_and_interpolant_shapes_and_periodic_equivariance(ndim, factor):
    torch.manual_seed(0)
    up = Upscaler(2, ndim, factor, hidden=3).double()
    low = torch.rand((2, 2) + (3,) * ndim, dtype=torch.float64)
    axes = tuple(range(2, 2 + ndim))
    for fn in (up, lambda x: interpolation_target(x, factor)):
        out = fn(low)
        assert out.shape == (2, 2) + (3 * factor,) * ndim and out.dtype == torch.float64
        torch.testing.assert_close(fn(torch.roll(low, (1,) * ndim, axes)), torch.roll(out, (factor,) * ndim, axes))
    nodes = interpolation_target(low, factor)[(slice(None), slice(None), *(slice(None, None, factor),) * ndim)]
    torch.testing.assert_close(nodes, low, rtol=0, atol=1e-12)  # the interpolant passes through the samples


def test_upscaler_stage_is_percnn_transposed_conv_away_from_the_wrap():
    torch.manual_seed(1)
    up = Upscaler(1, 2, 2, hidden=2).double()
    stage = up.net[0].conv
    reference = torch.nn.ConvTranspose2d(1, 2, 5, stride=2, padding=2, output_padding=1).double()
    reference.load_state_dict(stage.state_dict())
    x = torch.rand(1, 1, 6, 6, dtype=torch.float64)
    interior = (slice(None), slice(None), slice(3, 9), slice(3, 9))
    torch.testing.assert_close(up.net[0](x)[interior], reference(x)[interior])
    assert not torch.allclose(up.net[0](x), reference(x))  # at the wrap the periodic stage differs


def test_pretraining_lowers_the_upscaler_loss():
    torch.manual_seed(2)
    up = Upscaler(2, 2, 2, hidden=4)
    low = torch.rand(2, 2, 6, 6)
    losses = pretrain_upscaler(up, low, steps=60, lr=0.02)
    assert len(losses) == 60 and losses[-1] < 0.2 * losses[0]
    with pytest.raises(PhysdiffError, match="steps"):
        pretrain_upscaler(up, low, steps=0)


def test_percnn_starts_from_the_upscaled_subsampled_last_frame():
    torch.manual_seed(3)
    model = PeRCNN(2, 2, dt=0.1, spacing=1.0, upscale_factor=2).double()
    context = torch.rand(1, 3, 2, 8, 8, dtype=torch.float64)
    low = context[:, -1, :, ::2, ::2]
    start = model.upscaler(low)
    torch.testing.assert_close(model(context, 1)[:, 0], model.step(start, None)[0])
    torch.testing.assert_close(model.auxiliary_loss(context), F.mse_loss(start, interpolation_target(low, 2)))


@pytest.mark.parametrize(("call", "match"), [
    (lambda: Upscaler(2, 2, 6), "power of two"),
    (lambda: Upscaler(2, 4, 2), "ndim"),
    (lambda: Upscaler(2, 2, 2)(torch.rand(1, 3, 4, 4)), "channels"),
    (lambda: interpolation_target(torch.rand(1, 1, 1, 4), 2), "at least 2"),
    (lambda: interpolation_target(torch.rand(4), 2), "1-3 spatial axes"),
])
def test_upscaler_errors(call, match):
    with pytest.raises(PhysdiffError, match=match):
        call()
