"""PeRCNN's Pi-block: a learnable polynomial right-hand side, plus an optional known physics term."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from ..core import PhysdiffError
from ._conv import same_conv
from ._step_args import check_like_state, check_module_input, positive_int


class PiBlock(nn.Module):
    """Product of parallel convolutions (a polynomial in ``u`` and its neighbours), usable as an ``rhs``.

        Pi(u)  = W_out( W_1 u  ⊙  W_2 u  ⊙ ... ⊙  W_n u )
        F(u)   = Pi(u) + c ⊙ L(u)                       (if a known term L is given)
        c      = upper * sigmoid(theta)   (bounded)  or  theta  (unbounded), one per channel

    Each ``W_i`` is a convolution ``C -> hidden`` with bias (odd ``kernel_size``,
    circular padding by default, so the block is periodic); ``W_out`` is a 1x1
    convolution ``hidden -> C`` with bias; ``⊙`` is the elementwise product.
    With zero biases and 1x1 kernels ``Pi`` is a homogeneous polynomial of
    degree ``n`` in the channels; biases add every lower degree.

    PeRCNN uses one block per output variable; this is the joint form, one block
    whose output convolution maps to all ``C`` channels. A joint block with
    ``hidden = C * h`` can represent any set of ``C`` per-variable blocks of
    hidden size ``h`` (block-diagonal weights), so nothing is lost in
    expressiveness; the per-variable blocks are cheaper when ``C`` is large.

    Initialisation follows PeRCNN: Xavier-uniform weights scaled by
    ``init_gain`` (0.02 for its 2D Gray-Scott model, with ``hidden=8`` and
    1x1 kernels) and zero biases.

    Args:
        channels: ``C``, state channels in and out.
        hidden: channels of each branch.
        n_branches: number of factors ``n`` (polynomial degree).
        kernel_size: odd kernel size of the branch convolutions.
        ndim: spatial dimensions 1, 2 or 3.
        known_term: callable ``L`` mapping ``(B, C, *space)`` to the same shape
            (e.g. a Laplacian operator; registered if it is an ``nn.Module``).
        coefficient_init: initial ``c`` (one float, or ``C`` floats); default
            ``upper/2`` if bounded, else 1.0 (L as given).
        coefficient_bound: ``upper > 0`` for the bounded form, None for an unbounded ``c``.
        init_gain: Xavier gain of every convolution weight.
        padding_mode: 'circular', 'zeros', 'reflect' or 'replicate' (only matters for ``kernel_size > 1``).

    Raises:
        PhysdiffError: invalid sizes, an even kernel, a non-callable ``known_term``,
            a non-positive bound, or an initial coefficient outside ``(0, upper)``.
    """

    def __init__(
        self, channels: int, hidden: int = 8, n_branches: int = 3, kernel_size: int = 1, ndim: int = 2, *,
        known_term: Callable[[torch.Tensor], torch.Tensor] | None = None,
        coefficient_init: float | Sequence[float] | None = None, coefficient_bound: float | None = None,
        init_gain: float = 0.02, padding_mode: str = "circular",
    ) -> None:
        super().__init__()
        where = "PiBlock"
        positive_int(n_branches, "n_branches", where)
        positive_int(hidden, "hidden", where)
        self.branches = nn.ModuleList(
            same_conv(ndim, channels, hidden, kernel_size, padding_mode, where) for _ in range(n_branches)
        )
        self.output = same_conv(ndim, hidden, channels, 1, padding_mode, where)
        self.channels, self.ndim = channels, ndim
        if isinstance(init_gain, bool) or not isinstance(init_gain, (int, float)) or not math.isfinite(init_gain):
            raise PhysdiffError(f"{where}: init_gain: expected a finite number, got {init_gain!r}.")
        for conv in (*self.branches, self.output):
            nn.init.xavier_uniform_(conv.weight, gain=init_gain)
            nn.init.zeros_(conv.bias)
        self.known_term = known_term
        self.coefficient_bound = None
        self.theta: nn.Parameter | None = None
        if known_term is not None:
            if not callable(known_term):
                raise PhysdiffError(
                    f"{where}: known_term: expected a callable operator L mapping (B, C, *space) to the same "
                    f"shape, got {type(known_term).__name__}."
                )
            self.theta = nn.Parameter(self._initial_theta(coefficient_init, coefficient_bound, where))
        elif coefficient_init is not None or coefficient_bound is not None:
            raise PhysdiffError(f"{where}: coefficient_init/coefficient_bound need a known_term, got known_term=None.")

    def _initial_theta(self, init: object, bound: object, where: str) -> torch.Tensor:
        if bound is not None:
            if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not (math.isfinite(bound) and bound > 0):
                raise PhysdiffError(
                    f"{where}: coefficient_bound: expected a finite positive upper bound, got {bound!r}."
                )
            self.coefficient_bound = float(bound)
        default = 0.5 * self.coefficient_bound if bound is not None else 1.0
        values = [default] * self.channels if init is None else init
        if isinstance(values, (int, float)) and not isinstance(values, bool):
            values = [values] * self.channels
        try:
            c0 = torch.tensor([float(v) for v in values], dtype=torch.float64)
        except (TypeError, ValueError):
            c0 = None
        if c0 is None or c0.shape != (self.channels,) or not bool(torch.isfinite(c0).all()):
            raise PhysdiffError(
                f"{where}: coefficient_init: expected one finite float or {self.channels} (one per channel), "
                f"got {init!r}."
            )
        if bound is None:
            return c0.to(torch.get_default_dtype())
        p = c0 / self.coefficient_bound
        if not bool(((p > 0) & (p < 1)).all()):
            raise PhysdiffError(
                f"{where}: coefficient_init: expected values strictly inside (0, {bound}) for the bounded form "
                f"c = {bound} * sigmoid(theta), got {c0.tolist()}."
            )
        return torch.logit(p).to(torch.get_default_dtype())

    @property
    def coefficient(self) -> torch.Tensor | None:
        """The per-channel coefficient ``c`` of the known term (shape ``(C,)``), or None without one."""
        if self.theta is None:
            return None
        if self.coefficient_bound is None:
            return self.theta
        return self.coefficient_bound * torch.sigmoid(self.theta)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """``Pi(u) + c ⊙ L(u)``, same shape and dtype as ``u``."""
        where = "PiBlock"
        check_module_input(u, self.ndim, self.channels, self.output.weight.dtype, where, "the block's")
        product = self.branches[0](u)
        for branch in self.branches[1:]:
            product = product * branch(u)
        out = self.output(product)
        if self.known_term is None:
            return out
        lu = check_like_state(self.known_term(u), u, where, "known_term(u)")
        return out + self.coefficient.reshape((1, -1) + (1,) * self.ndim) * lu

    def extra_repr(self) -> str:
        bound = "" if self.coefficient_bound is None else f", coefficient_bound={self.coefficient_bound}"
        return f"channels={self.channels}, ndim={self.ndim}, known_term={self.known_term is not None}{bound}"
