"""Moment matrices of convolution kernels: exact and float K2M / M2K in 1, 2 and 3 dimensions.

Conventions (shared with the rest of physdiff):

* a kernel of size ``(l_0, ..., l_{n-1})`` acts by cross-correlation,
  ``(k * u)(x) = sum_a k[a] u(x + (a - c) h)``, with the centre
  ``c_i = (l_i - 1) // 2`` on every axis (for an even ``l_i`` the kernel
  reaches one point further to the right than to the left, as in PhyDNet);
* the per-axis moment matrix is ``M_i[p, a] = (a - c_i)^p / p!`` for
  ``p, a < l_i`` (the exact Taylor matrix of :mod:`._taylor` on the centred
  offsets), and the moments of ``k`` are
  ``m[p, q, ...] = sum_{a, b, ...} M_0[p, a] M_1[q, b] ... k[a, b, ...]``
  (K2M); M2K applies the inverse matrices the same way;
* Taylor expansion gives ``k * u = sum_{p, q, ...} m[p, q, ...] h^(p + q + ...)
  d_0^p d_1^q ... u`` (no sign flip), so a kernel whose moments are one-hot at
  ``(p, q, ...)`` approximates ``h^(p + q + ...) d_0^p d_1^q ... u``.

sympy and numpy are imported lazily (importing physdiff stays cheap).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

import torch

from ..core import PhysdiffError
from ._taylor import as_exact, taylor_matrix

if TYPE_CHECKING:  # pragma: no cover
    import sympy

__all__ = [
    "DerivativeMatch",
    "derivative_kernel",
    "identify_derivative",
    "inverse_moment_matrix",
    "kernel_to_moments",
    "kernel_to_moments_exact",
    "moment_loss",
    "moment_mask",
    "moment_matrix",
    "moments_to_kernel",
    "moments_to_kernel_exact",
    "one_hot_moments",
]


# ---------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------


def _check_size(size: object, what: str = "size") -> int:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise PhysdiffError(
            f"{what}: expected a positive int (number of kernel points along one axis), got {size!r}. "
            "Kernel sizes may be odd (centred) or even (centre at (l - 1) // 2)."
        )
    return size


def _as_kernel_size(kernel_size: object, ndim: int | None, what: str = "kernel_size") -> tuple[int, ...]:
    """``kernel_size`` as a tuple of ``ndim`` positive ints (an int is repeated)."""
    if isinstance(kernel_size, int) and not isinstance(kernel_size, bool):
        if ndim is None:
            raise PhysdiffError(f"{what}: got the single int {kernel_size}; pass a tuple with one size per axis.")
        return (_check_size(kernel_size, what),) * ndim
    try:
        sizes = tuple(kernel_size)  # type: ignore[arg-type]
    except TypeError:
        raise PhysdiffError(
            f"{what}: expected an int or a tuple of ints (one per spatial axis), got {kernel_size!r}."
        ) from None
    if ndim is not None and len(sizes) != ndim:
        raise PhysdiffError(
            f"{what}: expected {ndim} sizes (one per spatial axis), got {len(sizes)}: {sizes}. "
            "Give one kernel size per spatial axis, or a single int for a cubic kernel."
        )
    if not 1 <= len(sizes) <= 3:
        raise PhysdiffError(f"{what}: expected 1, 2 or 3 sizes (spatial axes), got {len(sizes)}: {sizes}.")
    return tuple(_check_size(s, what) for s in sizes)


def _as_derivative(derivative: object, ndim: int | None = None) -> tuple[int, ...]:
    if isinstance(derivative, int) and not isinstance(derivative, bool):
        derivative = (derivative,)
    try:
        orders = tuple(derivative)  # type: ignore[arg-type]
    except TypeError:
        raise PhysdiffError(
            f"derivative: expected a tuple of non-negative ints (one order per spatial axis), got {derivative!r}."
        ) from None
    if not 1 <= len(orders) <= 3 or any(isinstance(p, bool) or not isinstance(p, int) or p < 0 for p in orders):
        raise PhysdiffError(
            f"derivative: expected 1 to 3 non-negative int orders such as (2, 0) for d^2/dx0^2, got {derivative!r}."
        )
    if ndim is not None and len(orders) != ndim:
        raise PhysdiffError(
            f"derivative: expected {ndim} orders (one per spatial axis), got {len(orders)}: {orders}. "
            f"Write e.g. {(1,) + (0,) * (ndim - 1)} for the first derivative along axis 0."
        )
    return orders


def _check_orders_fit(orders: tuple[int, ...], sizes: tuple[int, ...]) -> None:
    for axis, (p, l) in enumerate(zip(orders, sizes)):
        if p >= l:
            raise PhysdiffError(
                f"derivative: order {p} on axis {axis} needs at least {p + 1} kernel points on that axis, "
                f"got kernel size {l} (orders must be < size: a size-{l} axis has moments 0..{l - 1}). "
                f"Use kernel_size >= {p + 1} on axis {axis}."
            )


def _resolve_ndim(t: torch.Tensor, ndim: int | None, what: str) -> int:
    if not isinstance(t, torch.Tensor):
        raise PhysdiffError(f"{what}: expected a torch.Tensor, got {type(t).__name__}.")
    if ndim is None:
        if not 1 <= t.dim() <= 3:
            raise PhysdiffError(
                f"{what}: with ndim=None every dimension is a kernel axis, so 1 to 3 dims are expected; "
                f"got shape {tuple(t.shape)}. For a conv weight (out, in, *kernel) pass ndim=len(kernel)."
            )
        return t.dim()
    if isinstance(ndim, bool) or not isinstance(ndim, int) or ndim not in (1, 2, 3):
        raise PhysdiffError(f"ndim: expected 1, 2 or 3 spatial dimensions, got {ndim!r}.")
    if t.dim() < ndim:
        raise PhysdiffError(
            f"{what}: expected at least {ndim} dims (the trailing {ndim} are the kernel axes), "
            f"got shape {tuple(t.shape)}."
        )
    if any(s < 1 for s in t.shape[t.dim() - ndim :]):
        raise PhysdiffError(f"{what}: kernel axes must be non-empty, got shape {tuple(t.shape)}.")
    return ndim


# ---------------------------------------------------------------------------
# exact matrices
# ---------------------------------------------------------------------------


def _offsets(size: int) -> list[int]:
    centre = (size - 1) // 2
    return [j - centre for j in range(size)]


@lru_cache(maxsize=64)
def _exact_pair(size: int) -> tuple["sympy.ImmutableMatrix", "sympy.ImmutableMatrix"]:
    import sympy

    m = sympy.ImmutableMatrix(taylor_matrix(_offsets(size), size))
    return m, sympy.ImmutableMatrix(m.inv())


def moment_matrix(size: int) -> "sympy.Matrix":
    """Exact ``size x size`` moment matrix ``M[p, a] = (a - c)^p / p!`` with ``c = (size - 1) // 2``.

    ``M @ w`` are the moments of the 1D weights ``w`` (K2M in 1D).

    >>> moment_matrix(3)
    Matrix([
    [  1, 1,   1],
    [ -1, 0,   1],
    [1/2, 0, 1/2]])
    """
    import sympy

    return sympy.Matrix(_exact_pair(_check_size(size))[0])


def inverse_moment_matrix(size: int) -> "sympy.Matrix":
    """Exact inverse of :func:`moment_matrix` (M2K in 1D); column ``p`` is the size-point stencil of ``d^p``."""
    import sympy

    return sympy.Matrix(_exact_pair(_check_size(size))[1])


@lru_cache(maxsize=64)
def _float_pair(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """float64 master matrices (rounded once from the exact Rationals), on the CPU."""
    m, minv = _exact_pair(size)
    to_t = lambda a: torch.tensor([[float(a[i, j]) for j in range(size)] for i in range(size)], dtype=torch.float64)  # noqa: E731
    return to_t(m), to_t(minv)


def _apply_axes(t: torch.Tensor, ndim: int, inverse: bool) -> torch.Tensor:
    for i in range(ndim):
        d = t.dim() - ndim + i
        size = t.shape[d]
        mat = _float_pair(size)[1 if inverse else 0].to(device=t.device, dtype=t.dtype)
        t = torch.movedim(torch.matmul(torch.movedim(t, d, -1), mat.T), -1, d)
    return t


def kernel_to_moments(kernel: torch.Tensor, ndim: int | None = None) -> torch.Tensor:
    """K2M: moments ``m[..., p, q] = sum_{a, b} M_0[p, a] M_1[q, b] kernel[..., a, b]``.

    Args:
        kernel: floating tensor ``(*leading, *kernel_size)``; e.g. a conv weight ``(out, in, kh, kw)``.
        ndim: number of trailing kernel axes (1 to 3). ``None`` treats every dimension as a
            kernel axis (the tensor must then have 1 to 3 dims).

    The float64 master matrices are cast to the kernel's dtype and device; autograd flows through.
    """
    ndim = _resolve_ndim(kernel, ndim, "kernel")
    if not kernel.is_floating_point():
        raise PhysdiffError(f"kernel: expected a floating-point tensor, got dtype {kernel.dtype}. Use kernel.double().")
    return _apply_axes(kernel, ndim, inverse=False)


def moments_to_kernel(moments: torch.Tensor, ndim: int | None = None) -> torch.Tensor:
    """M2K: the kernel whose moments are ``moments`` (inverse of :func:`kernel_to_moments`)."""
    ndim = _resolve_ndim(moments, ndim, "moments")
    if not moments.is_floating_point():
        raise PhysdiffError(
            f"moments: expected a floating-point tensor, got dtype {moments.dtype}. Use moments.double()."
        )
    return _apply_axes(moments, ndim, inverse=True)


# ---------------------------------------------------------------------------
# exact (sympy) K2M / M2K
# ---------------------------------------------------------------------------


def _to_object_array(values: object, what: str):
    import numpy as np
    import sympy

    if isinstance(values, torch.Tensor):
        values = values.tolist()
    try:
        arr = sympy.Array(values)
    except (ValueError, TypeError) as exc:
        raise PhysdiffError(
            f"{what}: expected a rectangular nested list, sympy Array/Matrix or numpy array of numbers, "
            f"got {type(values).__name__} ({exc})."
        ) from None
    shape = tuple(arr.shape)
    if not 1 <= len(shape) <= 3 or any(s < 1 for s in shape):
        raise PhysdiffError(
            f"{what}: expected a non-empty array with 1 to 3 axes (the kernel axes), got shape {shape}."
        )
    # sympy.Array turns Python floats into sympy Floats; read them back as floats
    # (exact round trip) so as_exact takes their shortest decimal form.
    flat = [
        as_exact(float(v) if isinstance(v, sympy.Float) else v, what=f"{what} entry")
        for v in sympy.flatten(arr.tolist())
    ]
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(shape)


def _apply_exact(values: object, what: str, inverse: bool) -> "sympy.Array":
    import numpy as np
    import sympy

    arr = _to_object_array(values, what)
    for axis, size in enumerate(arr.shape):
        m = _exact_pair(size)[1 if inverse else 0]
        mat = np.empty((size, size), dtype=object)
        for i in range(size):
            for j in range(size):
                mat[i, j] = m[i, j]
        arr = np.moveaxis(np.tensordot(mat, arr, axes=([1], [axis])), 0, axis)
    return sympy.Array([sympy.sympify(v) for v in arr.reshape(-1)], arr.shape)


def kernel_to_moments_exact(kernel: object) -> "sympy.Array":
    """Exact K2M of a kernel given as a nested list / sympy Array / sympy Matrix (1 to 3 axes).

    Entries are read exactly (floats through their shortest decimal form); the
    result is a sympy ``ImmutableDenseNDimArray`` of Rationals, same shape.
    """
    return _apply_exact(kernel, "kernel", inverse=False)


def moments_to_kernel_exact(moments: object) -> "sympy.Array":
    """Exact M2K: the kernel (sympy Array of Rationals) whose moments are ``moments``."""
    return _apply_exact(moments, "moments", inverse=True)


# ---------------------------------------------------------------------------
# derivative kernels, targets and masks
# ---------------------------------------------------------------------------


def derivative_kernel(
    derivative: Sequence[int] | int,
    kernel_size: Sequence[int] | int,
    exact: bool = True,
    *,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
):
    """The kernel whose moments are one-hot at ``derivative`` over the whole ``kernel_size`` block.

    It is M2K of the one-hot moment tensor: the highest-accuracy kernel of that
    size for ``h^|p| d^p u`` (divide by ``h^|p|`` for the derivative itself). It is
    the tensor product of the 1D ``l_i``-point stencils of ``d^{p_i}`` along each axis.

    Args:
        derivative: orders ``(p_0, ..., p_{n-1})``; each ``p_i < kernel_size[i]``.
        kernel_size: one size per axis, or an int for a cubic kernel.
        exact: return a sympy Array of Rationals (default) or a torch tensor.
        dtype, device: of the torch tensor when ``exact=False`` (rounded once from the exact kernel).
    """
    orders = _as_derivative(derivative)
    sizes = _as_kernel_size(kernel_size, len(orders))
    _check_orders_fit(orders, sizes)
    import numpy as np
    import sympy

    arr = np.empty((), dtype=object)
    arr[()] = sympy.Integer(1)
    for p, l in zip(orders, sizes):
        col = _exact_pair(l)[1][:, p]
        vec = np.empty(l, dtype=object)
        vec[:] = list(col)
        arr = np.multiply.outer(arr, vec)
    result = sympy.Array(list(arr.reshape(-1)), sizes)
    if exact:
        return result
    return torch.tensor([float(v) for v in arr.reshape(-1)], dtype=dtype, device=device).reshape(sizes)


def one_hot_moments(
    derivative: Sequence[int] | int,
    kernel_size: Sequence[int] | int,
    *,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Moment tensor of shape ``kernel_size`` with a 1 at ``derivative`` and 0 elsewhere (a K2M target)."""
    orders = _as_derivative(derivative)
    sizes = _as_kernel_size(kernel_size, len(orders))
    _check_orders_fit(orders, sizes)
    out = torch.zeros(sizes, dtype=dtype, device=device)
    out[orders] = 1
    return out


