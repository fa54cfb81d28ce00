"""Spatiotemporal (video) predictors: models judged on frame sequences such as Moving MNIST.

They are :class:`~physdiff.learners.SequenceLearner` s like every other learner, so they train on
PDE fields as well, with the same trainer, metrics and command line.
"""

from ._modernn import MoDeRNN as MoDeRNN
from ._phydnet import PhyDNet as PhyDNet

__all__: list[str] = ["MoDeRNN", "PhyDNet"]

from ._ark_cell import ARKCell as ARKCell  # noqa: E402
from ._arkmnet import ARKMNet as ARKMNet  # noqa: E402

__all__ += ["ARKCell", "ARKMNet"]

from ._physicnet import PhysicNet as PhysicNet  # noqa: E402

__all__ += ["PhysicNet"]
