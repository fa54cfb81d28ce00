r"""The minimal-ConvRNN paper's network around any of five cells, and the four learners built on it.

Network (Horuz, Otte, Butz, Karlbauer, arXiv 2508.03614, reference code's ``models``)::

    x^0     = E u_n                                   (E: 1x1 convolution, C -> hidden)
    x^l     = Norm_l(x^{l-1} + cell_l(x^{l-1}, state^l))    l = 1 .. L   (residual, post-norm)
    u_{n+1} = D x^L                                   (D: 1x1 convolution, hidden -> C)
                                                      (+ u_n with residual=True)

``Norm`` is ``LayerNorm`` over the grid (``norm="layer"``, the paper's default; needs ``grid``),
``GroupNorm(1, hidden)`` (``"group"``) or none. The cell is one of

* ``"convlstm"`` (:class:`ConvLSTMCell`, state ``(h, c)``), ``"convgru"`` (:class:`ConvGRUCell`):
  gates depend on ``h_{t-1}``, always run step by step;
* ``"minconvgru"``, ``"minconvlstm"``, ``"minconvexplstm"`` (:mod:`._minimal_cells`): linear in
  the state, so teacher-forced frames run through the scan (``scan`` = 'auto', 'log' or 'sequential').

Teacher-forced frames (the context) go through the network in one pass per layer (for the
minimal cells: one convolution of all frames and a scan); the closed loop then feeds each
prediction back step by step. The two are the same function: ``forward`` equals the
step-by-step rollout of :class:`SequenceLearner` to rounding (tested in float64 to 1e-10).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from einops import rearrange
from torch import nn

from ...core import PhysdiffError
from ...integrators import SCAN_METHODS
from .._base import SequenceLearner, State
from ._convgru import ConvGRUCell
from ._convlstm import ConvLSTMCell, check_channel_tuple, check_kernel_size, check_padding_mode
from ._minimal_cells import MinConvExpLSTMCell, MinConvGRUCell, MinConvLSTMCell, _MinimalCell

__all__ = ["CELLS", "ConvGRU", "ConvRNN", "MinConvExpLSTM", "MinConvGRU", "MinConvLSTM"]

#: cell name -> class; every class takes (in_channels, hidden_channels, kernel_size, ndim, padding_mode)
CELLS: dict[str, type[nn.Module]] = {
    "convlstm": ConvLSTMCell, "convgru": ConvGRUCell, "minconvgru": MinConvGRUCell,
    "minconvlstm": MinConvLSTMCell, "minconvexplstm": MinConvExpLSTMCell,
}
NORMS = ("layer", "group", "none")


def _output(state: Any) -> torch.Tensor:
    """The hidden field a cell passes on: ``h`` of ``(h, c)``, or the state itself."""
    return state[0] if isinstance(state, tuple) else state


class ConvRNN(SequenceLearner):
    r"""The paper's encoder / residual-post-norm cell stack / decoder network, with any of the five cells.

    See the module docstring for the equations. The state is a tuple with one entry per layer
    (``h``, or ``(h, c)`` for ConvLSTM); ``initial_state`` is the zero state (None per layer).

    Args:
        channels: channels ``C`` of the frames.
        ndim: spatial dimensions (1, 2 or 3).
        hidden_channels: hidden channels per layer; all equal (the residual adds a layer's
            input to its output). Its length is the number of layers.
        kernel_size: odd convolution width of every cell.
        padding_mode: 'circular' (periodic), 'zeros', 'reflect', 'replicate' or 'cylinder'
            (2D latitude-longitude fields: circular in longitude, zeros in latitude).
        cell: 'convlstm', 'convgru', 'minconvgru', 'minconvlstm' or 'minconvexplstm' (fixed, and
            optional, in the subclasses ConvGRU, MinConvGRU, MinConvLSTM, MinConvExpLSTM).
        norm: 'layer' (``LayerNorm(grid)``, the paper's), 'group' (``GroupNorm(1, hidden)``) or 'none'.
        grid: the spatial shape, needed (and then enforced) by ``norm='layer'``.
        scan: the scan method of the minimal cells on teacher-forced frames ('auto', 'log', 'sequential').
        residual: add the input frame to the decoder's output (the paper: False).
        input_noise: standard deviation of Gaussian noise added to the context frames in training
            mode only (the paper: 1e-2 on Navier-Stokes inputs); never to fed-back predictions.
        time_step: physical interval between frames, if fixed (else None).
    """

    cell_name: ClassVar[str | None] = None  # the subclasses' fixed cell

    def __init__(self, channels: int, ndim: int = 2, hidden_channels: Sequence[int] = (16, 16),
                 kernel_size: int = 3, padding_mode: str = "circular", cell: str | None = None,
                 norm: str = "layer", grid: Sequence[int] | None = None, scan: str = "auto",
                 residual: bool = False, input_noise: float = 0.0, time_step: float | None = None) -> None:
        super().__init__(channels, ndim, time_step=time_step)
        where = type(self).__name__
        self.hidden_channels = check_channel_tuple(hidden_channels, "hidden_channels", where)
        if len(set(self.hidden_channels)) != 1:
            raise PhysdiffError(
                f"{where}: hidden_channels: expected one width for every layer (x + cell(x) needs equal widths), "
                f"got {list(self.hidden_channels)}. Use e.g. {[max(self.hidden_channels)] * len(self.hidden_channels)}."
            )
        self.kernel_size = check_kernel_size(kernel_size, where)
        self.padding_mode = check_padding_mode(padding_mode, where, ndim)
        if cell is None:
            cell = self.cell_name
        if cell not in CELLS or (self.cell_name is not None and cell != self.cell_name):
            allowed = sorted(CELLS) if self.cell_name is None else [self.cell_name]
            raise PhysdiffError(f"{where}: cell: expected one of {allowed}, got {cell!r}.")
        if norm not in NORMS:
            raise PhysdiffError(f"{where}: norm: expected one of {NORMS}, got {norm!r}.")
        if scan not in SCAN_METHODS:
            raise PhysdiffError(f"{where}: scan: expected one of {SCAN_METHODS}, got {scan!r}.")
        if norm == "layer":
            if (not isinstance(grid, Sequence) or len(grid) != ndim
                    or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in grid)):
                raise PhysdiffError(
                    f"{where}: grid: norm='layer' normalises over a fixed grid and needs its shape, {ndim} positive "
                    f"ints, got {grid!r}. Pass grid=(n_1, ..., n_{ndim}), or norm='group' for any grid."
                )
            grid = tuple(grid)
        else:
            grid = None if grid is None else tuple(grid)
        noise = input_noise if isinstance(input_noise, (int, float)) and not isinstance(input_noise, bool) else -1.0
        if not noise >= 0:
            raise PhysdiffError(f"{where}: input_noise: expected a standard deviation >= 0, got {input_noise!r}.")
        self.cell, self.norm, self.grid, self.scan = cell, norm, grid, scan
        self.residual, self.input_noise = bool(residual), float(noise)
        width = self.hidden_channels[0]
        conv = getattr(nn, f"Conv{ndim}d")
        self.encoder = conv(channels, width, 1)
        self.cells = nn.ModuleList(CELLS[cell](width, width, kernel_size, ndim, padding_mode)
                                   for _ in self.hidden_channels)
        self.norms = nn.ModuleList(
            nn.LayerNorm(grid) if norm == "layer" else nn.GroupNorm(1, width) if norm == "group" else nn.Identity()
            for _ in self.hidden_channels
        )
        self.decoder = conv(width, channels, 1)

    # ------------------------------------------------------------------ checks
    def _check_grid(self, space: tuple[int, ...]) -> None:
        if self.grid is not None and self.norm == "layer" and tuple(space) != self.grid:
            raise PhysdiffError(
                f"{type(self).__name__}: the frames' grid {tuple(space)} differs from the grid {self.grid} the "
                "LayerNorm was built for. Build the model with grid=<the data's grid> (or norm='group', which "
                "works on any grid), or resample the data."
            )

    # ------------------------------------------------------------------ one step
    def initial_state(self, u: torch.Tensor) -> tuple[None, ...]:
        """The zero state: None for every layer (each cell treats None as zeros)."""
        return (None,) * len(self.cells)

    def step(self, u: torch.Tensor, state: State) -> tuple[torch.Tensor, tuple]:
        self._check_grid(tuple(u.shape[2:]))
        state = self.initial_state(u) if state is None else state
        x, new_state = self.encoder(u), []
        for cell, norm, s in zip(self.cells, self.norms, state):
            s = cell(x, s)
            new_state.append(s)
            x = norm(x + _output(s))
        out = self.decoder(x)
        return (u + out if self.residual else out), tuple(new_state)

    # ------------------------------------------------------------------ many frames
    def teacher_forced(self, frames: torch.Tensor, state: State = None) -> tuple[torch.Tensor, tuple]:
        """Predictions for true input frames ``(B, T, C, *space)``: ``out[:, t]`` predicts frame ``t + 1``.

        Layer by layer over all frames: minimal cells by one convolution and the scan, ConvLSTM
        and ConvGRU by a loop. Returns the predictions ``(B, T, C, *space)`` and the state after
        the last frame (to continue with :meth:`step`).
        """
        frames = self.check_frames(frames, "frames")
        self._check_grid(tuple(frames.shape[3:]))
        batch = frames.shape[0]
        state = self.initial_state(frames[:, 0]) if state is None else state
        flat = rearrange(frames, "b t ... -> (b t) ...")
        x = self.encoder(flat)
        new_state = []
        for cell, norm, s in zip(self.cells, self.norms, state):
            xs = rearrange(x, "(b t) ... -> b t ...", b=batch)
            if isinstance(cell, _MinimalCell):
                hs = cell.sequence(xs, s, self.scan)
                s = hs[:, -1]
            else:
                outputs = []
                # unbind, not xs[:, t]: the backward of each index would zero-fill a gradient of
                # all T frames (O(T^2) work; 19 % of a ConvLSTM training iteration at T = 20)
                for x_t in xs.unbind(1):
                    s = cell(x_t, s)
                    outputs.append(_output(s))
                hs = torch.stack(outputs, dim=1)
            new_state.append(s)
            x = norm(x + rearrange(hs, "b t ... -> (b t) ..."))
        out = self.decoder(x)
        if self.residual:
            out = flat + out
        return rearrange(out, "(b t) ... -> b t ...", b=batch), tuple(new_state)

    def paper_rollout(self, frames: torch.Tensor, teacher_frames: int) -> torch.Tensor:
        """The paper's forward: one-step predictions of the first ``teacher_frames`` true frames, then a
        closed loop to the sequence's length. ``out[:, t]`` predicts ``frames[:, t + 1]``.

        Args:
            frames: ``(B, T, C, *space)``; only ``frames[:, :teacher_frames]`` are read (the rest
                only set ``T``).
            teacher_frames: teacher-forced frames, ``1 <= teacher_frames <= T``.

        Returns:
            ``(B, T, C, *space)``: ``teacher_frames`` teacher-forced, then ``T - teacher_frames`` closed-loop.
        """
        frames = self.check_frames(frames, "frames")
        steps = frames.shape[1]
        if isinstance(teacher_frames, bool) or not isinstance(teacher_frames, int) or not 1 <= teacher_frames <= steps:
            raise PhysdiffError(
                f"{type(self).__name__}.paper_rollout: teacher_frames: expected an int in [1, {steps}] (the sequence "
                f"has {steps} frames), got {teacher_frames!r}. Give a sequence at least as long as its teacher-forced "
                "part, or fewer teacher-forced frames."
            )
        outputs, state = self.teacher_forced(frames[:, :teacher_frames])
        if steps == teacher_frames:
            return outputs
        rest = SequenceLearner.forward(self, outputs[:, -1], steps - teacher_frames, state=state)
        return torch.cat([outputs, rest], dim=1)

    def forward(self, context: torch.Tensor, n_steps: int, *, targets: torch.Tensor | None = None,
                teacher_forcing: float = 0.0, state: State = None, return_state: bool = False,
                **kwargs: Any) -> torch.Tensor | tuple[torch.Tensor, State]:
        """:meth:`SequenceLearner.forward`, with the context through :meth:`teacher_forced` in one pass.

        The first prediction is that of the last context frame; the closed loop continues step by
        step from it (with :class:`SequenceLearner`'s checkpointing and truncation options). With
        ``teacher_forcing > 0`` the whole rollout runs step by step (same results, slower).
        In training mode, ``input_noise`` is added to the context frames.
        """
        context = self.check_frames(context)
        if self.training and self.input_noise > 0:
            context = context + self.input_noise * torch.randn_like(context)
        if teacher_forcing > 0:
            return super().forward(context, n_steps, targets=targets, teacher_forcing=teacher_forcing, state=state,
                                   return_state=return_state, **kwargs)
        if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
            raise PhysdiffError(f"{type(self).__name__}: n_steps: expected a positive int, got {n_steps!r}.")
        outputs, state = self.teacher_forced(context, state)
        first = outputs[:, -1:]
        if n_steps == 1:
            return (first, state) if return_state else first
        rest, state = super().forward(first[:, 0], n_steps - 1, state=state, return_state=True, **kwargs)
        predictions = torch.cat([first, rest], dim=1)
        return (predictions, state) if return_state else predictions

    def config(self) -> dict[str, Any]:
        config = {"channels": self.channels, "ndim": self.ndim, "hidden_channels": list(self.hidden_channels),
                  "kernel_size": self.kernel_size, "padding_mode": self.padding_mode, "cell": self.cell,
                  "norm": self.norm, "grid": None if self.grid is None else list(self.grid), "scan": self.scan,
                  "residual": self.residual, "input_noise": self.input_noise, "time_step": self.time_step}
        if self.cell_name is not None:
            del config["cell"]
        return config


class ConvGRU(ConvRNN):
    """Convolutional GRU network (:class:`ConvGRUCell`; gates on the state, so step by step).

    :class:`ConvRNN` with ``cell='convgru'``; the same arguments (``cell`` may be left out).
    """

    cell_name = "convgru"


class MinConvGRU(ConvRNN):
    """Minimal ConvGRU network (:class:`MinConvGRUCell`): input-only gates, context frames through the scan.

    :class:`ConvRNN` with ``cell='minconvgru'``; the same arguments (``cell`` may be left out).
    """

    cell_name = "minconvgru"


class MinConvLSTM(ConvRNN):
    """Minimal ConvLSTM network (:class:`MinConvLSTMCell`): normalised input-only gates, frames through the scan.

    :class:`ConvRNN` with ``cell='minconvlstm'``; the same arguments (``cell`` may be left out).
    """

    cell_name = "minconvlstm"


class MinConvExpLSTM(ConvRNN):
    """Minimal ConvLSTM network with xLSTM-style exponential gates (:class:`MinConvExpLSTMCell`).

    :class:`ConvRNN` with ``cell='minconvexplstm'``; the same arguments (``cell`` may be left out).
    """

    cell_name = "minconvexplstm"
