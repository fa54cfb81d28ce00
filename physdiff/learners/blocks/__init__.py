"""Building blocks that learners compose (attention, Fourier mixers, quantisers, warping, ...).

Blocks are ``nn.Module`` s with no sequence semantics of their own; the models that compose them
live in the family subpackages (``recurrent``, ``physics_encoded``, ``video``, ...).
"""

__all__: list[str] = []

from ._vector_quantizer import Quantized as Quantized
from ._vector_quantizer import VectorQuantizer as VectorQuantizer
from ._views import crop as crop
from ._views import paste as paste
from ._views import random_corners as random_corners
from ._views import tiling_corners as tiling_corners

__all__ += ["Quantized", "VectorQuantizer", "crop", "paste", "random_corners", "tiling_corners"]
