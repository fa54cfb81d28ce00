"""Swin Transformer blocks with the two-input fusion of SwinLSTM / ARK (spatiotemporal.md 1.2 step 1, 2.1).

A block on tokens ``x`` ``(B, N, C)``, ``N = h w``, with an optional second input ``y``::

    z  = Linear_2C->C( [LN1(x), LN1(y)] )   if y is given (fusion; the same LayerNorm for both)
         LN1(x)                              otherwise
    x' = x + DropPath( unshift( W-MSA( shift(z) ) ) )      residual from x, the block's first input
    x''= x' + DropPath( MLP(LN2(x')) )                      MLP: C -> r C -> C with GELU

``shift`` is a cyclic roll by ``-s`` on both token axes (``s = 0`` for W-MSA, ``M/2`` for SW-MSA)
and the attention of a shifted block carries the mask of :func:`shifted_window_mask`.

:class:`SwinStack` chains ``depth`` blocks as SwinLSTM's ``SwinTransformerBlocks``: block 0 fuses
``(x_t, H)``, blocks at even index > 0 re-inject ``x_t``, odd blocks take no second input and use
the shifted windows.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from ...core import PhysdiffError
from ._window_attention import WindowAttention, shifted_window_mask, window_partition, window_reverse

__all__ = ["DropPath", "SwinBlock", "SwinStack", "effective_window"]


def effective_window(h: int, w: int, window: int, shift: int) -> tuple[int, int]:
    """Swin's rule for small grids: a window not smaller than the grid shrinks to it and is not shifted.

    Returns ``(window, shift)`` actually used on an ``h x w`` token grid; refuses a grid that the
    window does not divide.
    """
    if min(h, w) <= window:
        window, shift = min(h, w), 0
    if h % window or w % window:
        raise PhysdiffError(
            f"Swin: the token grid {h}x{w} is not divisible by the window {window}. Choose a frame size that "
            f"is a multiple of patch_size * window (or a window dividing both {h} and {w})."
        )
    return window, shift


class DropPath(nn.Module):
    """Stochastic depth: zero a residual branch for a whole sample with probability ``p`` (training only),
    scaling the kept ones by ``1 / (1 - p)`` so the expectation is unchanged."""

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise PhysdiffError(f"DropPath: p: expected a probability in [0, 1), got {p!r}.")
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(1.0 - self.p)
        return x * keep / (1.0 - self.p)


class SwinBlock(nn.Module):
    """One Swin block, optionally fusing a second input (see the module docstring).

    Args:
        dim: channels ``C``.
        heads: attention heads (divide ``dim``).
        window: window side ``M`` in tokens.
        shifted: use shift ``M // 2`` (SW-MSA) instead of 0 (W-MSA).
        fuse: build the ``2C -> C`` fusion layer (the block then requires a second input).
        mlp_ratio: hidden width of the MLP as a multiple of ``dim``.
        drop_path: stochastic-depth probability of both residual branches.
        attention: ``"sdpa"`` or ``"naive"`` (see :class:`WindowAttention`).
    """

    def __init__(self, dim: int, heads: int, window: int, *, shifted: bool = False, fuse: bool = False,
                 mlp_ratio: float = 4.0, drop_path: float = 0.0, attention: str = "sdpa") -> None:
        super().__init__()
        self.attn = WindowAttention(dim, heads, window, attention=attention)
        self.window, self.shift = window, (window // 2 if shifted else 0)
        self.norm1 = nn.LayerNorm(dim)
        self.fusion = nn.Linear(2 * dim, dim) if fuse else None
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor, grid: tuple[int, int], y: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` (and ``y``) ``(B, h w, C)`` on the token grid ``grid = (h, w)`` -> ``(B, h w, C)``."""
        h, w = grid
        if x.dim() != 3 or x.shape[1] != h * w:
            raise PhysdiffError(f"SwinBlock: x: expected (B, {h * w}, C) for the grid {h}x{w}, got {tuple(x.shape)}.")
        if (y is None) != (self.fusion is None):
            raise PhysdiffError(
                "SwinBlock: a fusing block (fuse=True) needs the second input y and a plain block takes none; "
                f"got fuse={self.fusion is not None}, y={'given' if y is not None else None}."
            )
        z = self.norm1(x)
        if self.fusion is not None:
            z = self.fusion(torch.cat([z, self.norm1(y)], dim=-1))
        window, shift = effective_window(h, w, self.window, self.shift)
        if window != self.window:
            raise PhysdiffError(
                f"SwinBlock: the token grid {h}x{w} is smaller than the window {self.window}; build the block with "
                f"window={window} (SwinStack does this for you)."
            )
        z = rearrange(z, "b (h w) c -> b h w c", h=h)
        if shift:
            z = torch.roll(z, (-shift, -shift), (1, 2))
        mask = shifted_window_mask(h, w, window, shift, dtype=z.dtype, device=z.device)
        z = window_reverse(self.attn(window_partition(z, window), mask), window, h, w)
        if shift:
            z = torch.roll(z, (shift, shift), (1, 2))
        x = x + self.drop_path(rearrange(z, "b h w c -> b (h w) c"))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class SwinStack(nn.Module):
    """``depth`` Swin blocks computing ``F_t = SwinBlocks(x_t, H)`` (spatiotemporal.md 1.2 step 1).

    Block 0 fuses ``(x_t, H)`` with residual ``x_t``; block ``2k > 0`` fuses ``(running, x_t)``;
    odd blocks take no second input and use shifted windows. When the token grid is not larger
    than ``window`` the window shrinks to the grid and no block is shifted (as in Swin).

    Args:
        dim, heads, window, mlp_ratio, attention: as :class:`SwinBlock`.
        depth: number of blocks.
        drop_path: stochastic-depth probability, the same on every block (as SwinLSTM-B).
        grid: the token grid ``(h, w)`` the stack will see (fixes the effective window).
    """

    def __init__(self, dim: int, depth: int, heads: int, window: int, grid: tuple[int, int], *,
                 mlp_ratio: float = 4.0, drop_path: float = 0.0, attention: str = "sdpa") -> None:
        super().__init__()
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise PhysdiffError(f"SwinStack: depth: expected a positive int, got {depth!r}.")
        window, shift = effective_window(grid[0], grid[1], window, window // 2)
        self.grid, self.window = tuple(grid), window
        self.blocks = nn.ModuleList(
            SwinBlock(dim, heads, window, shifted=(i % 2 == 1 and shift > 0), fuse=(i % 2 == 0),
                      mlp_ratio=mlp_ratio, drop_path=drop_path, attention=attention)
            for i in range(depth)
        )

    def forward(self, x: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        """``F_t`` from the embedded input ``x`` and the previous state ``hidden``, both ``(B, N, C)``."""
        out = self.blocks[0](x, self.grid, hidden)
        for i, block in enumerate(self.blocks[1:], start=1):
            out = block(out, self.grid, x if i % 2 == 0 else None)
        return out
