"""Linear stability of explicit Runge-Kutta methods along the negative real axis.

Applied to ``du/dt = lambda u`` an explicit method multiplies ``u`` by its stability
polynomial ``R(z) = 1 + z b^T (I - z A)^-1 1`` with ``z = lambda dt`` (a polynomial
because ``A`` is strictly lower triangular). Diffusion has real negative
eigenvalues, so the step is stable while ``|R(-x)| <= 1`` for every ``x`` in
``[0, dt |lambda|_max]``. :func:`real_stability_limit` returns the end of that
interval (2 for Euler and Heun, about 2.51 for SSPRK3 and 2.79 for RK4).
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


@lru_cache(maxsize=64)
def real_stability_limit(tableau: ButcherTableau, resolution: int = 20000, search_to: float = 40.0) -> float:
    """Largest ``r`` with ``|R(-x)| <= 1`` for all ``x`` in ``[0, r]`` (to ``search_to / resolution``)."""
    x = np.linspace(0.0, search_to, resolution + 1)
    values = np.abs(np.polynomial.polynomial.polyval(-x, stability_polynomial(tableau)))
    unstable = np.nonzero(values > 1.0 + 1e-12)[0]
    return float(x[unstable[0] - 1]) if unstable.size else search_to
