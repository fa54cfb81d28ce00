"""Run any right-hand side with any integrator, saving or streaming the states."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch

from ..core import PhysdiffError
from ..integrators import RK4

Rhs = Callable[[torch.Tensor], torch.Tensor]


class StateSink(Protocol):
    """Receives saved states in order: ``append(states)`` with ``states`` shaped ``(B, k, C, *space)``."""

    def append(self, states: torch.Tensor) -> None: ...


def simulate(
    rhs: Rhs,
    u0: torch.Tensor,
    *,
    dt: float,
    steps: int,
    save_every: int = 1,
    integrator: type = RK4,
    include_initial: bool = True,
    sink: StateSink | None = None,
    check_stability: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Advance ``u0`` by ``steps`` steps of ``integrator(rhs)`` and save every ``save_every``-th state.

    Args:
        rhs: the right-hand side ``F`` of ``du/dt = F(u)`` (e.g. a :class:`PDE`).
        u0: initial state ``(B, C, *space)``.
        dt: time step (in the PDE's time unit).
        steps: number of steps.
        save_every: save interval in steps; must divide ``steps``.
        integrator: an integrator class taking ``rhs`` (``Euler``, ``RK4``, ...).
        include_initial: save ``u0`` as the first frame.
        sink: if given, saved states are streamed to ``sink.append`` instead of kept.
        check_stability: refuse a ``dt`` above ``rhs.stable_dt(integrator)`` when ``rhs`` has one.
        progress: called as ``progress(step, steps)`` after every saved state.

    Returns:
        The saved states ``(B, T, C, *space)``, ``T = steps // save_every (+ 1)``; with a
        ``sink``, only the final state ``(B, C, *space)`` (everything else went to the sink).

    Raises:
        PhysdiffError: invalid counts, an unstable ``dt`` (the message gives the limit), or a
            non-finite state (the message names the step at which it was found).
    """
    for name, value in (("steps", steps), ("save_every", save_every)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise PhysdiffError(f"simulate: {name}: expected a positive int, got {value!r}.")
    if steps % save_every:
        raise PhysdiffError(
            f"simulate: save_every={save_every} must divide steps={steps}; choose steps as a multiple of save_every."
        )
    if not torch.isfinite(u0).all():
        bad = ~torch.isfinite(u0)
        first = tuple(int(i) for i in bad.nonzero()[0])
        raise PhysdiffError(
            f"simulate: the initial state u0 holds {int(bad.sum())} non-finite value(s) (NaN or Inf), the first at "
            f"index {first} (batch, channel, *grid), before any step was taken: the input is at fault, not the time "
            "step. Check the initial condition and its parameters."
        )
    limit = rhs.stable_dt(integrator) if check_stability and hasattr(rhs, "stable_dt") else None
    if limit == 0:
        raise PhysdiffError(
            f"simulate: {integrator.__name__} is unstable for {type(rhs).__name__} at any dt: the equation's "
            "eigenvalues lie on the imaginary axis (dispersion, advection) and the method's stability region "
            "contains none of it. Use a method whose region does, e.g. SSPRK3 or RK4."
        )
    if limit is not None and dt > limit:
        raise PhysdiffError(
            f"simulate: dt={dt} exceeds the explicit stability limit {limit:.4g} of {integrator.__name__} "
            f"for {type(rhs).__name__} (see its stable_dt). Use dt <= {limit:.4g}, a method with a larger "
            "stability region, or check_stability=False if you know better."
        )
    step = integrator(rhs)
    saved: list[torch.Tensor] = []

    def emit(state: torch.Tensor) -> None:
        if sink is None:
            saved.append(state)
        else:
            sink.append(state.detach().unsqueeze(1))

    u = u0
    if include_initial:
        emit(u)
    for n in range(1, steps + 1):
        u = step(u, dt)
        if n % save_every == 0:
            # Checking at save points costs one reduction per saved frame, not per step.
            if not torch.isfinite(u).all():
                raise PhysdiffError(
                    f"simulate: the state became non-finite (NaN or Inf) by step {n} of {steps} "
                    f"(t = {n * dt:.6g}; checked every {save_every} steps). Reduce dt or check the parameters."
                )
            emit(u)
            if progress is not None:
                progress(n, steps)
    if sink is not None:
        return u
    return torch.stack(saved, dim=1)
