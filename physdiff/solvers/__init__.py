"""Reference PDE solvers built from physdiff operators and integrators.

Every PDE is a right-hand-side module (:class:`PDE`) usable by any integrator;
:func:`simulate` runs it. This layer imports only ``core``, ``operators`` and
``integrators``.
"""

from ._base import PDE as PDE
from ._gray_scott import GrayScott as GrayScott
from ._simulate import StateSink as StateSink
from ._simulate import simulate as simulate

__all__ = ["GrayScott", "PDE", "StateSink", "simulate"]

# --- finite-difference PDEs: diffusion, Burgers, FitzHugh-Nagumo, lambda-omega ---
from ._burgers import Burgers as Burgers
from ._diffusion import Diffusion as Diffusion
from ._fitzhugh_nagumo import FitzHughNagumo as FitzHughNagumo
from ._lambda_omega import LambdaOmega as LambdaOmega

__all__ += ["Burgers", "Diffusion", "FitzHughNagumo", "LambdaOmega"]

# --- spectral PDEs: KdV, Navier-Stokes ---
from ._kdv import KdV as KdV
from ._navier_stokes import NavierStokes2D as NavierStokes2D

__all__ += ["KdV", "NavierStokes2D"]

# --- sphere: shallow water ---
from ._shallow_water import ShallowWaterSphere as ShallowWaterSphere

__all__ += ["ShallowWaterSphere"]

# A PDE's own scheme (Crank-Nicolson, ETDRK4) behind the integrator interface.
from ._native import NativeScheme as NativeScheme

__all__ += ["NativeScheme"]
