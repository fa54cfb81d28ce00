"""Named fixed-step explicit methods: one tableau each, all run by the generic engine."""

from __future__ import annotations

from ._explicit_rk import ExplicitRK, Rhs
from ._registry import (
    EULER_TABLEAU,
    HEUN_TABLEAU,
    MIDPOINT_TABLEAU,
    RALSTON_TABLEAU,
    RK4_TABLEAU,
    SSPRK3_TABLEAU,
)
from ._tableau import ButcherTableau


class _NamedRK(ExplicitRK):
    TABLEAU: ButcherTableau

    def __init__(self, rhs: Rhs) -> None:
        super().__init__(rhs, self.TABLEAU)


class Euler(_NamedRK):
    """Forward Euler, order 1: ``u_next = u + dt F(u)``. SSP coefficient 1.

    Args:
        rhs: callable or ``nn.Module`` mapping a state ``(B, C, *space)`` to ``du/dt``.
    """

    TABLEAU = EULER_TABLEAU


class Midpoint(_NamedRK):
    """Explicit midpoint, order 2: ``u_next = u + dt F(u + dt/2 F(u))``. Not SSP.

    Args:
        rhs: callable or ``nn.Module`` mapping a state ``(B, C, *space)`` to ``du/dt``.
    """

    TABLEAU = MIDPOINT_TABLEAU


class Heun(_NamedRK):
    """Heun's method (explicit trapezoid, SSPRK2), order 2. SSP coefficient 1.

        k1 = F(u),  k2 = F(u + dt k1),  u_next = u + dt/2 (k1 + k2)

    Args:
        rhs: callable or ``nn.Module`` mapping a state ``(B, C, *space)`` to ``du/dt``.
    """

    TABLEAU = HEUN_TABLEAU


class Ralston(_NamedRK):
    """Ralston's two-stage method, order 2, minimal leading error constant. SSP coefficient 1/2.

        k1 = F(u),  k2 = F(u + 2/3 dt k1),  u_next = u + dt (k1/4 + 3 k2/4)

    Args:
        rhs: callable or ``nn.Module`` mapping a state ``(B, C, *space)`` to ``du/dt``.
    """

    TABLEAU = RALSTON_TABLEAU


class SSPRK3(_NamedRK):
    """Shu-Osher SSPRK(3,3), order 3, SSP coefficient 1 (total-variation-diminishing under ``dt <= dt_FE``).

        u1 = u + dt F(u);  u2 = 3/4 u + 1/4 (u1 + dt F(u1));  u_next = 1/3 u + 2/3 (u2 + dt F(u2))

    evaluated through its Butcher form (same result up to rounding).

    Args:
        rhs: callable or ``nn.Module`` mapping a state ``(B, C, *space)`` to ``du/dt``.
    """

    TABLEAU = SSPRK3_TABLEAU


class RK4(_NamedRK):
    """The classical fourth-order Runge-Kutta method. Not SSP.

        k1 = F(u), k2 = F(u + dt/2 k1), k3 = F(u + dt/2 k2), k4 = F(u + dt k3)
        u_next = u + dt/6 (k1 + 2 k2 + 2 k3 + k4)

    Args:
        rhs: callable or ``nn.Module`` mapping a state ``(B, C, *space)`` to ``du/dt``.
    """

    TABLEAU = RK4_TABLEAU


#: The fixed-step method classes, one per non-embedded tableau of the registry.
FIXED_STEP_METHODS = (Euler, Midpoint, Heun, Ralston, SSPRK3, RK4)
