"""Window multi-head self-attention with a relative position bias (Swin, Liu et al. 2021).

Tokens on an ``h x w`` grid are split into non-overlapping ``M x M`` windows; attention is
computed inside each window. For head ``n`` and tokens ``i, j`` of one window,

    A_n = softmax( Q_n K_n^T / sqrt(d) + B_n + mask ) V_n,      d = C / heads,

where ``B_n[i, j] = T[idx(i, j), n]`` reads a learned table ``T`` of ``(2M - 1)^2`` entries per
head at the relative offset ``(r_i - r_j, c_i - c_j)`` of the two tokens. ``mask`` is 0, or
``-inf`` between tokens that a cyclic shift brought into the same window from different
sides of the grid (the shifted-window scheme); see :func:`shifted_window_mask`.

The product is computed by ``torch.nn.functional.scaled_dot_product_attention`` (``attention=
"sdpa"``, fused kernels) or by the explicit matmul-softmax-matmul (``"naive"``, the reference
for tests and benchmarks/ark.py).

Speed on the CPU (torch 2.13, benchmarks/ark.py): SDPA's fused CPU kernel accepts an additive
mask only when the mask does not require a gradient; the relative position bias is learned, so in
training SDPA falls back to its math route and runs at the naive route's speed. Without gradients
(inference, rollouts under ``torch.no_grad``) the fused kernel runs and is faster.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from ...core import PhysdiffError

__all__ = ["WindowAttention", "shifted_window_mask", "window_partition", "window_reverse"]

ATTENTIONS = ("sdpa", "naive")


def window_partition(x: torch.Tensor, window: int) -> torch.Tensor:
    """``(B, h, w, C)`` -> ``(B * nW, window * window, C)``, windows in row-major order."""
    return rearrange(x, "b (nh m1) (nw m2) c -> (b nh nw) (m1 m2) c", m1=window, m2=window)


def window_reverse(windows: torch.Tensor, window: int, h: int, w: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`: ``(B * nW, window^2, C)`` -> ``(B, h, w, C)``."""
    return rearrange(windows, "(b nh nw) (m1 m2) c -> b (nh m1) (nw m2) c",
                     nh=h // window, nw=w // window, m1=window, m2=window)


@functools.lru_cache(maxsize=32)
def _mask_cpu(h: int, w: int, window: int, shift: int) -> torch.Tensor:
    # Label each token of the (un-rolled) grid by the region it belongs to after a cyclic shift of
    # -shift: rows/columns [0, h - M), [h - M, h - s), [h - s, h) are three bands, as in Swin.
    labels = torch.zeros(h, w, dtype=torch.long)
    bands = (slice(0, -window), slice(-window, -shift), slice(-shift, None))
    region = 0
    for rows in bands:
        for cols in bands:
            labels[rows, cols] = region
            region += 1
    win = rearrange(labels, "(nh m1) (nw m2) -> (nh nw) (m1 m2)", m1=window, m2=window)
    same = win[:, :, None] == win[:, None, :]
    return torch.zeros(same.shape).masked_fill(~same, float("-inf"))


def shifted_window_mask(h: int, w: int, window: int, shift: int, *, dtype: torch.dtype = torch.float32,
                        device: torch.device | str | None = None) -> torch.Tensor | None:
    """Additive attention mask ``(nW, M^2, M^2)`` for windows of a grid cyclically shifted by ``-shift``.

    Entry ``[n, i, j]`` is 0 when tokens ``i`` and ``j`` of window ``n`` were neighbours before the
    shift and ``-inf`` when the roll brought them together from opposite edges of the grid (they
    must not attend to each other). Every token sees itself, so no row is fully masked.
    Returns None for ``shift == 0`` (no mask needed).
    """
    if shift == 0:
        return None
    if not 0 < shift < window or h % window or w % window:
        raise PhysdiffError(
            f"shifted_window_mask: expected 0 < shift < window and a grid divisible by the window, got grid "
            f"{h}x{w}, window {window}, shift {shift}."
        )
    return _mask_cpu(h, w, window, shift).to(dtype=dtype, device=device)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside ``window x window`` windows with a relative position bias.

    Args:
        dim: token channels ``C``.
        heads: attention heads; must divide ``dim``.
        window: window side ``M`` (tokens).
        attention: ``"sdpa"`` (``F.scaled_dot_product_attention``) or ``"naive"`` (matmul, softmax, matmul).

    Shapes: ``forward(x (B nW, M^2, C), mask (nW, M^2, M^2) or None) -> (B nW, M^2, C)``.
    """

    def __init__(self, dim: int, heads: int, window: int, *, attention: str = "sdpa") -> None:
        super().__init__()
        where = "WindowAttention"
        for name, value in (("dim", dim), ("heads", heads), ("window", window)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise PhysdiffError(f"{where}: {name}: expected a positive int, got {value!r}.")
        if dim % heads:
            raise PhysdiffError(
                f"{where}: heads: expected a divisor of the channels {dim} (each head gets dim / heads channels), "
                f"got heads={heads}. Use e.g. heads={max(d for d in range(1, heads + 1) if dim % d == 0)}."
            )
        if attention not in ATTENTIONS:
            raise PhysdiffError(f"{where}: attention: expected one of {ATTENTIONS}, got {attention!r}.")
        self.dim, self.heads, self.window, self.attention = dim, heads, window, attention
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.bias_table = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.bias_table, std=0.02)
        coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")).flatten(1)
        rel = coords[:, :, None] - coords[:, None, :] + (window - 1)  # (2, M^2, M^2), offsets in [0, 2M-2]
        self.register_buffer("bias_index", rel[0] * (2 * window - 1) + rel[1], persistent=False)

    def position_bias(self) -> torch.Tensor:
        """``B`` of shape ``(heads, M^2, M^2)``."""
        return rearrange(self.bias_table[self.bias_index], "i j n -> n i j")

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        n_tokens = self.window**2
        if x.dim() != 3 or x.shape[1:] != (n_tokens, self.dim):
            raise PhysdiffError(
                f"WindowAttention: x: expected (B * windows, {n_tokens}, {self.dim}), got {tuple(x.shape)}."
            )
        q, k, v = rearrange(self.qkv(x), "b t (s n d) -> s b n t d", s=3, n=self.heads)
        bias = self.position_bias().to(x.dtype)  # (n, t, t)
        if mask is not None:
            # Split the batch into (images, windows) so window w of every image gets mask[w] by
            # broadcasting (no copy of the mask per image).
            n_windows = mask.shape[0]
            q, k, v = (rearrange(t, "(b w) n i d -> b w n i d", w=n_windows) for t in (q, k, v))
            bias = bias + mask[:, None].to(x.dtype)  # (nW, n, t, t)
        if self.attention == "sdpa":
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=self.scale)
        else:
            weights = torch.softmax(q @ k.transpose(-2, -1) * self.scale + bias, dim=-1)
            out = weights @ v
        if mask is not None:
            out = rearrange(out, "b w n i d -> (b w) n i d")
        return self.proj(rearrange(out, "b n t d -> b t (n d)"))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, heads={self.heads}, window={self.window}, attention={self.attention!r}"
