"""Sequence learners built from physdiff operators and integrators.

Every learner implements :class:`SequenceLearner` (warm up on context frames, roll out
future frames, teacher forcing, state carry-over, checkpointing). This layer may import
``operators``, ``integrators`` and ``core``, and never ``solvers``, ``data`` or ``training``.
"""

from ._base import SequenceLearner as SequenceLearner
from ._base import detach_state as detach_state
from ._convlstm import ConvLSTM as ConvLSTM
from ._convlstm import ConvLSTMCell as ConvLSTMCell
from ._convlstm_autoencoder import ConvLSTMAutoencoder as ConvLSTMAutoencoder
from ._fno import FNO as FNO
from ._percnn import PeRCNN as PeRCNN
from ._percnn import integrator_names as integrator_names
from ._pi_expression import pi_block_expressions as pi_block_expressions
from ._pimrl import PIMRL as PIMRL
from ._upscaler import Upscaler as Upscaler
from ._upscaler import interpolation_target as interpolation_target
from ._upscaler import pretrain_upscaler as pretrain_upscaler

__all__: list[str] = ["SequenceLearner", "detach_state"]
__all__ += ["ConvLSTM", "ConvLSTMAutoencoder", "ConvLSTMCell", "FNO"]
__all__ += ["PIMRL", "PeRCNN", "Upscaler", "integrator_names", "interpolation_target", "pi_block_expressions",
            "pretrain_upscaler"]
