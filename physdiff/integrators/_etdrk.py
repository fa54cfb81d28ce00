"""Exponential time-differencing Runge-Kutta methods ETDRK1-4 for semilinear problems.

For ``dv/dt = L v + N(v)`` with ``L`` *diagonal* (a Fourier symbol, say), variation of
constants gives the exact one-step relation

    v(t + h) = e^{hL} v(t) + int_0^h e^{(h - s) L} N(v(t + s)) ds.

The linear part is integrated exactly; only the integral is approximated, by
interpolating ``N`` through Runge-Kutta stages (Cox & Matthews, J. Comput. Phys.
176, 2002). The weights are the phi-functions of ``z = h L``,

    phi_0(z) = e^z,   phi_{j+1}(z) = (phi_j(z) - 1/j!) / z,

which suffer catastrophic cancellation for small ``|z|``. Following Kassam & Trefethen
(SIAM J. Sci. Comput. 26, 2005) each one is evaluated as the mean of its values on a
circle of ``points`` nodes and ``radius`` around ``z`` (Cauchy's integral formula with
the trapezoid rule, exponentially accurate for these entire functions). Contour nodes
that land within 1/4 of the origin (possible when ``|z|`` is close to ``radius``) use
the Taylor series instead, so no node suffers the cancellation either.

Coefficients are computed once per ``(dt, symbol)`` in float64/complex128 in the
constructor and cast once per (dtype, device) of the state, so a step costs only the
nonlinear evaluations. The step size is therefore fixed: ``forward`` refuses another ``dt``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from ..core import PhysdiffError
from ._step_args import check_like_state, check_rhs, check_state, positive_int

Nonlinear = Callable[[torch.Tensor], torch.Tensor]
Transform = Callable[[torch.Tensor], torch.Tensor]

_TAYLOR_TERMS = 24  # |w| < 1/4: the 24-term tail is below 4^-24 / 24!, far under float64 rounding


def phi_functions(
    z: torch.Tensor | complex, count: int = 3, *, points: int = 32, radius: float = 1.0
) -> list[torch.Tensor]:
    """``[phi_1(z), ..., phi_count(z)]`` in complex128 by Kassam-Trefethen contour means.

    ``phi_j(z) = sum_{m>=0} z^m / (m + j)!``: ``phi_1 = (e^z - 1)/z``,
    ``phi_2 = (e^z - 1 - z)/z^2``, ``phi_3 = (e^z - 1 - z - z^2/2)/z^3``.

    Args:
        z: tensor of any shape, real or complex, or a Python number (taken in complex128).
        count: how many phi-functions, ``>= 1``.
        points: contour nodes ``M`` (trapezoid rule; 32 gives float64 accuracy).
        radius: contour radius.
    """
    positive_int(count, "count", "phi_functions")
    _check_contour(points, radius, "phi_functions")
    # a Python number must not pass through the default (single) precision
    z = z.to(torch.complex128) if isinstance(z, torch.Tensor) else torch.tensor(z, dtype=torch.complex128)
    angles = 2.0 * math.pi * (torch.arange(points, dtype=torch.float64) + 0.5) / points
    nodes = radius * torch.polar(torch.ones_like(angles), angles).to(z.device)
    w = z.unsqueeze(-1) + nodes  # (*z.shape, M)
    values = [_phi_at(w, j) for j in range(1, count + 1)]
    return [v.mean(dim=-1) for v in values]


def _phi_at(w: torch.Tensor, j: int) -> torch.Tensor:
    """``phi_j`` at contour nodes: the defining recurrence, or the Taylor series near 0."""
    value = torch.exp(w)
    for m in range(j):
        value = (value - 1.0 / math.factorial(m)) / w
    near = w.abs() < 0.25
    if bool(near.any()):
        wn = w[near]
        series = torch.zeros_like(wn)
        for m in reversed(range(_TAYLOR_TERMS)):  # Horner: sum_m w^m / (m + j)!
            series = series * wn + 1.0 / math.factorial(m + j)
        value = value.clone()
        value[near] = series
    return value


def _check_contour(points: object, radius: object, where: str) -> None:
    if isinstance(points, bool) or not isinstance(points, int) or points < 8:
        raise PhysdiffError(f"{where}: points: expected an int >= 8 contour nodes (32 is standard), got {points!r}.")
    if isinstance(radius, bool) or not isinstance(radius, (int, float)) or not (0 < radius < math.inf):
        raise PhysdiffError(f"{where}: radius: expected a finite positive contour radius (1.0 is standard), got {radius!r}.")


# --------------------------------------------------------------------------- schemes
#
# Each scheme lists the coefficients it needs (built from phi-functions of z = h L and z/2)
# and one step in terms of them. ``n`` is the nonlinear function, ``c`` the cast coefficients.


class _ETD1:
    """ETD Euler: ``v' = E v + h phi_1(z) N(v)`` (order 1)."""

    @staticmethod
    def coefficients(z: torch.Tensor, h: float, **contour) -> dict[str, torch.Tensor]:
        (p1,) = phi_functions(z, 1, **contour)
        return {"E": torch.exp(z), "p1": h * p1}

    @staticmethod
    def step(v: torch.Tensor, n: Nonlinear, c: dict[str, torch.Tensor]) -> torch.Tensor:
        return c["E"] * v + c["p1"] * n(v)


