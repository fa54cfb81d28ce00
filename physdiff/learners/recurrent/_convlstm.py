"""Convolutional LSTM (Shi et al. 2015, without peepholes): a cell and a stacked sequence learner.

The cell replaces the matrix products of an LSTM by convolutions, so the hidden state is a
field ``(B, hidden, *space)`` and the gates see a ``kernel_size`` neighbourhood. It is the
usual black-box baseline for spatio-temporal forecasting of PDE data.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ...core import PhysdiffError
from .._base import SequenceLearner

__all__ = ["ConvLSTM", "ConvLSTMCell"]

PADDING_MODES = ("circular", "zeros", "reflect", "replicate", "cylinder")
CellState = tuple[torch.Tensor, torch.Tensor]


def check_positive_int(value: object, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PhysdiffError(f"{where}: {name}: expected a positive int, got {value!r}.")
    return value


def check_kernel_size(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or value % 2 == 0:
        raise PhysdiffError(
            f"{where}: kernel_size: expected an odd positive int (so that a 'same' padding keeps the grid size), "
            f"got {value!r}."
        )
    return value


def check_padding_mode(value: object, where: str, ndim: int | None = None) -> str:
    if value not in PADDING_MODES:
        raise PhysdiffError(
            f"{where}: padding_mode: expected one of {PADDING_MODES} ('circular' for periodic domains, 'cylinder' "
            f"for latitude-longitude fields), got {value!r}."
        )
    if value == "cylinder" and ndim is not None and ndim != 2:
        raise PhysdiffError(
            f"{where}: padding_mode 'cylinder' (circular along longitude, zeros along latitude) needs a 2D "
            f"(latitude, longitude) field, got ndim={ndim}. Use 'circular' or 'zeros' for {ndim}D fields."
        )
    return value  # type: ignore[return-value]


def set_cell_arguments(cell: nn.Module, in_channels: int, hidden_channels: int, kernel_size: int, ndim: int,
                       padding_mode: str) -> None:
    """Check a convolutional cell's shared constructor arguments and store them on ``cell``
    (``in_channels``, ``hidden_channels``, ``kernel_size``, ``ndim``, ``padding_mode``); the
    errors name the cell's class."""
    where = type(cell).__name__
    cell.in_channels = check_positive_int(in_channels, "in_channels", where)
    cell.hidden_channels = check_positive_int(hidden_channels, "hidden_channels", where)
    cell.kernel_size = check_kernel_size(kernel_size, where)
    if ndim not in (1, 2, 3):
        raise PhysdiffError(f"{where}: ndim: expected 1, 2 or 3, got {ndim!r}.")
    cell.ndim = ndim
    cell.padding_mode = check_padding_mode(padding_mode, where, ndim)


def check_channel_tuple(value: object, name: str, where: str) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    # A string is a Sequence too: without this, "four" would be read one letter at a time.
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) == 0:
        raise PhysdiffError(f"{where}: {name}: expected a non-empty tuple of positive ints (one per layer), "
                            f"got {value!r}.")
    return tuple(check_positive_int(v, name, where) for v in value)


