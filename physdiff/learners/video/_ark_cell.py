"""The ARK cell (Zhao et al., arXiv 2405.14504) as described equation by equation in spatiotemporal.md 1.2.

Tokens ``(B, N, C)``, ``N = h w``; ``H`` is the physical latent state, ``(h, c)`` the token-wise LSTM
state, ``x`` the embedded input (or the previous layer's ``H``)::

    F_t       = SwinStack(x, H)                                    correction module, Swin part
    [i,f,o,g] = MLP_g([F_t, h])            2C -> 4C -> 4C (GELU)   token-wise LSTM, no forget bias
    c'        = sigma(f) c + sigma(i) tanh(g);    h' = sigma(o) tanh(c')
    K         = sigma(MLP_o(h'))           C -> 4C -> C
    H_CM      = H + K (F_t - H)                                    balancing gate (eq. 1)
    F_out     = FourierBlocks(MLP_red([x, H]))   2C -> 4C -> C    frequency module (eqs. 2-4)
    H~        = H_CM + F_out
    H'        = ARK-RK2(H~)                                        adaptive RK2 module (eqs. 5-7)

with ``ARK-RK2`` the stage-gated :class:`physdiff.integrators.AdaptiveRK2` (``dt = 1``) around
:class:`~physdiff.learners.blocks.MomentRHS`, or plain Heun / Euler for the ablations.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from ...integrators import AdaptiveRK2, Euler, Heun
from ..blocks import FourierBlock, MomentRHS, SwinStack

__all__ = ["ARKCell", "RK_MODES"]

RK_MODES = ("adaptive", "heun", "euler")
CellState = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def mlp(sizes: list[int]) -> nn.Sequential:
    """Token-wise MLP ``sizes[0] -> ... -> sizes[-1]`` with GELU between the linear layers."""
    layers: list[nn.Module] = []
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        if k:
            layers.append(nn.GELU())
        layers.append(nn.Linear(a, b))
    return nn.Sequential(*layers)


class ARKCell(nn.Module):
    """One ARK cell on a fixed token grid (see the module docstring for the equations).

    Args:
        dim: channels ``C``.
        grid: token grid ``(h, w)``.
        swin_depth, heads, window, mlp_ratio, drop_path, attention: the Swin stack (:class:`SwinStack`).
        n_fourier: Fourier blocks; 0 removes the frequency module (``F_out = 0``).
        correction: False removes the correction module (``H_CM = H``: no Swin, LSTM or gate).
        rk_mode: ``"adaptive"`` (ARK's stage-gated RK2), ``"heun"`` or ``"euler"``.
        moment_kernel_size, moment_order, padding: the right-hand side (:class:`MomentRHS`).
    """

    def __init__(self, dim: int, grid: tuple[int, int], *, swin_depth: int = 8, heads: int = 8, window: int = 4,
                 mlp_ratio: float = 4.0, drop_path: float = 0.1, attention: str = "sdpa", n_fourier: int = 8,
                 fourier_groups: int = 2, correction: bool = True, rk_mode: str = "adaptive",
                 moment_kernel_size: int = 7, moment_order: int | None = None, padding: str = "zeros") -> None:
        super().__init__()
        self.grid = tuple(grid)
        self.swin = self.lstm_gates = self.balance = None
        if correction:
            self.swin = SwinStack(dim, swin_depth, heads, window, self.grid, mlp_ratio=mlp_ratio,
                                  drop_path=drop_path, attention=attention)
            self.lstm_gates = mlp([2 * dim, 4 * dim, 4 * dim])
            self.balance = mlp([dim, 4 * dim, dim])
        self.reduce = self.fourier = None
        if n_fourier:
            self.reduce = mlp([2 * dim, 4 * dim, dim])
            self.fourier = nn.ModuleList(FourierBlock(dim, num_blocks=fourier_groups, mlp_ratio=mlp_ratio)
                                         for _ in range(n_fourier))
        rhs = MomentRHS(dim, moment_kernel_size, max_order=moment_order, padding=padding)
        if rk_mode == "adaptive":
            self.rk = AdaptiveRK2(rhs, dim, 2, 1, form="stages", stage_maps="learned")
        elif rk_mode == "heun":
            self.rk = Heun(rhs)
        else:
            self.rk = Euler(rhs)
        self.rhs = rhs

    def forward(self, x: torch.Tensor, state: CellState) -> CellState:
        """``x`` ``(B, N, C)`` and ``(H, h, c)`` -> the new ``(H, h, c)``."""
        big_h, h, c = state
        h_cm = big_h
        if self.swin is not None:
            f_t = self.swin(x, big_h)
            i, f, o, g = self.lstm_gates(torch.cat([f_t, h], dim=-1)).chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            gain = torch.sigmoid(self.balance(h))
            h_cm = big_h + gain * (f_t - big_h)
        h_tilde = h_cm
        if self.fourier is not None:
            z = self.reduce(torch.cat([x, big_h], dim=-1))
            for block in self.fourier:
                z = block(z, self.grid)
            h_tilde = h_cm + z
        field = rearrange(h_tilde, "b (h w) c -> b c h w", h=self.grid[0])
        new = rearrange(self.rk(field, 1.0), "b c h w -> b (h w) c")
        return new, h, c

    def moment_loss(self) -> torch.Tensor:
        return self.rhs.moment_loss()
