"""Window attention (SDPA vs a naive reference), the shifted-window mask, Swin blocks with fusion."""

from __future__ import annotations

import pytest
import torch
from einops import rearrange

from physdiff.core import PhysdiffError
from physdiff.learners.blocks import SwinBlock, SwinStack, WindowAttention, shifted_window_mask
from physdiff.learners.blocks._window_attention import window_partition, window_reverse


def naive_window_attention(attn: WindowAttention, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Written from the equations, independently of the module's forward: loops over windows and heads."""
    m, n_heads, c = attn.window, attn.heads, attn.dim
    d = c // n_heads
    qkv = x @ attn.qkv.weight.T + attn.qkv.bias
    q, k, v = qkv[..., :c], qkv[..., c:2 * c], qkv[..., 2 * c:]
    out = torch.empty_like(x)
    for b in range(x.shape[0]):
        for head in range(n_heads):
            sl = slice(head * d, (head + 1) * d)
            logits = q[b, :, sl] @ k[b, :, sl].T / d**0.5
            for i in range(m * m):
                for j in range(m * m):
                    di, dj = i // m - j // m, i % m - j % m
                    logits[i, j] += attn.bias_table[(di + m - 1) * (2 * m - 1) + (dj + m - 1), head]
            if mask is not None:
                logits = logits + mask[b % mask.shape[0]]
            out[b, :, sl] = torch.softmax(logits, -1) @ v[b, :, sl]
    return out @ attn.proj.weight.T + attn.proj.bias


@pytest.mark.parametrize("shift", [0, 2])
@pytest.mark.parametrize("kind", ["sdpa", "naive"])
def test_window_attention_matches_a_naive_reference(kind, shift):
    torch.manual_seed(0)
    attn = WindowAttention(8, 2, 4, attention=kind).double()
    with torch.no_grad():
        attn.bias_table.normal_()  # a visible bias, so its indexing is tested
    n_windows = 4
    x = torch.randn(2 * n_windows, 16, 8, dtype=torch.float64)
    mask = shifted_window_mask(8, 8, 4, shift, dtype=torch.float64)
    torch.testing.assert_close(attn(x, mask), naive_window_attention(attn, x, mask), atol=1e-6, rtol=1e-6)


def test_mask_blocks_attention_across_window_seams():
    """In the shifted frame, tokens wrapped in from the far edge must not influence their window mates."""
    torch.manual_seed(1)
    attn = WindowAttention(4, 1, 4).double()
    h = w = 8
    grid = torch.randn(1, h, w, 4, dtype=torch.float64)
    mask = shifted_window_mask(h, w, 4, 2, dtype=torch.float64)
    out = window_reverse(attn(window_partition(grid, 4), mask), 4, h, w)
    # In the rolled frame, rows 6-7 hold what was rows 0-1 (wrapped); rows 4-5 are true neighbours.
    perturbed = grid.clone()
    perturbed[:, 6:, :] += 10.0  # the wrapped band of the last window row
    out2 = window_reverse(attn(window_partition(perturbed, 4), mask), 4, h, w)
    assert torch.equal(out[:, 4:6], out2[:, 4:6])  # unaffected: the mask fully blocks the seam
    assert not torch.allclose(out[:, 6:], out2[:, 6:])
    # without the mask the seam leaks
    out3 = window_reverse(attn(window_partition(perturbed, 4), None), 4, h, w)
    assert not torch.allclose(out[:, 4:6], out3[:, 4:6])


def test_mask_structure():
    mask = shifted_window_mask(8, 8, 4, 2)
    assert mask.shape == (4, 16, 16)
    assert (mask[0] == 0).all()  # the first window has no wrapped tokens
    assert torch.isinf(mask[3]).sum() > 0 and (mask.diagonal(dim1=1, dim2=2) == 0).all()
    assert shifted_window_mask(8, 8, 4, 0) is None


def test_unshifted_block_is_equivariant_to_window_multiple_shifts():
    """A cyclic shift of the grid by a multiple of the window permutes whole windows: W-MSA commutes with it.
    (SW-MSA does not: its mask is tied to the grid's edges, which Swin treats as non-periodic.)"""
    torch.manual_seed(2)
    block = SwinBlock(8, 2, 4, shifted=False).double()
    x = torch.randn(2, 8, 8, 8, dtype=torch.float64)
    rolled = torch.roll(x, (4, 4), (1, 2))
    flat = lambda t: rearrange(t, "b h w c -> b (h w) c")  # noqa: E731
    out = block(flat(x), (8, 8))
    out_rolled = block(flat(rolled), (8, 8))
    torch.testing.assert_close(out_rolled, flat(torch.roll(rearrange(out, "b (h w) c -> b h w c", h=8), (4, 4), (1, 2))))


def test_fusion_block_and_stack():
    torch.manual_seed(3)
    stack = SwinStack(8, 4, 2, 2, (4, 4)).double()
    assert [b.fusion is not None for b in stack.blocks] == [True, False, True, False]
    assert [b.shift for b in stack.blocks] == [0, 1, 0, 1]
    x, hidden = torch.randn(2, 16, 8, dtype=torch.float64), torch.randn(2, 16, 8, dtype=torch.float64)
    out = stack(x, hidden)
    assert out.shape == x.shape
    # the residual of block 0 is x (its first input): with the attention and MLP outputs zeroed the
    # first block returns x exactly, whatever H is
    block = stack.blocks[0]
    with torch.no_grad():
        block.attn.proj.weight.zero_(), block.attn.proj.bias.zero_(), block.mlp[2].weight.zero_(), block.mlp[2].bias.zero_()
    assert torch.equal(block(x, (4, 4), hidden), x)


def test_window_not_smaller_than_grid_shrinks_and_stops_shifting():
    stack = SwinStack(8, 2, 2, 8, (4, 4))
    assert stack.window == 4 and all(b.shift == 0 for b in stack.blocks)


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: WindowAttention(8, 3, 4), "divisor of the channels"),
        (lambda: WindowAttention(8, 2, 4, attention="flash"), "attention"),
        (lambda: SwinStack(8, 2, 2, 4, (10, 8)), "not divisible by the window"),
        (lambda: SwinStack(8, 0, 2, 4, (8, 8)), "depth"),
    ],
)
def test_bad_construction(build, match):
    with pytest.raises(PhysdiffError, match=match):
        build()