class _WrapPad(torch.autograd.Function):
    """Periodic padding by ``p`` of the last ``n_dims`` axes, written once into one tensor.

    Forward: the input is copied into the middle of an empty padded tensor, then each halo is
    filled from the opposite edge, axis by axis (so corners wrap as well): one pass over the
    data, where wrapping with ``torch.cat`` copies it once per axis. Backward: one copy of the
    middle of the gradient, onto whose edges the halo (and corner) gradients are added; autograd
    of ``cat`` of slices would instead zero-fill a gradient of the full size for every slice.
    Keeps the input's memory format (channels-last stays channels-last); the backward is made of
    differentiable operations, so second derivatives work as with ``cat``.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, p: int, n_dims: int) -> torch.Tensor:  # type: ignore[override]
        dims = list(range(x.dim() - n_dims, x.dim()))
        shape = list(x.shape)
        for d in dims:
            shape[d] += 2 * p
        fmt = weight_format(x)  # the input's memory format
        out = torch.empty(shape, dtype=x.dtype, device=x.device, memory_format=fmt)
        middle = out
        for d in dims:
            middle = middle.narrow(d, p, x.shape[d])
        middle.copy_(x)
        for k, d in enumerate(dims):
            n, part = x.shape[d], out
            for later in dims[k + 1:]:  # axes not yet padded: their middle only
                part = part.narrow(later, p, x.shape[later])
            part.narrow(d, 0, p).copy_(part.narrow(d, n, p))
            part.narrow(d, n + p, p).copy_(part.narrow(d, p, p))
        ctx.p, ctx.dims, ctx.fmt = p, dims, fmt
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        p, dims = ctx.p, ctx.dims
        sizes = [grad.shape[d] - 2 * p for d in dims]
        # per axis, (source start in the padded gradient, target start in the input's gradient, length):
        # the middle maps onto itself, the low halo onto the high edge and the high halo onto the low edge
        pieces = [((p, 0, n), (0, n - p, p), (n + p, 0, p)) for n in sizes]
        out = None
        for choice in itertools.product(*pieces):  # the all-middle piece first: it becomes the gradient
            source = grad
            for d, (start, _, length) in zip(dims, choice):
                source = source.narrow(d, start, length)
            if out is None:
                out = source.clone(memory_format=ctx.fmt)  # a new tensor: the adds must not touch grad
                continue
            target = out
            for d, (_, start, length) in zip(dims, choice):
                target = target.narrow(d, start, length)
            target.add_(source)
        return out, None, None


def same_padding(x: torch.Tensor, kernel_size: int, mode: str) -> torch.Tensor:
    """Pad every spatial axis by ``kernel_size // 2`` so that a valid convolution keeps the size.

    Circular padding (and the longitude of 'cylinder') is :class:`_WrapPad`, which keeps the
    input's memory format (``F.pad(mode="circular")`` returns a contiguous NCHW tensor even for
    a channels-last input, which would make oneDNN convert formats at every convolution) and
    whose backward folds the halo gradients back without zero-filling full-size gradients.
    """
    p = kernel_size // 2
    if p == 0:
        return x
    if mode == "cylinder":
        # (B, C, lat, lon): periodic in longitude (last axis), zeros beyond the poles
        if x.dim() != 4:
            raise PhysdiffError(f"cylinder padding: expected a 2D field (B, C, lat, lon), got shape {tuple(x.shape)}.")
        n = x.shape[-1]
        if p > n:
            raise PhysdiffError(f"cylinder padding: kernel_size {kernel_size} needs at least {p} longitudes, got {n}.")
        return F.pad(_WrapPad.apply(x, p, 1), (0, 0, p, p))
    if mode == "circular":
        for dim in range(2, x.dim()):
            n = x.shape[dim]
            if p > n:
                raise PhysdiffError(
                    f"circular padding: kernel_size {kernel_size} needs at least {p} points on spatial axis "
                    f"{dim - 2}, got {n} (shape {tuple(x.shape)}). Use a smaller kernel or a finer grid."
                )
        return _WrapPad.apply(x, p, x.dim() - 2)
    return F.pad(x, (p, p) * (x.dim() - 2), mode="constant" if mode == "zeros" else mode)


def weight_format(tensor: torch.Tensor) -> torch.memory_format:
    """Channels-last if ``tensor`` (a weight after ``module.to(memory_format=...)``, or a field) is
    stored channels-last and not also plainly contiguous; else the contiguous format."""
    last = {4: torch.channels_last, 5: torch.channels_last_3d}.get(tensor.dim())
    if last is not None and tensor.is_contiguous(memory_format=last) and not tensor.is_contiguous():
        return last
    return torch.contiguous_format


def _known_zero(t: torch.Tensor) -> bool:
    """True for a tensor tagged by :func:`_tag_zero` (e.g. by :meth:`ConvLSTMCell.zero_state`) and not
    modified in place since."""
    return getattr(t, "_physdiff_zero_version", None) == t._version


def _tag_zero(t: torch.Tensor) -> torch.Tensor:
    """Tag a tensor of zeros as known zeros, at its current version (so an in-place change voids the
    tag): cells then skip the operations that would multiply it."""
    t._physdiff_zero_version = t._version
    return t


class ConvLSTMCell(nn.Module):
    r"""One ConvLSTM cell (no peephole connections), for 1D, 2D or 3D fields.

    With ``*`` a convolution over space (``kernel_size`` wide, 'same' padding), ``[x, h]``
    the channel concatenation and ``sigma`` the logistic function::

        (z_i, z_f, z_o, z_g) = W * [x, h] + b          (one conv, 4 * hidden output channels)
        i = sigma(z_i),  f = sigma(z_f),  o = sigma(z_o),  g = tanh(z_g)
        c' = f . c + i . g
        h' = o . tanh(c')

    (``.`` elementwise). The module is stateless: the state ``(h, c)``, each
    ``(B, hidden, *space)``, is passed in and returned, so the batch and grid sizes are
    those of the input and never fixed at construction. ``state=None``, or a state from
    :meth:`zero_state` not modified in place since, is the zero state: the cell then convolves
    the input alone (the hidden columns of ``W`` would multiply zeros). After
    ``module.to(memory_format=torch.channels_last)`` it computes in channels-last.

    Args:
        in_channels: channels of ``x``.
        hidden_channels: channels of ``h`` and ``c``.
        kernel_size: odd width of the convolution on every axis.
        ndim: spatial dimensions (1, 2 or 3).
        padding_mode: 'circular' (periodic domains), 'zeros', 'reflect', 'replicate' or 'cylinder'
            (2D latitude-longitude: circular in longitude, zeros in latitude).

    Attributes:
        weight: ``(4 hidden, in_channels + hidden, k, ..., k)``, gate blocks in the order i, f, o, g;
            the input columns come first.
        bias: ``(4 hidden,)``.
    """

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int = 3, ndim: int = 2,
                 padding_mode: str = "circular") -> None:
        super().__init__()
        set_cell_arguments(self, in_channels, hidden_channels, kernel_size, ndim, padding_mode)
        self._conv = getattr(F, f"conv{ndim}d")
        fan_in = in_channels + hidden_channels
        self.weight = nn.Parameter(torch.empty(4 * hidden_channels, fan_in, *(kernel_size,) * ndim))
        self.bias = nn.Parameter(torch.empty(4 * hidden_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default convolution initialisation, then forget-gate bias 1.

        A forget-gate bias of 1 starts training with ``f ~ sigma(1) = 0.73``: the cell keeps most
        of its memory from the start, so gradients through ``c`` do not vanish over the first
        steps of a rollout before the network has learned when to forget (Gers et al. 2000;
        Jozefowicz et al. 2015 found it to help LSTMs on nearly every task).
        """
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        bound = 1.0 / math.sqrt(self.weight[0].numel())
        h = self.hidden_channels
        with torch.no_grad():
            self.bias.uniform_(-bound, bound)
            self.bias[h:2 * h].fill_(1.0)

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, hidden_channels={self.hidden_channels}, "
                f"kernel_size={self.kernel_size}, ndim={self.ndim}, padding_mode={self.padding_mode!r}")

    def zero_state(self, x: torch.Tensor) -> CellState:
        """``(h, c)`` of zeros ``(B, hidden, *space)`` for a field ``x`` ``(B, any channels, *space)``: its
        batch, grid, dtype and device, the weights' memory format."""
        shape = (x.shape[0], self.hidden_channels, *x.shape[2:])
        fmt = weight_format(self.weight)
        # Tagged as known zeros: forward then skips the hidden columns of the convolution, which
        # would multiply zeros.
        return tuple(_tag_zero(x.new_zeros(shape).contiguous(memory_format=fmt)) for _ in range(2))

    def _padded_conv(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """The 'same' convolution of ``x`` with ``weight`` and the bias, in the cell's padding mode."""
        if self.padding_mode == "zeros":
            # the convolution's own zero padding: F.pad would copy the input (and its gradient)
            # at every step, ~6% of a cell's forward + backward at 16^2 x 64 channels (oneDNN)
            return self._conv(x, weight, self.bias, padding=self.kernel_size // 2)
        return self._conv(same_padding(x, self.kernel_size, self.padding_mode), weight, self.bias)

    def forward(self, x: torch.Tensor, state: CellState | None = None) -> CellState:
        """Advance the state by one input ``x`` ``(B, in_channels, *space)``; ``state=None`` means zeros."""
        if x.dim() != self.ndim + 2 or x.shape[1] != self.in_channels:
            raise PhysdiffError(
                f"{type(self).__name__}: x: expected (B, {self.in_channels}, *space) with {self.ndim} spatial axes, "
                f"got shape {tuple(x.shape)}."
            )
        # After model.to(memory_format=torch.channels_last) the whole cell stays channels-last
        # instead of converting formats at every operation; a no-op otherwise. (On CPU the
        # convolutions get ~20% faster but the gate nonlinearities on channel slices slower, a
        # wash overall: benchmarks/convlstm.py.)
        x = x.contiguous(memory_format=weight_format(self.weight))
        if state is None or all(_known_zero(t) for t in state):
            # Zero state: the hidden columns of W multiply zeros, so convolve the input alone
            # (saves the hidden part of the first step's convolution and its backward; with the
            # cheaper circular padding, this makes 5- to 10-step training rollouts 1.05-1.16x
            # faster than a straightforward ConvLSTM: benchmarks/convlstm.py).
            z = self._padded_conv(x, self.weight[:, : self.in_channels])
            c = None
        else:
            h, c = state
            # One convolution of the concatenation: splitting it into an input and a hidden
            # convolution costs the same on CPU (oneDNN, 64^2, 2 + 32 -> 128 channels: 42 ms vs 44 ms
            # forward + backward) and allocates a second gate-sized tensor.
            z = self._padded_conv(torch.cat([x, h], dim=1), self.weight)
        # One split (its backward is one concatenation) rather than slices: the backward of each
        # slice zero-fills a gradient of the full 4 * hidden size.
        zi, zf, zo, zg = z.split(self.hidden_channels, dim=1)
        i, f, o, g = torch.sigmoid(zi), torch.sigmoid(zf), torch.sigmoid(zo), torch.tanh(zg)
        c_next = i * g if c is None else torch.addcmul(i * g, f, c)
        h_next = o * torch.tanh(c_next)
        return h_next, c_next


class ConvLSTM(SequenceLearner):
    r"""Stacked ConvLSTM with a 1x1 output head: the black-box sequence baseline.

    Layer ``l`` takes the hidden field of layer ``l - 1`` (layer 0 takes the frame ``u_n``);
    the head maps the last hidden field to the frame's channels::

        (h^0, c^0) = cell_0(u_n, state^0),   (h^l, c^l) = cell_l(h^{l-1}, state^l)
        u_{n+1} = u_n + head(h^L)      (residual=True)       u_{n+1} = head(h^L)  (False)

    With ``residual=True`` the network learns the increment: a freshly initialised model
    with a small head is already close to the persistence forecast ``u_{n+1} = u_n``, which
    is the baseline any forecaster must beat; the network only has to model the change over
    one interval, which is small and well scaled for smooth PDE data.

    The state is a tuple of ``(h, c)`` per layer; :meth:`initial_state` is zeros.

    Args:
        channels: channels ``C`` of the frames.
        ndim: spatial dimensions (1, 2 or 3).
        hidden_channels: hidden channels of each layer (its length is the number of layers).
        kernel_size: odd convolution width of every cell.
        padding_mode: 'circular' (periodic data), 'zeros', 'reflect', 'replicate' or 'cylinder' (2D sphere).
        residual: predict the increment (see above).
        time_step: physical interval between frames, if fixed (else None).
    """

    def __init__(self, channels: int, ndim: int = 2, hidden_channels: Sequence[int] = (32, 32),
                 kernel_size: int = 3, padding_mode: str = "circular", residual: bool = True,
                 time_step: float | None = None) -> None:
        super().__init__(channels, ndim, time_step=time_step)
        where = type(self).__name__
        self.hidden_channels = check_channel_tuple(hidden_channels, "hidden_channels", where)
        self.kernel_size = check_kernel_size(kernel_size, where)
        self.padding_mode = check_padding_mode(padding_mode, where, ndim)
        self.residual = bool(residual)
        inputs = (channels, *self.hidden_channels[:-1])
        self.cells = nn.ModuleList(
            ConvLSTMCell(i, h, kernel_size, ndim, padding_mode) for i, h in zip(inputs, self.hidden_channels)
        )
        self.head = getattr(nn, f"Conv{ndim}d")(self.hidden_channels[-1], channels, 1)

    def initial_state(self, u: torch.Tensor) -> tuple[CellState, ...]:
        """Zeros ``(h, c)`` for every layer, shaped like ``u``'s batch and grid."""
        return tuple(cell.zero_state(u) for cell in self.cells)

    def step(self, u: torch.Tensor, state: tuple[CellState, ...] | None) -> tuple[torch.Tensor, tuple]:
        x, new_state = u, []
        for layer, cell in enumerate(self.cells):
            x, c = cell(x, None if state is None else state[layer])
            new_state.append((x, c))
        # the prediction keeps the input's memory format, whatever the model's
        out = self.head(x).contiguous(memory_format=weight_format(u))
        return (u + out if self.residual else out), tuple(new_state)

    def config(self) -> dict[str, Any]:
        return {"channels": self.channels, "ndim": self.ndim, "hidden_channels": list(self.hidden_channels),
                "kernel_size": self.kernel_size, "padding_mode": self.padding_mode, "residual": self.residual,
                "time_step": self.time_step}
