"""Physics-encoded learners: known PDE terms hard-coded as operators (PeRCNN, PIMRL)."""

from ._percnn import PeRCNN as PeRCNN
from ._percnn import integrator_names as integrator_names
from ._pi_expression import pi_block_expressions as pi_block_expressions
from ._pimrl import PIMRL as PIMRL
from ._upscaler import Upscaler as Upscaler
from ._upscaler import interpolation_target as interpolation_target
from ._upscaler import pretrain_upscaler as pretrain_upscaler

__all__: list[str] = ["PIMRL", "PeRCNN", "Upscaler", "integrator_names", "interpolation_target", "pi_block_expressions",
                      "pretrain_upscaler"]
