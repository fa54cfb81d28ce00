"""Input checks shared by every metric: two equal-shaped, non-empty floating-point tensors."""

from __future__ import annotations

import torch

from ..core import PhysdiffError, check_ndim


def as_pair(prediction: torch.Tensor, target: torch.Tensor, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate ``prediction`` and ``target`` and return them in their common floating dtype.

    Raises:
        PhysdiffError: a non-tensor, a shape mismatch, a non-floating (or complex) dtype, or no entries.
    """
    for name, value in (("prediction", prediction), ("target", target)):
        if not isinstance(value, torch.Tensor):
            raise PhysdiffError(
                f"{where}: {name}: expected a torch.Tensor shaped (B, T, C, *space), got {type(value).__name__}."
            )
        if not value.is_floating_point():
            raise PhysdiffError(
                f"{where}: {name}: expected a real floating-point tensor, got dtype {value.dtype}. "
                "Cast it first, e.g. x.float() (metrics of integer or complex data are not defined here)."
            )
    if prediction.shape != target.shape:
        raise PhysdiffError(
            f"{where}: expected prediction and target of the same shape, got {tuple(prediction.shape)} and "
            f"{tuple(target.shape)}. Pass the predicted frames and the matching true frames only "
            "(drop the context frames from the target)."
        )
    if prediction.numel() == 0:
        raise PhysdiffError(f"{where}: expected non-empty tensors, got shape {tuple(prediction.shape)}.")
    dtype = torch.promote_types(prediction.dtype, target.dtype)
    return prediction.to(dtype), target.to(dtype)


def as_trajectories(
    prediction: torch.Tensor, target: torch.Tensor, where: str, ndim: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate and return both as trajectories ``(B, T, C, *space)``.

    With ``ndim=None`` the inputs must already be trajectories (4 to 6 dims: 1 to 3 spatial
    axes). With ``ndim`` given, ``ndim + 3`` dims are trajectories and ``ndim + 2`` dims are
    single frames ``(B, C, *space)``, returned with a time axis of length 1.
    """
    prediction, target = as_pair(prediction, target, where)
    dims = prediction.dim()
    if ndim is None:
        if not 4 <= dims <= 6:
            raise PhysdiffError(
                f"{where}: expected trajectories shaped (B, T, C, *space) with 1 to 3 spatial axes (4 to 6 dims), "
                f"got shape {tuple(prediction.shape)}. For single frames (B, C, *space) pass ndim= (the number "
                "of spatial axes) where the metric takes it, or insert a time axis with x[:, None]."
            )
        return prediction, target
    try:
        check_ndim(ndim)
    except PhysdiffError as exc:
        raise PhysdiffError(f"{where}: {exc}") from None
    if dims == ndim + 3:
        return prediction, target
    if dims == ndim + 2:
        return prediction[:, None], target[:, None]
    raise PhysdiffError(
        f"{where}: with ndim={ndim} expected trajectories (B, T, C, *space) with {ndim + 3} dims or single "
        f"frames (B, C, *space) with {ndim + 2} dims, got shape {tuple(prediction.shape)}."
    )


def frame_dims(trajectory: torch.Tensor) -> tuple[int, ...]:
    """The axes of one frame of a trajectory ``(B, T, C, *space)``: channels and space."""
    return tuple(range(2, trajectory.dim()))


def positive_float(value: object, name: str, where: str, meaning: str) -> float:
    """A finite positive Python number (bools and tensors refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
        raise PhysdiffError(f"{where}: {name}: expected a finite positive number, got {value!r}. {meaning}")
    return float(value)
