"""physdiff: differentiable physics solvers for PyTorch.

Layers (lower layers never import higher ones):

* ``physdiff.core``: the exception type and argument checks.
* ``physdiff.operators``: exact finite-difference stencils, moment matrices,
  spectral and spherical operators.
* ``physdiff.integrators``: Butcher tableaux, explicit Runge-Kutta methods,
  the adaptive-gated RK2 of the ARK paper, PeRCNN's Pi-block, rollouts.
* ``physdiff.solvers`` and ``physdiff.learners``: compose the two above.
* ``physdiff.testing``: convergence-order helpers for users' own tests.

Importing physdiff has no side effects: no seeds, no warning filters, no
environment variables, no matplotlib and no sympy (sympy loads when a stencil
is first derived).
"""

from .core import PhysdiffError as PhysdiffError

__version__ = "0.1.0"

__all__ = ["PhysdiffError", "__version__"]
