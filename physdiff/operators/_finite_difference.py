"""Finite-difference derivatives of fields ``(batch, channels, *space)`` in 1D, 2D and 3D.

``FiniteDifference(derivative=(d_0, ..., d_{n-1}), spacing, accuracy, boundary)``
approximates ``prod_i (d/dx_i)^(d_i) u`` to order ``accuracy`` in the grid
spacing, as the product of exact 1D stencils along each axis. Axes with
periodic or ghost-cell (Dirichlet/Neumann) boundaries share one padded pass;
axes with one-sided boundaries get their own pass with wall closures.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import torch
import torch.nn.functional as F

from ..core import PhysdiffError, as_spacing, check_field, check_ndim
from ._algebra import Operator
from ._boundary import (
    Boundary,
    OneSided,
    Periodic,
    as_boundaries,
    ghost_pad,
    one_sided_closure,
)
from ._compiled_stencil import compiled_periodic_stencil
from ._sparse_kernel import METHODS, SparseKernel
from ._stencil import Stencil, _check_accuracy


#: Smallest stencil for which ``method="auto"`` compiles. Measured (benchmarks/laplacian.py,
#: 2-core EPYC): the 5-point 2D Laplacian runs as fast as eager shifted sums when compiled,
#: the 7-point 3D one 1.4x faster, 9 points and more 1.5-2x faster.
COMPILE_MIN_POINTS = 7


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise PhysdiffError(f"method: expected one of {METHODS}, got {method!r}.")
    return method


class StencilOperator(Operator):
    """One sparse stencil on a grid padded per axis: periodic wrap or ghost cells.

    Args:
        kernel: the stencil, weights already divided by the spacing powers.
        boundaries: per axis, :class:`Periodic`, :class:`Dirichlet` or :class:`Neumann`.
        spacing: grid spacing per axis (Neumann ghosts need it).
        ghost_points: per axis, interior samples the ghost polynomial uses.
        method: ``"shift"`` (sum of shifted slices), ``"conv"``, ``"compiled"`` (periodic grids:
            one ``torch.compile``d loop) or ``"auto"``.
    """

    def __init__(
        self,
        kernel: SparseKernel,
        boundaries: tuple[Boundary, ...],
        spacing: tuple[float, ...],
        ghost_points: tuple[int, ...],
        method: str = "auto",
    ) -> None:
        super().__init__(kernel.ndim)
        if any(isinstance(b, OneSided) for b in boundaries):
            raise PhysdiffError("StencilOperator: one-sided axes need OneSidedDerivative, not a padded stencil.")
        self.kernel = kernel
        self.boundaries = boundaries
        self.spacing = spacing
        self.ghost_points = ghost_points
        self.method = _check_method(method)

    # ------------------------------------------------------------------ algebra
    def fusable(self) -> "StencilOperator":
        return self

    def _with_kernel(self, kernel: SparseKernel, ghost_points: tuple[int, ...] | None = None) -> "StencilOperator":
        return StencilOperator(kernel, self.boundaries, self.spacing, ghost_points or self.ghost_points, self.method)

    def fuse(self, kind: str, other: "Operator | float") -> "StencilOperator | None":
        if kind == "scale":
            return self._with_kernel(self.kernel.scale(other))
        partner = other.fusable()
        if not isinstance(partner, StencilOperator) or partner.boundaries != self.boundaries:
            return None
        ghosts = tuple(max(a, b) for a, b in zip(self.ghost_points, partner.ghost_points))
        if kind == "sum":
            return self._with_kernel(self.kernel + partner.kernel, ghosts)
        if kind == "product" and all(isinstance(b, Periodic) for b in self.boundaries):
            return self._with_kernel(self.kernel.compose(partner.kernel), ghosts)
        return None

    # -------------------------------------------------------------- application
    def forward(self, u: torch.Tensor) -> torch.Tensor:
        check_field(u, self.ndim)
        pads = self.kernel.pad_widths
        for axis, (lo, hi) in enumerate(pads):
            # Ghost axes check their own minimum size in ghost_pad.
            if isinstance(self.boundaries[axis], Periodic) and u.shape[2 + axis] < lo + hi + 1:
                raise PhysdiffError(
                    f"grid: the stencil spans {lo + hi + 1} samples along axis {axis}, but the input has "
                    f"only {u.shape[2 + axis]} (shape {tuple(u.shape)}). Use a finer grid or a lower accuracy."
                )
        if self._all_periodic and self.method in ("auto", "compiled"):
            fast = self._compiled(u)
            if fast is not None:
                return fast
        padded = self._pad_periodic(u, pads)
        for axis, boundary in enumerate(self.boundaries):
            if not isinstance(boundary, Periodic):
                width = max(pads[axis])
                padded = ghost_pad(padded, axis, boundary, width, self.ghost_points[axis], self.spacing[axis])
                # ghost_pad is symmetric; trim the side the stencil does not reach.
                lo, hi = pads[axis]
                padded = padded.narrow(2 + axis, width - lo, padded.shape[2 + axis] - (width - lo) - (width - hi))
        return self.kernel.apply_valid(padded, self.method)

    @property
    def _all_periodic(self) -> bool:
        return all(isinstance(b, Periodic) for b in self.boundaries)

    def _compiled(self, u: torch.Tensor) -> torch.Tensor | None:
        """The compiled periodic route, or None (not wanted yet, gradients needed, or unavailable).

        ``"auto"`` uses it only on the CPU without gradients, for stencils of at least
        ``COMPILE_MIN_POINTS`` points, after about 1e9 elements of work per grid shape
        (compilation costs seconds; see ``_compiled_stencil``); ``"compiled"`` uses it at once
        wherever compilation works.
        """
        if self.method == "auto" and (
            u.is_cuda
            or (torch.is_grad_enabled() and u.requires_grad)
            or len(self.kernel.points) < COMPILE_MIN_POINTS
        ):
            return None
        kernel = compiled_periodic_stencil(self.kernel)
        key = (tuple(u.shape), u.dtype, u.device.type)
        if not kernel.wants(key, u.numel(), force=self.method == "compiled"):
            return None
        return kernel.run(key, u)

    def _pad_periodic(self, u: torch.Tensor, pads: tuple[tuple[int, int], ...]) -> torch.Tensor:
        widths: list[int] = []
        for axis in reversed(range(self.ndim)):  # F.pad lists the last axis first
            periodic = isinstance(self.boundaries[axis], Periodic)
            widths += list(pads[axis]) if periodic else [0, 0]
        return F.pad(u, widths, mode="circular") if any(widths) else u

    def extra_repr(self) -> str:
        return f"points={len(self.kernel.points)}, boundaries={self.boundaries}, method={self.method!r}"


class OneSidedDerivative(Operator):
    """``(d/dx_axis)^derivative`` with one-sided wall closures of the interior accuracy (node grid)."""

    def __init__(self, ndim: int, axis: int, derivative: int, spacing: float, accuracy: int, method: str = "auto") -> None:
        super().__init__(ndim)
        self.axis = axis
        self.method = _check_method(method)
        interior = Stencil.central(derivative, accuracy)
        scale = spacing**derivative
        self.kernel = SparseKernel.along_axis(interior.integer_offsets(), interior.float_weights(spacing), axis, ndim)
        low, high = _closure_matrices(interior, accuracy)
        self.register_buffer("low", low / scale, persistent=False)
        self.register_buffer("high", high / scale, persistent=False)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        check_field(u, self.ndim)
        dim = 2 + self.axis
        size, width = u.shape[dim], max(self.low.shape[1], sum(self.kernel.pad_widths[self.axis]) + 1)
        if size < width:
            raise PhysdiffError(
                f"grid: the one-sided closure on axis {self.axis} needs at least {width} samples, got "
                f"{size} (shape {tuple(u.shape)}). Use a finer grid or a lower accuracy."
            )
        interior = self.kernel.apply_valid(u, self.method)
        if self.low.shape[0] == 0:
            return interior
        parts = []
        for matrix, start in ((self.low, 0), (self.high, size - self.low.shape[1])):
            window = u.narrow(dim, start, matrix.shape[1]).movedim(dim, -1)
            parts.append(torch.matmul(window, matrix.to(u.dtype).T).movedim(-1, dim))
        return torch.cat([parts[0], interior, parts[1]], dim=dim)

    def extra_repr(self) -> str:
        return f"axis={self.axis}, closure_rows={self.low.shape[0]}"


@lru_cache(maxsize=256)
def _closure_matrices(interior: Stencil, accuracy: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Dense float64 closure matrices over the first / last ``W`` samples (unit spacing)."""
    rows = one_sided_closure(interior, accuracy)
    width = max((len(offsets) for offsets, _ in rows), default=0)
    low = torch.zeros(len(rows), width, dtype=torch.float64)
    high = torch.zeros(len(rows), width, dtype=torch.float64)
    sign = (-1.0) ** interior.derivative
    for i, (offsets, weights) in enumerate(rows):
        for offset, weight in zip(offsets, weights):
            low[i, i + offset] = weight
            # Mirror image at the upper wall: point N-1-i, offset -o, weight (-1)^d w.
            high[len(rows) - 1 - i, width - 1 - i - offset] = sign * weight
    return low, high


