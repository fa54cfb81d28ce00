"""Spectral artefact measure: high-wavenumber energy of a prediction against the truth's.

Notation: a frame ``u`` on a grid ``n_0 x ... x n_{d-1}`` has the discrete Fourier transform
``u_hat(k)``, ``k_i = f_i n_i`` with ``f_i`` in cycles per grid spacing (``|f_i| <= 1/2``, the
Nyquist frequency). The normalised wavenumber of a mode is
``kappa = sqrt(sum_i (f_i / (1/2))^2)`` (1 at the Nyquist frequency of one axis). The
high-wavenumber energy of a frame is ``E(u) = sum_{kappa > cutoff} |u_hat(k)|^2`` summed over
channels (``cutoff = 1/2``: half the Nyquist wavenumber).

Block, stripe and checkerboard artefacts of learned decoders have periods of 2 to a few grid
cells, so they put energy at ``kappa >= 1/2``, where smooth PDE fields have little.
"""

from __future__ import annotations

import math

import torch

from ..core import PhysdiffError
from ._checks import as_trajectories


def high_wavenumber_energy(frames: torch.Tensor, ndim: int, cutoff: float = 0.5) -> torch.Tensor:
    """``E(u)``: spectral energy above ``cutoff`` times the Nyquist wavenumber, per frame.

    Args:
        frames: ``(..., C, *space)`` real fields with ``ndim`` spatial axes (the last ones);
            the transform treats them as periodic.
        ndim: number of spatial axes (1 to 3).
        cutoff: normalised wavenumber ``kappa`` above which energy counts, in ``(0, sqrt(ndim))``.

    Returns:
        ``(...)``: ``sum_{c, kappa > cutoff} |u_hat_c(k)|^2 / prod(n_i)`` (Parseval: with
        ``cutoff -> 0`` and a zero-mean field this is ``sum_x u^2``), in squared field units.

    Raises:
        PhysdiffError: not a real floating tensor, a bad ``ndim`` or ``cutoff``.
    """
    where = "high_wavenumber_energy"
    if not isinstance(frames, torch.Tensor) or not frames.is_floating_point():
        got = frames.dtype if isinstance(frames, torch.Tensor) else type(frames).__name__
        raise PhysdiffError(f"{where}: frames: expected a real floating-point tensor (..., C, *space), got {got}.")
    if isinstance(ndim, bool) or not isinstance(ndim, int) or not 1 <= ndim <= 3 or frames.dim() < ndim + 1:
        raise PhysdiffError(f"{where}: ndim: expected 1, 2 or 3 spatial axes (fewer than the {frames.dim()} dims of "
                            f"frames, which also hold channels), got {ndim!r}.")
    if isinstance(cutoff, bool) or not isinstance(cutoff, (int, float)) or not 0 < cutoff < math.sqrt(ndim):
        raise PhysdiffError(f"{where}: cutoff: expected a number in (0, sqrt(ndim) = {math.sqrt(ndim):.3g}): the "
                            f"normalised wavenumber (1 = Nyquist of one axis) above which energy counts, "
                            f"got {cutoff!r}.")
    space = frames.shape[-ndim:]
    dims = tuple(range(-ndim, 0))
    spectrum = torch.fft.fftn(frames.to(torch.float64), dim=dims).abs().square()
    kappa_sq = sum(
        (2 * torch.fft.fftfreq(n, dtype=torch.float64)).square().reshape([n if i == a else 1 for i in range(ndim)])
        for a, n in enumerate(space)
    )
    mask = (kappa_sq > cutoff**2).to(spectrum.device)
    return (spectrum * mask).sum(dim=dims).sum(dim=-1) / math.prod(space)


def artefact_ratio(
    prediction: torch.Tensor, target: torch.Tensor, *, last_fraction: float = 0.25, cutoff: float = 0.5
) -> torch.Tensor:
    """Artefact ratio: the prediction's high-wavenumber energy over the truth's, late in the rollouts.

    ``ratio = sum_{b, t in last} E(p_bt) / sum_{b, t in last} E(y_bt)`` with ``E`` the energy above
    ``cutoff`` times the Nyquist wavenumber (:func:`high_wavenumber_energy`, summed over channels)
    and ``last`` the final ``ceil(last_fraction T)`` predicted frames. 1: as smooth as the truth;
    >> 1: spurious small-scale structure (stripes, checkerboards, noise); << 1: over-smoothed.
    Energies are pooled over samples, frames and channels before the division, so a frame whose
    truth is nearly smooth cannot dominate. Fields are treated as periodic.

    Args:
        prediction, target: trajectories ``(B, T, C, *space)`` (1 to 3 spatial axes).
        last_fraction: fraction of the predicted frames (the last ones) that count, in ``(0, 1]``.
        cutoff: normalised wavenumber above which energy counts (see :func:`high_wavenumber_energy`).

    Returns:
        A 0-d float64 tensor (dimensionless); ``inf`` if the truth has no energy above the cutoff
        and the prediction has some, ``nan`` if neither has.

    Raises:
        PhysdiffError: invalid tensors (see :func:`~physdiff.metrics.mse`) or options.
    """
    p, y = as_trajectories(prediction, target, "artefact_ratio")
    if isinstance(last_fraction, bool) or not isinstance(last_fraction, (int, float)) or not 0 < last_fraction <= 1:
        raise PhysdiffError(f"artefact_ratio: last_fraction: expected a number in (0, 1] (the share of the final "
                            f"predicted frames that count), got {last_fraction!r}.")
    ndim = p.dim() - 3
    steps = p.shape[1]
    first = steps - max(1, math.ceil(last_fraction * steps))
    energy_p = high_wavenumber_energy(p[:, first:], ndim, cutoff).sum()
    energy_y = high_wavenumber_energy(y[:, first:], ndim, cutoff).sum()
    return energy_p / energy_y
