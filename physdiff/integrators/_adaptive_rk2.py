"""The learnable gated second-order Runge-Kutta step of the ARK paper (reconstructed)."""

from __future__ import annotations

import torch
from torch import nn

from ..core import PhysdiffError
from ._conv import same_conv
from ._explicit_rk import Rhs
from ._step_args import Step, as_step, check_module_input, check_rhs, check_state, evaluate_rhs


class AdaptiveRK2(nn.Module):
    """Gated blend of forward Euler and Heun with a learned, per-pixel, per-channel gate.

    The ARK paper's equations could not be recovered; this is a reconstruction
    from its description (a two-stage scheme sharing one right-hand side, with a
    convolutional gate), not a transcription:

        k1 = F(u)
        k2 = F(u + dt k1)                      (the same F, shared parameters)
        a  = sigmoid(Conv(u) + bias)           in (0, 1), shape (B, C, *space)
        u_next = u + dt ((1 - a/2) k1 + (a/2) k2)

    ``a = 0`` is forward Euler and ``a = 1`` is Heun. Expanding in ``dt`` gives a
    local error ``dt^2/2 (a - 1) F'(u) F(u) + O(dt^3)``: the scheme is second
    order only where ``a = 1``; elsewhere the gate trades accuracy for the
    smaller Euler step the data may prefer. ``Conv`` is an ``ndim``-D
    convolution ``C -> C`` with an odd kernel and 'same' padding.

    Args:
        rhs: callable or ``nn.Module`` F mapping ``(B, C, *space)`` to ``du/dt``
            (registered as a submodule if it is one).
        channels: ``C``; required (with ``ndim``) for the learned gate.
        ndim: spatial dimensions 1, 2 or 3 of the state.
        gate_kernel_size: odd kernel size of the gate convolution.
        gate: None for the learned gate, or a fixed constant in ``[0, 1]``
            (0: Euler, 1: Heun); see also :attr:`fixed_gate`.
        padding_mode: 'circular' (periodic domains), 'zeros', 'reflect' or 'replicate'.
        gate_bias_init: initial bias of the gate convolution (weights use PyTorch's default init).

    Raises:
        PhysdiffError: non-callable ``rhs``, an even or non-positive kernel,
            invalid channels/ndim, or a fixed gate outside ``[0, 1]``.
    """

    def __init__(
        self, rhs: Rhs, channels: int | None = None, ndim: int | None = None, gate_kernel_size: int = 3, *,
        gate: float | None = None, padding_mode: str = "circular", gate_bias_init: float = 0.0,
    ) -> None:
        super().__init__()
        where = "AdaptiveRK2"
        check_rhs(rhs, where)
        self.rhs = rhs
        if (channels is None) != (ndim is None):
            raise PhysdiffError(
                f"{where}: expected channels and ndim together (they shape the gate convolution), "
                f"got channels={channels!r}, ndim={ndim!r}."
            )
        self.gate_conv: nn.Module | None = None
        if channels is not None:
            self.gate_conv = same_conv(ndim, channels, channels, gate_kernel_size, padding_mode, where)
            nn.init.constant_(self.gate_conv.bias, float(gate_bias_init))
        self.channels, self.ndim = channels, ndim
        self._fixed_gate: float | None = None
        self.fixed_gate = gate

    @property
    def fixed_gate(self) -> float | None:
        """The constant gate in ``[0, 1]`` used instead of the learned one, or None (learned gate)."""
        return self._fixed_gate

    @fixed_gate.setter
    def fixed_gate(self, value: float | None) -> None:
        where = "AdaptiveRK2: gate"
        if value is None:
            if self.gate_conv is None:
                raise PhysdiffError(
                    f"{where}: a learned gate needs channels and ndim at construction, got neither. "
                    "Pass AdaptiveRK2(rhs, channels=C, ndim=d) or a fixed gate in [0, 1]."
                )
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not (0.0 <= value <= 1.0):
            raise PhysdiffError(f"{where}: expected None (learned) or a constant in [0, 1], got {value!r}.")
        self._fixed_gate = None if value is None else float(value)

    def gate(self, u: torch.Tensor) -> torch.Tensor:
        """The learned gate ``a = sigmoid(Conv(u) + bias)``, shaped like ``u``.

        Raises:
            PhysdiffError: no gate convolution, or ``u`` does not fit it (ndim, channels, dtype).
        """
        where = "AdaptiveRK2.gate"
        if self.gate_conv is None:
            raise PhysdiffError(f"{where}: this integrator was built without a gate convolution (channels, ndim).")
        check_module_input(u, self.ndim, self.channels, self.gate_conv.weight.dtype, where, "the gate convolution's")
        return torch.sigmoid(self.gate_conv(u))

    def forward(self, u: torch.Tensor, dt: Step) -> torch.Tensor:
        """The state one gated step of size ``dt`` (float or ``(B,)`` tensor) after ``u``."""
        where = "AdaptiveRK2"
        check_state(u, where)
        h = as_step(dt, u, where)
        if self._fixed_gate is None:
            half = 0.5 * self.gate(u)
            keep = 1 - half
        else:
            # Python floats: with gate 0 or 1 the arithmetic is bit-identical to Euler / Heun.
            half = 0.5 * self._fixed_gate
            keep = 1.0 - half
        k1 = evaluate_rhs(self.rhs, u, where)
        k2 = evaluate_rhs(self.rhs, u + h * k1, where)
        return u + h * (keep * k1 + half * k2)

    def extra_repr(self) -> str:
        gate = "learned" if self._fixed_gate is None else f"fixed={self._fixed_gate}"
        return f"gate={gate}, channels={self.channels}, ndim={self.ndim}"
