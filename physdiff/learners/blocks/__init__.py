"""Building blocks that learners compose (attention, Fourier mixers, quantisers, warping, ...).

Blocks are ``nn.Module`` s with no sequence semantics of their own; the models that compose them
live in the family subpackages (``recurrent``, ``physics_encoded``, ``video``, ...).
"""

from ._upsample import LinearUpsample as LinearUpsample

__all__: list[str] = ["LinearUpsample"]
