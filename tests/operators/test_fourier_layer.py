"""SpectralConv: shapes, gradients, exact action on single modes, low-pass projection, equivariance, errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch.func import functional_call

from physdiff.core import PhysdiffError
from physdiff.operators import SpectralConv, wavenumbers

F64 = torch.float64


def identity_weights(layer):
    with torch.no_grad():
        layer.weight.zero_()
        for i in range(min(layer.in_channels, layer.out_channels)):
            layer.weight[i, i, ..., 0] = 1.0


def explicit_truncation(x, n_modes):
    """Keep |q_a| <= m_a - 1 on every axis, via the full FFT and integer wavenumbers."""
    ndim = len(n_modes)
    dims = tuple(range(2, 2 + ndim))
    spec = torch.fft.fftn(x, dim=dims)
    mask = torch.ones((), dtype=torch.bool)
    for a, (n, m) in enumerate(zip(x.shape[2:], n_modes)):
        q = wavenumbers(n, 2 * math.pi).abs()  # integer indices for L = 2 pi
        view = [1] * ndim
        view[a] = n
        mask = mask & (q <= m - 1).reshape(view)
    return torch.fft.ifftn(spec * mask, dim=dims).real


SHAPES = [
    ((5,), (16,)),
    ((3,), (9,)),
    ((4, 3), (12, 9)),
    ((3, 5), (7, 10)),
    ((2, 3, 2), (6, 7, 5)),
    ((3, 2, 4), (8, 4, 8)),
]


@pytest.mark.parametrize("n_modes,space", SHAPES)
def test_output_shape(n_modes, space):
    layer = SpectralConv(3, 4, n_modes)
    y = layer(torch.randn(2, 3, *space))
    assert y.shape == (2, 4, *space)
    assert y.dtype == torch.float32
    assert layer.weight.shape == (3, 4, *[2 * m - 1 for m in n_modes[:-1]], n_modes[-1], 2)


@pytest.mark.parametrize("n_modes,space", SHAPES)
def test_identity_weights_give_low_pass_projection(n_modes, space):
    layer = SpectralConv(2, 2, n_modes, dtype=F64)
    identity_weights(layer)
    x = torch.randn(3, 2, *space, dtype=F64)
    assert torch.allclose(layer(x), explicit_truncation(x, n_modes), atol=1e-13)


def test_single_mode_hand_computed():
    # u = cos(2x); W(2) = a + ib  =>  y = Re((a + ib) e^{2ix}) = a cos 2x - b sin 2x
    n = 16
    x = torch.arange(n, dtype=F64) * (2 * math.pi / n)
    layer = SpectralConv(1, 1, 3, dtype=F64)
    a, b = 0.7, -1.3
    with torch.no_grad():
        layer.weight.zero_()
        layer.weight[0, 0, 2] = torch.tensor([a, b], dtype=F64)
    y = layer(torch.cos(2 * x)[None, None])
    assert torch.allclose(y[0, 0], a * torch.cos(2 * x) - b * torch.sin(2 * x), atol=1e-14)
    # a mode beyond n_modes is filtered out
    assert layer(torch.cos(3 * x)[None, None]).abs().max() < 1e-14


def test_single_mode_2d_negative_frequency_corner():
    # u = cos(3 y - 2 x) has modes q = (-2, 3) and (2, -3); the rfft keeps (-2, 3): the lower corner
    nx, ny = 9, 10
    x = (torch.arange(nx, dtype=F64) * (2 * math.pi / nx))[:, None]
    y = (torch.arange(ny, dtype=F64) * (2 * math.pi / ny))[None, :]
    layer = SpectralConv(1, 1, (3, 4), dtype=F64)
    with torch.no_grad():
        layer.weight.zero_()
        layer.weight[0, 0, -2, 3] = torch.tensor([0.5, 2.0], dtype=F64)  # row -2 <-> q_x = -2
    out = layer(torch.cos(3 * y - 2 * x)[None, None])
    expected = 0.5 * torch.cos(3 * y - 2 * x) - 2.0 * torch.sin(3 * y - 2 * x)
    assert torch.allclose(out[0, 0], expected, atol=1e-13)


@pytest.mark.parametrize("n_modes,space", SHAPES[::2])
def test_backward_reaches_every_parameter(n_modes, space):
    layer = SpectralConv(2, 3, n_modes)
    layer(torch.randn(2, 2, *space)).square().mean().backward()
    for name, p in layer.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("n_modes,space", [((2,), (5,)), ((2, 2), (4, 3)), ((2, 1, 2), (3, 2, 4))])
def test_gradcheck_float64(n_modes, space):
    layer = SpectralConv(2, 2, n_modes).double()
    assert layer.weight.dtype == F64  # real storage: .double() converts the complex weights
    x = torch.randn(1, 2, *space, dtype=F64, requires_grad=True)
    w = layer.weight.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x, w: functional_call(layer, {"weight": w}, (x,)), (x, w))


@pytest.mark.parametrize(
    "n_modes,space,shifts",
    [((4,), (12,), (5,)), ((3, 4), (8, 9), (3, -4)), ((2, 3, 2), (5, 6, 4), (1, 2, 3))],
)
def test_translation_equivariance(n_modes, space, shifts):
    torch.manual_seed(0)
    layer = SpectralConv(2, 3, n_modes, dtype=F64)
    x = torch.randn(2, 2, *space, dtype=F64)
    dims = tuple(range(2, 2 + len(space)))
    assert torch.allclose(layer(torch.roll(x, shifts, dims)), torch.roll(layer(x), shifts, dims), atol=1e-13)


def test_same_function_on_two_resolutions():
    # band-limited input: the layer output is the same continuous function on both grids
    torch.manual_seed(0)
    layer = SpectralConv(1, 2, (3, 3), dtype=F64)

    def sample(n):
        t = torch.arange(n, dtype=F64) * (2 * math.pi / n)
        X, Y = torch.meshgrid(t, t, indexing="ij")
        return (torch.sin(X + 2 * Y) + torch.cos(2 * X) * torch.sin(Y))[None, None]

    coarse, fine = layer(sample(8)), layer(sample(16))
    assert torch.allclose(fine[..., ::2, ::2], coarse, atol=1e-13)


def test_dtype_and_reset():
    layer = SpectralConv(4, 2, (3, 3))
    assert layer.weight.dtype == torch.float32
    assert layer(torch.randn(1, 4, 8, 8)).dtype == torch.float32
    torch.manual_seed(0)
    big = SpectralConv(400, 2, (3, 3), dtype=F64)
    var = big.weight.pow(2).sum(-1).mean().item()  # |W|^2 averages 1 / in_channels
    assert abs(var * 400 - 1.0) < 0.1
    assert "n_modes=(3, 3)" in repr(layer)


@pytest.mark.parametrize(
    "make,x,fragment",
    [
        (lambda: SpectralConv(1, 1, (5,)), torch.randn(1, 1, 8), "n_modes[0] = 5"),
        (lambda: SpectralConv(1, 1, (5,)), torch.randn(1, 1, 9), None),  # 9 >= 2*5-1: fits
        (lambda: SpectralConv(1, 1, (2, 4)), torch.randn(1, 1, 8, 6), "n_modes[1] = 4"),
        (lambda: SpectralConv(1, 1, (2, 2, 3)), torch.randn(1, 1, 4, 4, 4), "n_modes[2] = 3"),
        (lambda: SpectralConv(1, 1, (2, 2)), torch.randn(1, 1, 8), "2 spatial axes"),
        (lambda: SpectralConv(2, 1, (2,)), torch.randn(1, 3, 8), "expected 2 channels"),
        (lambda: SpectralConv(1, 1, (2,)), torch.randn(1, 1, 8, dtype=F64), "dtype"),
    ],
)
def test_forward_errors(make, x, fragment):
    layer = make()
    if fragment is None:
        layer(x)
        return
    with pytest.raises(PhysdiffError) as info:
        layer(x)
    message = str(info.value)
    assert fragment in message and "expected" in message and "got" in message


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(in_channels=0, out_channels=1, n_modes=(2,)),
        dict(in_channels=1, out_channels=1, n_modes=(0,)),
        dict(in_channels=1, out_channels=1, n_modes=(2, 2, 2, 2)),
        dict(in_channels=1, out_channels=1, n_modes=(2,), dtype=torch.complex64),
    ],
)
def test_constructor_errors(kwargs):
    with pytest.raises(PhysdiffError, match="expected"):
        SpectralConv(**kwargs)
