r"""The minimal convolutional RNN cells (Horuz, Otte, Butz, Karlbauer, arXiv 2508.03614).

All gates depend on the input ``x_t`` only, never on ``h_{t-1}``, so the update is linear in
the hidden state, ``h_t = a_t . h_{t-1} + b_t``, and a whole sequence is one call of the
linear-recurrence scan (:func:`physdiff.integrators.linear_scan`) after one convolution of
all ``T`` frames at once. With ``*`` a 'same' convolution (``kernel_size`` wide), ``sigma`` the
logistic function and the positive activation

    g(x) = x + 1/2  (x >= 0),      g(x) = sigma(x)  (x < 0),

the three cells are (``.`` elementwise)::

    MinConvGRU:      [k, ht] = W * x_t + c,      z = sigma(k)
                     h_t = (1 - z) . h_{t-1} + z . g(ht)
    MinConvLSTM:     [f, i, ht] = W * x_t + c,   f' = sigma(f) / (sigma(f) + sigma(i)),  i' = 1 - f'
                     h_t = f' . h_{t-1} + i' . g(ht)
    MinConvExpLSTM:  [f, i, ht] = W * x_t + c,   f' = sigma(f - i),  i' = sigma(i - f)   (xLSTM-style)
                     h_t = f' . h_{t-1} + i' . g(ht)

The coefficients are formed in log space with stable closed forms (``log sigma(x) =
-softplus(-x)``; for MinConvLSTM ``d = softplus(-f) - softplus(-i)``, ``log f' = -softplus(d)``,
``log i' = -softplus(-d)``; ``log g(x) = log(x + 1/2)`` for ``x >= 0`` and ``-softplus(-x)`` below)
for the ``"log"`` scan; the step-by-step and ``"sequential"`` paths form them in linear space
(fewer operations: ``a = 1 - z``, ``f' = sigma(f) / (sigma(f) + sigma(i))``, ...), which agrees
with the exponentials of the logs to rounding.

Zero-state convention (fixing the original code, whose parallel path fed ``log g(h_0)`` and so
turned a zero state into 0.5): the initial state enters the scan linearly, as
``h_t = (prod_{s<=t} a_s) h_0 + ...``, so ``state=None`` is exactly ``h_0 = 0`` on every path
and the parallel, sequential and step-by-step outputs agree to rounding.
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from ...core import PhysdiffError
from ...integrators import linear_scan, log_linear_scan, resolve_scan_method
from ._convlstm import same_padding, set_cell_arguments

__all__ = ["MinConvExpLSTMCell", "MinConvGRUCell", "MinConvLSTMCell", "g", "log_g"]


def g(x: torch.Tensor) -> torch.Tensor:
    """The positive activation: ``x + 1/2`` for ``x >= 0``, ``sigma(x)`` below (continuous, 1/2 at 0).

    Written ``relu(x) + sigma(min(x, 0))`` (equal on both branches): no ``where``, whose forward
    and backward cost more on CPU than the three elementwise operations.
    """
    return F.relu(x) + torch.sigmoid(torch.clamp(x, max=0.0))


def log_g(x: torch.Tensor) -> torch.Tensor:
    """``log g(x)``: ``log(x + 1/2)`` for ``x >= 0``, ``log sigma(x)`` below, as
    ``log sigma(min(x, 0)) + log(1 + 2 relu(x))`` (equal on both branches, since ``log sigma(0) = -log 2``)."""
    return F.logsigmoid(torch.clamp(x, max=0.0)) + torch.log1p(2 * F.relu(x))


class _MinimalCell(nn.Module):
    """A cell whose update is ``h_t = a(x_t) . h_{t-1} + b(x_t)``, ``a`` and ``b`` from one convolution of ``x_t``."""

    n_blocks: ClassVar[int] = 3  # gate blocks of the convolution's output

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int = 3, ndim: int = 2,
                 padding_mode: str = "circular") -> None:
        super().__init__()
        set_cell_arguments(self, in_channels, hidden_channels, kernel_size, ndim, padding_mode)
        # PyTorch's default convolution initialisation, as the reference code (padding is done by same_padding)
        self.conv = getattr(nn, f"Conv{ndim}d")(in_channels, self.n_blocks * hidden_channels, kernel_size)

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, hidden_channels={self.hidden_channels}, "
                f"kernel_size={self.kernel_size}, ndim={self.ndim}, padding_mode={self.padding_mode!r}")

    def _log_gates(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(log a, log i', pre-activation of the candidate)`` from the convolution's output blocks."""
        raise NotImplementedError

    def _gates(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(a, i', pre-activation of the candidate)`` in linear space (fewer operations than the logs)."""
        raise NotImplementedError

    def _conv(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != self.ndim + 2 or x.shape[1] != self.in_channels:
            raise PhysdiffError(
                f"{type(self).__name__}: x: expected (B, {self.in_channels}, *space) with {self.ndim} spatial axes, "
                f"got shape {tuple(x.shape)}."
            )
        return self.conv(same_padding(x, self.kernel_size, self.padding_mode))

    def coefficients(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(a, b)`` of the update for inputs ``x`` ``(N, in_channels, *space)``; each ``(N, hidden, *space)``."""
        a, i, candidate = self._gates(self._conv(x))
        return a, i * g(candidate)

    def log_coefficients(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(log a, log b)`` of the update for inputs ``x`` ``(N, in_channels, *space)``; each ``(N, hidden, *space)``."""
        log_a, log_i, candidate = self._log_gates(self._conv(x))
        return log_a, log_i + log_g(candidate)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        """One step: ``h_t = a . h_{t-1} + b`` for ``x`` ``(B, in_channels, *space)``; ``h=None`` means zeros."""
        a, b = self.coefficients(x)
        return b if h is None else torch.addcmul(b, a, h)

    def sequence(self, xs: torch.Tensor, h0: torch.Tensor | None = None, method: str = "auto") -> torch.Tensor:
        """All steps of ``xs`` ``(B, T, in_channels, *space)`` at once: ``(B, T, hidden, *space)``.

        One convolution of the ``B T`` frames, then the scan (``method`` of :func:`linear_scan`:
        'sequential', 'log' or 'auto'); ``h0=None`` means zeros.
        """
        if xs.dim() != self.ndim + 3:
            raise PhysdiffError(f"{type(self).__name__}.sequence: xs: expected (B, T, {self.in_channels}, *space), "
                                f"got shape {tuple(xs.shape)}.")
        batch = xs.shape[0]
        flat = rearrange(xs, "b t ... -> (b t) ...")
        shape = (batch, xs.shape[1], self.hidden_channels, *xs.shape[3:])
        needs_grad = torch.is_grad_enabled() and (any(p.requires_grad for p in self.parameters()) or xs.requires_grad
                                                  or (h0 is not None and h0.requires_grad))
        chosen = resolve_scan_method(method, shape, xs.dtype, xs.device, needs_grad)
        if chosen == "log":
            log_a, log_b = (rearrange(v, "(b t) ... -> b t ...", b=batch) for v in self.log_coefficients(flat))
            return log_linear_scan(log_a, log_b, h0)
        a, b = (rearrange(v, "(b t) ... -> b t ...", b=batch) for v in self.coefficients(flat))
        return linear_scan(a, b, h0, method="sequential")


class MinConvGRUCell(_MinimalCell):
    r"""Minimal ConvGRU cell: ``z = sigma(k)``, ``h_t = (1 - z) . h_{t-1} + z . g(ht)``, ``[k, ht] = W * x_t + c``.

    See the module docstring for ``g``, the log-space forms and the zero-state convention.

    Args:
        in_channels: channels of ``x``.
        hidden_channels: channels of ``h``.
        kernel_size: odd convolution width.
        ndim: spatial dimensions (1, 2 or 3).
        padding_mode: 'circular', 'zeros', 'reflect', 'replicate' or 'cylinder' (2D sphere).

    Attributes:
        conv: ``Conv(in_channels -> 2 hidden)``; output blocks ``k``, ``ht``.
    """

    n_blocks = 2

    def _log_gates(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        k, candidate = z.chunk(2, dim=1)
        return -F.softplus(k), -F.softplus(-k), candidate  # log(1 - z), log z

    def _gates(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        k, candidate = z.chunk(2, dim=1)
        update = torch.sigmoid(k)
        return 1 - update, update, candidate


class MinConvLSTMCell(_MinimalCell):
    r"""Minimal ConvLSTM cell: normalised gates ``f' = sigma(f) / (sigma(f) + sigma(i))``, ``i' = 1 - f'``,
    ``h_t = f' . h_{t-1} + i' . g(ht)``, ``[f, i, ht] = W * x_t + c``.

    Args: as :class:`MinConvGRUCell`. Attributes: ``conv``: ``Conv(in_channels -> 3 hidden)``, blocks ``f, i, ht``.
    """

    def _log_gates(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        f, i, candidate = z.chunk(3, dim=1)
        d = F.softplus(-f) - F.softplus(-i)  # log sigma(i) - log sigma(f)
        return -F.softplus(d), -F.softplus(-d), candidate

    def _gates(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        f, i, candidate = z.chunk(3, dim=1)
        sf, si = torch.sigmoid(f), torch.sigmoid(i)
        forget = sf / (sf + si)
        return forget, 1 - forget, candidate


class MinConvExpLSTMCell(_MinimalCell):
    r"""Minimal ConvLSTM cell with xLSTM-style exponential gates: ``f' = exp(f) / (exp(f) + exp(i)) = sigma(f - i)``,
    ``i' = sigma(i - f)``, ``h_t = f' . h_{t-1} + i' . g(ht)``, ``[f, i, ht] = W * x_t + c``.

    Args: as :class:`MinConvGRUCell`. Attributes: ``conv``: ``Conv(in_channels -> 3 hidden)``, blocks ``f, i, ht``.
    """

    def _log_gates(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        f, i, candidate = z.chunk(3, dim=1)
        d = f - i
        return F.logsigmoid(d), F.logsigmoid(-d), candidate

    def _gates(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        f, i, candidate = z.chunk(3, dim=1)
        forget = torch.sigmoid(f - i)
        return forget, 1 - forget, candidate
