"""A sparse n-dimensional stencil (offset -> weight) and its two application routes.

The same linear operator ``(K u)_i = sum_s K[s] u_{i+s}`` is applied either as a
sum of shifted slices of a padded tensor, or as a convolution with the dense
kernel. Both read a tensor already padded by :attr:`SparseKernel.pad_widths`
and return the "valid" part, so boundary handling (periodic wrap, ghost
values) stays outside.

Which route is faster depends on the case; ``benchmarks/laplacian.py``
measures both. On CPUs, shifted sums win for the few-channel fields of PDE
solvers (a conv3d over one or two channels is several times slower), so
``method="auto"`` picks them there and the convolution on CUDA, where one
fused kernel launch beats many small ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F

from ..core import PhysdiffError

Offset = tuple[int, ...]

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
METHODS = ("auto", "shift", "conv", "compiled")


@dataclass(frozen=True)
class SparseKernel:
    """Weights of an n-dimensional stencil, keyed by integer offset tuples.

    Immutable; ``+``, scalar ``*`` and :meth:`compose` return new kernels.
    Zero weights are dropped, so sums that cancel stay small.
    """

    points: tuple[tuple[Offset, float], ...]
    ndim: int

    @classmethod
    def from_mapping(cls, points: Mapping[Offset, float] | Iterable[tuple[Offset, float]], ndim: int) -> "SparseKernel":
        merged: dict[Offset, float] = {}
        items = points.items() if isinstance(points, Mapping) else points
        for offset, weight in items:
            offset = tuple(int(o) for o in offset)
            if len(offset) != ndim:
                raise PhysdiffError(f"kernel offset {offset}: expected {ndim} components, got {len(offset)}.")
            merged[offset] = merged.get(offset, 0.0) + float(weight)
        kept = tuple(sorted((o, w) for o, w in merged.items() if w != 0.0))
        return cls(points=kept, ndim=ndim)

    @classmethod
    def along_axis(cls, offsets: Iterable[int], weights: Iterable[float], axis: int, ndim: int) -> "SparseKernel":
        """A 1D stencil placed along ``axis`` of an ``ndim``-dimensional grid."""
        def place(o: int) -> Offset:
            return tuple(o if a == axis else 0 for a in range(ndim))

        return cls.from_mapping([(place(o), w) for o, w in zip(offsets, weights)], ndim)

    # ------------------------------------------------------------------ algebra
    def __add__(self, other: "SparseKernel") -> "SparseKernel":
        return SparseKernel.from_mapping(list(self.points) + list(other.points), self.ndim)

    def scale(self, factor: float) -> "SparseKernel":
        return SparseKernel.from_mapping([(o, w * factor) for o, w in self.points], self.ndim)

    def compose(self, other: "SparseKernel") -> "SparseKernel":
        """Kernel of ``self(other(u))``: offsets add, weights multiply."""
        return SparseKernel.from_mapping(
            [
                (tuple(a + b for a, b in zip(oa, ob)), wa * wb)
                for oa, wa in self.points
                for ob, wb in other.points
            ],
            self.ndim,
        )

    # --------------------------------------------------------------- geometry
    @property
    def pad_widths(self) -> tuple[tuple[int, int], ...]:
        """Per axis, how many cells the stencil reaches below and above a point."""
        if not self.points:
            return ((0, 0),) * self.ndim
        return tuple(
            (max(0, -min(o[a] for o, _ in self.points)), max(0, max(o[a] for o, _ in self.points)))
            for a in range(self.ndim)
        )

    def dense(self, dtype: torch.dtype = torch.float64, device: torch.device | None = None) -> torch.Tensor:
        """The dense cross-correlation kernel, centred so that ``pad_widths`` is its reach."""
        pads = self.pad_widths
        shape = tuple(lo + hi + 1 for lo, hi in pads)
        kernel = torch.zeros(shape, dtype=dtype, device=device)
        for offset, weight in self.points:
            kernel[tuple(o + lo for o, (lo, _) in zip(offset, pads))] = weight
        return kernel

    # -------------------------------------------------------------- application
    def apply_valid(self, padded: torch.Tensor, method: str = "auto") -> torch.Tensor:
        """Apply to a field padded by :attr:`pad_widths`; return the unpadded-size result.

        ``"compiled"`` is handled by periodic operators before padding; here it means shifted sums.
        """
        if method in ("auto", "compiled"):
            method = "conv" if padded.is_cuda else "shift"
        if method in ("shift", "compiled"):
            return self._apply_shift(padded)
        if method == "conv":
            return self._apply_conv(padded)
        raise PhysdiffError(f"method: expected one of {METHODS}, got {method!r}.")

    def _apply_shift(self, padded: torch.Tensor) -> torch.Tensor:
        terms = _shift_plan(self, tuple(padded.shape[2:]))
        if not terms:
            sizes = [n - lo - hi for n, (lo, hi) in zip(padded.shape[2:], self.pad_widths)]
            return padded.new_zeros(padded.shape[:2] + tuple(sizes))
        index, weight = terms[0]
        # The first term allocates the result; the rest accumulate in place
        # (add_ with alpha is one fused pass, and autograd allows it here
        # because mul by a Python scalar saves nothing for backward).
        out = padded[index] * weight
        for index, weight in terms[1:]:
            out.add_(padded[index], alpha=weight)
        return out

    def _apply_conv(self, padded: torch.Tensor) -> torch.Tensor:
        batch, channels = padded.shape[:2]
        kernel = self.dense(padded.dtype, padded.device)[None, None]
        flat = padded.reshape(batch * channels, 1, *padded.shape[2:])
        out = _CONV[self.ndim](flat, kernel)
        return out.reshape(batch, channels, *out.shape[2:])


@lru_cache(maxsize=256)
def _shift_plan(kernel: SparseKernel, padded_shape: tuple[int, ...]) -> tuple[tuple[tuple, float], ...]:
    """Slice index and weight of every term, built once per (kernel, shape): the hot
    loop then does no Python-level index arithmetic."""
    pads = kernel.pad_widths
    sizes = [n - lo - hi for n, (lo, hi) in zip(padded_shape, pads)]
    plan = []
    for offset, weight in kernel.points:
        index = (Ellipsis,) + tuple(slice(lo + o, lo + o + n) for o, (lo, _), n in zip(offset, pads, sizes))
        plan.append((index, weight))
    # Start from the largest-magnitude weight (the centre for a Laplacian), which
    # is the natural term to allocate the result with.
    plan.sort(key=lambda term: -abs(term[1]))
    return tuple(plan)
