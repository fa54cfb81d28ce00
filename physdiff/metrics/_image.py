"""Image-quality metrics for fields: PSNR and SSIM (2D and 3D, Gaussian window)."""

from __future__ import annotations

import math

import torch

from ..core import PhysdiffError
from ._checks import as_trajectories, frame_dims, positive_float

#: Stabilising constants of SSIM (Wang et al. 2004): C1 = (K1 L)^2, C2 = (K2 L)^2.
K1, K2 = 0.01, 0.03

_RANGE = "It is the span of values the data can take (max - min), e.g. 1.0 for fields in [0, 1]; it is never guessed."


def _data_range(data_range: object, where: str) -> float:
    if data_range is None:
        raise PhysdiffError(f"{where}: data_range is required (keyword argument). {_RANGE}")
    return positive_float(data_range, "data_range", where, _RANGE)


def psnr(
    prediction: torch.Tensor, target: torch.Tensor, *, data_range: float | None = None, ndim: int | None = None
) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, per frame, averaged over frames.

    For sample ``b`` and frame ``t``: ``PSNR_bt = 10 log10(L^2 / MSE_bt)`` with ``L =
    data_range`` and ``MSE_bt`` the mean of ``(p - y)^2`` over the frame's channels and
    space; the result is the mean of ``PSNR_bt`` over ``B`` and ``T``. A frame predicted
    exactly has ``MSE_bt = 0`` and ``PSNR_bt = +inf``, so the mean is ``+inf`` as soon as
    one frame is exact (check ``torch.isinf``; there is no clipping).

    Args:
        prediction, target: trajectories ``(B, T, C, *space)``; single frames
            ``(B, C, *space)`` when ``ndim`` (spatial axes) is given.
        data_range: ``L``, required and positive: the data's value span, never estimated
            from the data (that would make scores of different runs incomparable).
        ndim: number of spatial axes; needed only to pass single frames.

    Returns:
        A 0-d tensor (dB).

    Raises:
        PhysdiffError: invalid tensors, or a missing or non-positive ``data_range``.
    """
    where = "psnr"
    value_range = _data_range(data_range, where)
    p, y = as_trajectories(prediction, target, where, ndim)
    frame_mse = (p - y).square().mean(dim=frame_dims(p))
    return (10.0 * torch.log10(value_range**2 / frame_mse)).mean()


def ssim(
    prediction: torch.Tensor, target: torch.Tensor, *, data_range: float | None = None, window: int = 11,
    sigma: float = 1.5, ndim: int | None = None, gaussian: bool = True, sample_covariance: bool = False,
) -> torch.Tensor:
    """Structural similarity (Wang et al. 2004) with a Gaussian (or uniform) window, per channel, averaged.

    At each position ``x`` of a channel, with Gaussian-weighted local statistics
    (weights ``w(u) ~ exp(-|u|^2 / (2 sigma^2))`` on a ``window^d`` cube, summing to 1)::

        mu_p = sum_u w(u) p(x + u)            sigma_p^2 = sum_u w(u) p(x + u)^2 - mu_p^2
        sigma_py = sum_u w(u) p(x + u) y(x + u) - mu_p mu_y       (same for y)

        SSIM(x) = (2 mu_p mu_y + C1) (2 sigma_py + C2) / ((mu_p^2 + mu_y^2 + C1) (sigma_p^2 + sigma_y^2 + C2))

    with ``C1 = (K1 L)^2``, ``C2 = (K2 L)^2``, ``K1 = 0.01``, ``K2 = 0.03``, ``L = data_range``
    (the weighted, biased variances of the paper; no sample-covariance correction).

    With ``gaussian=False`` the weights are uniform, ``w(u) = 1 / window^d``, and with
    ``sample_covariance=True`` the variances and the covariance are multiplied by ``n / (n - 1)``,
    ``n = window^d``: together with ``window=7`` this is scikit-image's ``structural_similarity``
    default (the one video papers call; see :func:`physdiff.metrics.video_metrics`).
    Reduction: the mean of ``SSIM(x)`` over the positions where the window lies entirely
    inside the field ("valid", no padding), then the mean over channels, frames and samples.
    Identical inputs give exactly 1 (up to rounding).

    Args:
        prediction, target: 2D or 3D fields: trajectories ``(B, T, C, *space)`` (2 or 3 spatial
            axes); single frames ``(B, C, *space)`` when ``ndim`` is given. Without ``ndim`` a
            5-dim tensor is read as a 2D trajectory, never as one 3D frame.
        data_range: ``L``, required and positive (never estimated from the data).
        window: odd window size in points per axis; every spatial size must be at least this.
        sigma: standard deviation of the Gaussian in grid points (unused with ``gaussian=False``).
        ndim: number of spatial axes (2 or 3); needed only to pass single frames.
        gaussian: Gaussian weights (default) or uniform weights.
        sample_covariance: the unbiased ``n / (n - 1)`` correction of the local (co)variances.

    Returns:
        A 0-d tensor, at most 1.

    Raises:
        PhysdiffError: invalid tensors, a missing or non-positive ``data_range``, an even or
            non-positive ``window``, a non-positive ``sigma``, 1D fields, or fields smaller
            than the window.
    """
    where = "ssim"
    value_range = _data_range(data_range, where)
    if isinstance(window, bool) or not isinstance(window, int) or window < 1 or window % 2 == 0:
        raise PhysdiffError(
            f"{where}: window: expected an odd positive int (points per axis, e.g. 11 or 7), got {window!r}."
        )
    sigma = positive_float(sigma, "sigma", where, "It is the Gaussian window's standard deviation in grid points.")
    p, y = as_trajectories(prediction, target, where, ndim)
    space = tuple(p.shape[3:])
    if len(space) not in (2, 3):
        raise PhysdiffError(
            f"{where}: expected 2D or 3D fields, got {len(space)} spatial axis/axes in shape {tuple(p.shape)}. "
            "SSIM is defined here for images and volumes; for single 2D frames (B, C, H, W) pass ndim=2."
        )
    if min(space) < window:
        raise PhysdiffError(
            f"{where}: every spatial size must be at least window={window}, got spatial shape {space}; "
            "pass a smaller odd window (e.g. window=7 and sigma=1.0)."
        )
    # Statistics are shift-invariant but E[x^2] - E[x]^2 cancels badly for data with a large
    # offset, so both fields are shifted by the target's per-channel mean first (added back below).
    shift = y.mean(dim=tuple(range(3, y.dim())), keepdim=True)
    p, y = p - shift, y - shift
    channels = p.reshape(-1, 1, *space)
    truth = y.reshape(-1, 1, *space)
    stacked = torch.cat([channels, truth, channels.square(), truth.square(), channels * truth])
    local = _window_filter(stacked, window, sigma if gaussian else None).chunk(5)
    mu_p, mu_y, p2, y2, py = local
    var_p, var_y, cov = p2 - mu_p.square(), y2 - mu_y.square(), py - mu_p * mu_y
    if sample_covariance:
        n = window ** len(space)
        var_p, var_y, cov = (v * (n / (n - 1)) for v in (var_p, var_y, cov))
    offset = shift.reshape(-1, *(1,) * (len(space) + 1))
    mu_p, mu_y = mu_p + offset, mu_y + offset
    c1, c2 = (K1 * value_range) ** 2, (K2 * value_range) ** 2
    index = (2 * mu_p * mu_y + c1) * (2 * cov + c2) / ((mu_p.square() + mu_y.square() + c1) * (var_p + var_y + c2))
    return index.mean()


def _window_filter(x: torch.Tensor, window: int, sigma: float | None) -> torch.Tensor:
    """Separable Gaussian (``sigma``) or uniform (``None``) weighted sums of ``x`` ``(N, 1, *space)``,
    "valid" positions only."""
    centre = (window - 1) / 2
    weights = torch.tensor(
        [1.0 if sigma is None else math.exp(-((i - centre) ** 2) / (2 * sigma**2)) for i in range(window)],
        dtype=torch.float64,
    )
    weights = (weights / weights.sum()).to(x)
    # One axis at a time: unfold exposes every window as a last axis (a view), the product sums it.
    # As fast as conv2d/conv3d here, and without their one-off start-up cost (about 1 s for conv3d).
    for axis in range(2, x.dim()):
        x = x.unfold(axis, window, 1) @ weights
    return x
