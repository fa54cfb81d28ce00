"""Laplacian, biharmonic, gradient and divergence assembled from :class:`FiniteDifference`."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..core import PhysdiffError, check_field, check_ndim
from ._algebra import Operator
from ._finite_difference import FiniteDifference


def _unit(ndim: int, axis: int, order: int) -> tuple[int, ...]:
    return tuple(order if a == axis else 0 for a in range(ndim))


class _Assembled(Operator):
    """An operator defined as an expression of :class:`FiniteDifference` terms."""

    def __init__(self, ndim: int, impl: Operator) -> None:
        super().__init__(ndim)
        self.impl = impl

    def fusable(self) -> Operator | None:
        return self.impl.fusable()

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.impl(u)


class Laplacian(_Assembled):
    """``lap u = sum_i d^2 u / dx_i^2`` to order ``accuracy``.

    Args:
        ndim: number of spatial axes (1, 2 or 3).
        spacing: grid spacing, one float or one per axis (units of length).
        accuracy: order of accuracy; 4 gives PeRCNN's 5-point-per-axis stencil
            (-1/12, 4/3, -5/2, 4/3, -1/12) / h^2.
        boundary: as for :class:`FiniteDifference`.

    On periodic and ghost-cell grids the per-axis terms fuse into one stencil.
    """

    def __init__(self, ndim: int, spacing: float | Sequence[float] = 1.0, accuracy: int = 2, boundary: object = "periodic", *, method: str = "auto") -> None:
        check_ndim(ndim)
        terms = [FiniteDifference(_unit(ndim, a, 2), spacing, accuracy, boundary, method=method) for a in range(ndim)]
        super().__init__(ndim, sum(terms[1:], terms[0]))


class Biharmonic(_Assembled):
    """``lap^2 u = sum_i d^4 u/dx_i^4 + 2 sum_{i<j} d^4 u/dx_i^2 dx_j^2`` to order ``accuracy``.

    Built from direct fourth-derivative stencils rather than ``L * L``: on
    one-sided grids composing the same axis twice would differentiate the
    wall-closure error and lose two orders.
    """

    def __init__(self, ndim: int, spacing: float | Sequence[float] = 1.0, accuracy: int = 2, boundary: object = "periodic", *, method: str = "auto") -> None:
        check_ndim(ndim)
        terms = [FiniteDifference(_unit(ndim, a, 4), spacing, accuracy, boundary, method=method) for a in range(ndim)]
        for i in range(ndim):
            for j in range(i + 1, ndim):
                orders = tuple(2 if a in (i, j) else 0 for a in range(ndim))
                terms.append(2.0 * FiniteDifference(orders, spacing, accuracy, boundary, method=method))
        super().__init__(ndim, sum(terms[1:], terms[0]))


class Gradient(nn.Module):
    """``grad u``: ``(B, C, *space) -> (B, C * ndim, *space)``, channel-major (``c * ndim + i`` is ``d u_c / dx_i``)."""

    def __init__(self, ndim: int, spacing: float | Sequence[float] = 1.0, accuracy: int = 2, boundary: object = "periodic", *, method: str = "auto") -> None:
        super().__init__()
        self.ndim = check_ndim(ndim)
        self.parts = nn.ModuleList(
            FiniteDifference(_unit(ndim, a, 1), spacing, accuracy, boundary, method=method) for a in range(ndim)
        )

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        check_field(u, self.ndim)
        return torch.stack([d(u) for d in self.parts], dim=2).flatten(1, 2)


class Divergence(nn.Module):
    """``div v``: ``(B, C * ndim, *space) -> (B, C, *space)``; the inverse grouping of :class:`Gradient`."""

    def __init__(self, ndim: int, spacing: float | Sequence[float] = 1.0, accuracy: int = 2, boundary: object = "periodic", *, method: str = "auto") -> None:
        super().__init__()
        self.ndim = check_ndim(ndim)
        self.parts = nn.ModuleList(
            FiniteDifference(_unit(ndim, a, 1), spacing, accuracy, boundary, method=method) for a in range(ndim)
        )

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        check_field(v, self.ndim)
        if v.shape[1] % self.ndim:
            raise PhysdiffError(
                f"divergence: expected a vector field with channels divisible by ndim={self.ndim} "
                f"(components of each vector adjacent), got {v.shape[1]} channels. "
                f"Stack the {self.ndim} components of each field along dim 1."
            )
        grouped = v.unflatten(1, (v.shape[1] // self.ndim, self.ndim))
        return sum(d(grouped[:, :, a]) for a, d in enumerate(self.parts))