def moment_mask(
    kernel_size: Sequence[int],
    constrained_order: int | str | None = None,
    *,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Boolean mask over the moments ``(p, q, ...)`` of a ``kernel_size`` kernel: ``p + q + ... <= constrained_order``.

    ``constrained_order=None`` uses the default ``min(kernel_size) - 1`` (the
    constrained block then controls the same truncation order as the full one-hot
    kernel: the first uncontrolled moments have total order ``min(kernel_size)``).
    ``"all"`` marks every moment.
    """
    sizes = _as_kernel_size(kernel_size, None)
    order = _resolve_constrained_order(constrained_order, sizes)
    grids = torch.meshgrid(*[torch.arange(l, device=device) for l in sizes], indexing="ij")
    total = sum(grids)
    return total <= order


def _resolve_constrained_order(constrained_order: int | str | None, sizes: tuple[int, ...]) -> int:
    if constrained_order is None:
        return min(sizes) - 1
    if constrained_order == "all":
        return sum(l - 1 for l in sizes)
    if isinstance(constrained_order, bool) or not isinstance(constrained_order, int) or constrained_order < 0:
        raise PhysdiffError(
            f"constrained_order: expected None (default min(kernel_size) - 1), 'all', or a non-negative int "
            f"(the highest constrained total moment order), got {constrained_order!r}."
        )
    return constrained_order


# ---------------------------------------------------------------------------
# penalty loss and read-back
# ---------------------------------------------------------------------------

_REDUCTIONS = ("mean", "sum", "phydnet")


def moment_loss(
    weight: torch.Tensor,
    targets: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    ndim: int | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Squared error between the moments of ``weight`` and ``targets`` over the constrained entries.

    The moments are ``kernel_to_moments(weight.double(), ndim)`` (computed in float64
    whatever the weight's dtype); the loss is returned in ``weight.dtype``.

    Args:
        weight: ``(*leading, *kernel_size)``, e.g. a conv weight ``(out, in, kh, kw)`` with ``ndim=2``.
        targets: target moments, broadcastable to ``weight.shape`` (e.g. :func:`one_hot_moments`).
        mask: boolean, broadcastable to ``weight.shape``; True marks a constrained moment
            (e.g. :func:`moment_mask`). ``None`` constrains every moment.
        ndim: number of trailing kernel axes; ``None`` means every dim of ``weight`` is a kernel axis.
        reduction: ``"mean"`` (mean squared error over every constrained entry of every filter),
            ``"sum"`` (sum of squared errors), or ``"phydnet"`` (mean over each filter's constrained
            moments, summed over the leading filter indices, PhyDNet's sum of per-channel MSEs).
    """
    ndim = _resolve_ndim(weight, ndim, "weight")
    if not weight.is_floating_point():
        raise PhysdiffError(f"weight: expected a floating-point tensor, got dtype {weight.dtype}.")
    if reduction not in _REDUCTIONS:
        raise PhysdiffError(f"reduction: expected one of {_REDUCTIONS}, got {reduction!r}.")
    moments = kernel_to_moments(weight.double(), ndim)
    if not isinstance(targets, torch.Tensor):
        raise PhysdiffError(f"targets: expected a torch.Tensor of target moments, got {type(targets).__name__}.")
    try:
        shape = torch.broadcast_shapes(moments.shape, targets.shape)
        if mask is not None:
            if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
                raise PhysdiffError(
                    f"mask: expected a boolean torch.Tensor (True = constrained moment), got "
                    f"{type(mask).__name__}{'' if not isinstance(mask, torch.Tensor) else ' of dtype ' + str(mask.dtype)}. "
                    "Build one with moment_mask(kernel_size, constrained_order)."
                )
            shape = torch.broadcast_shapes(shape, mask.shape)
    except RuntimeError:
        raise PhysdiffError(
            f"moment_loss: weight moments {tuple(moments.shape)}, targets {tuple(targets.shape)} and mask "
            f"{None if mask is None else tuple(mask.shape)} do not broadcast. Targets and mask must match the "
            "trailing kernel shape (or the whole weight shape)."
        ) from None
    if tuple(shape) != tuple(moments.shape):
        raise PhysdiffError(
            f"moment_loss: targets {tuple(targets.shape)} / mask {None if mask is None else tuple(mask.shape)} "
            f"would broadcast the weight moments {tuple(moments.shape)} to {tuple(shape)}; they must fit inside "
            "the weight shape (check kernel_size and ndim)."
        )
    diff2 = (moments - targets.to(device=moments.device, dtype=torch.float64)) ** 2
    weights = torch.ones_like(diff2) if mask is None else mask.to(diff2.device).expand_as(diff2).to(torch.float64)
    diff2 = diff2 * weights
    if reduction == "sum":
        loss = diff2.sum()
    elif reduction == "mean":
        loss = diff2.sum() / weights.sum().clamp_min(1.0)
    else:
        dims = tuple(range(diff2.dim() - ndim, diff2.dim()))
        loss = (diff2.sum(dim=dims) / weights.sum(dim=dims).clamp_min(1.0)).sum()
    return loss.to(weight.dtype)


@dataclass(frozen=True)
class DerivativeMatch:
    """What :func:`identify_derivative` read off a kernel.

    Attributes:
        derivative: orders ``(p, q, ...)`` of the dominant constrained moment.
        scale: that moment's value (the kernel approximates ``scale * h^|p| d^p``;
            a kernel already divided by ``h^|p|`` reports ``scale ~ h^-|p|``).
        residual: largest magnitude of the other constrained moments relative to ``|scale|``.
        matched: ``residual <= tol``.
        moments: the float64 moment tensor of the kernel.
    """

    derivative: tuple[int, ...]
    scale: float
    residual: float
    matched: bool
    moments: torch.Tensor = field(repr=False, compare=False)


def identify_derivative(
    kernel: torch.Tensor,
    tol: float = 1e-2,
    *,
    ndim: int | None = None,
    constrained_order: int | str | None = "all",
) -> DerivativeMatch:
    """Read back which derivative a (learned) kernel approximates.

    The constrained moments are those of total order ``<= constrained_order``
    (``"all"``, the default, uses every moment; pass the order a
    :class:`MomentConv` was built with to ignore its free higher moments). The
    dominant constrained moment gives the derivative and the scale; the residual
    is the largest other constrained moment relative to it.

    Args:
        kernel: one kernel of shape ``kernel_size`` (squeeze conv weights first).
        tol: relative residual under which ``matched`` is True.
    """
    ndim = _resolve_ndim(kernel, ndim, "kernel")
    if kernel.dim() != ndim:
        raise PhysdiffError(
            f"kernel: expected a single kernel with {ndim} axes, got shape {tuple(kernel.shape)}. "
            "Pass weight[i, j] for one filter of a conv weight."
        )
    if not (isinstance(tol, (int, float)) and not isinstance(tol, bool) and tol >= 0 and math.isfinite(tol)):
        raise PhysdiffError(f"tol: expected a finite non-negative float, got {tol!r}.")
    moments = kernel_to_moments(kernel.detach().double().cpu(), ndim)
    if not torch.isfinite(moments).all():
        raise PhysdiffError("kernel: contains NaN or infinite entries; no derivative can be identified.")
    mask = moment_mask(tuple(kernel.shape), constrained_order)
    vals = torch.where(mask, moments.abs(), torch.zeros_like(moments))
    flat = int(torch.argmax(vals))
    index = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), moments.shape))
    scale = float(moments[index])
    if scale == 0.0:
        raise PhysdiffError(
            "kernel: every constrained moment is zero, so it approximates no derivative. "
            "Check the kernel, or lower constrained_order."
        )
    others = vals.clone()
    others[index] = 0.0
    residual = float(others.max()) / abs(scale)
    return DerivativeMatch(index, scale, residual, residual <= tol, moments)
