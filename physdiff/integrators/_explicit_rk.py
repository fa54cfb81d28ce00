"""One generic explicit Runge-Kutta step that runs any :class:`ButcherTableau`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from ..core import PhysdiffError
from ._step_args import Step, as_step, check_rhs, check_state, evaluate_rhs
from ._tableau import ButcherTableau

Rhs = Callable[[torch.Tensor], torch.Tensor]


def _combine(weights: Sequence[tuple[int, torch.Tensor]], k: Sequence[torch.Tensor]) -> torch.Tensor:
    """``sum_j w_j k_j`` over the nonzero weights, summed left to right (a fixed, reproducible order)."""
    total = None
    for j, w in weights:
        total = w * k[j] if total is None else total + w * k[j]
    return total


def explicit_rk_step(
    rhs: Rhs, tableau: ButcherTableau, u: torch.Tensor, dt: Step, *, return_error: bool = False
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """One step of the explicit Runge-Kutta method ``tableau`` for ``du/dt = rhs(u)``.

        k_i    = rhs(u + dt * sum_{j<i} a_ij k_j)
        u_next = u + dt * sum_i b_i k_i
        error  = dt * sum_i (b_i - b_error_i) k_i        (embedded pairs only)

    Args:
        rhs: maps a state ``(B, C, *space)`` to its time derivative (same shape and dtype).
        tableau: the method.
        u: state ``(B, C, *space)``, floating or complex, any device.
        dt: finite float (negative integrates backward) or tensor of shape ``()`` or ``(B,)``.
        return_error: also return the embedded local-error estimate ``u_next - u_hat``.

    Returns:
        ``u_next`` (same shape, dtype and device as ``u``), or ``(u_next, error)``.

    Raises:
        PhysdiffError: invalid state or ``dt``, an ``rhs`` output of the wrong
            shape/dtype, or ``return_error`` with a tableau that has no ``b_error``.
    """
    where = f"{tableau.name} step"
    check_state(u, where)
    h = as_step(dt, u, where)
    if return_error and not tableau.is_embedded:
        raise PhysdiffError(f"{where}: return_error=True needs an embedded tableau (with b_error), got {tableau!r}.")
    coefficients = tableau.cast(u.dtype, u.device)
    k: list[torch.Tensor] = []
    for row in coefficients.a:
        stage = u + h * _combine(row, k) if row else u
        k.append(evaluate_rhs(rhs, stage, where))
    u_next = u + h * _combine(coefficients.b, k)
    if return_error:
        return u_next, h * _combine(coefficients.error, k)
    return u_next


class ExplicitRK(nn.Module):
    """An explicit Runge-Kutta integrator for ``du/dt = rhs(u)`` with any tableau.

    ``integrator(u, dt)`` returns the state one step later (see
    :func:`explicit_rk_step` for the equations). If ``rhs`` is an ``nn.Module``
    it is registered as the submodule ``rhs``, so ``integrator.parameters()``
    yields its parameters and ``.to()`` moves it.

    Args:
        rhs: callable or ``nn.Module`` mapping ``(B, C, *space)`` to its time derivative.
        tableau: the method's :class:`ButcherTableau`.

    Raises:
        PhysdiffError: ``rhs`` is not callable or ``tableau`` is not a ButcherTableau.
    """

    def __init__(self, rhs: Rhs, tableau: ButcherTableau) -> None:
        super().__init__()
        check_rhs(rhs, type(self).__name__)
        if not isinstance(tableau, ButcherTableau):
            raise PhysdiffError(
                f"{type(self).__name__}: tableau: expected a ButcherTableau, got {type(tableau).__name__}. "
                "Pick one from physdiff.integrators.ALL_TABLEAUX or build your own."
            )
        self.rhs = rhs
        self.tableau = tableau

    def forward(self, u: torch.Tensor, dt: Step) -> torch.Tensor:
        """The state one step of size ``dt`` after ``u``.

        Fused-step protocol: if ``rhs`` has a method ``fused_step(tableau, u, dt)`` and it
        returns a tensor, that is the step (a right-hand side may fuse the stage arithmetic
        with its own kernel, e.g. ``GrayScott``); None means "run the generic stages".
        """
        fused_step = getattr(self.rhs, "fused_step", None)
        if fused_step is not None:
            fused = fused_step(self.tableau, u, dt)
            if fused is not None:
                return fused
        return explicit_rk_step(self.rhs, self.tableau, u, dt)

    def extra_repr(self) -> str:
        return f"tableau={self.tableau!r}"
