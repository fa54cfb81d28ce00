"""Spatiotemporal (video) predictors: models judged on frame sequences such as Moving MNIST.

They are :class:`~physdiff.learners.SequenceLearner` s like every other learner, so they train on
PDE fields as well, with the same trainer, metrics and command line.
"""

from ._ark_cell import ARKCell as ARKCell
from ._arkmnet import ARKMNet as ARKMNet

__all__: list[str] = ["ARKCell", "ARKMNet"]
