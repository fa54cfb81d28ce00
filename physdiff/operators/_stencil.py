"""Exact one-dimensional finite-difference stencils from the Taylor (moment) system.

A stencil approximates the ``d``-th derivative at ``x`` from samples at
``x + s_j h``:

    u^(d)(x) ~= h^-d * sum_j w_j u(x + s_j h).

Expanding every sample in a Taylor series gives ``sum_j w_j u(x + s_j h) =
sum_k h^k M_k u^(k)(x)`` with the moments ``M_k = sum_j w_j s_j^k / k!``. The
weights solve the square Vandermonde system ``M_k = delta_kd`` for
``k = 0 .. n-1`` (``n`` offsets), exactly, in sympy rationals. The truncation
error is then ``h^(K-d) M_K u^(K)(x) + ...`` where ``K`` is the first moment
index ``>= n`` whose moment does not vanish, so the achieved accuracy order is
``K - d``; it is computed, never assumed (symmetric stencils gain one order).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from ..core import PhysdiffError
from ._taylor import as_exact, taylor_matrix, taylor_row

if TYPE_CHECKING:  # pragma: no cover
    import sympy

# A non-degenerate n-point stencil has a non-vanishing moment within a few
# indices past n; this bound only guards against a runaway loop.
_MAX_EXTRA_MOMENTS = 64

#: Accuracy reported by the identity stencil (derivative 0 sampled at offset 0),
#: which is exact for every function: all of its Taylor remainders vanish.
EXACT_ACCURACY = 2**31 - 1


@dataclass(frozen=True)
class Stencil:
    """A finite-difference stencil with exact rational weights.

    Attributes:
        derivative: order ``d`` of the derivative approximated.
        offsets: sample positions in units of the grid spacing (exact rationals, sorted).
        weights: exact weights ``w_j`` for ``h = 1``; divide by ``h**d`` for spacing ``h``.
        accuracy: achieved order of accuracy (error ``O(h**accuracy)``), computed
            from the first non-vanishing Taylor remainder.

    Build stencils with :meth:`central`, :meth:`forward`, :meth:`backward` or
    :meth:`from_offsets`; the constructor itself does not solve anything.
    """

    derivative: int
    offsets: tuple["sympy.Rational", ...]
    weights: tuple["sympy.Rational", ...]
    accuracy: int

    # ----------------------------------------------------------------- factories
    @classmethod
    def from_offsets(cls, derivative: int, offsets: Sequence[object]) -> "Stencil":
        """The unique stencil for the ``derivative``-th derivative on the given offsets.

        Offsets may be integers or exact fractions (``Fraction(1, 2)``, ``0.5``,
        ``"1/2"``) for staggered grids. ``derivative=0`` gives interpolation
        (or extrapolation) weights.

        Raises:
            PhysdiffError: negative derivative, duplicate offsets, or fewer
                offsets than ``derivative + 1``.
        """
        exact = tuple(sorted(as_exact(s, "offset") for s in offsets))
        _check_derivative(derivative)
        if len(set(exact)) != len(exact):
            duplicates = sorted({s for s in exact if exact.count(s) > 1})
            raise PhysdiffError(
                f"offsets: expected distinct sample offsets, got {[str(s) for s in exact]} "
                f"with duplicates {[str(s) for s in duplicates]}. Remove the repeated offsets."
            )
        if derivative >= len(exact):
            raise PhysdiffError(
                f"offsets: a derivative of order {derivative} needs at least {derivative + 1} "
                f"distinct offsets, got {len(exact)}: {[str(s) for s in exact]}. "
                f"Add offsets or lower the derivative order."
            )
        weights, accuracy = _solve(derivative, exact)
        return cls(derivative=derivative, offsets=exact, weights=weights, accuracy=accuracy)

    @classmethod
    def central(cls, derivative: int, accuracy: int = 2) -> "Stencil":
        """The narrowest symmetric stencil on ``-r..r`` reaching ``accuracy``.

        Symmetry cancels every other Taylor remainder, so the achieved order is
        even and an odd request is rounded up (``Stencil.central(1, 1).accuracy == 2``).
        The half-width grows from ``ceil(d / 2)`` until the computed accuracy suffices.
        """
        _check_derivative(derivative)
        _check_accuracy(accuracy)
        if derivative == 0:
            return cls.from_offsets(0, [0])  # the identity, exact at any accuracy
        half = -(-derivative // 2)
        while True:
            stencil = cls.from_offsets(derivative, range(-half, half + 1))
            if stencil.accuracy >= accuracy:
                return stencil
            half += 1

    @classmethod
    def forward(cls, derivative: int, accuracy: int = 1) -> "Stencil":
        """One-sided stencil on offsets ``0 .. derivative + accuracy - 1``."""
        _check_derivative(derivative)
        _check_accuracy(accuracy)
        return cls.from_offsets(derivative, range(0, derivative + accuracy))

    @classmethod
    def backward(cls, derivative: int, accuracy: int = 1) -> "Stencil":
        """One-sided stencil on offsets ``-(derivative + accuracy - 1) .. 0``."""
        _check_derivative(derivative)
        _check_accuracy(accuracy)
        return cls.from_offsets(derivative, range(-(derivative + accuracy - 1), 1))

    # ---------------------------------------------------------------- properties
    @property
    def width(self) -> int:
        """Number of samples the stencil reads."""
        return len(self.offsets)

    @property
    def reach(self) -> tuple["sympy.Rational", "sympy.Rational"]:
        """The smallest and largest offsets."""
        return self.offsets[0], self.offsets[-1]

    @property
    def is_integer(self) -> bool:
        """True when every offset is an integer (samples lie on the grid)."""
        return all(s.is_integer for s in self.offsets)

    def float_weights(self, spacing: float = 1.0) -> tuple[float, ...]:
        """Weights divided by ``spacing**derivative``, as Python floats (rounded once)."""
        scale = float(spacing) ** self.derivative
        return tuple(float(w) / scale for w in self.weights)

    def integer_offsets(self) -> tuple[int, ...]:
        """Offsets as Python ints; raises for staggered (fractional) stencils."""
        if not self.is_integer:
            raise PhysdiffError(
                f"stencil: expected integer offsets to apply on grid points, got "
                f"{[str(s) for s in self.offsets]}. Staggered stencils map between grids; "
                "evaluate them with Stencil.apply_exact or shift the grid."
            )
        return tuple(int(s) for s in self.offsets)

    def moment(self, k: int) -> "sympy.Rational":
        """Exact ``k``-th moment ``sum_j w_j s_j^k / k!``."""
        return sum((w * t for w, t in zip(self.weights, taylor_row(self.offsets, k))), start=as_exact(0))

    def apply_exact(self, samples: Sequence[object], spacing: object = 1) -> "sympy.Expr":
        """Apply the stencil to exact sample values (sympy); used by property tests."""
        h = as_exact(spacing, "spacing") if not hasattr(spacing, "free_symbols") else spacing
        return sum((w * v for w, v in zip(self.weights, samples)), start=as_exact(0)) / h**self.derivative

    def __repr__(self) -> str:
        offs = ", ".join(str(s) for s in self.offsets)
        ws = ", ".join(str(w) for w in self.weights)
        return f"Stencil(derivative={self.derivative}, accuracy={self.accuracy}, offsets=({offs}), weights=({ws}))"


# ----------------------------------------------------------------- internals
def _check_derivative(derivative: int) -> None:
    if isinstance(derivative, bool) or not isinstance(derivative, int) or derivative < 0:
        raise PhysdiffError(
            f"derivative: expected a non-negative integer order (0 = interpolation, 1 = first "
            f"derivative, ...), got {derivative!r}."
        )


def _check_accuracy(accuracy: int) -> None:
    if isinstance(accuracy, bool) or not isinstance(accuracy, int) or accuracy < 1:
        raise PhysdiffError(
            f"accuracy: expected an integer order of accuracy >= 1 (error O(h**accuracy)), "
            f"got {accuracy!r}. Use accuracy=2 for the classic second-order stencils."
        )


@lru_cache(maxsize=4096)
def _solve(derivative: int, offsets: tuple) -> tuple[tuple, int]:
    """Solve the Taylor system exactly; return the weights and the achieved accuracy."""
    import sympy

    n = len(offsets)
    rhs = sympy.Matrix([1 if k == derivative else 0 for k in range(n)])
    weights = tuple(taylor_matrix(offsets, n).LUsolve(rhs))
    for k in range(n, n + _MAX_EXTRA_MOMENTS):
        remainder = sum((w * t for w, t in zip(weights, taylor_row(offsets, k))), start=sympy.Integer(0))
        if remainder != 0:
            return weights, k - derivative
    # Only the identity (derivative 0, all weight on offset 0) has no remainder:
    # a non-zero weight at a non-zero offset makes some moment past n non-zero.
    return weights, EXACT_ACCURACY


def require_accuracy(stencil: Stencil, accuracy: int) -> Stencil:
    """Return ``stencil`` if it reaches ``accuracy``; otherwise raise with the achieved order."""
    if stencil.accuracy < accuracy:
        raise PhysdiffError(
            f"accuracy: expected order {accuracy} from offsets {[str(s) for s in stencil.offsets]} "
            f"for derivative {stencil.derivative}, but the Taylor remainder gives order "
            f"{stencil.accuracy}. Use at least {stencil.derivative + accuracy} offsets."
        )
    return stencil
