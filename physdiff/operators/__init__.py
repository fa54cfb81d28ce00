"""Spatial operators: exact finite-difference stencils, moment matrices, spectral and spherical operators.

Depends only on ``physdiff.core`` (and sympy at stencil-construction time).
"""

__all__: list[str] = []

# --- finite differences: stencils, boundaries, operator algebra ---

# --- moment matrices and moment-constrained convolutions ---

# --- spectral operators on periodic boxes ---

# --- sphere (torch-harmonics) ---
