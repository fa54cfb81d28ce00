"""The algebra of linear spatial operators: sums, scalar multiples and products.

``A + B``, ``c * A``, ``A - B``, ``-A`` and ``A * B`` (apply ``B`` then ``A``)
build new operators; nothing is mutated. When both sides are stencils on the
same padded grid (periodic, or the same ghost conditions) the result is fused
into a single sparse stencil, so ``D(0)**2 + D(1)**2`` costs one pass like a
hand-written Laplacian. Products fuse only on fully periodic grids: elsewhere
the inner operator's output has no boundary condition of its own, and the
product is applied as two passes.
"""

from __future__ import annotations

from numbers import Real

import torch
from torch import nn

from ..core import PhysdiffError


class Operator(nn.Module):
    """A linear map on fields ``(batch, channels, *space)`` with ``ndim`` spatial axes."""

    def __init__(self, ndim: int) -> None:
        super().__init__()
        self.ndim = ndim

    def fusable(self) -> "Operator | None":
        """The single-stencil operator this operator is, if it is one (then it can fuse)."""
        return None

    def fuse(self, kind: str, other: "Operator | float") -> "Operator | None":
        """Fused result of ``kind`` in ``"sum"``, ``"scale"``, ``"product"``, or None if it cannot fuse."""
        single = self.fusable()
        return None if single is None or single is self else single.fuse(kind, other)

    def _check_compatible(self, other: "Operator", op: str) -> None:
        if other.ndim != self.ndim:
            raise PhysdiffError(
                f"operator {op}: both operators must act on the same number of spatial axes, "
                f"got {self.ndim} and {other.ndim}."
            )

    def __add__(self, other: object) -> "Operator":
        if not isinstance(other, Operator):
            return NotImplemented
        self._check_compatible(other, "+")
        fused = self.fuse("sum", other)
        return SumOperator([self, other]) if fused is None else fused

    def __radd__(self, other: object) -> "Operator":
        if isinstance(other, Real) and other == 0:  # lets sum([...]) work
            return self
        return NotImplemented

    def __neg__(self) -> "Operator":
        return self * -1.0

    def __sub__(self, other: object) -> "Operator":
        if not isinstance(other, Operator):
            return NotImplemented
        return self + (-other)

    def __mul__(self, other: object) -> "Operator":
        if isinstance(other, Real):
            fused = self.fuse("scale", float(other))
            return ScaledOperator(self, float(other)) if fused is None else fused
        if isinstance(other, Operator):
            self._check_compatible(other, "*")
            fused = self.fuse("product", other)
            return ProductOperator(self, other) if fused is None else fused
        return NotImplemented

    def __rmul__(self, other: object) -> "Operator":
        if isinstance(other, Real):
            return self.__mul__(other)
        return NotImplemented

    def __pow__(self, power: int) -> "Operator":
        if not isinstance(power, int) or power < 1:
            raise PhysdiffError(f"operator power: expected an integer >= 1, got {power!r}.")
        result = self
        for _ in range(power - 1):
            result = result * self
        return result


class SumOperator(Operator):
    """``(A + B + ...) u``."""

    def __init__(self, terms: list[Operator]) -> None:
        super().__init__(terms[0].ndim)
        self.terms = nn.ModuleList(terms)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        result = self.terms[0](u)
        for term in self.terms[1:]:
            result = result + term(u)
        return result


class ScaledOperator(Operator):
    """``c * A u``."""

    def __init__(self, operator: Operator, factor: float) -> None:
        super().__init__(operator.ndim)
        self.operator = operator
        self.factor = factor

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.factor * self.operator(u)

    def extra_repr(self) -> str:
        return f"factor={self.factor}"


class ProductOperator(Operator):
    """``A (B u)``: apply ``inner`` first, then ``outer``."""

    def __init__(self, outer: Operator, inner: Operator) -> None:
        super().__init__(outer.ndim)
        self.outer = outer
        self.inner = inner

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return self.outer(self.inner(u))
