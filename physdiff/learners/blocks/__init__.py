"""Building blocks that learners compose (attention, Fourier mixers, quantisers, warping, ...).

Blocks are ``nn.Module`` s with no sequence semantics of their own; the models that compose them
live in the family subpackages (``recurrent``, ``physics_encoded``, ``video``, ...).
"""

from ._detail_context import DetailContextBlock as DetailContextBlock
from ._detail_context import MultiKernelAttention as MultiKernelAttention
from ._fourier_block import FourierBlock as FourierBlock
from ._fourier_block import SpectralMLP as SpectralMLP
from ._moment_rhs import MomentRHS as MomentRHS
from ._patching import depth_to_space as depth_to_space
from ._patching import space_to_depth as space_to_depth
from ._swin_block import DropPath as DropPath
from ._swin_block import SwinBlock as SwinBlock
from ._swin_block import SwinStack as SwinStack
from ._window_attention import WindowAttention as WindowAttention
from ._window_attention import shifted_window_mask as shifted_window_mask

__all__: list[str] = ["DetailContextBlock", "MultiKernelAttention", "depth_to_space", "space_to_depth"]
__all__ += ["DropPath", "FourierBlock", "MomentRHS", "SpectralMLP", "SwinBlock", "SwinStack", "WindowAttention",
            "shifted_window_mask"]

from ._vector_quantizer import Quantized as Quantized  # noqa: E402
from ._vector_quantizer import VectorQuantizer as VectorQuantizer  # noqa: E402
from ._views import crop as crop  # noqa: E402
from ._views import paste as paste  # noqa: E402
from ._views import random_corners as random_corners  # noqa: E402
from ._views import tiling_corners as tiling_corners  # noqa: E402

__all__ += ["Quantized", "VectorQuantizer", "crop", "paste", "random_corners", "tiling_corners"]

from ._upsample import LinearUpsample as LinearUpsample  # noqa: E402

__all__ += ["LinearUpsample"]
