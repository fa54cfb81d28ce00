"""The Butcher tableau of an explicit Runge-Kutta method, as validated exact data.

An ``s``-stage explicit method advances ``du/dt = F(u)`` by

    k_i    = F(u + dt * sum_{j<i} a_ij k_j),      i = 1..s
    u_next = u + dt * sum_i b_i k_i

and an embedded pair also forms ``u_hat = u + dt * sum_i b_error_i k_i`` of a
lower order; ``u_next - u_hat`` estimates the local error.
"""

from __future__ import annotations

import math
from dataclasses import KW_ONLY, dataclass, field
from fractions import Fraction
from numbers import Rational, Real
from typing import NamedTuple

import torch

from ..core import PhysdiffError
from ._order_conditions import FLOAT_TOLERANCE, is_absolutely_monotonic, satisfied_order

Coefficient = Fraction | float


def _exact(value: object, what: str) -> Coefficient:
    """An int/Fraction/``"p/q"`` string becomes a Fraction; a float stays a float (irrational coefficients)."""
    if isinstance(value, bool):
        raise PhysdiffError(f"{what}: expected a number, got the bool {value!r}.")
    if isinstance(value, Rational):
        return Fraction(value.numerator, value.denominator)
    if isinstance(value, str):
        try:
            return Fraction(value)
        except (ValueError, ZeroDivisionError):
            pass
    elif isinstance(value, Real) and math.isfinite(float(value)):
        return float(value)
    raise PhysdiffError(
        f"{what}: expected a finite number (int, Fraction, 'p/q' string, or float for an irrational "
        f"coefficient), got {value!r} of type {type(value).__name__}. Write 1/3 as Fraction(1, 3) to keep it exact."
    )


def _vector(values: object, what: str) -> tuple[Coefficient, ...]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise PhysdiffError(f"{what}: expected a sequence of coefficients, got {values!r}.")
    return tuple(_exact(v, f"{what}[{i}]") for i, v in enumerate(values))


def _equal(x: Coefficient, y: Coefficient) -> bool:
    # Exact for Fractions; a float coefficient only needs to agree to rounding.
    if isinstance(x, Fraction) and isinstance(y, Fraction):
        return x == y
    return abs(float(x) - float(y)) <= FLOAT_TOLERANCE * max(1.0, abs(float(y)))


class CastCoefficients(NamedTuple):
    """A tableau's nonzero coefficients as 0-d tensors of one dtype/device, per row: ``(column, value)``."""

    a: tuple[tuple[tuple[int, torch.Tensor], ...], ...]
    b: tuple[tuple[int, torch.Tensor], ...]
    error: tuple[tuple[int, torch.Tensor], ...] | None  # weights of b - b_error


