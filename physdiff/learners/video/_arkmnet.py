"""ARKMNet: patch embedding, stacked ARK cells, a decoder (Zhao et al., arXiv 2405.14504; spatiotemporal.md 1)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from ...core import PhysdiffError
from ...operators import sobolev_loss
from .._base import SequenceLearner
from ..blocks._swin_block import effective_window
from ..blocks._window_attention import ATTENTIONS
from ._ark_cell import RK_MODES, ARKCell
from ._grid import grid_argument

__all__ = ["ARKMNet"]

DECODERS = ("transposed", "bilinear")
OUTPUTS = ("sigmoid", "identity")
PADDINGS = ("zeros", "circular")


def _positive_int(value: object, name: str, where: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PhysdiffError(f"{where}: {name}: expected an int >= {minimum}, got {value!r}.")
    return value


def _choice(value: object, name: str, options: tuple[str, ...], where: str) -> str:
    if value not in options:
        raise PhysdiffError(f"{where}: {name}: expected one of {options}, got {value!r}.")
    return value  # type: ignore[return-value]


class ARKMNet(SequenceLearner):
    r"""The ARK network: adaptive Runge-Kutta dynamics in a Swin + Fourier latent space.

    Per frame ``u_t`` ``(B, C_in, H, W)``::

        x_t   = LayerNorm(Conv_{p x p, stride p}(u_t))     tokens (B, N, C), N = (H/p)(W/p)
        H^1   = ARKCell_1(x_t, H^1, h^1, c^1);  H^j = ARKCell_j(H^{j-1}, ...)   j = 2 .. n_layers
        u_t+1 = out( Dec(H^L) )

    with the cell of :mod:`._ark_cell` (Swin + token-wise LSTM correction with a balancing
    gate, Fourier blocks, stage-gated RK2 around PhyDNet's moment-constrained convolution),
    ``Dec`` a LayerNorm over the channels (a physdiff choice: the source's decoder was not found, and
    without it the unbounded latent state saturated the sigmoid in training) then a ``p x p`` stride-``p``
    transposed convolution (``decoder="transposed"``, the
    paper's choice) or a 1x1 convolution then bilinear ``x p`` upsampling (``"bilinear"``, the
    paper's ablation), each followed by GELU and a 3x3 convolution, and ``out`` a sigmoid
    (``output="sigmoid"``, video in [0, 1]) or the identity (fields).

    Training loss (paper: ``L = MSE + H1 + L_moment``): the trainer's MSE, plus
    :meth:`prediction_loss` = ``h1_weight`` times FNO's relative Sobolev loss
    (:func:`physdiff.operators.sobolev_loss`, ``a = 1``) over the predicted frames, plus
    :meth:`auxiliary_loss` = ``moment_weight`` times PhyDNet's moment loss of every cell.

    Ablations, one argument each: ``n_fourier=0`` (no frequency module), ``correction=False``
    (no correction module), ``rk_mode`` in ``("adaptive", "heun", "euler")``,
    ``decoder="bilinear"``, ``h1_weight=0``, ``moment_weight=0``.

    A window not smaller than the token grid shrinks to the grid and is not shifted (Swin's rule);
    a token grid the window does not divide is refused.

    Args:
        channels: frame channels ``C_in``.
        ndim: must be 2.
        grid: ``(H, W)`` of the frames, multiples of ``patch_size`` (and of ``patch_size * window``
            unless the window covers the whole token grid); default 64x64.
        patch_size: ``p``.
        hidden: token channels ``C``.
        n_layers: stacked cells.
        swin_depth, heads, window, mlp_ratio, drop_path: Swin stack of each cell.
        n_fourier, fourier_groups: Fourier blocks per cell and their channel groups.
        correction: keep the correction module.
        rk_mode: ``"adaptive"``, ``"heun"`` or ``"euler"``.
        moment_kernel_size, moment_order: the derivative filters (``k x k``, orders ``<= moment_order`` per axis;
            default all ``k^2``: PhyDNet's 49 for ``k = 7``).
        decoder: ``"transposed"`` or ``"bilinear"``.
        output: ``"sigmoid"`` or ``"identity"``.
        padding: ``"zeros"`` (images) or ``"circular"`` (periodic fields) for the derivative filters.
        h1_weight, moment_weight: loss weights (paper: 1, 1).
        attention: ``"sdpa"`` or ``"naive"`` (the same maths; benchmarks/ark.py compares their speed).
        frame_size: deprecated name of ``grid`` (DeprecationWarning; giving both is refused).

    Attributes ``grid`` (the frame shape) and ``token_grid`` (the patched grid ``(H/p, W/p)``).
    """

    supported_ndims = (2,)
    renamed_config_keys = {"frame_size": "grid"}  # checkpoints written before the rename load

    def __init__(self, channels: int = 1, ndim: int = 2, grid: Sequence[int] | None = None, patch_size: int = 4,
                 hidden: int = 64, n_layers: int = 1, swin_depth: int = 8, heads: int = 8, window: int = 4,
                 mlp_ratio: float = 4.0, drop_path: float = 0.1, n_fourier: int = 8, fourier_groups: int = 2,
                 correction: bool = True, rk_mode: str = "adaptive", moment_kernel_size: int = 7,
                 moment_order: int | None = None, decoder: str = "transposed", output: str = "sigmoid",
                 padding: str = "zeros", h1_weight: float = 1.0, moment_weight: float = 1.0,
                 attention: str = "sdpa", *, frame_size: Sequence[int] | None = None) -> None:
        super().__init__(channels, ndim)
        where = "ARKMNet"
        grid = grid_argument(grid, frame_size, where)
        if (isinstance(grid, (str, bytes)) or not isinstance(grid, Sequence) or len(grid) != 2):
            raise PhysdiffError(f"{where}: grid: expected (H, W), got {grid!r}.")
        size = tuple(_positive_int(n, "grid", where) for n in grid)
        self.patch_size = _positive_int(patch_size, "patch_size", where)
        if size[0] % patch_size or size[1] % patch_size:
            raise PhysdiffError(
                f"{where}: grid {size[0]}x{size[1]} is not divisible by patch_size {patch_size}. Crop or pad the "
                f"frames to a multiple of {patch_size}, or choose a patch size dividing both sides."
            )
        self.grid = size
        self.token_grid = (size[0] // patch_size, size[1] // patch_size)
        self.hidden = _positive_int(hidden, "hidden", where)
        self.n_layers = _positive_int(n_layers, "n_layers", where)
        self.swin_depth = _positive_int(swin_depth, "swin_depth", where)
        self.heads = _positive_int(heads, "heads", where)
        self.window = _positive_int(window, "window", where)
        if hidden % heads:
            raise PhysdiffError(
                f"{where}: heads: {heads} does not divide hidden={hidden} (each head gets hidden / heads channels). "
                f"Choose heads among {[d for d in range(1, hidden + 1) if hidden % d == 0][:8]}..."
            )
        if correction:
            try:
                effective_window(*self.token_grid, window, window // 2)
            except PhysdiffError:
                raise PhysdiffError(
                    f"{where}: the token grid {self.token_grid[0]}x{self.token_grid[1]} (grid / patch_size) is not "
                    f"divisible by window {window}. Use frames that are multiples of patch_size * window = "
                    f"{patch_size * window}, or another window."
                ) from None
        self.mlp_ratio, self.drop_path = float(mlp_ratio), float(drop_path)
        self.n_fourier = _positive_int(n_fourier, "n_fourier", where, minimum=0)
        self.fourier_groups = _positive_int(fourier_groups, "fourier_groups", where)
        self.correction = bool(correction)
        self.rk_mode = _choice(rk_mode, "rk_mode", RK_MODES, where)
        self.moment_kernel_size, self.moment_order = moment_kernel_size, moment_order
        self.decoder_kind = _choice(decoder, "decoder", DECODERS, where)
        self.output = _choice(output, "output", OUTPUTS, where)
        self.padding = _choice(padding, "padding", PADDINGS, where)
        self.attention = _choice(attention, "attention", ATTENTIONS, where)
        for name, value in (("h1_weight", h1_weight), ("moment_weight", moment_weight)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise PhysdiffError(f"{where}: {name}: expected a non-negative number, got {value!r}.")
        self.h1_weight, self.moment_weight = float(h1_weight), float(moment_weight)

        c = self.hidden
        self.embed = nn.Conv2d(channels, c, patch_size, stride=patch_size)
        self.embed_norm = nn.LayerNorm(c)
        self.cells = nn.ModuleList(
            ARKCell(c, self.token_grid, swin_depth=swin_depth, heads=heads, window=window, mlp_ratio=mlp_ratio,
                    drop_path=drop_path, attention=attention, n_fourier=n_fourier, fourier_groups=fourier_groups,
                    correction=correction, rk_mode=rk_mode, moment_kernel_size=moment_kernel_size,
                    moment_order=moment_order, padding=padding)
            for _ in range(n_layers)
        )
        # The ARK-like code's decoder ("PatchInflated") was not found. Without a normalisation here the
        # latent state, which nothing bounds, grew along training rollouts until the sigmoid output
        # saturated at 0 (all-black frames, vanishing gradients); the LayerNorm makes the decoder see
        # the state's shape, not its scale.
        self.decoder_norm = nn.LayerNorm(c)
        if decoder == "transposed":
            self.upsample = nn.ConvTranspose2d(c, c, patch_size, stride=patch_size)
        else:
            self.upsample = nn.Conv2d(c, c, 1)
        self.head = nn.Conv2d(c, channels, 3, padding=1, padding_mode="circular" if padding == "circular" else "zeros")

    # ------------------------------------------------------------------ SequenceLearner
    def initial_state(self, u: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        zeros = u.new_zeros(u.shape[0], self.token_grid[0] * self.token_grid[1], self.hidden)
        return [(zeros, zeros, zeros) for _ in range(self.n_layers)]

    def encode(self, u: torch.Tensor) -> torch.Tensor:
        """Patch embedding ``(B, C_in, H, W) -> (B, N, C)``."""
        if tuple(u.shape[-2:]) != self.grid:
            raise PhysdiffError(
                f"ARKMNet: frames of {u.shape[-2]}x{u.shape[-1]} do not match the grid {self.grid[0]}x"
                f"{self.grid[1]} the model was built for. Build it with grid=({u.shape[-2]}, {u.shape[-1]})."
            )
        return self.embed_norm(rearrange(self.embed(u), "b c h w -> b (h w) c"))

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(B, N, C) -> (B, C_in, H, W)`` (before the output function)."""
        z = rearrange(self.decoder_norm(tokens), "b (h w) c -> b c h w", h=self.token_grid[0])
        z = self.upsample(z)
        if self.decoder_kind == "bilinear":
            z = F.interpolate(z, size=self.grid, mode="bilinear", align_corners=False)
        return self.head(F.gelu(z))

    def step(self, u: torch.Tensor, state: list) -> tuple[torch.Tensor, list]:
        x = self.encode(u)
        new_state = []
        for cell, layer_state in zip(self.cells, state):
            layer_state = cell(x, layer_state)
            new_state.append(layer_state)
            x = layer_state[0]
        out = self.decode(x)
        return (torch.sigmoid(out) if self.output == "sigmoid" else out), new_state

    def auxiliary_loss(self, context: torch.Tensor) -> torch.Tensor | None:
        """``moment_weight`` times PhyDNet's moment loss summed over the cells (None when the weight is 0)."""
        if self.moment_weight == 0:
            return None
        return self.moment_weight * sum(cell.moment_loss() for cell in self.cells)

    def prediction_loss(self, prediction: torch.Tensor, targets: torch.Tensor) -> torch.Tensor | None:
        """``h1_weight`` times FNO's relative Sobolev loss per predicted frame, averaged (None when the weight is 0)."""
        if self.h1_weight == 0:
            return None
        return self.h1_weight * sobolev_loss(prediction.flatten(0, 1), targets.flatten(0, 1), ndim=2)

    def derivative_read_back(self, tol: float = 0.1) -> list[list[dict]]:
        """Per cell, which derivative each moment-constrained filter applies (see ``MomentRHS.read_back``)."""
        return [cell.rhs.read_back(tol) for cell in self.cells]

    def config(self) -> dict[str, Any]:
        return {"channels": self.channels, "ndim": self.ndim, "grid": list(self.grid),
                "patch_size": self.patch_size, "hidden": self.hidden, "n_layers": self.n_layers,
                "swin_depth": self.swin_depth, "heads": self.heads, "window": self.window,
                "mlp_ratio": self.mlp_ratio, "drop_path": self.drop_path, "n_fourier": self.n_fourier,
                "fourier_groups": self.fourier_groups, "correction": self.correction, "rk_mode": self.rk_mode,
                "moment_kernel_size": self.moment_kernel_size, "moment_order": self.moment_order,
                "decoder": self.decoder_kind, "output": self.output, "padding": self.padding,
                "h1_weight": self.h1_weight, "moment_weight": self.moment_weight, "attention": self.attention}
