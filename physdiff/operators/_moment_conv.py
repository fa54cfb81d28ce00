"""A learnable convolution whose filters are pinned to chosen derivative orders through their moments.

Each filter ``f`` of :class:`MomentConv` targets a derivative ``p_f = (p, q, ...)``:
its moments (see :mod:`._moments`) must be one-hot at ``p_f`` over the
constrained block ``{alpha : |alpha| <= constrained_order}``. Two ways to enforce it:

* ``mode="free-moments"`` (default): only the moments outside the constrained
  block are parameters; the kernel is ``M2K(target + free)`` at every forward,
  so the constraint holds to rounding at every optimisation step;
* ``mode="penalty"``: the kernel itself is the parameter and
  :meth:`MomentConv.moment_loss` gives PhyDNet's moment loss, to be added to the
  training loss.

With a grid spacing ``h`` the kernel is divided by ``h^|p_f|`` (``prod_i h_i^{p_i}``),
so the layer approximates ``d^p u`` itself rather than ``h^|p| d^p u``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..core import PhysdiffError, as_spacing, check_field, check_ndim
from ._moments import (
    _as_derivative,
    _as_kernel_size,
    _check_orders_fit,
    _resolve_constrained_order,
    derivative_kernel,
    kernel_to_moments,
    moment_loss,
    moment_mask,
    moments_to_kernel,
    one_hot_moments,
)

__all__ = ["MomentConv"]

_MODES = ("free-moments", "penalty")
_PADDINGS = ("circular", "zeros", "valid")
_INITS = ("exact", "random")
_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


class MomentConv(nn.Module):
    """Depthwise convolution with one filter per (input channel, target derivative).

    Output channel ``c * len(derivatives) + d`` is the derivative ``derivatives[d]``
    of input channel ``c``; every filter has its own learnable higher moments.

    Args:
        ndim: spatial dimensions (1, 2 or 3).
        kernel_size: one int (cubic kernel) or one size per axis; even sizes are
            allowed (centre ``(l - 1) // 2``, one extra point on the right).
        derivatives: target orders, e.g. ``[(1, 0), (0, 1), (2, 0)]`` (ints allowed in 1D);
            each order must be ``< kernel_size`` on its axis and of total order
            ``<= constrained_order``.
        in_channels: number of input channels.
        mode: ``"free-moments"`` or ``"penalty"`` (see the module docstring).
        constrained_order: highest constrained total moment order. ``None`` means
            ``min(kernel_size) - 1`` (same truncation order as the full one-hot
            kernel); ``"all"`` constrains every moment (no free parameters in
            free-moments mode: the layer is the exact finite-difference operator).
        spacing: grid spacing (one float or one per axis); ``None`` leaves the kernel in grid units.
        padding: ``"circular"`` (periodic), ``"zeros"`` (same-size output) or ``"valid"`` (no padding).
        init: ``"exact"`` (free moments zero / kernel = :func:`derivative_kernel`) or
            ``"random"`` (free moments ``N(0, init_std^2)`` / kernel uniform in
            ``+-1/sqrt(kernel numel)``, like ``nn.Conv``).
        init_std: standard deviation of the random free moments.
        dtype, device: of the parameters.
    """

    def __init__(
        self,
        ndim: int,
        kernel_size: int | Sequence[int],
        derivatives: Sequence[Sequence[int] | int],
        in_channels: int = 1,
        *,
        mode: str = "free-moments",
        constrained_order: int | str | None = None,
        spacing: float | Sequence[float] | None = None,
        padding: str = "circular",
        init: str = "exact",
        init_std: float = 1e-2,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.ndim = check_ndim(ndim)
        self.kernel_size = _as_kernel_size(kernel_size, ndim)
        if mode not in _MODES:
            raise PhysdiffError(f"mode: expected one of {_MODES}, got {mode!r}.")
        if padding not in _PADDINGS:
            raise PhysdiffError(
                f"padding: expected one of {_PADDINGS} ('circular' for periodic fields), got {padding!r}."
            )
        if init not in _INITS:
            raise PhysdiffError(f"init: expected one of {_INITS}, got {init!r}.")
        if isinstance(in_channels, bool) or not isinstance(in_channels, int) or in_channels < 1:
            raise PhysdiffError(f"in_channels: expected a positive int, got {in_channels!r}.")
        if isinstance(derivatives, (str, bytes)) or not isinstance(derivatives, Sequence) or len(derivatives) == 0:
            raise PhysdiffError(
                f"derivatives: expected a non-empty list of derivative orders such as [(1, 0), (0, 2)], "
                f"got {derivatives!r}."
            )
        order = _resolve_constrained_order(constrained_order, self.kernel_size)
        derivs = []
        for d in derivatives:
            p = _as_derivative(d, ndim)
            _check_orders_fit(p, self.kernel_size)
            if sum(p) > order:
                raise PhysdiffError(
                    f"derivatives: {p} has total order {sum(p)} but only moments of total order <= {order} are "
                    f"constrained, so its target moment would not be pinned. Pass constrained_order >= {sum(p)} "
                    "(or 'all')."
                )
            derivs.append(p)
        self.derivatives = tuple(derivs)
        self.in_channels = in_channels
        self.out_channels = in_channels * len(derivs)
        self.mode = mode
        self.constrained_order = order
        self.padding = padding
        self.spacing = None if spacing is None else as_spacing(spacing, ndim)
        if not (isinstance(init_std, (int, float)) and math.isfinite(init_std) and init_std >= 0):
            raise PhysdiffError(f"init_std: expected a finite non-negative float, got {init_std!r}.")

        factory = {"dtype": dtype if dtype is not None else torch.get_default_dtype(), "device": device}
        if not factory["dtype"].is_floating_point:
            raise PhysdiffError(f"dtype: expected a floating-point dtype, got {factory['dtype']}.")
        n_filters = self.out_channels
        per_filter = [p for _ in range(in_channels) for p in derivs]
        target = torch.stack([one_hot_moments(p, self.kernel_size, **factory) for p in per_filter])
        mask = moment_mask(self.kernel_size, order, device=device)
        h = self.spacing or (1.0,) * ndim
        scale = torch.tensor(
            [math.prod(hi ** (-pi) for hi, pi in zip(h, p)) for p in per_filter], **factory
        )
        self.register_buffer("target_moments", target, persistent=False)
        self.register_buffer("constraint_mask", mask, persistent=False)
        self.register_buffer("kernel_scale", scale, persistent=False)
        free_index = torch.nonzero(~mask.reshape(-1)).reshape(-1)
        self.register_buffer("free_index", free_index, persistent=False)

        if mode == "free-moments":
            free = torch.zeros(n_filters, free_index.numel(), **factory)
            if init == "random":
                free.normal_(0.0, init_std)
            self.free_moments = nn.Parameter(free)
        else:
            if init == "exact":
                weight = torch.stack(
                    [derivative_kernel(p, self.kernel_size, exact=False, **factory) for p in per_filter]
                )
            else:
                bound = 1.0 / math.sqrt(math.prod(self.kernel_size))
                weight = torch.empty(n_filters, *self.kernel_size, **factory).uniform_(-bound, bound)
            self.weight = nn.Parameter(weight.unsqueeze(1))

    # -- kernels and moments ------------------------------------------------

    @property
    def num_free_moments(self) -> int:
        """Free (learnable) moments per filter in free-moments mode."""
        return int(self.free_index.numel())

    def grid_moments(self) -> torch.Tensor:
        """Moments ``(out_channels, *kernel_size)`` of the grid-unit kernels (before division by ``h^|p|``)."""
        if self.mode == "free-moments":
            flat = self.target_moments.reshape(self.out_channels, -1)
            flat = flat.index_add(1, self.free_index, self.free_moments)
            return flat.reshape(self.target_moments.shape)
        return kernel_to_moments(self.weight[:, 0], self.ndim)

    def kernel(self, scaled: bool = True) -> torch.Tensor:
        """The conv weight ``(out_channels, 1, *kernel_size)``; ``scaled=False`` gives grid units (no ``1/h^|p|``)."""
        if self.mode == "free-moments":
            k = moments_to_kernel(self.grid_moments(), self.ndim).unsqueeze(1)
        else:
            k = self.weight
        if scaled and self.spacing is not None:
            k = k * self.kernel_scale.reshape((-1,) + (1,) * (self.ndim + 1))
        return k

    def moment_loss(self, reduction: str = "mean") -> torch.Tensor:
        """PhyDNet-style moment loss of the grid-unit kernels over the constrained moments.

        In penalty mode add it (weighted) to the training loss. In free-moments mode it is
        computed the same way and is zero up to rounding (about 1e-30 in float64).
        See :func:`physdiff.operators.moment_loss` for ``reduction``.
        """
        return moment_loss(
            self.kernel(scaled=False), self.target_moments.unsqueeze(1), self.constraint_mask,
            ndim=self.ndim, reduction=reduction,
        )

    # -- forward --------------------------------------------------------------

    def _pad(self) -> list[int]:
        pad: list[int] = []
        for l in reversed(self.kernel_size):
            left = (l - 1) // 2
            pad += [left, l - 1 - left]
        return pad

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """Apply the filters to ``u`` of shape ``(batch, in_channels, *space)``."""
        check_field(u, self.ndim, "u")
        weight = self.kernel()
        if u.shape[1] != self.in_channels:
            raise PhysdiffError(
                f"u: expected {self.in_channels} channels (dim 1), got shape {tuple(u.shape)}. "
                "Build the layer with in_channels matching the field."
            )
        if u.dtype != weight.dtype or u.device != weight.device:
            raise PhysdiffError(
                f"u: dtype/device {u.dtype}/{u.device} differs from the layer's {weight.dtype}/{weight.device}. "
                "Move one of them, e.g. layer.to(u.dtype)."
            )
        space = tuple(u.shape[2:])
        if self.padding != "zeros" and any(n < l for n, l in zip(space, self.kernel_size)):
            raise PhysdiffError(
                f"u: spatial shape {space} is smaller than the kernel {self.kernel_size}; "
                f"padding={self.padding!r} needs at least as many points as kernel entries on every axis."
            )
        if self.padding == "circular":
            u = F.pad(u, self._pad(), mode="circular")
        elif self.padding == "zeros":
            u = F.pad(u, self._pad(), mode="constant", value=0.0)
        return _CONV[self.ndim](u, weight, groups=self.in_channels)

    def extra_repr(self) -> str:
        return (
            f"ndim={self.ndim}, kernel_size={self.kernel_size}, derivatives={list(self.derivatives)}, "
            f"in_channels={self.in_channels}, mode={self.mode!r}, constrained_order={self.constrained_order}, "
            f"free_moments_per_filter={self.num_free_moments if self.mode == 'free-moments' else 'n/a'}, "
            f"spacing={self.spacing}, padding={self.padding!r}"
        )
