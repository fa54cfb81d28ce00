"""PhyDNet's PhyCell: a latent PDE step through moment-constrained filters, then a Kalman-like correction.

With ``h`` the latent state and ``x`` the encoded frame, both ``(B, C, H, W)`` (Le Guen & Thome 2020)::

    F(h)  = W_1x1 * GN(sum_b K_{n,b} * h_b + beta_n)            n = 7 i + j,  i, j = 0..k-1
    h~    = h + F(h)                                  (prediction: an Euler step, dt absorbed in F)
    G     = sigma(W_g * [x, h] + b_g)                 (3x3 convolution of the concatenation)
    h'    = h~ + G . (x - h~)                         (correction towards the observation)

The ``k x k`` filter ``K_{n,b}`` (output ``n``, input channel ``b``) is tied to the derivative
``d_0^i d_1^j`` (axis 0 = H): its moments ``m[p, q] = sum_{a,b} M[p, a] M[q, b] K[a, b]``
(:func:`physdiff.operators.kernel_to_moments`) should be one-hot at ``(i, j)``, so ``F`` is
a learned linear combination of the ``k^2`` derivatives of every latent channel up to order
``k - 1`` per axis, i.e. a latent PDE ``dh/dt = F(h)``. The tie is soft, as in PhyDNet: the
filters are free parameters of a penalty-mode :class:`~physdiff.operators.MomentConv` and
:meth:`PhyCell.moment_loss` is PhyDNet's moment loss, to be added to the training loss::

    L_moment = sum_b  mean_{n, p, q} (m(K_{n,b})[p, q] - delta_{(p, q), (i_n, j_n)})^2

(all ``k^2`` moments of every filter are constrained; the moments are computed in float64).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from ...core import PhysdiffError
from ...operators import MomentConv, identify_derivative
from ._convlstm import check_kernel_size, check_positive_int

__all__ = ["PhyCell", "PhyCellDerivative"]


@dataclass(frozen=True)
class PhyCellDerivative:
    """What the filters tied to one derivative apply, read back from their moments.

    Attributes:
        target: the derivative orders ``(i, j)`` the moment loss ties the filters to.
        identified: the derivative most of the filters approximate (their dominant moment,
            :func:`physdiff.operators.identify_derivative`).
        agreement: fraction of the filters (one per input channel) whose dominant moment is ``target``.
        matched: fraction that agree and whose other moments are all below ``tol`` times the target one.
        median_scale: median of the dominant moment's value over the filters that agree.
        median_residual: median of the largest other moment relative to the dominant one.
    """

    target: tuple[int, int]
    identified: tuple[int, int]
    agreement: float
    matched: float
    median_scale: float
    median_residual: float


class PhyCell(nn.Module):
    """PhyDNet's physical cell (see the module docstring): ``(x, h) -> h'``, all ``(B, channels, H, W)``.

    Args:
        channels: latent channels ``C`` of ``x`` and ``h`` (PhyDNet: 64).
        kernel_size: odd width ``k`` of the moment-constrained filters; there are ``k^2`` of them per
            input channel, one per derivative ``(i, j)``, ``0 <= i, j < k`` (PhyDNet: 7, 49 derivatives).
        init: ``"random"`` (PyTorch's convolution initialisation, uniform in ``+-1/sqrt(C k^2)``, as
            PhyDNet) or ``"exact"`` (every filter the exact ``k x k`` finite-difference stencil of
            its derivative: moment loss zero).

    Attributes:
        derivatives: the ``k^2`` target orders, in output-channel order ``n = k i + j``.
        moment_conv: the penalty-mode :class:`~physdiff.operators.MomentConv` holding the filters
            (``C k^2`` of them, filter ``b k^2 + n`` = ``K_{n,b}``) and their target moments.
    """

    def __init__(self, channels: int, kernel_size: int = 7, init: str = "random") -> None:
        super().__init__()
        where = type(self).__name__
        self.channels = check_positive_int(channels, "channels", where)
        self.kernel_size = k = check_kernel_size(kernel_size, where)
        if init not in ("random", "exact"):
            raise PhysdiffError(f"{where}: init: expected 'random' or 'exact', got {init!r}.")
        self.derivatives = tuple((i, j) for i in range(k) for j in range(k))
        self.moment_conv = MomentConv(2, k, self.derivatives, channels, mode="penalty", constrained_order="all",
                                      padding="zeros", init="exact" if init == "exact" else "random")
        if init == "random":
            bound = 1.0 / math.sqrt(channels * k * k)  # fan-in of the full convolution, as nn.Conv2d
            with torch.no_grad():
                self.moment_conv.weight.uniform_(-bound, bound)
        n = k * k
        self.bias = nn.Parameter(torch.empty(n).uniform_(-1.0 / math.sqrt(channels * n), 1.0 / math.sqrt(channels * n)))
        self.norm = nn.GroupNorm(k, n)  # PhyDNet: GroupNorm(7, 49); k divides k^2 for any k
        self.mix = nn.Conv2d(n, channels, 1)
        self.gate = nn.Conv2d(2 * channels, channels, 3, padding=1)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, kernel_size={self.kernel_size}, derivatives={len(self.derivatives)}"

    def filters(self) -> torch.Tensor:
        """The full convolution weight ``(k^2, C, k, k)``: entry ``[n, b]`` is ``K_{n,b}``."""
        # contiguous: the convolution then reads the weight in its own layout (no strided copy inside)
        return rearrange(self.moment_conv.kernel(), "(c n) 1 kh kw -> n c kh kw", n=len(self.derivatives)).contiguous()

    def physics(self, h: torch.Tensor) -> torch.Tensor:
        """``F(h)``: the learned combination of derivatives of ``h`` (one full convolution, not
        ``C k^2`` depthwise ones: the same sums, without materialising ``C k^2`` feature maps)."""
        z = F.conv2d(h, self.filters(), self.bias, padding=self.kernel_size // 2)
        return self.mix(self.norm(z))

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """One step: prediction ``h + F(h)``, then the correction towards ``x``."""
        if x.dim() != 4 or x.shape[1] != self.channels or x.shape != h.shape:
            raise PhysdiffError(f"{type(self).__name__}: expected x and h of the same shape "
                                f"(B, {self.channels}, H, W), got {tuple(x.shape)} and {tuple(h.shape)}.")
        gate = torch.sigmoid(self.gate(torch.cat([x, h], dim=1)))
        h_tilde = h + self.physics(h)
        return torch.addcmul(h_tilde, gate, x - h_tilde)

    def moment_loss(self) -> torch.Tensor:
        """PhyDNet's moment loss (module docstring): ``C`` times the mean squared moment error
        over every filter and moment (:meth:`MomentConv.moment_loss` with ``reduction="mean"``)."""
        return self.channels * self.moment_conv.moment_loss(reduction="mean")

    def read_back(self, tol: float = 0.1) -> list[PhyCellDerivative]:
        """Which derivative the filters tied to each target apply, one record per target ``(i, j)``.

        Every filter goes through :func:`physdiff.operators.identify_derivative` (all moments
        constrained); ``tol`` is its relative residual threshold for ``matched``.
        """
        weight = self.filters().detach()
        records = []
        for n, target in enumerate(self.derivatives):
            matches = [identify_derivative(weight[n, b], tol, ndim=2, constrained_order="all")
                       for b in range(self.channels)]
            agree = [m for m in matches if m.derivative == target]
            identified = Counter(m.derivative for m in matches).most_common(1)[0][0]
            scales = torch.tensor([m.scale for m in agree]) if agree else torch.tensor([float("nan")])
            records.append(PhyCellDerivative(
                target=target, identified=identified, agreement=len(agree) / len(matches),
                matched=sum(m.matched for m in agree) / len(matches),
                median_scale=float(scales.median()),
                median_residual=float(torch.tensor([m.residual for m in matches]).median()),
            ))
        return records