@dataclass(frozen=True)
class ButcherTableau:
    """Exact coefficients ``(A, b, c)`` of an explicit Runge-Kutta method, validated on construction.

    Args:
        a: ``s x s`` strictly lower-triangular matrix (rows of ``s`` numbers, zeros on and above the diagonal).
        b: ``s`` weights of the solution, summing to 1.
        c: ``s`` nodes, ``c_i = sum_j a_ij``.
        order: the order ``p`` of ``b``; every order condition up to ``p`` is checked exactly.
        b_error: optional embedded weights (summing to 1) of a solution of order ``error_order``.
        name: label used in reprs and error messages.
        error_order: order of ``b_error``; required with ``b_error``.
        ssp_coefficient: declared strong-stability-preserving coefficient (0: not SSP); checked.

    Coefficients are stored exactly as ``Fraction`` (int, Fraction and ``"p/q"``
    inputs); floats are kept as floats for irrational coefficients and checked
    to rounding (1e-12) instead of exactly.

    Raises:
        PhysdiffError: shapes disagree, ``A`` is not strictly lower triangular,
            a row sum of ``A`` differs from ``c``, ``b`` or ``b_error`` does not
            sum to 1, the declared order or SSP coefficient does not hold.
    """

    a: tuple[tuple[Coefficient, ...], ...]
    b: tuple[Coefficient, ...]
    c: tuple[Coefficient, ...]
    order: int
    b_error: tuple[Coefficient, ...] | None = None
    name: str = "custom"
    _: KW_ONLY
    error_order: int | None = None
    ssp_coefficient: Coefficient = Fraction(0)
    # (dtype, device) -> CastCoefficients. Not part of the value: excluded from eq/hash/repr.
    _cast_cache: dict = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        where = f"ButcherTableau {self.name!r}"
        if isinstance(self.a, (str, bytes)) or not hasattr(self.a, "__iter__"):
            raise PhysdiffError(f"{where}: a: expected a square matrix (sequence of rows), got {self.a!r}.")
        a = tuple(_vector(row, f"{where}: a[{i}]") for i, row in enumerate(self.a))
        b, c = _vector(self.b, f"{where}: b"), _vector(self.c, f"{where}: c")
        b_error = None if self.b_error is None else _vector(self.b_error, f"{where}: b_error")
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "c", c)
        object.__setattr__(self, "b_error", b_error)
        object.__setattr__(self, "ssp_coefficient", _exact(self.ssp_coefficient, f"{where}: ssp_coefficient"))
        self._check_shapes(where)
        self._check_consistency(where)
        self._check_orders(where)

    def _check_shapes(self, where: str) -> None:
        s = len(self.b)
        if s == 0:
            raise PhysdiffError(f"{where}: expected at least one stage, got an empty b.")
        shapes = {"a rows": len(self.a), "c": len(self.c)}
        shapes.update({f"a[{i}]": len(row) for i, row in enumerate(self.a)})
        if self.b_error is not None:
            shapes["b_error"] = len(self.b_error)
        bad = {k: v for k, v in shapes.items() if v != s}
        if bad:
            raise PhysdiffError(
                f"{where}: expected every shape to match the {s} stages of b (a is {s}x{s}, c and b_error "
                f"have {s} entries), got lengths {bad}. Write A as a full square matrix with zeros above the diagonal."
            )
        for i, row in enumerate(self.a):
            for j in range(i, s):
                if row[j] != 0:
                    raise PhysdiffError(
                        f"{where}: expected a strictly lower-triangular A (explicit method), got a[{i}][{j}] = "
                        f"{row[j]} on or above the diagonal. Implicit methods are not supported."
                    )

    def _check_consistency(self, where: str) -> None:
        for i, (row, ci) in enumerate(zip(self.a, self.c)):
            if not _equal(sum(row, Fraction(0)), ci):
                raise PhysdiffError(
                    f"{where}: expected row sums of A to equal c, got sum(a[{i}]) = {sum(row, Fraction(0))} "
                    f"but c[{i}] = {ci}. Set c[{i}] to the row sum."
                )
        for label, weights in (("b", self.b), ("b_error", self.b_error)):
            if weights is not None and not _equal(sum(weights, Fraction(0)), Fraction(1)):
                raise PhysdiffError(
                    f"{where}: expected {label} to sum to 1 (consistency), got sum = {sum(weights, Fraction(0))}."
                )

    def _check_orders(self, where: str) -> None:
        for label, value in (("order", self.order), ("error_order", self.error_order)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise PhysdiffError(f"{where}: {label}: expected a positive int, got {value!r}.")
        if (self.b_error is None) != (self.error_order is None):
            raise PhysdiffError(
                f"{where}: expected b_error and error_order together (an embedded pair), got "
                f"b_error={self.b_error!r} and error_order={self.error_order!r}."
            )
        if self.b_error is not None and all(_equal(x, y) for x, y in zip(self.b, self.b_error)):
            raise PhysdiffError(f"{where}: expected b_error to differ from b, else the error estimate is always 0.")
        for label, weights, order in (("b", self.b, self.order), ("b_error", self.b_error, self.error_order)):
            if weights is not None and satisfied_order(self.a, weights, order) < order:
                raise PhysdiffError(
                    f"{where}: declared {label} of order {order}, but its order conditions hold only up to order "
                    f"{satisfied_order(self.a, weights, order)}. Check the coefficients or lower the declared order."
                )
        r = self.ssp_coefficient
        if r < 0 or (r > 0 and not is_absolutely_monotonic(self.a, self.b, r)):
            raise PhysdiffError(
                f"{where}: declared SSP coefficient {r}, but the method is not a convex combination of forward-Euler "
                "steps of size dt / r. Declare 0 (not SSP) or the correct coefficient."
            )

    # The cast cache holds device tensors: do not pickle it (a loaded tableau re-casts on first use).
    def __getstate__(self) -> dict:
        return {**self.__dict__, "_cast_cache": {}}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    @property
    def stages(self) -> int:
        """Number of stages (right-hand-side evaluations per step)."""
        return len(self.b)

    @property
    def is_embedded(self) -> bool:
        """Whether the tableau carries an embedded error estimator (``b_error``)."""
        return self.b_error is not None

    def master(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Dense float64 CPU tensors ``(A, b, c, b_error)``: the master copy every cast derives from."""
        def t(values):
            return None if values is None else torch.tensor([float(v) for v in values], dtype=torch.float64)

        a = torch.tensor([[float(v) for v in row] for row in self.a], dtype=torch.float64)
        return a, t(self.b), t(self.c), t(self.b_error)

    def cast(self, dtype: torch.dtype, device: torch.device | str) -> CastCoefficients:
        """Nonzero coefficients as 0-d tensors of ``dtype`` on ``device``, cached per ``(dtype, device)``.

        Why cache: a step multiplies every stage by a coefficient; building those
        tensors (and, on an accelerator, copying them host-to-device) once per
        dtype/device instead of once per step keeps the step free of transfers
        and of dtype promotion (a float64 coefficient would otherwise promote a
        float32 state). Zeros are dropped so the stage loop skips them.
        """
        key = (dtype, torch.device(device))
        cached = self._cast_cache.get(key)
        if cached is not None:
            return cached
        a64, b64, _, _ = self.master()
        a_t, b_t = a64.to(dtype=dtype, device=key[1]), b64.to(dtype=dtype, device=key[1])

        def nonzero(exact_row, tensor_row):
            return tuple((j, tensor_row[j]) for j, v in enumerate(exact_row) if v != 0)

        error = None
        if self.b_error is not None:
            # Differences of exact coefficients, then one rounding (not b_t - b_error_t).
            diff = tuple(x - y for x, y in zip(self.b, self.b_error))
            diff_t = torch.tensor([float(v) for v in diff], dtype=torch.float64).to(dtype=dtype, device=key[1])
            error = nonzero(diff, diff_t)
        cast = CastCoefficients(
            a=tuple(nonzero(row, a_t[i]) for i, row in enumerate(self.a)), b=nonzero(self.b, b_t), error=error
        )
        self._cast_cache[key] = cast
        return cast

    def __repr__(self) -> str:
        embedded = f", embedded order {self.error_order}" if self.is_embedded else ""
        return f"ButcherTableau({self.name!r}, stages={self.stages}, order={self.order}{embedded})"
