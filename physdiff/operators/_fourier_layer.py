"""Fourier layer (spectral convolution of the Fourier Neural Operator), 1D, 2D and 3D.

For an input ``v`` of shape ``(batch, in_channels, n_0, ..., n_{d-1})`` on a
periodic grid, the layer computes

    y = irfftn( P_m[ W(k) v_hat(k) ] ),     v_hat = rfftn(v),

where ``W(k)`` is a learnable complex ``in_channels x out_channels`` matrix for
every retained wavenumber ``k`` and ``P_m`` zero-fills every other mode. The
retained set for ``n_modes = (m_0, ..., m_{d-1})`` is

    |q_a| <= m_a - 1 on every axis a          (integer wavenumber indices q_a),

i.e. ``2 m_a - 1`` indices ``0..m_a-1`` and ``-(m_a-1)..-1`` on every axis except
the last, and ``m_a`` indices ``0..m_a-1`` on the last axis, which ``rfftn``
stores as a half spectrum (its negative frequencies are the complex conjugates
of the positive ones and are implied). In the ``rfftn`` array these are the
"corners" ``[:m]`` and ``[n-m+1:]`` of every full axis.

Because the layer multiplies each retained mode independently, it is a
convolution on the torus: it commutes exactly with integer translations
(``torch.roll``) of the input.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ..core import PhysdiffError, check_field, check_ndim

__all__ = ["SpectralConv"]

_LETTERS = "xyz"


def _check_channels(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PhysdiffError(f"{name}: expected a positive int, got {value!r}.")
    return value


def _check_modes(n_modes: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(n_modes, bool):
        raise PhysdiffError(f"n_modes: expected a tuple of positive ints (one per spatial axis), got {n_modes!r}.")
    if isinstance(n_modes, int):
        modes: tuple = (n_modes,)
    else:
        try:
            modes = tuple(n_modes)
        except TypeError as exc:
            raise PhysdiffError(
                f"n_modes: expected a tuple of positive ints (one per spatial axis), got {n_modes!r}."
            ) from exc
    if len(modes) not in (1, 2, 3):
        raise PhysdiffError(
            f"n_modes: expected 1, 2 or 3 entries (one per spatial axis), got {len(modes)}: {modes!r}. "
            "Its length sets the number of spatial dimensions."
        )
    for axis, m in enumerate(modes):
        if isinstance(m, bool) or not isinstance(m, int) or m < 1:
            raise PhysdiffError(
                f"n_modes: expected positive ints, got {m!r} on axis {axis} in {modes!r}. "
                "n_modes[a] = m keeps the wavenumbers |q| <= m - 1 on axis a (m = 1 keeps only the mean)."
            )
    return modes


class SpectralConv(nn.Module):
    """FNO-style Fourier layer with learnable complex weights on the low modes.

    Args:
        in_channels, out_channels: channel counts of input and output.
        n_modes: one int per spatial axis (its length gives the dimension, 1 to 3);
            ``n_modes[a] = m`` keeps the integer wavenumbers ``|q_a| <= m - 1``.
            A grid needs ``n_a >= 2 m - 1`` points on that axis (checked at
            forward); the Nyquist mode is therefore never retained, so every axis is
            treated the same whichever one ``rfftn`` halves.
        dtype, device: of the weight (``float32`` by default).

    Weights:
        ``weight`` is a real parameter of shape
        ``(in_channels, out_channels, 2 m_0 - 1, ..., 2 m_{d-2} - 1, m_{d-1}, 2)``
        holding real and imaginary parts, viewed as complex with
        ``torch.view_as_complex`` at forward. Index ``j`` of a full axis maps to
        wavenumber ``j`` for ``j < m`` and ``j - (2m - 1)`` otherwise (the rfftn
        corner order). Real storage was chosen over a complex ``nn.Parameter``
        because ``module.double()``/``module.float()`` and ``module.half()`` only
        convert floating-point parameters (a complex one would silently keep its
        dtype), and because every optimizer, weight decay, gradient clipping and
        distributed/AMP utility handles real tensors.

        Initialisation: real and imaginary parts ~ ``N(0, 1 / (2 in_channels))``,
        so each complex entry has variance ``1 / in_channels`` and the spectral
        output keeps the input's per-mode variance.

    On the plane ``q_{d-1} = 0`` of the half spectrum the spectrum of a real
    field is conjugate-symmetric in the other axes; a general complex ``W`` breaks
    that symmetry and ``irfftn`` then keeps only its Hermitian part (for 1D: the
    real part of ``W(0)``). The map stays real-linear and translation-equivariant. There is no bias and no
    pointwise (1x1) path: an FNO block adds those around this layer.

    Example:
        >>> layer = SpectralConv(3, 5, n_modes=(4, 4))
        >>> layer(torch.randn(2, 3, 16, 12)).shape
        torch.Size([2, 5, 16, 12])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        n_modes: int | Sequence[int],
        *,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = _check_channels(in_channels, "in_channels")
        self.out_channels = _check_channels(out_channels, "out_channels")
        self.n_modes = _check_modes(n_modes)
        self.ndim = check_ndim(len(self.n_modes))
        if dtype is None:
            dtype = torch.get_default_dtype()
        if dtype not in (torch.float32, torch.float64):
            raise PhysdiffError(
                f"dtype: expected torch.float32 or torch.float64 for the real storage of the complex weights, "
                f"got {dtype}."
            )
        block = [2 * m - 1 for m in self.n_modes[:-1]] + [self.n_modes[-1]]
        self.weight = nn.Parameter(
            torch.empty(self.in_channels, self.out_channels, *block, 2, dtype=dtype, device=device)
        )
        subscripts = _LETTERS[: self.ndim]
        self._equation = f"bi{subscripts},io{subscripts}->bo{subscripts}"
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw real and imaginary parts from ``N(0, 1/(2 in_channels))``."""
        with torch.no_grad():
            self.weight.normal_(0.0, math.sqrt(1.0 / (2.0 * self.in_channels)))

    def extra_repr(self) -> str:
        return f"in_channels={self.in_channels}, out_channels={self.out_channels}, n_modes={self.n_modes}"

    # ------------------------------------------------------------------ helpers

    def _check_input(self, x: torch.Tensor) -> None:
        check_field(x, self.ndim, "input")
        if x.shape[1] != self.in_channels:
            raise PhysdiffError(
                f"input: expected {self.in_channels} channels (dim 1), got {x.shape[1]} in shape "
                f"{tuple(x.shape)}. Build the layer with in_channels={x.shape[1]} or fix the input's channel axis."
            )
        if x.dtype != self.weight.dtype:
            raise PhysdiffError(
                f"input: expected dtype {self.weight.dtype} (the dtype of the layer's weights), got {x.dtype}. "
                f"Convert the input (x.to({self.weight.dtype})) or the layer (layer.to({x.dtype}))."
            )
        for a, (m, n) in enumerate(zip(self.n_modes, x.shape[2:])):
            if 2 * m - 1 > n:
                raise PhysdiffError(
                    f"n_modes: n_modes[{a}] = {m} keeps wavenumbers |q| <= {m - 1}, so expected at least "
                    f"{2 * m - 1} grid points on spatial axis {a} (tensor dim {2 + a}), got {n} "
                    f"(input shape {tuple(x.shape)}). Use n_modes[{a}] <= {(n + 1) // 2} for this grid, "
                    "or a finer grid."
                )

    # ------------------------------------------------------------------ forward

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        d = self.ndim
        sizes = tuple(x.shape[2:])
        dims = tuple(range(2, 2 + d))
        spectrum = torch.fft.rfftn(x, dim=dims)

        # gather the retained block: corners [:m] and [n-m+1:] of every full axis
        block = spectrum
        for a in range(d - 1):
            m, n, dim = self.n_modes[a], sizes[a], 2 + a
            block = torch.cat([block.narrow(dim, 0, m), block.narrow(dim, n - m + 1, m - 1)], dim=dim)
        block = block.narrow(2 + d - 1, 0, self.n_modes[-1])

        out = torch.einsum(self._equation, block, torch.view_as_complex(self.weight))

        # scatter back: zero-fill between the corners, then pad the half axis
        last = 2 + d - 1
        pad = sizes[-1] // 2 + 1 - self.n_modes[-1]
        if pad:
            zeros = out.new_zeros(*out.shape[:last], pad)
            out = torch.cat([out, zeros], dim=last)
        for a in range(d - 1):
            m, n, dim = self.n_modes[a], sizes[a], 2 + a
            gap = n - (2 * m - 1)
            if gap:
                shape = list(out.shape)
                shape[dim] = gap
                out = torch.cat([out.narrow(dim, 0, m), out.new_zeros(shape), out.narrow(dim, m, m - 1)], dim=dim)
        return torch.fft.irfftn(out, s=sizes, dim=dims)
