"""ARK's right-hand side: spatial derivatives from a moment-constrained convolution, then a combining convolution.

PhyDNet's ``F`` (systems.md 5.2) with ARK's 3x3 combining layer (spatiotemporal.md 1.2 step 6)::

    D_n(H)  = sum_b K_{n,b} * H_b + c_n        n = 0 .. n_d - 1 ("derivative" channels, n_d = k^2 = 49)
    Phi(H)  = Conv_{3x3, n_d -> C}( GroupNorm(7, n_d)( D(H) ) )

Filter ``K_{n,b}`` (``k x k``, ``k = 7``) is tied to the derivative ``d_x^i d_y^j`` with ``n = k i + j``
(every order up to ``k - 1`` per axis, PhyDNet's ordering) through PhyDNet's moment loss: the
moment matrix of each kernel is pushed towards the one-hot matrix at ``(i, j)`` (eq. 9). The
kernels are those of a :class:`physdiff.operators.MomentConv` in penalty mode (depthwise, one
filter per (input channel, derivative)), summed over the input channels ``b`` as PhyDNet's dense
convolution does; the dense convolution is what runs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ...core import PhysdiffError
from ...operators import MomentConv, identify_derivative

__all__ = ["MomentRHS"]

PADDINGS = ("zeros", "circular")


class MomentRHS(nn.Module):
    """``Phi``: ``(B, C, h, w) -> (B, C, h, w)``, the time derivative as a function of learned spatial derivatives.

    Args:
        channels: ``C``.
        kernel_size: ``k`` (odd); ``k^2`` derivative filters ``d_x^i d_y^j``, ``0 <= i, j < k``.
        max_order: keep only the filters of order ``i, j <= max_order`` (None: all ``k^2``).
        padding: ``"zeros"`` (images, PhyDNet) or ``"circular"`` (periodic fields).
        groups: GroupNorm groups over the derivative channels (PhyDNet: 7 for 49); None picks the
            largest divisor of the derivative count not above 7.
        combine_kernel_size: odd kernel of the combining convolution (ARK: 3; PhyDNet: 1).
    """

    def __init__(self, channels: int, kernel_size: int = 7, *, max_order: int | None = None, padding: str = "zeros",
                 groups: int | None = None, combine_kernel_size: int = 3) -> None:
        super().__init__()
        where = "MomentRHS"
        if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
            raise PhysdiffError(f"{where}: kernel_size: expected a positive odd int (PhyDNet: 7), got {kernel_size!r}.")
        if max_order is None:
            max_order = kernel_size - 1
        if isinstance(max_order, bool) or not isinstance(max_order, int) or not 0 <= max_order < kernel_size:
            raise PhysdiffError(
                f"{where}: max_order: a {kernel_size}x{kernel_size} kernel has moments of orders 0..{kernel_size - 1} "
                f"per axis, so the derivative order must be in that range; got {max_order!r}. Use a kernel_size "
                f"of at least {max_order + 1 if isinstance(max_order, int) else 'order + 1'} or a lower order."
            )
        if padding not in PADDINGS:
            raise PhysdiffError(f"{where}: padding: expected one of {PADDINGS}, got {padding!r}.")
        if combine_kernel_size < 1 or combine_kernel_size % 2 == 0:
            raise PhysdiffError(f"{where}: combine_kernel_size: expected a positive odd int, got {combine_kernel_size!r}.")
        self.derivatives = tuple((i, j) for i in range(max_order + 1) for j in range(max_order + 1))
        n_d = len(self.derivatives)
        self.channels, self.kernel_size, self.padding = channels, kernel_size, padding
        # every moment is constrained (the 7x7 kernel has exactly the 49 moments of orders < 7 per axis)
        self.moments = MomentConv(2, kernel_size, self.derivatives, channels, mode="penalty",
                                  constrained_order="all", padding="valid", init="random")
        with torch.no_grad():  # PhyDNet's dense-conv initialisation scale, 1/sqrt(fan_in) with fan_in = C k^2
            self.moments.weight.mul_(1.0 / math.sqrt(channels))
        self.bias = nn.Parameter(torch.zeros(n_d))
        groups = groups or max(g for g in range(1, 8) if n_d % g == 0)
        self.norm = nn.GroupNorm(groups, n_d)
        self.combine = nn.Conv2d(n_d, channels, combine_kernel_size, padding=combine_kernel_size // 2,
                                 padding_mode="circular" if padding == "circular" else "zeros")

    def dense_weight(self) -> torch.Tensor:
        """PhyDNet's conv weight ``(n_d, C, k, k)``: filter ``[n, b]`` acts on input channel ``b``."""
        k = self.moments.kernel()  # (C * n_d, 1, k, k), channel c * n_d + d
        return k.reshape(self.channels, len(self.derivatives), self.kernel_size, self.kernel_size).transpose(0, 1)

    def derivatives_of(self, h: torch.Tensor) -> torch.Tensor:
        """``D(H)`` ``(B, n_d, h, w)``: the learned derivative channels."""
        p = self.kernel_size // 2
        h = F.pad(h, (p, p, p, p), mode="circular" if self.padding == "circular" else "constant")
        return F.conv2d(h, self.dense_weight().to(h.dtype), self.bias.to(h.dtype))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if h.dim() != 4 or h.shape[1] != self.channels:
            raise PhysdiffError(f"MomentRHS: expected (B, {self.channels}, h, w), got {tuple(h.shape)}.")
        return self.combine(self.norm(self.derivatives_of(h)))

    def moment_loss(self) -> torch.Tensor:
        """PhyDNet's moment loss (eq. 9): per input channel, the mean squared error of the moments of its
        ``n_d`` kernels against their one-hot targets, summed over the input channels."""
        return self.moments.moment_loss(reduction="mean") * self.channels

    def read_back(self, tol: float = 0.1) -> list[dict]:
        """Which derivative each filter applies, read from its channel-averaged kernel (``identify_derivative``).

        Returns one dict per derivative channel ``n``: the target ``(i, j)``, the identified
        derivative, its scale and the relative residual of the other moments, and whether they match.
        """
        weight = self.dense_weight().detach().double().mean(dim=1)  # (n_d, k, k)
        rows = []
        for n, target in enumerate(self.derivatives):
            match = identify_derivative(weight[n], tol)
            rows.append({"filter": n, "target": target, "identified": tuple(match.derivative), "scale": match.scale,
                         "residual": match.residual, "matched": match.matched and tuple(match.derivative) == target})
        return rows
