"""Checks shared by every integrator: the state, the time step ``dt``, the right-hand side, counts.

Decisions (documented in docs/api/integrators.md):

* ``dt`` is a finite real number or a tensor of shape ``()`` or ``(B,)``.
  Zero and negative steps are allowed: an explicit method is defined for any
  real ``dt`` and a negative one integrates backward in time (for
  time-reversible problems such as wave or Hamiltonian systems it undoes a
  forward step up to the method's error); stability is the caller's concern.
* A tensor ``dt`` is checked for finiteness only on the CPU: on an accelerator
  that check would force a host-device synchronisation every step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Real

import torch

from ..core import PhysdiffError, check_field

Step = float | torch.Tensor


def positive_int(value: object, name: str, where: str) -> int:
    """``value`` must be an int >= 1 (a count or a size)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PhysdiffError(f"{where}: {name}: expected a positive int, got {value!r}.")
    return value


def check_rhs(rhs: object, where: str) -> None:
    """``rhs`` must be callable (a function or an ``nn.Module``)."""
    if not callable(rhs):
        raise PhysdiffError(
            f"{where}: rhs: expected a callable mapping a state (B, C, *space) to its time derivative "
            f"(a function or an nn.Module), got {type(rhs).__name__}."
        )


def check_state(u: object, where: str) -> None:
    """A state is a floating or complex tensor shaped ``(B, C, *space)``."""
    if not isinstance(u, torch.Tensor):
        raise PhysdiffError(f"{where}: expected the state as a torch.Tensor (B, C, *space), got {type(u).__name__}.")
    if u.dim() < 2 or not (u.is_floating_point() or u.is_complex()):
        raise PhysdiffError(
            f"{where}: expected a floating-point or complex state shaped (B, C, *space) (at least 2 dims), "
            f"got dtype {u.dtype} and shape {tuple(u.shape)}. Add batch/channel axes with u[None, None] "
            "and convert integer data with u.double()."
        )


def as_step(dt: object, u: torch.Tensor, where: str) -> Step:
    """Validate ``dt`` and return a float, or a tensor of ``u``'s real dtype broadcastable to ``u``.

    A ``(B,)`` tensor becomes ``(B, 1, ..., 1)`` so each sample advances by its own step.
    """
    if isinstance(dt, bool) or not isinstance(dt, (Real, torch.Tensor)):
        raise PhysdiffError(
            f"{where}: dt: expected a finite real number or a tensor of shape () or (B,), got {dt!r} "
            f"of type {type(dt).__name__}."
        )
    if not isinstance(dt, torch.Tensor):
        value = float(dt)
        if not math.isfinite(value):
            raise PhysdiffError(f"{where}: dt: expected a finite time step, got {value!r}.")
        return value
    batch = u.shape[0]
    if dt.dim() > 1 or (dt.dim() == 1 and dt.shape[0] != batch) or dt.is_complex() or dt.dtype == torch.bool:
        raise PhysdiffError(
            f"{where}: dt: expected a real tensor of shape () or ({batch},) (one step per sample of the batch "
            f"of {batch}), got dtype {dt.dtype} and shape {tuple(dt.shape)}. Flatten a (B, 1) step with dt.reshape(-1)."
        )
    if dt.device.type == "cpu" and not bool(torch.isfinite(dt).all()):
        raise PhysdiffError(f"{where}: dt: expected finite time steps, got {dt.tolist()!r}.")
    dt = dt.to(dtype=u.dtype.to_real(), device=u.device)
    return dt.reshape((-1,) + (1,) * (u.dim() - 1)) if dt.dim() == 1 else dt


def check_like_state(out: object, u: torch.Tensor, where: str, call: str, hint: str = "") -> torch.Tensor:
    """``out`` if it is a tensor with ``u``'s shape and dtype (no silent broadcast or promotion), else raise."""
    if not isinstance(out, torch.Tensor) or out.shape != u.shape or out.dtype != u.dtype:
        got = f"shape {tuple(out.shape)} dtype {out.dtype}" if isinstance(out, torch.Tensor) else type(out).__name__
        raise PhysdiffError(
            f"{where}: expected {call} to return a tensor with the state's shape {tuple(u.shape)} and dtype "
            f"{u.dtype}, got {got}.{hint}"
        )
    return out


def check_module_input(u: torch.Tensor, ndim: int, channels: int, dtype: torch.dtype, where: str, what: str) -> None:
    """A state fits a module built for ``channels`` channels, ``ndim`` spatial axes and parameters of ``dtype``."""
    check_field(u, ndim, where)
    if u.shape[1] != channels or u.dtype != dtype:
        raise PhysdiffError(
            f"{where}: expected a state with {channels} channels and dtype {dtype} ({what}), got "
            f"{u.shape[1]} channels and dtype {u.dtype}. Build it with the state's channel count and "
            "move it with .to(u.dtype)."
        )


def evaluate_rhs(rhs: Callable[[torch.Tensor], torch.Tensor], u: torch.Tensor, where: str) -> torch.Tensor:
    """``rhs(u)``, checked to be a tensor with ``u``'s shape and dtype (no silent broadcast or promotion)."""
    return check_like_state(rhs(u), u, where, "rhs(u)", " The rhs must map a state to its time derivative du/dt.")
