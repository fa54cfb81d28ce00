"""Blocks of the video learners: patching, the Detail Context Block, the LayerNorm ConvLSTM cell, the PhyCell."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from physdiff.core import PhysdiffError
from physdiff.learners import (
    DetailContextBlock,
    LayerNormConvLSTMCell,
    PhyCell,
    depth_to_space,
    space_to_depth,
)

F64 = torch.float64


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def test_space_to_depth_moves_each_pixel_block_into_channels_and_back():
    x = rand(2, 3, 8, 12)
    y = space_to_depth(x, 4)
    assert y.shape == (2, 48, 2, 3)
    # channel c p^2 + i p + j at (Y, X) is pixel (p Y + i, p X + j) of channel c
    for c, i, j, yy, xx in [(0, 0, 0, 0, 0), (2, 3, 1, 1, 2), (1, 2, 3, 0, 1)]:
        assert y[1, c * 16 + i * 4 + j, yy, xx] == x[1, c, 4 * yy + i, 4 * xx + j]
    assert torch.equal(depth_to_space(y, 4), x)
    assert torch.equal(F.pixel_unshuffle(x, 4), y)  # torch's own space-to-depth, an independent route


@pytest.mark.parametrize("shape", [(1, 1, 10, 8), (1, 1, 8, 6)])
def test_a_frame_size_not_divisible_by_the_patch_size_is_refused(shape):
    with pytest.raises(PhysdiffError, match="not divisible by the patch size 4"):
        space_to_depth(torch.zeros(shape), 4)
    with pytest.raises(PhysdiffError, match=r"C \* 4\^2"):
        depth_to_space(torch.zeros(1, 15, 2, 2), 4)


def _attention(z, convs, norms, kernel_sizes):
    """Chai et al.'s A(z) written out with functional calls."""
    terms = [F.layer_norm(F.conv2d(z, conv.weight, padding=k // 2), norm.normalized_shape, norm.weight, norm.bias)
             for conv, norm, k in zip(convs, norms, kernel_sizes)]
    return sum(terms) / len(terms)


def test_detail_context_block_alternates_five_updates_starting_with_the_input():
    torch.manual_seed(0)
    block = DetailContextBlock(3, 5, (6, 4), kernel_sizes=(3, 5, 7), iterations=5, scale=2.0).double()
    with torch.no_grad():  # non-trivial LayerNorm affine maps
        for p in block.parameters():
            if p.dim() == 3:
                p.add_(0.1 * torch.randn_like(p))
    x, h = rand(2, 3, 6, 4, seed=1), rand(2, 5, 6, 4, seed=2)
    a_h = lambda z: _attention(z, block.from_h.convs, block.from_h.norms, (3, 5, 7))  # noqa: E731
    a_x = lambda z: _attention(z, block.from_x.convs, block.from_x.norms, (3, 5, 7))  # noqa: E731
    ex, eh = x, h
    ex = 2 * torch.sigmoid(a_h(eh)) * ex
    eh = 2 * torch.sigmoid(a_x(ex)) * eh
    ex = 2 * torch.sigmoid(a_h(eh)) * ex
    eh = 2 * torch.sigmoid(a_x(ex)) * eh
    ex = 2 * torch.sigmoid(a_h(eh)) * ex
    gx, gh = block(x, h)
    torch.testing.assert_close(gx, ex)
    torch.testing.assert_close(gh, eh)
    assert sum(p.numel() for p in block.parameters()) == 2 * 3 * 5 * (9 + 25 + 49) + 3 * 2 * (3 + 5) * 24


def test_detail_context_block_errors():
    with pytest.raises(PhysdiffError, match="odd positive ints"):
        DetailContextBlock(2, 2, (4, 4), kernel_sizes=(3, 4))
    with pytest.raises(PhysdiffError, match=r"spatial_size: expected \(H, W\)"):
        DetailContextBlock(2, 2, 16)
    with pytest.raises(PhysdiffError, match="scale"):
        DetailContextBlock(2, 2, (4, 4), scale=0)


def test_layernorm_convlstm_cell_follows_its_equations():
    torch.manual_seed(0)
    cell = LayerNormConvLSTMCell(3, 4, (5, 6), kernel_size=3, forget_bias=1.0).double()
    x, h, c = rand(2, 3, 5, 6, seed=1), rand(2, 4, 5, 6, seed=2), rand(2, 4, 5, 6, seed=3)
    ln = lambda z, n: F.layer_norm(z, n.normalized_shape, n.weight, n.bias)  # noqa: E731
    z = ln(F.conv2d(x, cell.conv_x.weight, padding=1), cell.norm_x) + ln(F.conv2d(h, cell.conv_h.weight, padding=1),
                                                                         cell.norm_h)
    zi, zf, zg, zo = z[:, 0:4], z[:, 4:8], z[:, 8:12], z[:, 12:16]
    c_next = ln(torch.sigmoid(zf + 1.0) * c + torch.sigmoid(zi) * torch.tanh(zg), cell.norm_c)
    h_next = torch.sigmoid(zo) * torch.tanh(c_next)
    got_h, got_c = cell(x, (h, c))
    torch.testing.assert_close(got_c, c_next)
    torch.testing.assert_close(got_h, h_next)
    assert [s.shape for s in cell.zero_state(x)] == [(2, 4, 5, 6)] * 2


def _moment_matrix(k):
    """M[p, a] = (a - c)^p / p!, written out independently of physdiff.operators."""
    c = (k - 1) // 2
    return torch.tensor([[(a - c) ** p / math.factorial(p) for a in range(k)] for p in range(k)], dtype=F64)


def test_phycell_physics_is_the_sum_over_inputs_of_the_moment_conv_filters():
    torch.manual_seed(0)
    cell = PhyCell(3, kernel_size=3).double()
    h = rand(2, 3, 6, 5, seed=1)
    # route 1: the cell's one full convolution; route 2: the core's depthwise MomentConv
    # (output channel b k^2 + n = K_{n,b} * h_b), summed over the input channels b
    depthwise = cell.moment_conv(h).reshape(2, 3, 9, 6, 5).sum(1) + cell.bias[:, None, None]
    expected = cell.mix(cell.norm(depthwise))
    torch.testing.assert_close(cell.physics(h), expected)
    x = rand(2, 3, 6, 5, seed=2)
    gate = torch.sigmoid(F.conv2d(torch.cat([x, h], 1), cell.gate.weight, cell.gate.bias, padding=1))
    h_tilde = h + expected
    torch.testing.assert_close(cell(x, h), h_tilde + gate * (x - h_tilde))
    assert cell.derivatives[4] == (1, 1) and len(cell.derivatives) == 9


def test_phycell_moment_loss_is_phydnets_and_zero_for_exact_stencils():
    torch.manual_seed(0)
    cell = PhyCell(4, kernel_size=7).double()
    m = _moment_matrix(7)
    w = cell.filters()  # (49, 4, 7, 7): filter [n, b] targets derivative n = 7 i + j
    target = torch.zeros(49, 7, 7, dtype=F64)
    for n in range(49):
        target[n, n // 7, n % 7] = 1.0
    moments = torch.einsum("pa,nbac,qc->nbpq", m, w, m)
    expected = sum(F.mse_loss(moments[:, b], target) for b in range(4))  # PhyDNet's loop over input channels
    torch.testing.assert_close(cell.moment_loss(), expected)
    exact = PhyCell(4, kernel_size=7, init="exact")  # float32 stencils
    assert exact.moment_loss().item() < 1e-10
    assert cell.moment_loss().item() > 0.1


def test_phycell_read_back_identifies_the_exact_stencils_and_sees_random_ones_do_not_match():
    exact = PhyCell(2, kernel_size=3, init="exact").double()
    records = exact.read_back(tol=1e-6)
    assert [r.target for r in records] == [(i, j) for i in range(3) for j in range(3)]
    assert all(r.identified == r.target and r.agreement == 1.0 and r.matched == 1.0 for r in records)
    assert all(abs(r.median_scale - 1.0) < 1e-12 for r in records)
    torch.manual_seed(0)
    random = PhyCell(2, kernel_size=3).double().read_back(tol=1e-2)
    assert sum(r.matched for r in random) < 9  # random filters are not derivative stencils


def test_phycell_errors():
    with pytest.raises(PhysdiffError, match="odd positive int"):
        PhyCell(2, kernel_size=4)
    with pytest.raises(PhysdiffError, match="init"):
        PhyCell(2, init="zeros")
    with pytest.raises(PhysdiffError, match="same shape"):
        PhyCell(2, 3)(torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 5))


def test_a_tagged_zero_state_takes_the_shortcut_with_the_same_result():
    torch.manual_seed(0)
    block = DetailContextBlock(3, 4, (5, 6)).double()
    cell = LayerNormConvLSTMCell(3, 4, (5, 6)).double()
    with torch.no_grad():  # LayerNorm biases that are not zero, so A(0) is not trivially 0
        for p in [*block.parameters(), *cell.parameters()]:
            if p.dim() == 3:
                p.add_(0.3 * torch.randn_like(p))
    x = rand(2, 3, 5, 6, seed=1)
    tagged = cell.zero_state(x)
    plain = tuple(torch.zeros_like(t) for t in tagged)  # untagged zeros take the full route
    bx_tagged, bh_tagged = block(x, tagged[0])
    bx_plain, bh_plain = block(x, plain[0])
    torch.testing.assert_close(bx_tagged, bx_plain, rtol=0, atol=1e-15)
    assert torch.equal(bh_plain, torch.zeros_like(bh_plain)) and bh_tagged is tagged[0]
    for a, b in zip(cell(bx_tagged, (bh_tagged, tagged[1])), cell(bx_plain, (bh_plain, plain[1]))):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-14)
    h, c = tagged
    h.add_(0.5)  # an in-place change voids the tag
    torch.testing.assert_close(block(x, h)[1], block(x, h.clone())[1])


@pytest.mark.parametrize("mode", ["zeros", "reflect"])
def test_convlstm_cell_padding_modes_match_an_explicitly_padded_convolution(mode):
    # PhyDNet's ConvLSTM branch uses zero padding, which the cell leaves to the convolution itself
    from physdiff.learners import ConvLSTMCell

    torch.manual_seed(0)
    cell = ConvLSTMCell(2, 3, kernel_size=3, ndim=2, padding_mode=mode).double()
    x, h, c = rand(2, 2, 5, 6, seed=1), rand(2, 3, 5, 6, seed=2), rand(2, 3, 5, 6, seed=3)
    padded = F.pad(torch.cat([x, h], 1), (1, 1, 1, 1), mode="constant" if mode == "zeros" else mode)
    zi, zf, zo, zg = F.conv2d(padded, cell.weight, cell.bias).split(3, dim=1)
    c_next = torch.sigmoid(zf) * c + torch.sigmoid(zi) * torch.tanh(zg)
    got_h, got_c = cell(x, (h, c))
    torch.testing.assert_close(got_c, c_next)
    torch.testing.assert_close(got_h, torch.sigmoid(zo) * torch.tanh(c_next))
    pad_mode = "constant" if mode == "zeros" else mode
    zi, _, zo, zg = F.conv2d(F.pad(x, (1, 1, 1, 1), mode=pad_mode), cell.weight[:, :2], cell.bias).split(3, dim=1)
    expected = torch.sigmoid(zo) * torch.tanh(torch.sigmoid(zi) * torch.tanh(zg))
    torch.testing.assert_close(cell(x, cell.zero_state(x))[0], expected)
