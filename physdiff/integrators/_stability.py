"""Linear stability of explicit Runge-Kutta methods along the negative real axis.

Applied to ``du/dt = lambda u`` an explicit method multiplies ``u`` by its stability
polynomial ``R(z) = 1 + z b^T (I - z A)^-1 1`` with ``z = lambda dt`` (a polynomial
because ``A`` is strictly lower triangular). Diffusion has real negative
eigenvalues, so the step is stable while ``|R(-x)| <= 1`` for every ``x`` in
``[0, dt |lambda|_max]``. :func:`real_stability_limit` returns the end of that
interval (2 for Euler and Heun, about 2.51 for SSPRK3 and 2.79 for RK4).
Dispersion and advection have imaginary eigenvalues instead;
:func:`imaginary_stability_limit` bounds ``|R(i y)| <= 1`` (0 for Euler and Heun,
which amplify every undamped wave, sqrt 3 for SSPRK3, 2 sqrt 2 for RK4).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ._tableau import ButcherTableau


def stability_polynomial(tableau: ButcherTableau) -> np.ndarray:
    """Coefficients ``c_k`` of ``R(z) = sum_k c_k z^k`` (lowest degree first)."""
    a = np.array([[float(x) for x in row] for row in tableau.a], dtype=np.float64)
    b = np.array([float(x) for x in tableau.b], dtype=np.float64)
    # R(z) = 1 + sum_{k>=1} z^k b^T A^(k-1) 1; A is nilpotent, so the series ends at k = stages.
    coefficients = [1.0]
    power = np.ones(len(b))
    for _ in range(len(b)):
        coefficients.append(float(b @ power))
        power = a @ power
    return np.array(coefficients)


def _limit_along(tableau: ButcherTableau, direction: complex, search_to: float, resolution: int) -> float:
    """Largest ``r`` with ``|R(direction * s)| <= 1`` for all ``s`` in ``[0, r]``."""
    s = np.linspace(0.0, search_to, resolution + 1)
    values = np.abs(np.polynomial.polynomial.polyval(direction * s, stability_polynomial(tableau)))
    # A few ulps of slack: exact boundary points (Euler at x = 2) stay stable, while
    # Heun's |R(iy)|^2 = 1 + y^4/4 is already unstable at the first grid point.
    unstable = np.nonzero(values > 1.0 + 4 * np.finfo(np.float64).eps)[0]
    return float(s[unstable[0] - 1]) if unstable.size else search_to


@lru_cache(maxsize=64)
def real_stability_limit(tableau: ButcherTableau, resolution: int = 20000, search_to: float = 40.0) -> float:
    """Largest ``r`` with ``|R(-x)| <= 1`` for all ``x`` in ``[0, r]`` (to ``search_to / resolution``)."""
    return _limit_along(tableau, -1.0, search_to, resolution)


@lru_cache(maxsize=64)
def imaginary_stability_limit(tableau: ButcherTableau, resolution: int = 16000, search_to: float = 8.0) -> float:
    """Largest ``y`` with ``|R(i s)| <= 1`` for all ``s`` in ``[0, y]`` (0 for Euler and Heun)."""
    return _limit_along(tableau, 1j, search_to, resolution)
