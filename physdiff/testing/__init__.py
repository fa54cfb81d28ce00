"""Public helpers to verify numerics: observed convergence orders and assertions."""

from ._convergence import ConvergenceStudy as ConvergenceStudy
from ._convergence import assert_order as assert_order
from ._convergence import grid_coordinates as grid_coordinates
from ._convergence import integrator_convergence as integrator_convergence
from ._convergence import observed_order as observed_order
from ._convergence import operator_convergence as operator_convergence

__all__ = [
    "ConvergenceStudy",
    "assert_order",
    "grid_coordinates",
    "integrator_convergence",
    "observed_order",
    "operator_convergence",
]
