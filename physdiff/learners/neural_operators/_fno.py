"""Fourier Neural Operator (Li et al. 2021) as a memoryless one-step sequence learner."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...core import PhysdiffError
from ...operators import SpectralConv
from .._base import SequenceLearner
from ..recurrent._convlstm import check_positive_int

__all__ = ["FNO"]


def _pointwise(ndim: int, sizes: Sequence[int]) -> nn.Sequential:
    """1x1 convolutions ``sizes[0] -> sizes[1] -> ...`` with GELU between them (a per-point MLP)."""
    conv = getattr(nn, f"Conv{ndim}d")
    layers: list[nn.Module] = []
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        if k:
            layers.append(nn.GELU())
        layers.append(conv(a, b, 1))
    return nn.Sequential(*layers)


class FNO(SequenceLearner):
    r"""Fourier Neural Operator on periodic 1D, 2D or 3D grids, stepping ``u_n -> u_{n+1}``.

    With ``K_l`` the Fourier layer :class:`physdiff.operators.SpectralConv` (learned complex
    weights on the wavenumbers ``|q_a| <= n_modes[a] - 1``, zero elsewhere), ``W_l`` a 1x1
    convolution (with bias) and ``sigma`` = GELU::

        v_0     = P(u_n, x)                               lifting, per point
        v_{l+1} = sigma(K_l v_l + W_l v_l)                 l = 0 .. L-2
        v_L     = K_{L-1} v_{L-1} + W_{L-1} v_{L-1}        (no activation on the last block)
        u_{n+1} = u_n + Q(v_L)     (residual=True),        Q(v_L) otherwise

    ``x`` are the grid coordinates ``i_a / n_a`` on ``[0, 1)`` (one channel per axis) when
    ``positional_embedding`` is True; they let the per-point maps depend on position, which
    a translation-equivariant network otherwise cannot. ``P`` is one 1x1 convolution
    (``lifting_channels=None``) or two with a GELU between (``in -> lifting -> hidden``);
    ``Q`` is ``hidden -> projection -> out`` with a GELU, ``projection_channels`` defaulting
    to ``2 * hidden_channels``. With ``residual=True`` the network learns the increment, so
    the untrained model starts near persistence.

    The model is memoryless (state None), and resolution-independent: the weights do not
    depend on the grid size, which need only satisfy ``n_a >= 2 n_modes[a] - 1``.

    Args:
        n_modes: retained modes per axis; its length (1 to 3) is the spatial dimension.
        hidden_channels: width of the Fourier blocks.
        in_channels: channels ``C`` of the frames.
        out_channels: must equal ``in_channels`` (None: equal), because the output is fed back
            as the next input in a rollout.
        n_layers: number of Fourier blocks.
        lifting_channels: hidden width of the lifting MLP, or None for a single linear map.
        projection_channels: hidden width of the projection MLP (None: ``2 * hidden_channels``).
        positional_embedding: append the normalised grid coordinates to the input.
        residual: predict the increment.
        time_step: physical interval between frames, if fixed (else None).
    """

    def __init__(self, n_modes: Sequence[int], hidden_channels: int, in_channels: int,
                 out_channels: int | None = None, n_layers: int = 4, lifting_channels: int | None = None,
                 projection_channels: int | None = None, positional_embedding: bool = True,
                 residual: bool = True, time_step: float | None = None) -> None:
        where = type(self).__name__
        if isinstance(n_modes, int) and not isinstance(n_modes, bool):
            n_modes = (n_modes,)
        if isinstance(n_modes, (str, bytes)) or not isinstance(n_modes, Sequence):
            raise PhysdiffError(f"{where}: n_modes: expected a tuple of positive ints (one per spatial axis, its "
                                f"length sets the dimension), got {n_modes!r}.")
        modes = tuple(n_modes)
        if len(modes) not in self.supported_ndims:
            raise PhysdiffError(f"{where}: n_modes: expected 1, 2 or 3 entries (one per spatial axis; its length "
                                f"sets the dimension), got {len(modes)}: {modes!r}.")
        if out_channels is not None and out_channels != in_channels:
            raise PhysdiffError(
                f"{where}: out_channels: expected None or in_channels={in_channels}, got {out_channels!r}. A "
                "sequence learner feeds each prediction back as the next input, so it must output the same "
                "channels it reads. Predict extra quantities with a separate head."
            )
        super().__init__(in_channels, len(modes), time_step=time_step)
        self.hidden_channels = check_positive_int(hidden_channels, "hidden_channels", where)
        self.n_layers = check_positive_int(n_layers, "n_layers", where)
        if lifting_channels is not None:
            check_positive_int(lifting_channels, "lifting_channels", where)
        if projection_channels is not None:
            check_positive_int(projection_channels, "projection_channels", where)
        self.lifting_channels, self.projection_channels = lifting_channels, projection_channels
        self.positional_embedding, self.residual = bool(positional_embedding), bool(residual)
        d, h = self.ndim, self.hidden_channels
        lift_in = in_channels + (d if self.positional_embedding else 0)
        self.lifting = _pointwise(d, [lift_in, h] if lifting_channels is None else [lift_in, lifting_channels, h])
        self.spectral = nn.ModuleList(SpectralConv(h, h, modes) for _ in range(self.n_layers))
        self.n_modes = self.spectral[0].n_modes
        conv = getattr(nn, f"Conv{d}d")
        self.skips = nn.ModuleList(conv(h, h, 1) for _ in range(self.n_layers))
        self.projection = _pointwise(d, [h, projection_channels or 2 * h, in_channels])
        self._grids: dict[tuple, torch.Tensor] = {}

    def _grid(self, u: torch.Tensor) -> torch.Tensor:
        """Coordinates ``(1, ndim, *space)``, channel ``a`` = ``i_a / n_a``; cached per (shape, dtype, device)."""
        sizes = tuple(u.shape[2:])
        key = (sizes, u.dtype, u.device)
        grid = self._grids.get(key)
        if grid is None:
            axes = [torch.arange(n, dtype=u.dtype, device=u.device) / n for n in sizes]
            grid = torch.stack(torch.meshgrid(*axes, indexing="ij"))[None]
            self._grids[key] = grid
        return grid

    def step(self, u: torch.Tensor, state: None) -> tuple[torch.Tensor, None]:
        v = u
        if self.positional_embedding:
            grid = self._grid(u)
            v = torch.cat([u, grid.expand(u.shape[0], *grid.shape[1:])], dim=1)
        v = self.lifting(v)
        for layer, (spectral, skip) in enumerate(zip(self.spectral, self.skips)):
            v = spectral(v) + skip(v)
            if layer < self.n_layers - 1:
                v = F.gelu(v)
        out = self.projection(v)
        return (u + out if self.residual else out), None

    def config(self) -> dict[str, Any]:
        return {"n_modes": list(self.n_modes), "hidden_channels": self.hidden_channels,
                "in_channels": self.channels, "out_channels": self.channels, "n_layers": self.n_layers,
                "lifting_channels": self.lifting_channels, "projection_channels": self.projection_channels,
                "positional_embedding": self.positional_embedding, "residual": self.residual,
                "time_step": self.time_step}
