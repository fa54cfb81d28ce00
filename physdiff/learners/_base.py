"""The one interface every sequence learner implements: warm up on context frames, roll out.

A learner is an ``nn.Module`` that advances a field ``u`` of shape ``(B, C, *space)``
by one output interval per call of :meth:`SequenceLearner.step`, carrying an optional
hidden state (a tensor, a tuple/list/dict of tensors, or None; the learner decides)::

    state_0        = initial_state(context[:, 0])
    _, state_{t+1} = step(context[:, t], state_t)          t < T_in - 1   (warm-up)
    u_1, state     = step(context[:, T_in - 1], state)                     (first prediction)
    u_{n+1}, state = step(input_n, state)                   input_n = u_n, or the true frame
                                                                   with teacher forcing

The base class owns the loop (warm-up, teacher forcing, truncated backpropagation,
gradient checkpointing, state carry-over between calls) so that every learner gets the
same semantics and the trainer needs to know nothing about any particular model.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint as _checkpoint

from ..core import PhysdiffError

State = Any  # a tensor, a (nested) tuple/list/dict of tensors, or None; owned by the learner


def _positive_int_or_none(value: object, name: str, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PhysdiffError(f"{where}: {name}: expected None or a positive int, got {value!r}.")
    return value


def detach_state(state: State) -> State:
    """Detach every tensor of a (nested) state from the autograd graph (truncated backpropagation)."""
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, tuple):
        return tuple(detach_state(s) for s in state)
    if isinstance(state, list):
        return [detach_state(s) for s in state]
    if isinstance(state, dict):
        return {k: detach_state(v) for k, v in state.items()}
    return state


class SequenceLearner(nn.Module):
    """Base class of physdiff's sequence learners (ConvLSTM, FNO, PeRCNN, PIMRL, ...).

    Subclasses call ``super().__init__(channels, ndim, time_step=...)`` and implement

    * :meth:`step` ``(u, state) -> (u_next, state)``: one output interval;
    * :meth:`initial_state` ``(u) -> state``: the hidden state before the first frame
      (default None, for memoryless learners such as FNO or PeRCNN);
    * :meth:`config`: the JSON-serialisable constructor arguments, so that a checkpoint
      can rebuild the model and refuse to load into a different one.

    Class attributes:
        supported_ndims: spatial dimensions the learner supports.
        normalized_data: True if the learner expects per-channel normalised data (black-box
            models); False for physics-encoded learners whose operators carry physical units
            (PeRCNN, PIMRL), which must see the data in the units of the PDE.

    Attributes:
        channels: ``C``.
        ndim: spatial dimensions of the fields.
        time_step: physical time between consecutive output frames, if the learner has one
            built in (an integrator's ``dt`` times its substeps); None for learners that only
            count frames. The trainer checks it against the data's sampling interval.
    """

    supported_ndims: ClassVar[tuple[int, ...]] = (1, 2, 3)
    normalized_data: ClassVar[bool] = True

    def __init__(self, channels: int, ndim: int, *, time_step: float | None = None) -> None:
        super().__init__()
        where = type(self).__name__
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
            raise PhysdiffError(f"{where}: channels: expected a positive int, got {channels!r}.")
        if ndim not in self.supported_ndims:
            raise PhysdiffError(
                f"{where}: ndim: expected one of {self.supported_ndims} (the spatial dimensions this learner "
                f"supports), got {ndim!r}."
            )
        if time_step is not None and (isinstance(time_step, bool) or not isinstance(time_step, (int, float))
                                      or not time_step > 0):
            raise PhysdiffError(f"{where}: time_step: expected None or a positive number, got {time_step!r}.")
        self.channels, self.ndim = channels, ndim
        self.time_step = None if time_step is None else float(time_step)

    # ----------------------------------------------------------------- to implement
    def initial_state(self, u: torch.Tensor) -> State:
        """Hidden state before the first frame ``u`` ``(B, C, *space)``; None if memoryless."""
        return None

    def step(self, u: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """Advance ``u`` ``(B, C, *space)`` by one output interval; return ``(u_next, state)``."""
        raise NotImplementedError(f"{type(self).__name__} must implement step(u, state).")

    def config(self) -> dict[str, Any]:
        """Constructor arguments as a JSON-serialisable dict (``type(self)(**config())`` rebuilds it)."""
        raise NotImplementedError(f"{type(self).__name__} must implement config().")

    def auxiliary_loss(self, context: torch.Tensor) -> torch.Tensor | None:
        """An extra training loss that depends only on the context (e.g. PeRCNN's upscaler loss), or None."""
        return None

    def prediction_loss(self, prediction: torch.Tensor, targets: torch.Tensor) -> torch.Tensor | None:
        """An extra training loss on the predicted frames ``(B, T, C, *space)`` against the true ones,
        added to the trainer's MSE (e.g. ARKMNet's H1 term), or None (the default)."""
        return None

    # ----------------------------------------------------------------- shared loop
    def check_frames(self, frames: torch.Tensor, name: str = "context") -> torch.Tensor:
        """Validate ``(B, T, C, *space)`` (or a single ``(B, C, *space)`` frame, returned with ``T = 1``)."""
        where = type(self).__name__
        if not isinstance(frames, torch.Tensor) or not frames.is_floating_point():
            got = f"dtype {frames.dtype}" if isinstance(frames, torch.Tensor) else type(frames).__name__
            raise PhysdiffError(f"{where}: {name}: expected a floating-point tensor, got {got}.")
        if frames.dim() == self.ndim + 2:
            frames = frames[:, None]
        if frames.dim() != self.ndim + 3 or frames.shape[2] != self.channels:
            raise PhysdiffError(
                f"{where}: {name}: expected frames (B, T, {self.channels}, *space) with {self.ndim} spatial axes "
                f"(or one frame (B, {self.channels}, *space)), got shape {tuple(frames.shape)}. Check that the "
                "dataset's channels and dimension match the model's."
            )
        if frames.shape[1] < 1:
            raise PhysdiffError(f"{where}: {name}: expected at least one frame, got shape {tuple(frames.shape)}.")
        return frames

    def forward(
        self, context: torch.Tensor, n_steps: int, *, targets: torch.Tensor | None = None,
        teacher_forcing: float = 0.0, generator: torch.Generator | None = None, state: State = None,
        return_state: bool = False, checkpoint: bool = False, checkpoint_every: int | None = None,
        detach_every: int | None = None, forcing_mask: torch.Tensor | None = None, return_context: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, State]:
        """Roll out ``n_steps`` future frames after the context.

        Args:
            context: observed frames ``(B, T_in, C, *space)`` or one frame ``(B, C, *space)``.
                All but the last warm up the hidden state; the last is the first input.
            n_steps: number of frames to predict (>= 1).
            targets: true future frames ``(B, >= n_steps - 1, C, *space)``, needed for teacher forcing.
            teacher_forcing: probability ``p`` in [0, 1] that step ``n >= 1`` takes the true frame
                ``targets[:, n-1]`` as input instead of its own prediction; one draw per step
                (shared by the batch), made before the loop so a recomputed (checkpointed)
                segment sees the same draws. ``p = 1`` is one-step training, ``p = 0`` free rollout.
            generator: RNG for the teacher-forcing draws (default: the global RNG).
            state: a hidden state returned by an earlier call (``return_state=True``): continue
                from it instead of :meth:`initial_state`.
            return_state: also return the final hidden state.
            checkpoint: recompute the activations of segments of ``checkpoint_every`` steps
                (default ``ceil(sqrt(n_steps))``) in backward instead of storing them, trading
                one extra forward pass for memory ``O(sqrt(n_steps))`` instead of ``O(n_steps)``.
            detach_every: truncated backpropagation: detach the field and the state from the
                graph every ``detach_every`` steps (gradients then flow through at most that many steps).
            forcing_mask: scheduled sampling per sample (MoDeRNN, PredRNN): a bool tensor
                ``(B, n_steps - 1)``; where ``forcing_mask[b, n - 1]`` is true, sample ``b`` takes the
                true frame ``targets[b, n - 1]`` as the input of step ``n``, else its own prediction.
                Replaces ``teacher_forcing`` (which must then be 0); needs ``targets``.
            return_context: also return the one-step predictions made while warming up on the
                context (of frames ``1 .. T_in - 1``, each from the true frame before it), so a loss
                can cover every one-step prediction (PhyDNet, SwinLSTM).

        Returns:
            Predictions ``(B, n_steps, C, *space)`` (with ``return_context``: ``(B, T_in - 1 + n_steps,
            C, *space)``, the context-phase predictions first) and, with ``return_state``, the final state.
        """
        where = type(self).__name__
        context = self.check_frames(context)
        if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
            raise PhysdiffError(f"{where}: n_steps: expected a positive int, got {n_steps!r}.")
        p = float(teacher_forcing)
        if not 0.0 <= p <= 1.0:
            raise PhysdiffError(f"{where}: teacher_forcing: expected a probability in [0, 1], got {teacher_forcing!r}.")
        if p > 0:
            if targets is None:
                raise PhysdiffError(f"{where}: teacher_forcing={p} needs targets (B, n_steps - 1, C, *space).")
            targets = self.check_frames(targets, "targets")
            if targets.shape[1] < n_steps - 1:
                raise PhysdiffError(
                    f"{where}: targets: expected at least n_steps - 1 = {n_steps - 1} frames, got {targets.shape[1]}."
                )
        detach_every = _positive_int_or_none(detach_every, "detach_every", where)
        checkpoint_every = _positive_int_or_none(checkpoint_every, "checkpoint_every", where)
        if forcing_mask is not None and targets is not None:
            targets = self.check_frames(targets, "targets")
        mask = self._forcing_mask(forcing_mask, p, targets, context.shape[0], n_steps)
        if state is None:
            state = self.initial_state(context[:, 0])
        warm: list[torch.Tensor] = []
        for t in range(context.shape[1] - 1):
            out, state = self.step(context[:, t], state)
            if return_context:
                warm.append(out)
        forced = [False] * n_steps
        if p > 0 and n_steps > 1:
            draws = torch.rand(n_steps - 1, generator=generator) < p
            forced = [False] + draws.tolist()
        shape = (-1,) + (1,) * (context.dim() - 2)  # a (B,) mask column broadcast over (C, *space)

        def run(u: torch.Tensor, state: State, first: int, count: int) -> tuple[torch.Tensor, State, list]:
            outs = []
            for n in range(first, first + count):
                if forced[n]:
                    u = targets[:, n - 1]
                elif mask is not None and n > 0:
                    u = torch.where(mask[:, n - 1].reshape(shape), targets[:, n - 1], u)
                u, state = self.step(u, state)
                outs.append(u)
            return u, state, outs

        segment = n_steps
        use_checkpoint = checkpoint and torch.is_grad_enabled()
        if use_checkpoint:
            segment = checkpoint_every or math.ceil(math.sqrt(n_steps))
        outputs: list[torch.Tensor] = []
        u = context[:, -1]
        n = 0
        while n < n_steps:
            count = min(segment, n_steps - n)
            if detach_every is not None:
                count = min(count, detach_every - n % detach_every)
            if use_checkpoint:
                u, state, outs = _checkpoint(run, u, state, n, count, use_reentrant=False)
            else:
                u, state, outs = run(u, state, n, count)
            outputs.extend(outs)
            n += count
            if detach_every is not None and n % detach_every == 0:
                u, state = u.detach(), detach_state(state)
        predictions = torch.stack(warm + outputs, dim=1)
        return (predictions, state) if return_state else predictions

    def _forcing_mask(self, mask: torch.Tensor | None, p: float, targets: torch.Tensor | None, batch: int,
                      n_steps: int) -> torch.Tensor | None:
        """The checked per-sample scheduled-sampling mask ``(B, n_steps - 1)`` of :meth:`forward`, or None."""
        where = type(self).__name__
        if mask is None:
            return None
        if p > 0:
            raise PhysdiffError(f"{where}: give teacher_forcing (one draw per step) or forcing_mask (per sample and "
                                f"step), not both; got teacher_forcing={p} and a mask.")
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or tuple(mask.shape) != (batch, n_steps - 1):
            got = f"{mask.dtype} {tuple(mask.shape)}" if isinstance(mask, torch.Tensor) else type(mask).__name__
            raise PhysdiffError(f"{where}: forcing_mask: expected a bool tensor (B, n_steps - 1) = ({batch}, "
                                f"{n_steps - 1}), got {got}.")
        if targets is None or targets.shape[1] < n_steps - 1:
            got = "none" if targets is None else f"{targets.shape[1]} frames"
            raise PhysdiffError(f"{where}: forcing_mask needs targets with at least n_steps - 1 = {n_steps - 1} "
                                f"frames, got {got}.")
        return mask.to(targets.device)

    def predict(self, context: torch.Tensor, n_steps: int, **kwargs: Any) -> torch.Tensor:
        """Free rollout without gradients (evaluation mode restored afterwards): ``(B, n_steps, C, *space)``."""
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                return self(context, n_steps, **kwargs)
        finally:
            self.train(was_training)