def derivative_operator(
    orders: tuple[int, ...],
    spacing: tuple[float, ...],
    accuracy: int,
    boundaries: tuple[Boundary, ...],
    method: str = "auto",
) -> Operator:
    """Build ``prod_i (d/dx_i)^(orders[i])``: one padded pass plus one pass per one-sided axis."""
    ndim = len(orders)
    padded_axes = [a for a in range(ndim) if orders[a] > 0 and not isinstance(boundaries[a], OneSided)]
    one_sided_axes = [a for a in range(ndim) if orders[a] > 0 and isinstance(boundaries[a], OneSided)]
    # The padded part pads with the boundary data of ``u`` itself, so it must run first.
    padded_boundaries = tuple(Periodic() if isinstance(b, OneSided) else b for b in boundaries)
    kernel = SparseKernel.from_mapping({(0,) * ndim: 1.0}, ndim)
    for axis in padded_axes:
        stencil = Stencil.central(orders[axis], accuracy)
        kernel = kernel.compose(SparseKernel.along_axis(stencil.integer_offsets(), stencil.float_weights(spacing[axis]), axis, ndim))
    ghosts = tuple(accuracy + orders[a] - 1 for a in range(ndim))
    operator: Operator | None = None
    if padded_axes or not one_sided_axes:
        operator = StencilOperator(kernel, padded_boundaries, spacing, ghosts, method)
    for axis in one_sided_axes:
        outer = OneSidedDerivative(ndim, axis, orders[axis], spacing[axis], accuracy, method)
        operator = outer if operator is None else outer * operator
    return operator


