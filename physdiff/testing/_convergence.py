"""Observed convergence orders of spatial operators and time integrators.

The observed order of a method is the slope ``p`` of the least-squares fit
``log(error) = p * log(step) + c`` over a sequence of step sizes (grid spacing
``h`` or time step ``dt``). A method of order ``p`` has ``error ~ C step^p``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from ..core import PhysdiffError


@dataclass(frozen=True)
class ConvergenceStudy:
    """Errors measured at a sequence of step sizes, and the fitted order."""

    steps: tuple[float, ...]
    errors: tuple[float, ...]

    @property
    def order(self) -> float:
        """Least-squares slope of log(error) against log(step)."""
        return observed_order(self.steps, self.errors)

    def table(self) -> str:
        """A small text table of step, error and the local (pairwise) order."""
        lines = [f"{'step':>12} {'error':>12} {'local order':>12}"]
        for i, (h, e) in enumerate(zip(self.steps, self.errors)):
            local = ""
            if i > 0 and e > 0 and self.errors[i - 1] > 0:
                local = f"{math.log(self.errors[i - 1] / e) / math.log(self.steps[i - 1] / h):12.3f}"
            lines.append(f"{h:12.4e} {e:12.4e} {local:>12}")
        lines.append(f"fitted order: {self.order:.3f}")
        return "\n".join(lines)


def observed_order(steps: Sequence[float], errors: Sequence[float]) -> float:
    """Slope of the least-squares line through ``(log step, log error)``."""
    if len(steps) != len(errors) or len(steps) < 2:
        raise PhysdiffError(
            f"observed_order: expected two equally long sequences of at least 2 values, "
            f"got {len(steps)} steps and {len(errors)} errors."
        )
    if any(not (e > 0 and math.isfinite(e)) for e in errors):
        raise PhysdiffError(
            f"observed_order: every error must be finite and positive to take its logarithm, got {list(errors)}. "
            "An exact (zero) error means the test function lies in the method's exact class: use a less smooth one."
        )
    xs = [math.log(h) for h in steps]
    ys = [math.log(e) for e in errors]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    return sxy / sxx


def assert_order(study: ConvergenceStudy, expected: float, *, tol: float = 0.3, at_least: bool = False) -> None:
    """Assert the fitted order of ``study`` is ``expected`` within ``tol``.

    With ``at_least=True`` only a lower bound is checked (superconvergence passes).
    The assertion message carries the whole error table.
    """
    order = study.order
    ok = order >= expected - tol if at_least else abs(order - expected) <= tol
    if not ok:
        relation = ">=" if at_least else "=="
        raise AssertionError(
            f"observed order {order:.3f}, expected {relation} {expected} (tol {tol})\n{study.table()}"
        )


def grid_coordinates(
    n: int, length: float, *, grid: str = "periodic", dtype: torch.dtype = torch.float64
) -> tuple[torch.Tensor, float]:
    """1D sample positions on ``[0, length]`` and their spacing.

    ``grid`` is ``"periodic"`` (``x_i = i h``, ``h = length / n``), ``"node"``
    (both walls sampled, ``h = length / (n - 1)``) or ``"cell"`` (cell centres
    ``x_i = (i + 1/2) h``, walls half a cell outside, ``h = length / n``).
    """
    if grid == "periodic":
        h = length / n
        return torch.arange(n, dtype=dtype) * h, h
    if grid == "node":
        h = length / (n - 1)
        return torch.arange(n, dtype=dtype) * h, h
    if grid == "cell":
        h = length / n
        return (torch.arange(n, dtype=dtype) + 0.5) * h, h
    raise PhysdiffError(f"grid: expected 'periodic', 'node' or 'cell', got {grid!r}.")


def operator_convergence(
    make_operator: Callable[[float], Callable[[torch.Tensor], torch.Tensor]],
    function: Callable[..., torch.Tensor],
    exact: Callable[..., torch.Tensor],
    sizes: Sequence[int],
    *,
    ndim: int = 1,
    length: float = 2 * math.pi,
    grid: str = "periodic",
    dtype: torch.dtype = torch.float64,
) -> ConvergenceStudy:
    """Max-norm error of a spatial operator on a smooth function over grid sizes.

    Args:
        make_operator: builds the operator for a grid spacing ``h``.
        function: ``f(*coords)`` sampled on the grid (``coords`` from ``meshgrid``, ``ij``).
        exact: the exact result of the operator applied to ``f``, same signature.
        sizes: points per axis, one grid per entry (refine in increasing order).
        ndim, length, grid, dtype: the box ``[0, length]^ndim`` and its sampling.
    """
    steps, errors = [], []
    for n in sizes:
        x, h = grid_coordinates(n, length, grid=grid, dtype=dtype)
        coords = torch.meshgrid(*([x] * ndim), indexing="ij")
        u = function(*coords)[None, None]
        result = make_operator(h)(u)
        error = (result[0, 0] - exact(*coords)).abs().max().item()
        steps.append(h)
        errors.append(error)
    return ConvergenceStudy(tuple(steps), tuple(errors))


def integrator_convergence(
    step: Callable[[torch.Tensor, float], torch.Tensor],
    y0: torch.Tensor,
    t_end: float,
    exact: torch.Tensor,
    dts: Sequence[float],
) -> ConvergenceStudy:
    """Max-norm error at ``t_end`` of repeated ``y = step(y, dt)`` over time steps ``dts``.

    Each ``dt`` must divide ``t_end`` into a whole number of steps.
    """
    steps, errors = [], []
    for dt in dts:
        n = round(t_end / dt)
        if abs(n * dt - t_end) > 1e-9 * t_end:
            raise PhysdiffError(
                f"integrator_convergence: dt={dt} does not divide t_end={t_end} into whole steps; "
                "choose dts such as t_end / 2**k."
            )
        y = y0.clone()
        for _ in range(n):
            y = step(y, dt)
        steps.append(dt)
        errors.append((y - exact).abs().max().item())
    return ConvergenceStudy(tuple(steps), tuple(errors))
