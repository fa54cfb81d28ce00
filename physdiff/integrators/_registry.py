"""The tableaux physdiff ships, with exact rational coefficients.

Each entry is validated on import (order conditions and SSP coefficient
included), so a typo in a coefficient fails loudly here, not as a silent loss
of accuracy in a long rollout.
"""

from __future__ import annotations

from fractions import Fraction as F

from ._tableau import ButcherTableau

#: Forward Euler, first order, one stage.
EULER_TABLEAU = ButcherTableau(a=[[0]], b=[1], c=[0], order=1, name="euler", ssp_coefficient=1)

#: The explicit midpoint method, second order, two stages.
MIDPOINT_TABLEAU = ButcherTableau(
    a=[[0, 0], [F(1, 2), 0]], b=[0, 1], c=[0, F(1, 2)], order=2, name="midpoint"
)

#: Heun's method (the explicit trapezoidal rule), second order, two stages, SSP.
HEUN_TABLEAU = ButcherTableau(
    a=[[0, 0], [1, 0]], b=[F(1, 2), F(1, 2)], c=[0, 1], order=2, name="heun", ssp_coefficient=1
)

#: Ralston's second-order method minimises the leading error coefficient among two-stage methods.
RALSTON_TABLEAU = ButcherTableau(
    a=[[0, 0], [F(2, 3), 0]], b=[F(1, 4), F(3, 4)], c=[0, F(2, 3)], order=2, name="ralston",
    ssp_coefficient=F(1, 2),
)

#: Shu-Osher three-stage third-order strong-stability-preserving method.
SSPRK3_TABLEAU = ButcherTableau(
    a=[[0, 0, 0], [1, 0, 0], [F(1, 4), F(1, 4), 0]],
    b=[F(1, 6), F(1, 6), F(2, 3)],
    c=[0, 1, F(1, 2)],
    order=3,
    name="ssprk3",
    ssp_coefficient=1,
)

#: The classical fourth-order Runge-Kutta method, four stages.
RK4_TABLEAU = ButcherTableau(
    a=[[0, 0, 0, 0], [F(1, 2), 0, 0, 0], [0, F(1, 2), 0, 0], [0, 0, 1, 0]],
    b=[F(1, 6), F(1, 3), F(1, 3), F(1, 6)],
    c=[0, F(1, 2), F(1, 2), 1],
    order=4,
    name="rk4",
)

#: Bogacki-Shampine 3(2): b is third order, b_error second order; last stage is FSAL.
BOGACKI_SHAMPINE_TABLEAU = ButcherTableau(
    a=[
        [0, 0, 0, 0],
        [F(1, 2), 0, 0, 0],
        [0, F(3, 4), 0, 0],
        [F(2, 9), F(1, 3), F(4, 9), 0],
    ],
    b=[F(2, 9), F(1, 3), F(4, 9), 0],
    c=[0, F(1, 2), F(3, 4), 1],
    order=3,
    b_error=[F(7, 24), F(1, 4), F(1, 3), F(1, 8)],
    name="bogacki_shampine",
    error_order=2,
)

#: Dormand-Prince 5(4): b is fifth order (local extrapolation), b_error fourth order; FSAL.
DORMAND_PRINCE_TABLEAU = ButcherTableau(
    a=[
        [0, 0, 0, 0, 0, 0, 0],
        [F(1, 5), 0, 0, 0, 0, 0, 0],
        [F(3, 40), F(9, 40), 0, 0, 0, 0, 0],
        [F(44, 45), F(-56, 15), F(32, 9), 0, 0, 0, 0],
        [F(19372, 6561), F(-25360, 2187), F(64448, 6561), F(-212, 729), 0, 0, 0],
        [F(9017, 3168), F(-355, 33), F(46732, 5247), F(49, 176), F(-5103, 18656), 0, 0],
        [F(35, 384), 0, F(500, 1113), F(125, 192), F(-2187, 6784), F(11, 84), 0],
    ],
    b=[F(35, 384), 0, F(500, 1113), F(125, 192), F(-2187, 6784), F(11, 84), 0],
    c=[0, F(1, 5), F(3, 10), F(4, 5), F(8, 9), 1, 1],
    order=5,
    b_error=[F(5179, 57600), 0, F(7571, 16695), F(393, 640), F(-92097, 339200), F(187, 2100), F(1, 40)],
    name="dormand_prince",
    error_order=4,
)

#: Every tableau physdiff ships, in order of increasing cost.
ALL_TABLEAUX: tuple[ButcherTableau, ...] = (
    EULER_TABLEAU,
    MIDPOINT_TABLEAU,
    HEUN_TABLEAU,
    RALSTON_TABLEAU,
    SSPRK3_TABLEAU,
    RK4_TABLEAU,
    BOGACKI_SHAMPINE_TABLEAU,
    DORMAND_PRINCE_TABLEAU,
)