class _ETD2:
    """Cox-Matthews ETD2RK: ``a = E v + h phi_1 N(v)``, ``v' = a + h phi_2 (N(a) - N(v))`` (order 2)."""

    @staticmethod
    def coefficients(z: torch.Tensor, h: float, **contour) -> dict[str, torch.Tensor]:
        p1, p2 = phi_functions(z, 2, **contour)
        return {"E": torch.exp(z), "p1": h * p1, "p2": h * p2}

    @staticmethod
    def step(v: torch.Tensor, n: Nonlinear, c: dict[str, torch.Tensor]) -> torch.Tensor:
        nv = n(v)
        a = c["E"] * v + c["p1"] * nv
        return a + c["p2"] * (n(a) - nv)


def _third_order_weights(z: torch.Tensor, h: float, contour: dict) -> dict[str, torch.Tensor]:
    """Weights shared by ETD3RK and ETDRK4 (Kassam-Trefethen's f1, f2, f3), plus the half-step ones."""
    p1, p2, p3 = phi_functions(z, 3, **contour)
    (q1,) = phi_functions(z / 2, 1, **contour)
    return {
        "E": torch.exp(z), "E2": torch.exp(z / 2), "p1": h * p1, "q1": (h / 2) * q1,
        "f1": h * (p1 - 3 * p2 + 4 * p3),  # (-4 - z + e^z (4 - 3z + z^2)) / z^3
        "f2": h * (p2 - 2 * p3),  # (2 + z + e^z (z - 2)) / z^3
        "f3": h * (4 * p3 - p2),  # (-4 - 3z - z^2 + e^z (4 - z)) / z^3
    }


class _ETD3:
    """Cox-Matthews ETD3RK (order 3)::

        a  = E2 v + h/2 phi_1(z/2) N(v)
        b  = E v + h phi_1(z) (2 N(a) - N(v))
        v' = E v + f1 N(v) + 4 f2 N(a) + f3 N(b)
    """

    @staticmethod
    def coefficients(z: torch.Tensor, h: float, **contour) -> dict[str, torch.Tensor]:
        return _third_order_weights(z, h, contour)

    @staticmethod
    def step(v: torch.Tensor, n: Nonlinear, c: dict[str, torch.Tensor]) -> torch.Tensor:
        nv = n(v)
        ev = c["E"] * v
        a = c["E2"] * v + c["q1"] * nv
        na = n(a)
        b = ev + c["p1"] * (2 * na - nv)
        return ev + c["f1"] * nv + 4 * c["f2"] * na + c["f3"] * n(b)


