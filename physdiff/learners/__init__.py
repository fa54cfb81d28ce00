"""Sequence learners built from physdiff operators and integrators.

Every learner implements :class:`SequenceLearner` (warm up on context frames, roll out
future frames, teacher forcing, state carry-over, checkpointing). This layer may import
``operators``, ``integrators`` and ``core``, and never ``solvers``, ``data`` or ``training``.

The learners are grouped by family, each a subpackage; every public name is re-exported here:

* ``recurrent``: ConvLSTM and the recurrent cells;
* ``neural_operators``: FNO;
* ``physics_encoded``: PeRCNN, PIMRL;
* ``video``: spatiotemporal predictors judged on video benchmarks;
* ``blocks``: building blocks (attention, Fourier mixers, quantisers, ...) that models compose.
"""

from ._base import SequenceLearner as SequenceLearner
from ._base import detach_state as detach_state
from .blocks import *  # noqa: F403
from .blocks import __all__ as _blocks_all
from .neural_operators import *  # noqa: F403
from .neural_operators import __all__ as _neural_operators_all
from .physics_encoded import *  # noqa: F403
from .physics_encoded import __all__ as _physics_encoded_all
from .recurrent import *  # noqa: F403
from .recurrent import __all__ as _recurrent_all
from .video import *  # noqa: F403
from .video import __all__ as _video_all

__all__: list[str] = ["SequenceLearner", "detach_state"]
__all__ += _recurrent_all + _neural_operators_all + _physics_encoded_all + _video_all
__all__ += _blocks_all
