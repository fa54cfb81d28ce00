"""Evaluation metrics of predicted trajectories against the truth.

Every metric takes ``prediction`` and ``target`` of equal shape ``(B, T, C, *space)``:
the predicted frames of a rollout and the true frames at the same times, with the
context (warm-up) frames removed by the caller; the evaluation harness of
``physdiff.training`` excludes context frames by default. Predicted frame ``n = 1..T``
lies at time ``n dt`` after the last context frame. Several metrics also accept single
frames ``(B, C, *space)`` (see each docstring).

* :func:`mse`, :func:`mae`, :func:`rmse`: the mean over all entries (the PDE convention);
  :func:`per_frame_sum`: the video convention (sum over a frame, mean over frames).
* :func:`nrmse`: relative L2 error per frame; :func:`error_curve`: an error per time step.
* :func:`correlation_curve`: Pearson correlation per frame; :func:`hct`: high-correlation time.
* :func:`psnr`, :func:`ssim`: image-quality scores with an explicit ``data_range``.
* :func:`video_metrics`: MSE/MAE/PSNR/SSIM by the video papers' conventions (per-frame sums,
  clipped frames, the SSIM data range published values used next to the correct one);
  :func:`video_error_curve`: the per-frame-sum MSE per predicted step.
* :func:`artefact_ratio`: high-wavenumber energy of the prediction over the truth's (stripes, checkerboards);
  :func:`high_wavenumber_energy`: that energy per frame.

This layer imports only ``physdiff.core`` and torch. Documented in ``docs/api/metrics.md``.
"""

from ._correlation import correlation_curve as correlation_curve
from ._correlation import hct as hct
from ._image import psnr as psnr
from ._image import ssim as ssim
from ._pointwise import error_curve as error_curve
from ._pointwise import mae as mae
from ._pointwise import mse as mse
from ._pointwise import nrmse as nrmse
from ._pointwise import per_frame_sum as per_frame_sum
from ._pointwise import rmse as rmse
from ._video import video_error_curve as video_error_curve
from ._video import video_metrics as video_metrics
from ._spectral import artefact_ratio as artefact_ratio
from ._spectral import high_wavenumber_energy as high_wavenumber_energy

__all__ = [
    "artefact_ratio",
    "correlation_curve",
    "error_curve",
    "hct",
    "high_wavenumber_energy",
    "mae",
    "mse",
    "nrmse",
    "per_frame_sum",
    "psnr",
    "rmse",
    "ssim",
    "video_error_curve",
    "video_metrics",
]
