"""'Same'-size n-dimensional convolutions shared by the learnable integrator pieces."""

from __future__ import annotations

from torch import nn

from ..core import PhysdiffError, check_ndim
from ._step_args import positive_int

_CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
PADDING_MODES = ("circular", "zeros", "reflect", "replicate")


def same_conv(
    ndim: int, in_channels: int, out_channels: int, kernel_size: int, padding_mode: str, where: str
) -> nn.Module:
    """``Conv{ndim}d`` with bias whose output has the input's spatial size.

    The kernel must be odd so the padding ``kernel_size // 2`` is symmetric;
    ``padding_mode="circular"`` wraps around a periodic domain.
    """
    try:
        check_ndim(ndim)
    except PhysdiffError as exc:
        raise PhysdiffError(f"{where}: {exc}") from None
    positive_int(in_channels, "channels", where)
    positive_int(out_channels, "channels", where)
    if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
        raise PhysdiffError(
            f"{where}: kernel_size: expected a positive odd int (so 'same' padding is symmetric), "
            f"got {kernel_size!r}. Use an odd size such as 1, 3 or 5."
        )
    if padding_mode not in PADDING_MODES:
        raise PhysdiffError(
            f"{where}: padding_mode: expected one of {PADDING_MODES} ('circular' for periodic domains), "
            f"got {padding_mode!r}."
        )
    return _CONV[ndim](in_channels, out_channels, kernel_size, padding=kernel_size // 2, padding_mode=padding_mode)
