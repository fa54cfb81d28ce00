"""The exact Taylor (moment, Vandermonde) matrix behind every stencil and moment kernel.

For sample offsets ``s_j`` (in units of the grid spacing) the Taylor expansion

    u(x + s_j h) = sum_k (s_j h)^k / k! * u^(k)(x)

means that the weights ``w_j`` of a stencil act on the derivatives through the
matrix ``T[k, j] = s_j^k / k!``: ``sum_j w_j u(x + s_j h) = sum_k h^k (T w)_k u^(k)(x)``.
``T w`` are the *moments* of the weights. A stencil for the ``d``-th derivative
has moments ``(T w)_k = delta_kd`` for ``k < len(offsets)``; PhyDNet's K2M maps
a kernel to its moments with the same matrix.

sympy is imported here lazily, so importing physdiff stays cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache
from numbers import Rational as _RationalABC
from typing import TYPE_CHECKING

from ..core import PhysdiffError

if TYPE_CHECKING:  # pragma: no cover
    import sympy


def as_exact(value: object, what: str = "offset") -> "sympy.Rational":
    """Convert an int, Fraction, sympy Rational, decimal string or float to an exact sympy Rational.

    Floats are read through their shortest decimal representation, so ``0.5``
    becomes ``1/2`` and ``0.1`` becomes ``1/10`` (not the binary approximation).
    """
    import sympy

    if isinstance(value, bool):
        raise PhysdiffError(f"{what}: expected a number, got the bool {value!r}.")
    if isinstance(value, sympy.Rational):
        return value
    if isinstance(value, (int, Fraction, _RationalABC)):
        return sympy.Rational(value.numerator, value.denominator) if not isinstance(value, int) else sympy.Integer(value)
    if isinstance(value, (float, str)):
        try:
            return sympy.Rational(repr(value) if isinstance(value, float) else value)
        except (TypeError, ValueError):
            pass
    if isinstance(value, sympy.Basic) and value.is_rational:
        return sympy.Rational(value)
    raise PhysdiffError(
        f"{what}: expected an exact rational number (int, Fraction, sympy.Rational or a finite float), "
        f"got {value!r} of type {type(value).__name__}."
    )


@lru_cache(maxsize=4096)
def _taylor_matrix_cached(offsets: tuple, rows: int) -> "sympy.Matrix":
    import sympy

    return sympy.Matrix(rows, len(offsets), lambda k, j: offsets[j] ** k / sympy.factorial(k))


def taylor_matrix(offsets: Sequence[object], rows: int) -> "sympy.Matrix":
    """Exact matrix ``T[k, j] = s_j^k / k!`` for ``k < rows`` (``0^0 = 1``)."""
    return _taylor_matrix_cached(tuple(as_exact(s) for s in offsets), rows)


def taylor_row(offsets: Sequence[object], k: int) -> list:
    """The exact row ``[s_j^k / k! for s_j in offsets]`` (the ``k``-th moment functional)."""
    import sympy

    exact = [as_exact(s) for s in offsets]
    return [s**k / sympy.factorial(k) for s in exact]