class _ETD4:
    """Cox-Matthews ETDRK4 (order 4 for non-stiff and diagonal problems)::

        a  = E2 v + Q N(v),  b = E2 v + Q N(a),  c = E2 a + Q (2 N(b) - N(v))
        v' = E v + f1 N(v) + 2 f2 (N(a) + N(b)) + f3 N(c),      Q = h/2 phi_1(z/2)
    """

    @staticmethod
    def coefficients(z: torch.Tensor, h: float, **contour) -> dict[str, torch.Tensor]:
        weights = _third_order_weights(z, h, contour)
        del weights["p1"]
        return weights

    @staticmethod
    def step(v: torch.Tensor, n: Nonlinear, c: dict[str, torch.Tensor]) -> torch.Tensor:
        nv = n(v)
        e2v = c["E2"] * v
        a = e2v + c["q1"] * nv
        na = n(a)
        b = e2v + c["q1"] * na
        nb = n(b)
        cc = c["E2"] * a + c["q1"] * (2 * nb - nv)
        return c["E"] * v + c["f1"] * nv + 2 * c["f2"] * (na + nb) + c["f3"] * n(cc)


#: ``{order: scheme}`` of the exponential Runge-Kutta methods :class:`ETDRK` runs.
ETDRK_SCHEMES: dict[int, type] = {1: _ETD1, 2: _ETD2, 3: _ETD3, 4: _ETD4}


