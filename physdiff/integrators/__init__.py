"""Time integrators: Butcher tableaux, explicit Runge-Kutta methods, embedded pairs,
the adaptive-gated RK2 of the ARK paper, PeRCNN's Pi-block, rollouts and the linear
recurrence scan ``h_t = a_t h_{t-1} + b_t`` (sequential and log-space).

Contract: every integrator is an ``nn.Module`` built around a right-hand side
``rhs`` (callable or ``nn.Module``) mapping a state ``(B, C, *space)`` to its
time derivative; ``integrator(u, dt)`` returns the state one step later, with
``dt`` a finite float or a ``(B,)`` tensor. Depends only on ``physdiff.core``.
"""

from ._adaptive_rk2 import AdaptiveRK2 as AdaptiveRK2
from ._embedded import BogackiShampine as BogackiShampine
from ._embedded import DormandPrince as DormandPrince
from ._embedded import EmbeddedRK as EmbeddedRK
from ._embedded import SolveResult as SolveResult
from ._etdrk import ETDRK as ETDRK
from ._etdrk import ETDRK_SCHEMES as ETDRK_SCHEMES
from ._etdrk import phi_functions as phi_functions
from ._explicit_rk import ExplicitRK as ExplicitRK
from ._explicit_rk import explicit_rk_step as explicit_rk_step
from ._methods import FIXED_STEP_METHODS as FIXED_STEP_METHODS
from ._methods import RK4 as RK4
from ._methods import SSPRK3 as SSPRK3
from ._methods import Euler as Euler
from ._methods import Heun as Heun
from ._methods import Midpoint as Midpoint
from ._methods import Ralston as Ralston
from ._linear_scan import SCAN_METHODS as SCAN_METHODS
from ._linear_scan import linear_scan as linear_scan
from ._linear_scan import log_linear_scan as log_linear_scan
from ._linear_scan import resolve_scan_method as resolve_scan_method
from ._pi_block import PiBlock as PiBlock
from ._registry import ALL_TABLEAUX as ALL_TABLEAUX
from ._registry import BOGACKI_SHAMPINE_TABLEAU as BOGACKI_SHAMPINE_TABLEAU
from ._registry import DORMAND_PRINCE_TABLEAU as DORMAND_PRINCE_TABLEAU
from ._registry import EULER_TABLEAU as EULER_TABLEAU
from ._registry import HEUN_TABLEAU as HEUN_TABLEAU
from ._registry import MIDPOINT_TABLEAU as MIDPOINT_TABLEAU
from ._registry import RALSTON_TABLEAU as RALSTON_TABLEAU
from ._registry import RK4_TABLEAU as RK4_TABLEAU
from ._registry import SSPRK3_TABLEAU as SSPRK3_TABLEAU
from ._rollout import rollout as rollout
from ._stability import imaginary_stability_limit as imaginary_stability_limit
from ._stability import real_stability_limit as real_stability_limit
from ._stability import stability_polynomial as stability_polynomial
from ._tableau import ButcherTableau as ButcherTableau

__all__ = [
    "SCAN_METHODS",
    "linear_scan",
    "log_linear_scan",
    "resolve_scan_method",
    "ALL_TABLEAUX",
    "AdaptiveRK2",
    "BOGACKI_SHAMPINE_TABLEAU",
    "BogackiShampine",
    "ButcherTableau",
    "DORMAND_PRINCE_TABLEAU",
    "DormandPrince",
    "ETDRK",
    "ETDRK_SCHEMES",
    "EULER_TABLEAU",
    "EmbeddedRK",
    "Euler",
    "ExplicitRK",
    "FIXED_STEP_METHODS",
    "HEUN_TABLEAU",
    "Heun",
    "MIDPOINT_TABLEAU",
    "Midpoint",
    "PiBlock",
    "RALSTON_TABLEAU",
    "RK4",
    "RK4_TABLEAU",
    "Ralston",
    "SSPRK3",
    "SSPRK3_TABLEAU",
    "SolveResult",
    "explicit_rk_step",
    "phi_functions",
    "imaginary_stability_limit",
    "real_stability_limit",
    "stability_polynomial",
    "rollout",
]
