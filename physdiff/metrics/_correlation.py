"""Pearson correlation per frame, and the high-correlation time (HCT) of a rollout."""

from __future__ import annotations

import torch

from ..core import PhysdiffError
from ._checks import as_trajectories, frame_dims, positive_float


def correlation_curve(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of each predicted frame with its target, per sample.

    For sample ``b`` and frame ``t``, over the ``n`` entries ``i`` of the frame (channels
    and space together)::

        r_bt = sum_i (p_i - mean(p)) (y_i - mean(y))
               / sqrt( sum_i (p_i - mean(p))^2  *  sum_i (y_i - mean(y))^2 )

    Constant frames: when the prediction or the target frame is constant (all its values
    equal, so the formula is 0/0), ``r_bt`` is defined as 1 if the two frames are
    identical and 0 otherwise. Identical inputs therefore always give 1, and a
    prediction that collapsed to a constant counts as uncorrelated. A frame holding NaN
    gives NaN (and counts as below any threshold in :func:`hct`).

    Args:
        prediction, target: trajectories ``(B, T, C, *space)`` (predicted frames only).

    Returns:
        A ``(B, T)`` tensor with values in ``[-1, 1]``.

    Raises:
        PhysdiffError: not tensors, different shapes, non-floating dtypes, no entries, or
            not 4 to 6 dims.
    """
    p, y = as_trajectories(prediction, target, "correlation_curve")
    dims = frame_dims(p)
    dp = p - p.mean(dim=dims, keepdim=True)
    dy = y - y.mean(dim=dims, keepdim=True)
    numerator = (dp * dy).sum(dim=dims)
    denominator = (dp.square().sum(dim=dims) * dy.square().sum(dim=dims)).sqrt()
    # Exact constancy (max == min), not a tolerance: a nearly constant frame keeps its Pearson value.
    constant = (_spread(p) == 0) | (_spread(y) == 0) | (denominator == 0)
    identical = (p == y).flatten(2).all(dim=2)
    fallback = identical.to(p.dtype)
    safe = torch.where(constant, torch.ones_like(denominator), denominator)
    return torch.where(constant, fallback, (numerator / safe).clamp(-1.0, 1.0))


def _spread(x: torch.Tensor) -> torch.Tensor:
    """``max - min`` of each frame of a trajectory: ``(B, T)``."""
    flat = x.flatten(2)
    return flat.amax(dim=2) - flat.amin(dim=2)


def hct(
    prediction: torch.Tensor, target: torch.Tensor, *, dt: float, threshold: float = 0.8, mode: str = "first_drop"
) -> torch.Tensor:
    """High-correlation time: how long the rollout stays correlated with the truth, per sample.

    Predicted frame ``n = 1..T`` is at time ``n dt`` after the last context frame. With
    ``r_bn`` from :func:`correlation_curve`:

    * ``mode="first_drop"`` (default): ``HCT_b = dt * (number of leading frames with
      r_bn >= threshold)``, the time until the correlation first drops below
      ``threshold``; ``T dt`` if it never does, 0 if the first frame is already below.
    * ``mode="count"``: ``HCT_b = dt * #{n : r_bn >= threshold}``, counting every frame
      above the threshold, also after a drop (some third-party code does this).

    PIMRL reports HCT ("high correlation time") without code or an exact definition; the
    first-drop reading with threshold 0.8 is physdiff's choice and is unverified against
    their numbers. The two modes agree until the first drop.

    Args:
        prediction, target: trajectories ``(B, T, C, *space)``, predicted frames only.
        dt: physical time between predicted frames (finite, positive).
        threshold: correlation threshold in ``[-1, 1]``.
        mode: ``"first_drop"`` or ``"count"``.

    Returns:
        A ``(B,)`` tensor in the time unit of ``dt``.

    Raises:
        PhysdiffError: invalid tensors (see :func:`correlation_curve`), a non-positive
            ``dt``, a threshold outside ``[-1, 1]``, or an unknown mode.
    """
    dt = positive_float(dt, "dt", "hct", "It is the physical time between consecutive predicted frames.")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not -1.0 <= threshold <= 1.0:
        raise PhysdiffError(f"hct: threshold: expected a correlation in [-1, 1] (e.g. 0.8), got {threshold!r}.")
    if mode not in ("first_drop", "count"):
        raise PhysdiffError(f"hct: mode: expected 'first_drop' or 'count', got {mode!r}.")
    above = correlation_curve(prediction, target) >= threshold
    if mode == "first_drop":
        above = above.to(torch.int64).cumprod(dim=1).bool()  # false from the first drop on
    frames = above.sum(dim=1)
    return frames.to(torch.promote_types(prediction.dtype, target.dtype)) * dt