class ETDRK(nn.Module):
    """Exponential time differencing Runge-Kutta step of order 1-4 for ``dv/dt = L v + N(v)``, ``L`` diagonal.

    ``L`` is given by its diagonal ``linear_symbol`` in the basis where it is diagonal
    (e.g. ``i b k^3`` on the ``rfft`` coefficients for KdV). ``nonlinear`` maps a state in
    that basis to ``N`` in that basis. Two ways to hold the state:

    * spectral state (default): ``integrator(v_hat)`` with ``v_hat`` in the diagonal basis;
    * physical state: pass ``transform`` (physical -> diagonal basis) and ``inverse``; then
      ``integrator(u)`` transforms, steps and transforms back.

    Schemes (module docstring for the maths): order 1 is ETD Euler, 2 Cox-Matthews ETD2RK,
    3 ETD3RK, 4 Cox-Matthews ETDRK4. A purely linear problem (``N = 0``) is integrated
    exactly for every order: ``v' = e^{hL} v``.

    Args:
        linear_symbol: real or complex tensor broadcastable to the state (in the diagonal basis).
        nonlinear: callable or ``nn.Module`` ``N(v_hat) -> same shape and dtype``.
        dt: the fixed step ``h`` (finite, nonzero); coefficients are precomputed for it.
        order: 1, 2, 3 or 4 (:data:`ETDRK_SCHEMES`).
        transform, inverse: optional maps physical <-> diagonal basis (both or neither).
        contour_points, contour_radius: Kassam-Trefethen contour (32 nodes, radius 1).

    Gradients flow through the state and through ``nonlinear`` (its parameters), not through
    ``linear_symbol``: the coefficients are constants built once in float64.
    """

    def __init__(
        self, linear_symbol: torch.Tensor, nonlinear: Nonlinear, dt: float, order: int = 4, *,
        transform: Transform | None = None, inverse: Transform | None = None,
        contour_points: int = 32, contour_radius: float = 1.0,
    ) -> None:
        super().__init__()
        where = "ETDRK"
        check_rhs(nonlinear, where)
        if isinstance(order, bool) or not isinstance(order, int) or order not in ETDRK_SCHEMES:
            raise PhysdiffError(f"{where}: order: expected one of {sorted(ETDRK_SCHEMES)}, got {order!r}.")
        if (transform is None) != (inverse is None):
            raise PhysdiffError(
                f"{where}: expected both transform and inverse (physical state) or neither (spectral state), "
                f"got transform={'set' if transform is not None else None}, inverse={'set' if inverse is not None else None}."
            )
        for name, fn in (("transform", transform), ("inverse", inverse)):
            if fn is not None and not callable(fn):
                raise PhysdiffError(f"{where}: {name}: expected a callable, got {type(fn).__name__}.")
        if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not math.isfinite(dt) or dt == 0:
            raise PhysdiffError(f"{where}: dt: expected a finite nonzero float time step, got {dt!r}.")
        if not isinstance(linear_symbol, torch.Tensor) or not (linear_symbol.is_floating_point() or linear_symbol.is_complex()):
            raise PhysdiffError(
                f"{where}: linear_symbol: expected a real or complex tensor (the diagonal of L), "
                f"got {type(linear_symbol).__name__ if not isinstance(linear_symbol, torch.Tensor) else linear_symbol.dtype}."
            )
        if not bool(torch.isfinite(linear_symbol).all()):
            raise PhysdiffError(f"{where}: linear_symbol: expected finite values, got non-finite entries.")
        _check_contour(contour_points, contour_radius, where)
        self.order, self.dt = order, float(dt)
        self.nonlinear, self.transform, self.inverse = nonlinear, transform, inverse
        self._scheme = ETDRK_SCHEMES[order]
        symbol = linear_symbol.detach().to("cpu", torch.complex128)
        masters = self._scheme.coefficients(self.dt * symbol, self.dt, points=contour_points, radius=contour_radius)
        # A real symbol has real coefficients (the contour is symmetric under conjugation): keep
        # them real so they also multiply real states.
        self.real_coefficients = not linear_symbol.is_complex()
        self._masters = {k: (v.real if self.real_coefficients else v) for k, v in masters.items()}
        self._cast: dict[tuple, dict[str, torch.Tensor]] = {}

    def coefficients(self, dtype: torch.dtype = torch.complex128, device: torch.device | str | None = None) -> dict[str, torch.Tensor]:
        """The precomputed coefficients (``E = e^{hL}``, phi-weights) for states of ``dtype`` on ``device``."""
        device = torch.device(device) if device is not None else torch.device("cpu")
        key = (dtype, str(device))
        cast = self._cast.get(key)
        if cast is None:
            if dtype.is_complex:
                target = dtype.to_real() if self.real_coefficients else dtype
            elif self.real_coefficients:
                target = dtype
            else:
                raise PhysdiffError(
                    f"ETDRK{self.order}: a complex linear_symbol needs a complex state, got dtype {dtype}. "
                    "Step the Fourier coefficients (or pass transform/inverse so the integrator does)."
                )
            cast = {k: v.to(device=device, dtype=target) for k, v in self._masters.items()}
            self._cast[key] = cast
        return cast

    def forward(self, u: torch.Tensor, dt: float | torch.Tensor | None = None, *, steps: int = 1) -> torch.Tensor:
        """``steps`` steps of size ``self.dt`` from ``u``; ``dt``, if given, must equal it (to float32 rounding).

        With ``transform``/``inverse`` the state stays in the diagonal basis between the
        ``steps`` steps, saving one transform pair per extra step.
        """
        where = f"ETDRK{self.order} step"
        positive_int(steps, "steps", where)
        if dt is not None:
            try:
                value = float(dt)  # a number or a one-element tensor
            except (TypeError, ValueError, RuntimeError):
                value = math.nan
            if isinstance(dt, bool) or not math.isclose(value, self.dt, rel_tol=1e-6, abs_tol=0.0):
                raise PhysdiffError(
                    f"{where}: the coefficients were precomputed for dt={self.dt}, got dt={dt!r}. "
                    "Build another integrator for another step size (ETDRK uses a fixed dt)."
                )
        check_state(u, where)
        v = self.transform(u) if self.transform is not None else u
        check_state(v, where)
        c = self.coefficients(v.dtype, v.device)
        n = self._checked_nonlinear
        for _ in range(steps):
            v = self._scheme.step(v, n, c)
        return self.inverse(v) if self.inverse is not None else v

    def _checked_nonlinear(self, v: torch.Tensor) -> torch.Tensor:
        return check_like_state(
            self.nonlinear(v), v, f"ETDRK{self.order}", "nonlinear(v)",
            " It must map the state (in the diagonal basis) to N in that basis.",
        )

    def extra_repr(self) -> str:
        basis = "physical state via transform" if self.transform is not None else "spectral state"
        return f"order={self.order}, dt={self.dt}, {basis}"
