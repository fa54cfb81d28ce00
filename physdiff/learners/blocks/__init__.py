"""Building blocks that learners compose (attention, Fourier mixers, quantisers, warping, ...).

Blocks are ``nn.Module`` s with no sequence semantics of their own; the models that compose them
live in the family subpackages (``recurrent``, ``physics_encoded``, ``video``, ...).
"""

from ._fourier_block import FourierBlock as FourierBlock
from ._fourier_block import SpectralMLP as SpectralMLP
from ._moment_rhs import MomentRHS as MomentRHS
from ._swin_block import DropPath as DropPath
from ._swin_block import SwinBlock as SwinBlock
from ._swin_block import SwinStack as SwinStack
from ._window_attention import WindowAttention as WindowAttention
from ._window_attention import shifted_window_mask as shifted_window_mask

__all__: list[str] = [
    "DropPath", "FourierBlock", "MomentRHS", "SpectralMLP", "SwinBlock", "SwinStack", "WindowAttention", "shifted_window_mask",
]
