"""PiBlock: structure, PeRCNN initialisation, the known physics term, gradients and input checks."""

from __future__ import annotations

import math

import pytest
import torch

from physdiff.core import PhysdiffError
from physdiff.integrators import RK4, PiBlock

from ._problems import Diffusion1D


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_output_has_the_state_shape(ndim):
    block = PiBlock(3, hidden=5, kernel_size=3, ndim=ndim)
    u = torch.randn((2, 3) + (4,) * ndim)
    assert block(u).shape == u.shape


def test_percnn_initialisation_xavier_scaled_and_zero_bias():
    torch.manual_seed(0)
    block = PiBlock(2, hidden=8, n_branches=3, kernel_size=1, ndim=2)
    for conv in (*block.branches, block.output):
        fan_in, fan_out = conv.weight.shape[1], conv.weight.shape[0]
        bound = 0.02 * math.sqrt(6 / (fan_in + fan_out))
        assert conv.weight.abs().max() <= bound and conv.weight.abs().max() > bound / 2
        assert torch.equal(conv.bias, torch.zeros_like(conv.bias))


@pytest.mark.parametrize("n_branches", [1, 2, 3, 4])
def test_pointwise_block_with_zero_bias_is_homogeneous_of_degree_n(n_branches):
    # Pi(s u) = s^n Pi(u): the block is the polynomial prod_i (W_i u), projected.
    torch.manual_seed(1)
    block = PiBlock(2, hidden=3, n_branches=n_branches, init_gain=1.0).double()
    u = torch.randn(2, 2, 3, 3, dtype=torch.float64)
    torch.testing.assert_close(block(1.7 * u), 1.7**n_branches * block(u), rtol=1e-12, atol=1e-14)


def test_circular_block_is_shift_equivariant():
    torch.manual_seed(2)
    block = PiBlock(2, hidden=4, kernel_size=3, ndim=2, init_gain=1.0).double()
    u = torch.randn(1, 2, 5, 6, dtype=torch.float64)
    torch.testing.assert_close(block(torch.roll(u, (1, 3), (2, 3))), torch.roll(block(u), (1, 3), (2, 3)))


@pytest.mark.parametrize(("bound", "init", "expected"), [(None, None, 1.0), (2.0, None, 1.0), (2.0, 0.3, 0.3),
                                                          (None, [0.1, -0.2], [0.1, -0.2])])
def test_known_term_coefficient_initial_value(bound, init, expected):
    block = PiBlock(2, ndim=1, known_term=Diffusion1D(), coefficient_bound=bound, coefficient_init=init)
    torch.testing.assert_close(block.coefficient, torch.tensor(expected).expand(2).to(torch.float32))


def test_output_is_pi_plus_coefficient_times_known_term():
    torch.manual_seed(3)
    plain = PiBlock(2, ndim=1, init_gain=1.0).double()
    with_term = PiBlock(2, ndim=1, known_term=Diffusion1D(), coefficient_bound=0.5, coefficient_init=[0.1, 0.4])
    with_term = with_term.double()
    with_term.load_state_dict({**plain.state_dict(), "theta": with_term.theta.detach()})
    u = torch.randn(2, 2, 7, dtype=torch.float64)
    c = torch.tensor([0.1, 0.4], dtype=torch.float64).reshape(1, 2, 1)
    torch.testing.assert_close(with_term(u), plain(u) + c * Diffusion1D()(u))


def test_bounded_coefficient_stays_in_bounds():
    block = PiBlock(1, ndim=1, known_term=Diffusion1D(), coefficient_bound=0.25)
    with torch.no_grad():
        block.theta.fill_(-1e4)
        assert block.coefficient.item() >= 0
        block.theta.fill_(1e4)
        assert block.coefficient.item() <= 0.25


def test_gradcheck_through_state_and_all_parameters():
    torch.manual_seed(4)
    block = PiBlock(2, hidden=3, kernel_size=3, ndim=1, known_term=Diffusion1D(), coefficient_bound=1.0,
                    init_gain=1.0).double()
    names = [name for name, _ in block.named_parameters()]
    assert "theta" in names
    params = [p.detach().clone().requires_grad_(True) for p in block.parameters()]
    u = torch.randn(2, 2, 5, dtype=torch.float64, requires_grad=True)

    def f(u, *params):
        return torch.func.functional_call(block, dict(zip(names, params)), (u,))

    assert torch.autograd.gradcheck(f, (u, *params))


def test_pi_block_as_rhs_of_an_integrator_registers_its_parameters():
    block = PiBlock(2, ndim=2)
    integrator = RK4(block)
    assert {id(p) for p in integrator.parameters()} == {id(p) for p in block.parameters()}
    u = torch.randn(1, 2, 4, 4)
    assert integrator(u, 0.1).dtype == torch.float32


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(kernel_size=2), "odd"),
        (dict(hidden=0), "hidden"),
        (dict(n_branches=0), "n_branches"),
        (dict(ndim=0), "ndim"),
        (dict(init_gain=float("inf")), "init_gain"),
        (dict(known_term=3), "callable"),
        (dict(coefficient_init=0.5), "need a known_term"),
        (dict(known_term=Diffusion1D(), coefficient_bound=0.0), "positive upper bound"),
        (dict(known_term=Diffusion1D(), coefficient_bound=1.0, coefficient_init=1.0), r"strictly inside \(0, 1.0\)"),
        (dict(known_term=Diffusion1D(), coefficient_bound=1.0, coefficient_init=-0.1), r"strictly inside"),
        (dict(known_term=Diffusion1D(), coefficient_init=[1.0, 2.0, 3.0]), "one per channel"),
        (dict(known_term=Diffusion1D(), coefficient_init="a"), "one per channel"),
    ],
)
def test_invalid_construction_raises(kwargs, match):
    with pytest.raises(PhysdiffError, match=match):
        PiBlock(2, **{"ndim": 1, **kwargs})


@pytest.mark.parametrize(
    ("block", "u", "match"),
    [
        (PiBlock(2, ndim=1), torch.zeros(1, 3, 4), "2 channels"),
        (PiBlock(2, ndim=1), torch.zeros(1, 2, 4, 4), "1 spatial axes"),
        (PiBlock(2, ndim=1), torch.zeros(1, 2, 4, dtype=torch.float64), "dtype"),
        (PiBlock(2, ndim=1, known_term=lambda u: u[..., :-1]), torch.zeros(1, 2, 4), "known_term"),
    ],
)
def test_state_that_does_not_fit_raises(block, u, match):
    with pytest.raises(PhysdiffError, match=match):
        block(u)
