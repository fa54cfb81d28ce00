"""The learnable gated second-order Runge-Kutta step: the Euler/Heun blend and the ARK stage-gated form."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..core import PhysdiffError
from ._conv import _CONV, same_conv
from ._explicit_rk import Rhs
from ._step_args import Step, as_step, check_module_input, check_rhs, check_state, evaluate_rhs

FORMS = ("blend", "stages")


def stage_map(ndim: int, channels: int, groups: int | None = None) -> nn.Sequential:
    """ARK's learned stage map ``W = Conv1x1 -> GroupNorm(groups, C) -> Conv1x1`` (spatiotemporal.md 1.2 step 6).

    ``groups`` defaults to the largest divisor of ``C`` not above 16 (ARK's ``GroupNorm(16, C)`` for C = 64).
    """
    groups = groups or max(g for g in range(1, 17) if channels % g == 0)
    conv = _CONV[ndim]
    return nn.Sequential(conv(channels, channels, 1), nn.GroupNorm(groups, channels), conv(channels, channels, 1))


class AdaptiveRK2(nn.Module):
    r"""Learned gated RK2 step sharing one right-hand side ``F`` between its two stages.

    Both forms evaluate ``k1 = F(u)`` and ``k2 = F(u + dt k1)`` (the same ``F``, shared parameters).

    ``form="blend"`` (default; a gate computed from the state, blending Euler and Heun)::

        a      = sigmoid(Conv(u) + bias)                     in (0, 1), shape (B, C, *space)
        u_next = u + dt ((1 - a/2) k1 + (a/2) k2)

      ``a = 0`` is forward Euler and ``a = 1`` is Heun. The local error is
      ``dt^2/2 (a - 1) F'(u) F(u) + O(dt^3)``: second order only where ``a = 1``.
      ``Conv`` maps ``C -> C`` with an odd kernel and 'same' padding.

    ``form="stages"`` (the ARK module, eq. 7, as in spatiotemporal.md 1.2 step 6)::

        g      = sigmoid(Conv([k1, k2]) + bias)              2C -> C channels
        u_next = u + dt (g W1(k1) + (1 - g) W2(k2))

      with learned stage maps ``W1, W2`` (``stage_maps="learned"``: :func:`stage_map`, or two
      modules), or identities (``stage_maps=None``). With ``g = 1/2`` and identity maps this is
      exactly Heun's step; ``g = 1`` with identity maps is forward Euler (``k2`` unused).
      ARK takes ``Conv`` 1x1 (``gate_kernel_size=1``) and ``dt = 1``.

    Args:
        rhs: callable or ``nn.Module`` F mapping ``(B, C, *space)`` to ``du/dt``
            (registered as a submodule if it is one). ARK's is a moment-constrained
            convolution followed by a combining convolution (``physdiff.learners.blocks.MomentRHS``).
        channels: ``C``; required (with ``ndim``) for the learned gate and learned stage maps.
        ndim: spatial dimensions 1, 2 or 3 of the state.
        gate_kernel_size: odd kernel size of the gate convolution.
        gate: None for the learned gate, or a fixed constant in ``[0, 1]`` (``a`` of the blend
            form: 0 Euler, 1 Heun; ``g`` of the stages form: 1/2 Heun); see :attr:`fixed_gate`.
        padding_mode: 'circular' (periodic domains), 'zeros', 'reflect' or 'replicate'.
        gate_bias_init: initial bias of the gate convolution (weights use PyTorch's default init).
        form: ``"blend"`` or ``"stages"``.
        stage_maps: stages form only: None (identities), ``"learned"`` or a pair of modules
            mapping ``(B, C, *space)`` to itself.

    Raises:
        PhysdiffError: non-callable ``rhs``, an even or non-positive kernel, invalid
            channels/ndim/form/stage maps, or a fixed gate outside ``[0, 1]``.
    """

    def __init__(
        self, rhs: Rhs, channels: int | None = None, ndim: int | None = None, gate_kernel_size: int = 3, *,
        gate: float | None = None, padding_mode: str = "circular", gate_bias_init: float = 0.0,
        form: str = "blend", stage_maps: str | Sequence[nn.Module] | None = None,
    ) -> None:
        super().__init__()
        where = "AdaptiveRK2"
        check_rhs(rhs, where)
        if form not in FORMS:
            raise PhysdiffError(
                f"{where}: form: expected one of {FORMS} ('blend': Euler/Heun gate from the state; 'stages': "
                f"ARK's gate from [k1, k2] with stage maps), got {form!r}."
            )
        self.rhs, self.form = rhs, form
        if (channels is None) != (ndim is None):
            raise PhysdiffError(
                f"{where}: expected channels and ndim together (they shape the gate convolution), "
                f"got channels={channels!r}, ndim={ndim!r}."
            )
        self.gate_conv: nn.Module | None = None
        if channels is not None:
            gate_in = channels if form == "blend" else 2 * channels
            self.gate_conv = same_conv(ndim, gate_in, channels, gate_kernel_size, padding_mode, where)
            nn.init.constant_(self.gate_conv.bias, float(gate_bias_init))
        self.channels, self.ndim = channels, ndim
        self.stage_maps: nn.ModuleList | None = None
        if stage_maps is not None:
            if form != "stages":
                raise PhysdiffError(f"{where}: stage_maps: only the 'stages' form has stage maps; got form={form!r}.")
            if stage_maps == "learned":
                if channels is None:
                    raise PhysdiffError(f"{where}: stage_maps='learned' needs channels and ndim.")
                stage_maps = (stage_map(ndim, channels), stage_map(ndim, channels))
            if (isinstance(stage_maps, str) or not isinstance(stage_maps, Sequence) or len(stage_maps) != 2
                    or not all(isinstance(m, nn.Module) for m in stage_maps)):
                raise PhysdiffError(
                    f"{where}: stage_maps: expected None (identities), 'learned' or two nn.Modules (W1, W2), "
                    f"got {stage_maps!r}."
                )
            self.stage_maps = nn.ModuleList(stage_maps)
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

    def gate(self, u: torch.Tensor, k2: torch.Tensor | None = None) -> torch.Tensor:
        """The learned gate: ``sigmoid(Conv(u) + bias)`` (blend form) or ``sigmoid(Conv([k1, k2]) + bias)``
        (stages form, called as ``gate(k1, k2)``), shaped like ``u``.

        Raises:
            PhysdiffError: no gate convolution, or the input does not fit it (ndim, channels, dtype).
        """
        where = "AdaptiveRK2.gate"
        if self.gate_conv is None:
            raise PhysdiffError(f"{where}: this integrator was built without a gate convolution (channels, ndim).")
        if (k2 is None) != (self.form == "blend"):
            raise PhysdiffError(f"{where}: the {self.form!r} form's gate takes "
                                f"{'the state u' if self.form == 'blend' else 'the two stages (k1, k2)'}.")
        check_module_input(u, self.ndim, self.channels, self.gate_conv.weight.dtype, where, "the gate convolution's")
        return torch.sigmoid(self.gate_conv(u if k2 is None else torch.cat([u, k2], dim=1)))

    def forward(self, u: torch.Tensor, dt: Step) -> torch.Tensor:
        """The state one gated step of size ``dt`` (float or ``(B,)`` tensor) after ``u``."""
        where = "AdaptiveRK2"
        check_state(u, where)
        h = as_step(dt, u, where)
        if self.form == "blend":
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
        k1 = evaluate_rhs(self.rhs, u, where)
        k2 = evaluate_rhs(self.rhs, u + h * k1, where)
        if self._fixed_gate is None:
            g = self.gate(k1, k2)
            rest = 1 - g
        else:
            g = self._fixed_gate
            rest = 1.0 - g
        if self.stage_maps is not None:
            k1, k2 = self.stage_maps[0](k1), self.stage_maps[1](k2)
        return u + h * (g * k1 + rest * k2)

    def extra_repr(self) -> str:
        gate = "learned" if self._fixed_gate is None else f"fixed={self._fixed_gate}"
        maps = "" if self.form == "blend" else f", stage_maps={'identity' if self.stage_maps is None else 'learned'}"
        return f"form={self.form!r}, gate={gate}, channels={self.channels}, ndim={self.ndim}{maps}"
