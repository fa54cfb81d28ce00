"""The video-prediction metric conventions (OpenSTL, PhyDNet, MoDeRNN), written out.

For predicted frames ``p`` and true frames ``y`` ``(B, T, C, H, W)`` with values in ``[0, L]``
(``L = data_range``, 1 for Moving MNIST):

* ``mse = (1/(B T)) sum_{b,t} sum_{c,h,w} (p - y)^2`` and ``mae`` likewise with ``|p - y|``: sums
  over the pixels of a frame, averaged over frames and samples, computed *before* clipping
  (OpenSTL's ``metrics.py``; PhyDNet and MoDeRNN use the same per-frame sums).
* ``p`` is then clipped to ``[0, L]``;
* ``psnr``: per frame ``10 log10(L^2 / mean_{c,h,w}(p - y)^2)``, averaged over frames and samples;
* ``ssim``: scikit-image's ``structural_similarity`` default (7 x 7 uniform window, sample
  covariance, ``K1 = 0.01``, ``K2 = 0.03``) per frame and channel with the true range ``L``;
* ``ssim_published``: the same with the range ``2 L``. Published SSIMs of PhyDNet, SwinLSTM and
  OpenSTL called scikit-image on float frames without ``data_range``, which then takes the
  float dtype's range ``[-1, 1]`` (span 2) and so inflates SSIM; compare with those numbers with
  this value, and report :math:`ssim` as the correct one. (MoDeRNN scored uint8 frames, whose
  dtype range 255 is the true range: its SSIM corresponds to ``ssim``.)
"""

from __future__ import annotations

import torch

from ..core import PhysdiffError
from ._checks import as_trajectories, positive_float
from ._image import psnr, ssim
from ._pointwise import per_frame_sum

#: scikit-image's default SSIM window (points per axis), used by the papers' evaluation code.
SSIM_WINDOW = 7


def check_frame_range(frames: torch.Tensor, data_range: float, where: str, name: str = "target") -> None:
    """Refuse frames with values outside ``[0, data_range]`` (NaN included)."""
    low, high = float(frames.min()), float(frames.max())
    if not (low >= 0.0 and high <= data_range):
        hint = ("pass data_range= the span of your frames (e.g. 255.0 for frames in 0..255)" if data_range == 1.0
                else "rescale the frames or pass the right data_range")
        raise PhysdiffError(
            f"{where}: {name}: expected frames with values in [0, {data_range:g}] (video metrics clip predictions to "
            f"that range and use it as SSIM's and PSNR's data range), got values in [{low:g}, {high:g}]. Frames of a "
            f"normalised model must be mapped back to intensities first; otherwise {hint}."
        )


def video_metrics(prediction: torch.Tensor, target: torch.Tensor, *, data_range: float | None = None) -> dict[str, float]:
    """MSE, MAE (per-frame sums), PSNR and SSIM of predicted video frames, by the papers' conventions.

    See the module docstring for every definition.

    Args:
        prediction: predicted frames ``(B, T, C, H, W)`` (any values: they are clipped for PSNR/SSIM).
        target: the true frames, values in ``[0, data_range]``.
        data_range: ``L``; None means ``1.0`` and then the target must lie in ``[0, 1]``.

    Returns:
        ``{"mse", "mae", "psnr", "ssim", "ssim_published"}`` as floats (``psnr`` in dB; it is
        ``inf`` if a frame is predicted exactly, as in OpenSTL) and ``"exact_frames"``, the number of
        frames whose clipped prediction equals the truth (e.g. a copy-last baseline on a digit at rest).

    Raises:
        PhysdiffError: invalid tensors (see :func:`physdiff.metrics.mse`), frames that are not
            2D images, frames smaller than the 7 x 7 SSIM window, or a target outside ``[0, L]``.
    """
    where = "video_metrics"
    p, y = as_trajectories(prediction, target, where)
    if p.dim() != 5:
        raise PhysdiffError(f"{where}: expected video frames (B, T, C, H, W), got shape {tuple(p.shape)}.")
    value_range = 1.0 if data_range is None else positive_float(
        data_range, "data_range", where, "It is the span of the frames' values, e.g. 1.0 or 255.0.")
    check_frame_range(y, value_range, where)
    if not torch.isfinite(p).all():
        raise PhysdiffError(f"{where}: prediction: contains NaN or Inf; the model diverged.")
    clipped = p.clamp(0.0, value_range)
    exact = (clipped == y).flatten(2).all(dim=2)  # (B, T): frames predicted exactly have infinite PSNR
    return {
        "mse": float(per_frame_sum(p, y, metric="mse")),
        "mae": float(per_frame_sum(p, y, metric="mae")),
        "psnr": float(psnr(clipped, y, data_range=value_range)),
        "ssim": float(ssim(clipped, y, data_range=value_range, window=SSIM_WINDOW, gaussian=False,
                           sample_covariance=True)),
        "ssim_published": float(ssim(clipped, y, data_range=2.0 * value_range, window=SSIM_WINDOW, gaussian=False,
                                     sample_covariance=True)),
        "exact_frames": int(exact.sum()),
    }


def video_error_curve(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-frame-sum MSE at each predicted step, ``(T,)``: ``curve.mean()`` is ``video_metrics``' ``mse``."""
    p, y = as_trajectories(prediction, target, "video_error_curve")
    return (p - y).square().sum(dim=tuple(range(2, p.dim()))).mean(dim=0)
