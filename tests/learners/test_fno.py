"""FNO as a sequence learner: shapes, gradients, equivariance, resolution independence, errors."""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call

from physdiff.core import PhysdiffError
from physdiff.learners import FNO

F64 = torch.float64
MODES = [(2,), (2, 2), (2, 2, 2)]


def field(shape, seed=0):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def model(n_modes, **kwargs):
    torch.manual_seed(0)
    kwargs = {"hidden_channels": 3, "in_channels": 2, "n_layers": 2, "projection_channels": 4, **kwargs}
    return FNO(n_modes, **kwargs).double()


@pytest.mark.parametrize("n_modes", MODES)
@pytest.mark.parametrize("lifting", [None, 5])
def test_rollout_shapes_and_every_parameter_learns(n_modes, lifting):
    fno = model(n_modes, lifting_channels=lifting)
    assert fno.ndim == len(n_modes) and fno.initial_state(None) is None
    out = fno(field((2, 2, 2, *(4,) * len(n_modes))), 3)
    assert out.shape == (2, 3, 2, *(4,) * len(n_modes))
    out.square().mean().backward()
    for name, p in fno.named_parameters():
        assert p.grad is not None and p.grad.abs().max() > 0, f"FNO.{name} gets no gradient"


@pytest.mark.parametrize("n_modes", MODES)
def test_gradcheck_input_and_a_parameter(n_modes):
    fno = model(n_modes, hidden_channels=2)
    context = field((1, 2, *(3,) * len(n_modes))).requires_grad_()
    name = "skips.0.bias"
    bias = dict(fno.named_parameters())[name].detach().clone().requires_grad_()

    def rollout(ctx, b):
        return functional_call(fno, {name: b}, (ctx, 2))

    assert torch.autograd.gradcheck(rollout, (context, bias), eps=1e-6, atol=1e-5, fast_mode=True)


def test_without_positions_it_commutes_with_translations_and_with_positions_it_does_not():
    u = field((1, 2, 8, 6))
    plain = model((3, 2), positional_embedding=False)
    torch.testing.assert_close(plain(torch.roll(u, (3, 2), (2, 3)), 1), torch.roll(plain(u, 1), (3, 2), (3, 4)))
    located = model((3, 2))
    assert not torch.allclose(located(torch.roll(u, (3, 2), (2, 3)), 1), torch.roll(located(u, 1), (3, 2), (3, 4)))


def test_the_positional_channels_are_coordinates_on_the_unit_interval():
    grid = model((2, 2))._grid(field((1, 2, 4, 2)))
    assert grid.shape == (1, 2, 4, 2)
    torch.testing.assert_close(grid[0, 0, :, 0], torch.tensor([0.0, 0.25, 0.5, 0.75], dtype=F64))
    torch.testing.assert_close(grid[0, 1, 0, :], torch.tensor([0.0, 0.5], dtype=F64))


def test_resolution_independent_and_residual():
    fno = model((2,))
    assert fno(field((1, 2, 8)), 1).shape == (1, 1, 2, 8)
    assert fno(field((1, 2, 16)), 1).shape == (1, 1, 2, 16)
    direct = model((2,), residual=False)
    u = field((1, 2, 8))
    torch.testing.assert_close(fno(u, 1)[:, 0] - u, direct(u, 1)[:, 0])


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"out_channels": 3}, "must output the same channels it reads"),
        ({"n_modes": (2, 2, 2, 2)}, "n_modes: expected 1, 2 or 3 entries"),
        ({"n_modes": "ab"}, "n_modes: expected a tuple of positive ints"),
        ({"n_modes": (0, 2)}, "n_modes: expected positive ints"),
        ({"hidden_channels": 0}, "hidden_channels: expected a positive int"),
        ({"n_layers": 0}, "n_layers: expected a positive int"),
        ({"lifting_channels": -1}, "lifting_channels: expected a positive int"),
        ({"in_channels": 0}, "channels: expected a positive int"),
    ],
)
def test_bad_construction_raises(kwargs, fragment):
    kwargs = {"n_modes": (2, 2), "hidden_channels": 3, "in_channels": 2, **kwargs}
    with pytest.raises(PhysdiffError, match=fragment):
        FNO(**kwargs)


def test_too_many_modes_for_the_grid_raises():
    with pytest.raises(PhysdiffError, match="n_modes"):
        model((3, 3))(field((1, 2, 4, 4)), 1)
    with pytest.raises(PhysdiffError, match="with 2 spatial axes"):
        model((2, 2))(field((1, 2, 4)), 1)
