"""Backward warping of a 2D field by a displacement field: the semi-Lagrangian advection step.

For a field ``u`` of shape ``(B, C, H, W)`` sampled at pixel centres ``(y, x) = (i, j)``,
``i = 0..H-1``, ``j = 0..W-1`` (unit spacing: displacements are in pixels), and a
displacement field ``d = (d_x, d_y)`` of shape ``(B, 2, H, W)``, backward warping is

    warp(u, d)[b, c, i, j] = u_b,c( i + d_y[b, i, j],  j + d_x[b, i, j] ),

the value of ``u`` at the *departure point* ``x + d(x)``, read by bilinear interpolation
between the four surrounding samples. With ``d = -v dt`` this is one semi-Lagrangian step of
the advection equation ``u_t + v . grad u = 0`` (the value at ``x`` is carried from where it
came from, ``x - v dt``); interpolation is second-order accurate in the grid spacing, so for a
smooth field the error is ``O(h^2)`` (at most ``h^2 max|u''| / 8`` per axis).

Boundaries:

* ``"periodic"``: the field wraps around (departure points are taken modulo ``H`` and ``W``),
  so an integer constant displacement is exactly ``torch.roll(u, (-d_y, -d_x), dims=(-2, -1))``.
* ``"border"``: departure points outside the frame are clamped to the nearest edge sample
  (zero-gradient extension), the usual choice for video frames.

The interpolation is ``torch.nn.functional.grid_sample`` (bilinear, ``align_corners=True``, so
normalised ``-1`` and ``+1`` are the centres of the first and last sample and one pixel is
``2 / (n - 1)`` normalised units). For the periodic boundary the field is first extended by one
wrapped row and column (``u[0]`` appended after ``u[n-1]``) and the departure points wrapped into
``[0, n)``; the cell between ``n - 1`` and ``n`` then interpolates between the last and the first
sample, as the periodic field does. Gradients flow to the field and to the displacement
(bilinear interpolation is piecewise linear in the departure point, so the gradient with
respect to ``d`` is that of the piecewise-bilinear interpolant, discontinuous at sample points).

Depends only on ``physdiff.core``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..core import PhysdiffError

__all__ = ["BOUNDARIES", "warp", "pixel_grid"]

#: Boundary names accepted by :func:`warp`.
BOUNDARIES = ("periodic", "border")


def pixel_grid(height: int, width: int, *, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Pixel coordinates ``(2, H, W)``: channel 0 is ``x = j`` (column), channel 1 is ``y = i`` (row)."""
    y, x = torch.meshgrid(torch.arange(height, dtype=dtype, device=device),
                          torch.arange(width, dtype=dtype, device=device), indexing="ij")
    return torch.stack([x, y])


def _check(field: torch.Tensor, flow: torch.Tensor, boundary: str) -> None:
    where = "warp"
    if boundary not in BOUNDARIES:
        raise PhysdiffError(f"{where}: boundary: expected one of {BOUNDARIES}, got {boundary!r}. Use 'periodic' "
                            "for fields on a periodic box and 'border' for images.")
    for name, tensor in (("field", field), ("flow", flow)):
        if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
            got = f"dtype {tensor.dtype}" if isinstance(tensor, torch.Tensor) else type(tensor).__name__
            raise PhysdiffError(f"{where}: {name}: expected a floating-point tensor, got {got}.")
    if field.dim() != 4:
        raise PhysdiffError(f"{where}: field: expected a 2D field (B, C, H, W), got shape {tuple(field.shape)}. "
                            "Add missing batch/channel axes with u[None, None].")
    b, _, h, w = field.shape
    if tuple(flow.shape) != (b, 2, h, w):
        raise PhysdiffError(
            f"{where}: flow: expected a displacement field (B, 2, H, W) = {(b, 2, h, w)} matching the field "
            f"{tuple(field.shape)} (channel 0 = x/column displacement, channel 1 = y/row displacement, in pixels), "
            f"got shape {tuple(flow.shape)}. Upsample a coarse flow to the field's grid (and scale its values by "
            "the same factor) before warping."
        )
    if flow.dtype != field.dtype or flow.device != field.device:
        raise PhysdiffError(f"{where}: flow: expected the field's dtype and device ({field.dtype}, {field.device}), "
                            f"got ({flow.dtype}, {flow.device}). Convert it with flow.to(field).")
    if not bool(torch.isfinite(flow).all()):
        raise PhysdiffError(f"{where}: flow: expected finite displacements, got {int((~torch.isfinite(flow)).sum())} "
                            "non-finite entries (NaN or inf). Check the model that predicted the flow (a diverging "
                            "training step, a division by zero) before warping.")
    if h < 2 or w < 2:
        raise PhysdiffError(f"{where}: field: expected at least 2 x 2 samples to interpolate between, got {(h, w)}.")


def warp(field: torch.Tensor, flow: torch.Tensor, *, boundary: str = "periodic") -> torch.Tensor:
    """Backward-warp ``field`` by the displacement ``flow``: ``out(x) = field(x + flow(x))``, bilinear.

    Args:
        field: ``(B, C, H, W)``.
        flow: ``(B, 2, H, W)`` displacements in pixels: channel 0 along ``x`` (columns, last axis),
            channel 1 along ``y`` (rows). A semi-Lagrangian step with velocity ``v`` (pixels per unit
            time) over ``dt`` is ``warp(u, -v * dt)``.
        boundary: ``"periodic"`` (wrap around) or ``"border"`` (clamp to the edge samples).

    Returns:
        The warped field, ``(B, C, H, W)``, differentiable with respect to ``field`` and ``flow``.

    Raises:
        PhysdiffError: an unknown boundary; tensors of the wrong shape, dtype or device; a
            non-finite flow; fewer than two samples per axis.
    """
    _check(field, flow, boundary)
    _, _, h, w = field.shape
    position = pixel_grid(h, w, dtype=field.dtype, device=field.device) + flow  # (B, 2, H, W): (x, y)
    if boundary == "periodic":
        # Wrap the departure points into [0, n) and append the first row/column after the last,
        # so that the cell [n - 1, n) interpolates between the last and the first sample.
        size = torch.tensor([w, h], dtype=field.dtype, device=field.device).view(1, 2, 1, 1)
        position = torch.remainder(position, size)
        field = torch.cat([field, field[:, :, :1]], dim=2)
        field = torch.cat([field, field[:, :, :, :1]], dim=3)
        scale = size  # padded axis has n + 1 samples: normalised = 2 p / n - 1
    else:
        scale = torch.tensor([w - 1, h - 1], dtype=field.dtype, device=field.device).view(1, 2, 1, 1)
    grid = (2.0 * position / scale - 1.0).permute(0, 2, 3, 1)  # (B, H, W, 2) with (x, y) last
    return F.grid_sample(field, grid, mode="bilinear", padding_mode="border", align_corners=True)
