"""A periodic stencil as one compiled loop: ``torch.compile`` of wrap-around + shifted sums.

Eager shifted sums cost one pass over memory per stencil point (see ``_sparse_kernel``).
Traced by dynamo, the same arithmetic becomes one vectorised inductor loop that reads each
input once. Two details matter for the generated code (measured on the benchmark CPU):

* the periodic halo is built by concatenating edge slices, not with ``torch.roll`` or a
  circular ``F.pad``; inductor turns the concatenation into index arithmetic it can vectorise,
  while ``roll`` makes it fall back to element-by-element gathers;
* the terms are summed out of place (``out = out + w * term``), which inductor fuses; in-place
  accumulation would force a materialised buffer per term.

Compilation is lazy and optional (:class:`physdiff.core._compiled.LazyCompiled`): a key
(grid shape, dtype, device) compiles only after about 1e9 elements of eager work under
``method="auto"``, at once under ``method="compiled"``, and any compiler failure falls back
to the eager route with one warning.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import torch

from ..core._compiled import LazyCompiled
from ._sparse_kernel import SparseKernel


def _periodic_apply(kernel: SparseKernel) -> Callable[[torch.Tensor], torch.Tensor]:
    pads = kernel.pad_widths
    points = kernel.points

    def apply(u: torch.Tensor) -> torch.Tensor:
        padded = u
        for axis, (lo, hi) in enumerate(pads):
            dim = 2 + axis
            n = padded.shape[dim]
            parts = ([padded.narrow(dim, n - lo, lo)] if lo else []) + [padded] + (
                [padded.narrow(dim, 0, hi)] if hi else []
            )
            if len(parts) > 1:
                padded = torch.cat(parts, dim)
        sizes = u.shape[2:]
        out = None
        for offset, weight in points:
            index = (Ellipsis,) + tuple(slice(lo + o, lo + o + n) for o, (lo, _), n in zip(offset, pads, sizes))
            term = padded[index] * weight
            out = term if out is None else out + term
        return out if out is not None else torch.zeros_like(u)

    return apply


@lru_cache(maxsize=64)
def compiled_periodic_stencil(kernel: SparseKernel) -> LazyCompiled:
    """The lazily compiled periodic application of ``kernel`` (one per distinct kernel)."""
    return LazyCompiled(_periodic_apply(kernel), f"periodic stencil ({len(kernel.points)} points)")


def eager_periodic_stencil(kernel: SparseKernel, u: torch.Tensor) -> torch.Tensor:
    """The same arithmetic run eagerly (reference for tests)."""
    return _periodic_apply(kernel)(u)
