"""Boundary conditions of finite-difference operators, one per spatial axis.

* :class:`Periodic`: the field wraps around; samples at ``x_i = i h``.
* :class:`OneSided`: no condition is imposed; near each wall the stencil is
  replaced by a one-sided stencil of the same accuracy, solved exactly from the
  Taylor system. Samples include both walls (``x_i = i h``, node grid).
* :class:`Dirichlet` and :class:`Neumann`: ghost cells beyond the wall are
  filled from a polynomial that interpolates the interior samples and meets the
  wall condition; the interior stencil then runs unchanged. Samples are cell
  centres ``x_i = (i + 1/2) h`` with the walls half a cell outside the first and
  last sample (cell-centred grid, as in finite-volume codes).

The ghost polynomial uses ``q = accuracy + derivative - 1`` interior samples,
so the ghost error ``O(h^(q+1))``, divided by ``h^derivative`` in the stencil,
keeps the declared order at every point (no silent order loss at the wall).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from ..core import PhysdiffError
from ._stencil import Stencil, require_accuracy
from ._taylor import as_exact, taylor_row


@dataclass(frozen=True)
class Periodic:
    """Periodic wrap-around on this axis."""


@dataclass(frozen=True)
class OneSided:
    """No boundary condition: one-sided stencils of the interior accuracy at the walls."""


@dataclass(frozen=True)
class Dirichlet:
    """Fixed wall values ``u = low`` at the lower and ``u = high`` at the upper wall (cell-centred grid)."""

    low: float = 0.0
    high: float = 0.0


@dataclass(frozen=True)
class Neumann:
    """Fixed wall derivatives ``du/dx = low`` and ``du/dx = high`` along the axis (cell-centred grid).

    The values are derivatives along the axis direction, not outward normals:
    a zero-flux wall is ``Neumann(0.0, 0.0)`` either way.
    """

    low: float = 0.0
    high: float = 0.0


Boundary = Periodic | OneSided | Dirichlet | Neumann
GhostBoundary = Dirichlet | Neumann

_NAMES = {"periodic": Periodic(), "one-sided": OneSided(), "onesided": OneSided(), "nonperiodic": OneSided()}


def as_boundary(value: object) -> Boundary:
    """Accept a boundary object or one of the names ``"periodic"``, ``"one-sided"``."""
    if isinstance(value, (Periodic, OneSided, Dirichlet, Neumann)):
        return value
    if isinstance(value, str) and value.lower() in _NAMES:
        return _NAMES[value.lower()]
    raise PhysdiffError(
        f"boundary: expected 'periodic', 'one-sided', or an object Periodic(), OneSided(), "
        f"Dirichlet(low, high), Neumann(low, high), got {value!r}."
    )


def as_boundaries(value: object, ndim: int) -> tuple[Boundary, ...]:
    """One boundary for all axes, or a sequence with one per axis."""
    if isinstance(value, (list, tuple)):
        if len(value) != ndim:
            raise PhysdiffError(
                f"boundary: expected one boundary or {ndim} (one per axis), got {len(value)}: {value!r}."
            )
        return tuple(as_boundary(v) for v in value)
    return (as_boundary(value),) * ndim


# --------------------------------------------------------------------------- ghosts
@lru_cache(maxsize=512)
def ghost_coefficients(kind: str, side: str, n_ghost: int, n_interior: int) -> tuple[tuple[float, ...], ...]:
    """Exact ghost-cell rules, rounded to float once.

    Returns one row per ghost cell (nearest the wall first); each row is
    ``(c_wall, c_0, ..., c_{q-1})`` with ``ghost = c_wall * g * h^m + sum_j c_j u_j``,
    where ``u_0`` is the sample next to the wall, ``u_1`` the one after, and
    ``m = 0`` for Dirichlet (``g`` a value) or ``m = 1`` for Neumann (``g`` a derivative).

    Positions are in cells relative to the wall sample: interior samples at
    ``0, 1, 2, ...`` inward, the wall at ``-1/2`` and ghosts at ``-1, -2, ...``
    (mirrored on the upper side).
    """
    import sympy

    sign = 1 if side == "low" else -1
    wall = as_exact(sympy.Rational(-1, 2) * sign)
    interior = [sign * j - wall for j in range(n_interior)]  # positions relative to the wall
    # Polynomial p(x) = sum_k a_k (x - wall)^k / k!, degree n_interior.
    size = n_interior + 1
    condition = [1 if k == (0 if kind == "dirichlet" else 1) else 0 for k in range(size)]
    rows = [condition] + [[taylor_row([x], k)[0] for k in range(size)] for x in interior]
    inverse = sympy.Matrix(rows).inv()
    ghosts = []
    for m in range(1, n_ghost + 1):
        position = -sign * m - wall
        evaluate = sympy.Matrix([[taylor_row([position], k)[0] for k in range(size)]])
        # Neumann: the condition fixes a_1 = du/dx in physical units times h in
        # index units; the upper side's mirrored indexing keeps x increasing.
        ghosts.append(tuple(float(c) for c in (evaluate * inverse)))
    return tuple(ghosts)


def ghost_pad(u: torch.Tensor, axis: int, boundary: GhostBoundary, width: int, n_interior: int, spacing: float) -> torch.Tensor:
    """Append ``width`` ghost cells on both ends of spatial ``axis`` of ``u``."""
    if width == 0:
        return u
    dim = 2 + axis
    size = u.shape[dim]
    if size < n_interior:
        raise PhysdiffError(
            f"grid: the {type(boundary).__name__} ghost rule on axis {axis} needs at least "
            f"{n_interior} samples, got {size}. Refine the grid or lower the accuracy."
        )
    kind = "dirichlet" if isinstance(boundary, Dirichlet) else "neumann"
    scale = 1.0 if kind == "dirichlet" else spacing
    pieces = []
    for side, value in (("low", boundary.low), ("high", boundary.high)):
        rows = torch.tensor(ghost_coefficients(kind, side, width, n_interior), dtype=u.dtype, device=u.device)
        index = torch.arange(n_interior, device=u.device)
        samples = u.index_select(dim, index if side == "low" else size - 1 - index)
        ghost = torch.tensordot(samples.movedim(dim, -1), rows[:, 1:], dims=([-1], [1]))
        ghost = (ghost + rows[:, 0] * (value * scale)).movedim(-1, dim)
        # Ghost rows come nearest-the-wall first; on the low side the array needs them reversed.
        pieces.append(ghost.flip(dim) if side == "low" else ghost)
    return torch.cat([pieces[0], u, pieces[1]], dim=dim)


# ------------------------------------------------------------------ one-sided closures
@lru_cache(maxsize=512)
def one_sided_closure(interior: Stencil, accuracy: int) -> tuple[tuple[tuple[int, ...], tuple[float, ...]], ...]:
    """Stencils for the points the interior stencil cannot reach from, at the lower wall.

    Row ``i`` (for the sample ``i`` cells from the wall) lists offsets and unit-spacing
    weights. The upper wall uses the mirror image (negated offsets, and weights
    times ``(-1)^derivative``).
    """
    derivative = interior.derivative
    lo = -int(interior.offsets[0])
    width = max(derivative + accuracy, interior.width)
    rows = []
    for i in range(lo):
        stencil = Stencil.from_offsets(derivative, range(-i, -i + width))
        while stencil.accuracy < accuracy:  # pragma: no cover - derivative+accuracy points always suffice
            width += 1
            stencil = Stencil.from_offsets(derivative, range(-i, -i + width))
        require_accuracy(stencil, accuracy)
        rows.append((stencil.integer_offsets(), stencil.float_weights()))
    return tuple(rows)
