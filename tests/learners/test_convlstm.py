"""ConvLSTMCell, ConvLSTM and ConvLSTMAutoencoder: equations, shapes, gradients, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from physdiff.core import PhysdiffError
from physdiff.learners import ConvLSTM, ConvLSTMAutoencoder, ConvLSTMCell

F64 = torch.float64
NDIMS = [1, 2, 3]


def field(batch, channels, ndim, n=4, seed=0, t=None):
    g = torch.Generator().manual_seed(seed)
    shape = (batch, channels, *(n,) * ndim) if t is None else (batch, t, channels, *(n,) * ndim)
    return torch.randn(shape, generator=g, dtype=F64)


@pytest.mark.parametrize("ndim", NDIMS)
def test_cell_follows_the_lstm_equations(ndim):
    torch.manual_seed(0)
    cell = ConvLSTMCell(2, 3, kernel_size=3, ndim=ndim).double()
    x, h, c = field(2, 2, ndim, seed=1), field(2, 3, ndim, seed=2), field(2, 3, ndim, seed=3)
    conv = getattr(F, f"conv{ndim}d")
    z = conv(F.pad(torch.cat([x, h], 1), (1, 1) * ndim, mode="circular"), cell.weight, cell.bias)
    zi, zf, zo, zg = z.split(3, dim=1)
    c_next = torch.sigmoid(zf) * c + torch.sigmoid(zi) * torch.tanh(zg)
    h_next = torch.sigmoid(zo) * torch.tanh(c_next)
    got_h, got_c = cell(x, (h, c))
    torch.testing.assert_close(got_c, c_next)
    torch.testing.assert_close(got_h, h_next)
    # None and zero_state() (tagged zeros) take the route that skips the hidden columns of the
    # convolution; plain zeros take the general route: all three agree
    zeros = (torch.zeros_like(h), torch.zeros_like(c))
    for state in (None, cell.zero_state(x)):
        for a, b in zip(cell(x, state), cell(x, zeros)):
            torch.testing.assert_close(a, b)
    assert cell.zero_state(x)[0].shape == (2, 3, *x.shape[2:])


def test_a_zero_state_changed_in_place_is_no_longer_taken_for_zeros():
    torch.manual_seed(0)
    cell = ConvLSTMCell(1, 2, ndim=1).double()
    x = field(1, 1, 1, n=6)
    h, c = cell.zero_state(x)
    h.add_(0.5)
    c.add_(-0.25)
    expected = cell(x, (h.clone(), c.clone()))
    for a, b in zip(cell(x, (h, c)), expected):
        torch.testing.assert_close(a, b)


def test_forget_gate_bias_starts_at_one_and_circular_padding_is_periodic():
    cell = ConvLSTMCell(1, 4, kernel_size=3, ndim=1).double()
    assert torch.equal(cell.bias[4:8], torch.ones(4, dtype=F64))
    assert not torch.equal(cell.bias[:4], torch.ones(4, dtype=F64))
    x = field(1, 1, 1, n=8)
    rolled = cell(torch.roll(x, 3, -1), None)[0]
    torch.testing.assert_close(rolled, torch.roll(cell(x, None)[0], 3, -1))


def models(ndim):
    torch.manual_seed(0)
    return [
        ConvLSTM(2, ndim, hidden_channels=(3, 2)).double(),
        ConvLSTMAutoencoder(channels=2, ndim=ndim, latent_channels=3, hidden_channels=(2,), downsample=2).double(),
        ConvLSTMAutoencoder(channels=2, ndim=ndim, latent_channels=2, hidden_channels=(2, 2), downsample=1).double(),
    ]


@pytest.mark.parametrize("ndim", NDIMS)
def test_rollout_shapes_and_every_parameter_learns(ndim):
    for model in models(ndim):
        context = field(2, 2, ndim, t=2)
        out = model(context, 3)
        assert out.shape == (2, 3, 2, *(4,) * ndim)
        out.square().mean().backward()
        for name, p in model.named_parameters():
            assert p.grad is not None and p.grad.abs().max() > 0, f"{type(model).__name__}.{name} gets no gradient"


@pytest.mark.parametrize("ndim", NDIMS)
def test_gradcheck_input_and_a_parameter(ndim):
    for model in models(ndim):
        n = 2 if ndim == 3 else 4
        context = field(1, 2, ndim, n=n, t=2).requires_grad_()
        name = "cells.0.bias"  # small (4 hidden entries): gradcheck costs two rollouts per entry
        weight = dict(model.named_parameters())[name].detach().clone().requires_grad_()

        def rollout(ctx, w, model=model, name=name):
            return functional_call(model, {name: w}, (ctx, 2))

        assert torch.autograd.gradcheck(rollout, (context, weight), eps=1e-6, atol=1e-5, fast_mode=True)


def test_autoencoder_latent_state_and_step_api():
    model = ConvLSTMAutoencoder(channels=1, ndim=2, latent_channels=4, hidden_channels=(3,), downsample=4,
                                time_step=0.25)
    u = torch.randn(2, 1, 8, 12)
    state = model.initial_state(u)
    assert state[0][0].shape == (2, 3, 2, 3) and model.time_step == 0.25
    u_next, state = model.step(u, state)
    assert u_next.shape == u.shape and state[0][1].shape == (2, 3, 2, 3)


def test_residual_flag_changes_the_prediction():
    torch.manual_seed(0)
    a = ConvLSTM(1, 1, hidden_channels=(2,), residual=True).double()
    b = ConvLSTM(1, 1, hidden_channels=(2,), residual=False).double()
    b.load_state_dict(a.state_dict())
    u = field(1, 1, 1, n=6)
    torch.testing.assert_close(a(u, 1)[:, 0] - u, b(u, 1)[:, 0])


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: ConvLSTMCell(2, 3, kernel_size=2), "kernel_size: expected an odd positive int"),
        (lambda: ConvLSTMCell(0, 3), "in_channels: expected a positive int"),
        (lambda: ConvLSTMCell(2, 3, ndim=4), "ndim: expected 1, 2 or 3"),
        (lambda: ConvLSTM(2, padding_mode="periodic"), "padding_mode: expected one of"),
        (lambda: ConvLSTM(2, hidden_channels=()), "hidden_channels: expected a non-empty tuple"),
        (lambda: ConvLSTM(2, ndim=4), "ndim: expected one of"),
        (lambda: ConvLSTM(0), "channels: expected a positive int"),
        (lambda: ConvLSTMAutoencoder(2, downsample=0), "downsample: expected a positive int"),
    ],
)
def test_bad_construction_raises(make, fragment):
    with pytest.raises(PhysdiffError, match=fragment):
        make()


def test_bad_inputs_raise():
    model = ConvLSTMAutoencoder(channels=1, ndim=2, latent_channels=2, hidden_channels=(2,), downsample=3)
    with pytest.raises(PhysdiffError, match="not divisible by downsample=3"):
        model(torch.randn(1, 1, 9, 8), 1)
    with pytest.raises(PhysdiffError, match="not divisible by downsample=3"):
        model.initial_state(torch.randn(1, 1, 9, 8))
    cell = ConvLSTMCell(2, 3, ndim=2)
    with pytest.raises(PhysdiffError, match=r"expected \(B, 2, \*space\) with 2 spatial axes"):
        cell(torch.randn(1, 3, 4, 4))


@pytest.mark.parametrize("shape, mode, kernel", [((2, 3, 7), "circular", 3), ((2, 3, 5, 6), "circular", 5),
                                                 ((1, 2, 4, 5, 3), "circular", 3), ((2, 3, 5, 6), "cylinder", 3),
                                                 ((1, 2, 3, 3), "circular", 7)])
def test_same_padding_wraps_like_concatenated_slices_and_folds_its_gradient_back(shape, mode, kernel):
    from physdiff.learners.recurrent._convlstm import same_padding

    def reference(x, p):  # periodic padding by concatenating wrapped slices (independent route)
        dims = [x.dim() - 1] if mode == "cylinder" else range(2, x.dim())
        for d in dims:
            n = x.shape[d]
            x = torch.cat([x.narrow(d, n - p, p), x, x.narrow(d, 0, p)], dim=d)
        return F.pad(x, (0, 0, p, p)) if mode == "cylinder" else x

    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    padded, expected = same_padding(x, kernel, mode), reference(x, kernel // 2)
    assert torch.equal(padded, expected)
    if mode == "circular":
        p = kernel // 2
        assert torch.equal(padded, F.pad(x, (p, p) * (x.dim() - 2), mode="circular"))
    weights = torch.randn_like(padded)
    grad, = torch.autograd.grad((padded * weights).sum(), x)
    grad_ref, = torch.autograd.grad((expected * weights).sum(), x)
    torch.testing.assert_close(grad, grad_ref, rtol=0, atol=1e-12)
    assert torch.autograd.gradcheck(lambda v: same_padding(v, kernel, mode), (x,))
    assert torch.autograd.gradgradcheck(lambda v: same_padding(v, kernel, mode) ** 2, (x,))


def test_same_padding_keeps_channels_last():
    from physdiff.learners.recurrent._convlstm import same_padding

    x = torch.randn(2, 3, 5, 6).contiguous(memory_format=torch.channels_last).requires_grad_()
    padded = same_padding(x, 3, "circular")
    assert padded.is_contiguous(memory_format=torch.channels_last)
    grad, = torch.autograd.grad(padded.sum(), x)
    assert grad.is_contiguous(memory_format=torch.channels_last)
    # every entry appears once in the middle plus once per halo it is copied into: 1, 2 or 4 times
    assert sorted(set(grad.flatten().tolist())) == [1.0, 2.0, 4.0]
