"""Pointwise errors: MSE, MAE, RMSE over all entries, relative L2 per frame, per-frame sums, error curves.

Notation: ``p`` is the prediction and ``y`` the target, both ``(B, T, C, *space)``;
``N = B T C prod(space)`` is the number of entries and ``n = C prod(space)`` the number
of entries of one frame.
"""

from __future__ import annotations

import torch

from ..core import PhysdiffError
from ._checks import as_pair, as_trajectories, frame_dims, positive_float

METRICS = ("mse", "mae", "rmse", "nrmse")


def mse(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over all entries: ``(1/N) sum (p - y)^2``.

    Reduction: the mean over every entry (batch, time, channels and space), the PDE
    convention of Minimal ConvRNNs and PIMRL. Video papers (PhyDNet, MoDeRNN, OpenSTL)
    sum over the pixels of a frame instead: see :func:`per_frame_sum`.

    Args:
        prediction, target: equal shapes, usually ``(B, T, C, *space)`` (predicted frames
            only) or ``(B, C, *space)``; any shape works since every entry counts once.

    Returns:
        A 0-d tensor in the squared unit of the field.

    Raises:
        PhysdiffError: not tensors, different shapes, non-floating dtypes, or no entries.
    """
    p, y = as_pair(prediction, target, "mse")
    return (p - y).square().mean()


def mae(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error over all entries: ``(1/N) sum |p - y|`` (0-d tensor, field units).

    Same inputs and reduction as :func:`mse` (the mean over every entry).
    """
    p, y = as_pair(prediction, target, "mae")
    return (p - y).abs().mean()


def rmse(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Root mean squared error over all entries: ``sqrt((1/N) sum (p - y)^2) = sqrt(mse)``.

    The square root is taken after the mean over every entry (batch, time, channels,
    space), not per frame or per sample (0-d tensor, field units). As a loss note that
    the gradient of ``sqrt`` is infinite at exactly zero error.
    """
    p, y = as_pair(prediction, target, "rmse")
    return (p - y).square().mean().sqrt()


def nrmse(
    prediction: torch.Tensor, target: torch.Tensor, eps: float = 1e-12, *, ndim: int | None = None
) -> torch.Tensor:
    """Relative L2 error per frame, averaged: ``mean_{b,t} ||p_bt - y_bt||_2 / max(||y_bt||_2, eps)``.

    For each sample ``b`` and frame ``t`` the norms run over channels and space; the ratios
    are then averaged over ``B`` and ``T`` (0-d tensor, dimensionless).

    Division by zero: a frame whose target norm is below ``eps`` is divided by ``eps``
    instead. A zero target predicted exactly gives 0; predicted with an error it gives
    the large value ``||p - y|| / eps``, flagging that the relative error is undefined
    there. ``eps`` is absolute, in field units (the norm grows like ``sqrt(n)``).

    Args:
        prediction, target: trajectories ``(B, T, C, *space)``; single frames
            ``(B, C, *space)`` when ``ndim`` (spatial axes) is given.
        eps: finite positive floor of the target norm.
        ndim: number of spatial axes; needed only to pass single frames.

    Raises:
        PhysdiffError: invalid tensors (see :func:`mse`), a non-positive ``eps``, or a
            shape that is neither a trajectory nor (with ``ndim``) a frame.
    """
    p, y = as_trajectories(prediction, target, "nrmse", ndim)
    return _nrmse_frames(p, y, eps, "nrmse").mean()


def _nrmse_frames(p: torch.Tensor, y: torch.Tensor, eps: float, where: str) -> torch.Tensor:
    """``(B, T)`` relative L2 errors of trajectories."""
    eps = positive_float(eps, "eps", where, "It is the smallest target norm divided by (field units).")
    dims = frame_dims(y)
    error = torch.linalg.vector_norm(p - y, dim=dims)
    return error / torch.linalg.vector_norm(y, dim=dims).clamp_min(eps)


def per_frame_sum(
    prediction: torch.Tensor, target: torch.Tensor, *, metric: str = "mse", ndim: int | None = None
) -> torch.Tensor:
    """The video convention: error summed over each frame, averaged over frames.

    ``metric="mse"``: ``(1/(B T)) sum_{b,t} sum_{c,x} (p - y)^2``; ``metric="mae"``: the same
    with ``|p - y|``. This is the per-frame MSE/MAE of PhyDNet, MoDeRNN and OpenSTL (summed
    over the pixels and channels of a frame, averaged over samples and frames); it equals
    ``n * mse(p, y)`` with ``n = C prod(space)``. Offered for comparison with those papers;
    physdiff's own scalar is :func:`mse` (mean over all entries).

    Args:
        prediction, target: trajectories ``(B, T, C, *space)``; single frames
            ``(B, C, *space)`` when ``ndim`` is given.
        metric: ``"mse"`` or ``"mae"``.
        ndim: number of spatial axes; needed only to pass single frames.

    Returns:
        A 0-d tensor.
    """
    p, y = as_trajectories(prediction, target, "per_frame_sum", ndim)
    if metric == "mse":
        error = (p - y).square()
    elif metric == "mae":
        error = (p - y).abs()
    else:
        raise PhysdiffError(f"per_frame_sum: metric: expected 'mse' or 'mae', got {metric!r}.")
    return error.sum(dim=frame_dims(p)).mean()


def error_curve(
    prediction: torch.Tensor, target: torch.Tensor, metric: str = "rmse", *, eps: float = 1e-12
) -> torch.Tensor:
    """Error at each predicted time step: ``curve[t] = metric(prediction[:, t], target[:, t])``.

    Reduction per step ``t`` (over the batch, channels and space of that step):

    * ``"mse"``, ``"mae"``: the mean over ``B``, ``C`` and space of ``(p - y)^2`` or ``|p - y|``;
    * ``"rmse"``: ``sqrt`` of that step's MSE (the RMSE pooled over the batch, not the mean
      of per-sample RMSEs);
    * ``"nrmse"``: the batch mean of the per-frame relative L2 errors (see :func:`nrmse`).

    So ``curve.mean()`` equals :func:`mse`, :func:`mae` or :func:`nrmse` of the whole
    rollout, and ``curve.square().mean().sqrt()`` equals :func:`rmse`.

    Args:
        prediction, target: trajectories ``(B, T, C, *space)`` (predicted frames only; step
            ``t`` is the ``(t+1)``-th frame after the context).
        metric: one of ``"mse"``, ``"mae"``, ``"rmse"``, ``"nrmse"``.
        eps: target-norm floor of ``"nrmse"``.

    Returns:
        A ``(T,)`` tensor.
    """
    p, y = as_trajectories(prediction, target, "error_curve")
    over = (0, *frame_dims(p))
    if metric == "mse":
        return (p - y).square().mean(dim=over)
    if metric == "mae":
        return (p - y).abs().mean(dim=over)
    if metric == "rmse":
        return (p - y).square().mean(dim=over).sqrt()
    if metric == "nrmse":
        return _nrmse_frames(p, y, eps, "error_curve").mean(dim=0)
    raise PhysdiffError(f"error_curve: metric: expected one of {METRICS}, got {metric!r}.")
