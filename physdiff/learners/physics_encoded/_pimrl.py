"""PIMRL: a physics-encoded micro-scale module and a latent macro-scale module with message passing."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch

from ...core import PhysdiffError
from .._base import SequenceLearner, State
from ..recurrent._convlstm_autoencoder import ConvLSTMAutoencoder
from ._percnn import PeRCNN

#: Values of :attr:`PIMRL.mode`.
MODES = ("full", "micro_only", "macro_only", "no_message_passing")


class PIMRL(SequenceLearner):
    """Physics-Informed Multi-scale Recurrent Learning (Wan et al., arXiv 2503.10253).

    Two modules advance the same field ``u`` ``(B, C, *space)``:

    * micro: a :class:`PeRCNN` with step ``dt`` (its ``time_step``), physics-encoded and
      pretrainable on its own on high-frequency (burst) segments sampled every ``dt``;
    * macro: a residual :class:`ConvLSTMAutoencoder` with step ``Dt = k dt`` (its
      ``time_step``; ``k`` must be an integer), which carries a latent memory ``h``.

    Every PIMRL step advances exactly ``Dt`` (``time_step = Dt``). Schedule, with ``i`` the
    index of the input frame ``u_i`` counted from the rollout start (``i = 0`` is the last
    context frame, the initial condition; warm-up frames have ``i < 0``; the count lives in
    the state and continues across calls that carry the state over)::

        (u_hat, h) = macro.step(u_i, h)                     always: the memory advances by Dt
        u_{i+1}    = micro^k(u_i)  if i >= 0 and i % N == 0     (message passing)
                   = u_hat         otherwise

    So at every ``N``-th step the physically integrated state (``k`` micro steps of ``dt``
    from ``u_i``, landing at the same time ``t_i + Dt``) replaces the macro prediction and
    the macro module continues from it at the next step. The paper's Eqs. 2-3 are ambiguous
    about when outputs land (a micro pass followed by a macro step would advance ``2 Dt``
    in one output); this schedule keeps every output at ``t_0 + (i+1) Dt`` whatever the
    mode, so the modes are comparable frame by frame and the trainer's ``time_step`` check
    holds. The macro module runs at message steps too, so its latent clock never skips a
    step. Warm-up frames run the macro module only (their outputs are discarded and the
    micro module has no memory to warm up).

    Modes (ablations, one switch away; :meth:`schedule` lists which module produces each output):

    * ``"full"``: as above;
    * ``"micro_only"``: the micro module at every step (PeRCNN at ``dt``; the macro never runs);
    * ``"macro_only"``: the macro module at every step (the residual ConvLSTM autoencoder);
    * ``"no_message_passing"``: the micro module makes only the first step (``i = 0``, from
      the initial condition) and the macro module runs alone afterwards: no message from
      the micro to the macro scale after the start.

    Args:
        micro: a :class:`PeRCNN` without ``upscale_factor``, or its ``config()`` dict.
        macro: a :class:`ConvLSTMAutoencoder` with a ``time_step``, or its ``config()`` dict.
        period: ``N >= 1``, steps between micro corrections.
        mode: one of :data:`MODES`.

    Raises:
        PhysdiffError: wrong module types, channels or dimensions that differ, a macro without
            ``time_step``, ``Dt / dt`` not an integer, a bad period or mode.
    """

    normalized_data: ClassVar[bool] = False

    def __init__(
        self, micro: PeRCNN | dict[str, Any], macro: ConvLSTMAutoencoder | dict[str, Any], *, period: int = 1,
        mode: str = "full",
    ) -> None:
        where = "PIMRL"
        micro = _build(micro, PeRCNN, "micro", where)
        macro = _build(macro, ConvLSTMAutoencoder, "macro", where)
        if micro.upscale_factor is not None:
            raise PhysdiffError(
                f"{where}: micro: expected a PeRCNN without upscale_factor (PIMRL steps it with step() from "
                f"full-resolution states), got upscale_factor={micro.upscale_factor}."
            )
        if (micro.channels, micro.ndim) != (macro.channels, macro.ndim):
            raise PhysdiffError(
                f"{where}: micro and macro must have the same channels and ndim, got micro (channels="
                f"{micro.channels}, ndim={micro.ndim}) and macro (channels={macro.channels}, ndim={macro.ndim})."
            )
        if macro.time_step is None:
            raise PhysdiffError(
                f"{where}: macro: expected a ConvLSTMAutoencoder with time_step = Dt (a multiple of the micro "
                f"time_step {micro.time_step}), got time_step=None."
            )
        ratio = macro.time_step / micro.time_step
        k = round(ratio)
        if k < 1 or not math.isclose(ratio, k, rel_tol=1e-9, abs_tol=0.0):
            raise PhysdiffError(
                f"{where}: expected macro.time_step / micro.time_step to be a positive integer k (each macro step "
                f"is k micro steps), got macro.time_step={macro.time_step} / micro.time_step={micro.time_step} "
                f"= {ratio}. Choose Dt = k * dt."
            )
        if isinstance(period, bool) or not isinstance(period, int) or period < 1:
            raise PhysdiffError(
                f"{where}: period: expected a positive int (steps between micro corrections), got {period!r}."
            )
        if mode not in MODES:
            raise PhysdiffError(f"{where}: mode: expected one of {MODES}, got {mode!r}.")
        super().__init__(micro.channels, micro.ndim, time_step=macro.time_step)
        self.micro, self.macro = micro, macro
        self.k, self.period, self.mode = k, period, mode

    # ----------------------------------------------------------------- schedule
    def module_at(self, index: int) -> str:
        """``"micro"`` or ``"macro"``: the module whose result is the output of the step from frame ``index``."""
        if self.mode == "micro_only":
            return "micro"
        if self.mode == "macro_only" or index < 0:
            return "macro"
        if self.mode == "no_message_passing":
            return "micro" if index == 0 else "macro"
        return "micro" if index % self.period == 0 else "macro"

    def schedule(self, n_steps: int, start: int = 0) -> list[str]:
        """The modules producing the outputs of steps ``start, ..., start + n_steps - 1`` (what :meth:`step` runs)."""
        if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 0:
            raise PhysdiffError(f"PIMRL.schedule: n_steps: expected a non-negative int, got {n_steps!r}.")
        return [self.module_at(i) for i in range(start, start + n_steps)]

    # ----------------------------------------------------------------- learner contract
    def initial_state(self, u: torch.Tensor) -> State:
        """``{"macro": macro memory, "index": 0}``: ``u`` is frame 0 of the schedule."""
        macro = None if self.mode == "micro_only" else self.macro.initial_state(u)
        return {"macro": macro, "index": 0}

    def forward(self, context: torch.Tensor, n_steps: int, *, state: State = None, **kwargs: Any) -> Any:
        """As :meth:`SequenceLearner.forward`; a fresh state numbers the last context frame 0."""
        if state is None:
            frames = self.check_frames(context)
            state = self.initial_state(frames[:, 0])
            state["index"] = 1 - frames.shape[1]
        return super().forward(context, n_steps, state=state, **kwargs)

    def step(self, u: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One macro interval ``Dt`` from ``u`` (see the class docstring); returns a new state dict."""
        if state is None:
            state = self.initial_state(u)
        index, memory = state["index"], state["macro"]
        u_next = None
        if self.mode != "micro_only":
            u_next, memory = self.macro.step(u, memory)
        if self.module_at(index) == "micro":
            u_next = u
            for _ in range(self.k):
                u_next, _ = self.micro.step(u_next, None)
        return u_next, {"macro": memory, "index": index + 1}

    def config(self) -> dict[str, Any]:
        return {"micro": self.micro.config(), "macro": self.macro.config(), "period": self.period, "mode": self.mode}

    def extra_repr(self) -> str:
        return f"k={self.k}, period={self.period}, mode={self.mode!r}, time_step={self.time_step}"


def _build(module: object, cls: type, name: str, where: str) -> Any:
    if isinstance(module, dict):
        try:
            return cls(**module)
        except TypeError as exc:
            raise PhysdiffError(f"{where}: {name}: the dict is not a valid {cls.__name__} config ({exc}).") from None
    if not isinstance(module, cls):
        raise PhysdiffError(
            f"{where}: {name}: expected a {cls.__name__} or its config() dict, got {type(module).__name__}."
        )
    return module
