"""Embedded Runge-Kutta pairs with error-controlled step sizes, for reference solves.

A pair ``(b, b_error)`` of orders ``p`` and ``q < p`` gives, at the cost of
one step, the local error estimate ``e = u_next - u_hat`` of the lower-order
solution. The step is accepted when the scaled RMS norm

    err = max_over_batch sqrt(mean((e / (atol + rtol * max(|u|, |u_next|)))^2)) <= 1

and the next step is ``dt * clip(safety * err^(-1/(q+1)), min_factor, max_factor)``
(the elementary "I" controller; after a rejection the step may not grow).
The higher-order ``u_next`` is kept (local extrapolation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..core import PhysdiffError
from ._explicit_rk import ExplicitRK, Rhs, explicit_rk_step
from ._registry import BOGACKI_SHAMPINE_TABLEAU, DORMAND_PRINCE_TABLEAU
from ._step_args import check_state, evaluate_rhs
from ._tableau import ButcherTableau


@dataclass(frozen=True)
class SolveResult:
    """Outcome of :meth:`EmbeddedRK.solve`: the state at ``t`` and step statistics."""

    state: torch.Tensor
    t: float
    accepted: int
    rejected: int
    rhs_evaluations: int
    next_dt: float  # the controller's proposal, to continue a solve from here


def _finite_nonnegative(value: object, name: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value >= 0):
        raise PhysdiffError(f"{where}: {name}: expected a finite non-negative number, got {value!r}.")
    return float(value)


class EmbeddedRK(ExplicitRK):
    """An embedded explicit pair: fixed steps via ``integrator(u, dt)``, adaptive steps via :meth:`solve`.

    Args:
        rhs: callable or ``nn.Module`` mapping a state ``(B, C, *space)`` to ``du/dt``.
        tableau: an embedded :class:`ButcherTableau` (with ``b_error``).
        rtol, atol: relative and absolute tolerances of the local error (not both 0; with
            ``atol=0`` a component that is exactly 0 cannot be controlled).
        safety, min_factor, max_factor: controller constants, ``0 < min_factor < 1 < max_factor``.

    Raises:
        PhysdiffError: a tableau without ``b_error`` or invalid tolerances/constants.
    """

    def __init__(
        self, rhs: Rhs, tableau: ButcherTableau, *, rtol: float = 1e-6, atol: float = 1e-9,
        safety: float = 0.9, min_factor: float = 0.2, max_factor: float = 10.0,
    ) -> None:
        super().__init__(rhs, tableau)
        where = type(self).__name__
        if not tableau.is_embedded:
            raise PhysdiffError(f"{where}: expected an embedded tableau (with b_error), got {tableau!r}.")
        self.rtol = _finite_nonnegative(rtol, "rtol", where)
        self.atol = _finite_nonnegative(atol, "atol", where)
        if self.rtol == 0 and self.atol == 0:
            raise PhysdiffError(f"{where}: expected rtol or atol to be positive, got both 0.")
        self.safety = _finite_nonnegative(safety, "safety", where)
        self.min_factor = _finite_nonnegative(min_factor, "min_factor", where)
        self.max_factor = _finite_nonnegative(max_factor, "max_factor", where)
        if not (0 < self.safety <= 1 and 0 < self.min_factor < 1 < self.max_factor):
            raise PhysdiffError(
                f"{where}: expected 0 < safety <= 1 and 0 < min_factor < 1 < max_factor, got safety={safety}, "
                f"min_factor={min_factor}, max_factor={max_factor}."
            )

    @torch.no_grad()
    def _norm(self, x: torch.Tensor, u: torch.Tensor, u_next: torch.Tensor | None = None) -> float:
        # Per-sample RMS, then the worst sample: one sample cannot hide in a batch average.
        size = u.abs() if u_next is None else torch.maximum(u.abs(), u_next.abs())
        ratio = (x.abs() / (self.atol + self.rtol * size)).flatten(1)
        return ratio.square().mean(dim=1).sqrt().max().item()

    @torch.no_grad()
    def _initial_step(self, u0: torch.Tensor, direction: float) -> float:
        # Starting-step heuristic of Hairer, Norsett & Wanner (Solving ODEs I, II.4).
        f0 = evaluate_rhs(self.rhs, u0, "initial step")
        d0, d1 = self._norm(u0, u0), self._norm(f0, u0)
        h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
        f1 = evaluate_rhs(self.rhs, u0 + direction * h0 * f0, "initial step")
        d2 = self._norm(f1 - f0, u0) / h0
        largest = max(d1, d2)
        h1 = max(1e-6, h0 * 1e-3) if largest <= 1e-15 else (0.01 / largest) ** (1.0 / (self.tableau.order + 1))
        return min(100 * h0, h1)

    def solve(
        self, u0: torch.Tensor, t0: float, t1: float, *, dt0: float | None = None, max_steps: int = 100_000
    ) -> SolveResult:
        """Integrate from ``t0`` to ``t1`` (backward if ``t1 < t0``) with error-controlled steps.

        Gradients flow through the accepted steps; the step sizes are chosen
        from detached error norms and act as constants.

        Args:
            u0: initial state ``(B, C, *space)``; the whole batch shares one step size.
            t0, t1: start and end times (finite).
            dt0: first step size (magnitude); chosen automatically if None.
            max_steps: bound on attempted steps.

        Returns:
            SolveResult with the state at ``t1`` and the accepted/rejected step counts.

        Raises:
            PhysdiffError: invalid arguments, more than ``max_steps`` attempts, or a step-size underflow.
        """
        where = f"{type(self).__name__}.solve"
        check_state(u0, where)
        for name, value in (("t0", t0), ("t1", t1)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise PhysdiffError(f"{where}: {name}: expected a finite time, got {value!r}.")
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise PhysdiffError(f"{where}: max_steps: expected a positive int, got {max_steps!r}.")
        if dt0 is not None and (_finite_nonnegative(dt0, "dt0", where) == 0):
            raise PhysdiffError(f"{where}: dt0: expected a positive step size, got 0.")
        t, u, direction = float(t0), u0, math.copysign(1.0, t1 - t0)
        evaluations = 0
        if dt0 is None:
            dt0, evaluations = self._initial_step(u0, direction), 2
        h = direction * min(abs(dt0), abs(t1 - t0))
        accepted = rejected = 0
        growth_limit = self.max_factor
        exponent = -1.0 / (min(self.tableau.order, self.tableau.error_order) + 1)
        while direction * (t1 - t) > 0:
            if accepted + rejected >= max_steps:
                raise PhysdiffError(
                    f"{where}: gave up after max_steps={max_steps} attempts at t={t} of [{t0}, {t1}]. "
                    "Loosen rtol/atol, raise max_steps, or check the problem for stiffness or blow-up."
                )
            last = direction * (t + h - t1) >= 0
            if last:
                h = t1 - t
            if t + h == t:
                raise PhysdiffError(
                    f"{where}: step size underflow (dt={h}) at t={t}. The tolerances rtol={self.rtol}, "
                    f"atol={self.atol} may be below the precision of {u.dtype}, or the solution is singular."
                )
            u_next, error = explicit_rk_step(self.rhs, self.tableau, u, h, return_error=True)
            evaluations += self.tableau.stages
            err = self._norm(error, u, u_next)
            # err = 0 proposes the largest growth; a NaN/inf norm (overflowing trial step) the largest shrink.
            proposal = self.safety * err**exponent if 0 < err < math.inf else (math.inf if err == 0 else 0.0)
            if err <= 1.0:
                t, u = (t1 if last else t + h), u_next
                accepted += 1
                factor = min(growth_limit, max(self.min_factor, proposal))
                growth_limit = self.max_factor
            else:  # also catches a NaN norm
                rejected += 1
                factor = max(self.min_factor, min(1.0, proposal))
                growth_limit = 1.0
            h *= factor
        return SolveResult(u, t, accepted, rejected, evaluations, abs(h))

    def extra_repr(self) -> str:
        return f"tableau={self.tableau!r}, rtol={self.rtol}, atol={self.atol}"


class BogackiShampine(EmbeddedRK):
    """Bogacki-Shampine 3(2): third-order steps, second-order error estimate, 4 stages (FSAL not exploited).

    Args: see :class:`EmbeddedRK` (the tableau is fixed).
    """

    # Class-level, like the fixed-step methods, so callers (stability checks, provenance) can read it.
    TABLEAU = BOGACKI_SHAMPINE_TABLEAU

    def __init__(self, rhs: Rhs, *, rtol: float = 1e-6, atol: float = 1e-9, **controller: float) -> None:
        super().__init__(rhs, self.TABLEAU, rtol=rtol, atol=atol, **controller)


class DormandPrince(EmbeddedRK):
    """Dormand-Prince 5(4): fifth-order steps, fourth-order error estimate, 7 stages (FSAL not exploited).

    Args: see :class:`EmbeddedRK` (the tableau is fixed).
    """

    TABLEAU = DORMAND_PRINCE_TABLEAU

    def __init__(self, rhs: Rhs, *, rtol: float = 1e-6, atol: float = 1e-9, **controller: float) -> None:
        super().__init__(rhs, self.TABLEAU, rtol=rtol, atol=atol, **controller)
