"""Autoregressive rollouts ``u_{n+1} = step(u_n, dt)`` with optional gradient checkpointing."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch.utils.checkpoint import checkpoint as _checkpoint

from ..core import PhysdiffError
from ._step_args import Step, check_state, positive_int


def _run_segment(
    step: Callable[[torch.Tensor, Step], torch.Tensor], u: torch.Tensor, dt: Step, first: int, count: int,
    save_every: int,
) -> tuple[torch.Tensor, ...]:
    """Steps ``first+1 .. first+count``; returns the end state, then the states to save."""
    saved = []
    for n in range(first + 1, first + count + 1):
        nxt = step(u, dt)
        if not isinstance(nxt, torch.Tensor) or nxt.shape != u.shape:
            got = f"shape {tuple(nxt.shape)}" if isinstance(nxt, torch.Tensor) else type(nxt).__name__
            raise PhysdiffError(
                f"rollout: expected step(u, dt) to return the state's shape {tuple(u.shape)}, got {got}."
            )
        u = nxt
        if n % save_every == 0:
            saved.append(u)
    return (u, *saved)


def rollout(
    step: Callable[[torch.Tensor, Step], torch.Tensor], u0: torch.Tensor, n_steps: int, dt: Step, *,
    checkpoint: bool = False, checkpoint_every: int | None = None, save_every: int = 1, include_initial: bool = False,
) -> torch.Tensor:
    """Apply ``step`` ``n_steps`` times from ``u0`` and stack the saved states along a time axis.

        u_0 = u0,   u_{n+1} = step(u_n, dt),   saved: u_s, u_2s, ..., u_N   (s = save_every, N = n_steps)

    With ``checkpoint=True`` the ``N`` steps run in segments of
    ``checkpoint_every`` steps (default ``ceil(sqrt(N))``), each under
    ``torch.utils.checkpoint`` (non-reentrant). Why: backpropagating through a
    rollout normally keeps every stage activation of every step, memory
    ``O(N)`` steps' worth. Checkpointing keeps only each segment's input state
    (plus the returned states) and recomputes a segment's activations during
    backward: ``O(N / S)`` boundary states plus ``O(S)`` live activations for
    one segment, ``O(sqrt N)`` with the default ``S``, for one extra forward
    pass. Gradients are unchanged (up to rounding of nondeterministic kernels).

    Args:
        step: ``step(u, dt) -> u_next``, e.g. any physdiff integrator.
        u0: initial state ``(B, C, *space)``.
        n_steps: number of steps ``N >= 1``.
        dt: time step passed unchanged to every call (float or ``(B,)`` tensor).
        checkpoint: recompute activations in backward instead of storing them.
        checkpoint_every: segment length ``S`` (steps per checkpoint).
        save_every: keep every ``s``-th state; must divide ``n_steps``.
        include_initial: also put ``u0`` first.

    Returns:
        Tensor ``(B, T, C, *space)`` with ``T = N / s`` (+1 with ``include_initial``).

    Raises:
        PhysdiffError: invalid counts, ``save_every`` not dividing ``n_steps``, or a step changing the state's shape.
    """
    where = "rollout"
    if not callable(step):
        raise PhysdiffError(f"{where}: step: expected a callable step(u, dt) -> u_next, got {type(step).__name__}.")
    check_state(u0, where)
    positive_int(n_steps, "n_steps", where)
    positive_int(save_every, "save_every", where)
    if n_steps % save_every:
        raise PhysdiffError(
            f"{where}: expected save_every to divide n_steps so the final state is saved, got n_steps={n_steps}, "
            f"save_every={save_every}. Use n_steps={n_steps - n_steps % save_every + save_every}."
        )
    segment = math.ceil(math.sqrt(n_steps)) if checkpoint_every is None else positive_int(
        checkpoint_every, "checkpoint_every", where
    )
    # Without autograd there is nothing to save, so checkpointing would only cost time.
    use_checkpoint = checkpoint and torch.is_grad_enabled()
    states = [u0] if include_initial else []
    u = u0
    for first in range(0, n_steps, segment if use_checkpoint else n_steps):
        count = min(segment if use_checkpoint else n_steps, n_steps - first)
        if use_checkpoint:
            out = _checkpoint(_run_segment, step, u, dt, first, count, save_every, use_reentrant=False)
        else:
            out = _run_segment(step, u, dt, first, count, save_every)
        u = out[0]
        states.extend(out[1:])
    return torch.stack(states, dim=1)