class FiniteDifference(Operator):
    """Exact-stencil finite-difference derivative ``prod_i (d/dx_i)^(d_i) u``.

    Args:
        derivative: orders per spatial axis, e.g. ``(1, 0)`` for ``d/dx_0`` in 2D,
            ``(1, 1)`` for the mixed ``d^2/dx_0 dx_1``; an int means 1D.
        spacing: grid spacing, one float for all axes or one per axis.
        accuracy: order of accuracy in the spacing (central stencils round an odd
            order up to the next even one).
        boundary: ``"periodic"``, ``"one-sided"``, ``Dirichlet(low, high)``,
            ``Neumann(low, high)``, or a sequence with one per axis.
        method: ``"auto"``, ``"shift"``, ``"conv"`` (see ``SparseKernel``) or ``"compiled"``
            (periodic grids; see ``_compiled_stencil``). ``"auto"`` runs shifted sums on the CPU
            and compiles a periodic stencil of 7+ points once a grid shape has done about 1e9
            elements of work without gradients.

    Example:
        >>> import torch
        >>> from physdiff.operators import FiniteDifference
        >>> d_dx = FiniteDifference(derivative=(1,), spacing=0.1, accuracy=4)
        >>> d_dx(torch.zeros(2, 1, 32)).shape
        torch.Size([2, 1, 32])
    """

    def __init__(
        self,
        derivative: Sequence[int] | int,
        spacing: float | Sequence[float] = 1.0,
        accuracy: int = 2,
        boundary: object = "periodic",
        *,
        method: str = "auto",
    ) -> None:
        orders = (derivative,) if isinstance(derivative, int) else tuple(derivative)
        ndim = check_ndim(len(orders))
        super().__init__(ndim)
        for order in orders:
            if isinstance(order, bool) or not isinstance(order, int) or order < 0:
                raise PhysdiffError(f"derivative: expected non-negative integer orders per axis, got {tuple(orders)!r}.")
        _check_accuracy(accuracy)
        self.orders = orders
        self.accuracy = accuracy
        self.impl = derivative_operator(orders, as_spacing(spacing, ndim), accuracy, as_boundaries(boundary, ndim), method)

    def fusable(self) -> Operator | None:
        return self.impl.fusable()

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.impl(u)

    def extra_repr(self) -> str:
        return f"derivative={self.orders}, accuracy={self.accuracy}"
