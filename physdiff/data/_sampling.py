"""Observation models for training data: PIMRL burst sampling, spatial downsampling, relative noise.

Burst sampling (PIMRL, arXiv 2503.10253) on a trajectory saved every ``dt``
(frame ``n`` at ``t = n dt``), with ``burst_length = 3``, ``burst_every = 8``,
``macro_every = 4``::

    frame   0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15 16
    micro  [0  1  2]                [8  9 10]               [16 ...]   bursts at dt
    macro   0           4           8          12           16         Dt = 4 dt

Burst ``j`` is frames ``j * burst_every + i`` for ``i < burst_length``; the macro
view is every ``macro_every``-th frame. Both are deterministic (no randomness):
the only random observation model here is :func:`add_noise`, seeded by its caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..core import PhysdiffError


def _positive_int(value: object, name: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PhysdiffError(f"{where}: {name}: expected a positive int, got {value!r}.")
    return value


def _check_trajectory(trajectory: torch.Tensor, where: str) -> None:
    if not isinstance(trajectory, torch.Tensor) or not 4 <= trajectory.ndim <= 6:
        shape = tuple(trajectory.shape) if isinstance(trajectory, torch.Tensor) else type(trajectory).__name__
        raise PhysdiffError(f"{where}: expected a trajectory tensor (B, T, C, *space) with 1-3 spatial axes, got {shape}.")


@dataclass(frozen=True)
class BurstSample:
    """Micro (burst) and macro views of one batch of trajectories.

    Attributes:
        micro: ``(B, n_bursts, burst_length, C, *space)``, consecutive frames at interval ``dt``.
        micro_times: ``(n_bursts, burst_length)`` times of the micro frames.
        macro: ``(B, T_macro, C, *space)``, every ``macro_every``-th frame.
        macro_times: ``(T_macro,)`` times of the macro frames.
        dt, macro_dt: the micro interval and ``Dt = macro_every * dt``.
    """

    micro: torch.Tensor
    micro_times: torch.Tensor
    macro: torch.Tensor
    macro_times: torch.Tensor
    dt: float
    macro_dt: float


def burst_sample(
    trajectory: torch.Tensor, *, dt: float, burst_length: int, burst_every: int, macro_every: int
) -> BurstSample:
    """Split a finely saved trajectory into short bursts at ``dt`` and a macro view at ``Dt = macro_every dt``.

    Args:
        trajectory: ``(B, T, C, *space)``, frame ``n`` at time ``n dt``.
        dt: interval between saved frames (the micro interval), positive.
        burst_length: frames per burst (>= 2, so a burst holds at least one micro step).
        burst_every: frames between burst starts (>= burst_length: bursts never overlap). With
            ``burst_every`` a multiple of ``macro_every`` every burst starts on a macro frame.
        macro_every: the macro stride ``k`` in frames.

    Returns:
        A :class:`BurstSample`; only bursts that fit entirely in the trajectory are kept.

    Raises:
        PhysdiffError: invalid counts, overlapping bursts, or a trajectory shorter than one burst.
    """
    where = "burst_sample"
    _check_trajectory(trajectory, where)
    burst_length = _positive_int(burst_length, "burst_length", where)
    burst_every = _positive_int(burst_every, "burst_every", where)
    macro_every = _positive_int(macro_every, "macro_every", where)
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not dt > 0:
        raise PhysdiffError(f"{where}: dt: expected a positive number, got {dt!r}.")
    if burst_length < 2:
        raise PhysdiffError(f"{where}: burst_length: expected >= 2 frames (one micro step), got {burst_length}.")
    if burst_every < burst_length:
        raise PhysdiffError(
            f"{where}: burst_every={burst_every} < burst_length={burst_length} would overlap bursts; "
            "use burst_every >= burst_length (bursts are separated by gaps)."
        )
    frames = trajectory.shape[1]
    if burst_length > frames:
        raise PhysdiffError(f"{where}: burst_length={burst_length} exceeds the trajectory's {frames} frames.")
    starts = torch.arange(0, frames - burst_length + 1, burst_every)
    index = starts[:, None] + torch.arange(burst_length)[None, :]  # (n_bursts, burst_length)
    micro = trajectory[:, index.to(trajectory.device).flatten()]
    micro = micro.reshape(trajectory.shape[0], *index.shape, *trajectory.shape[2:])
    macro_index = torch.arange(0, frames, macro_every)
    return BurstSample(
        micro=micro, micro_times=index.double() * dt, macro=trajectory[:, macro_index.to(trajectory.device)],
        macro_times=macro_index.double() * dt, dt=float(dt), macro_dt=float(macro_every * dt),
    )


def downsample(
    field: torch.Tensor, factors: int | Sequence[int], *, ndim: int | None = None, mode: str = "subsample"
) -> torch.Tensor:
    """Coarsen the last spatial axes by integer factors.

    ``mode="subsample"`` keeps every ``f``-th point from index 0 (``u[..., ::f0, ::f1]``, PeRCNN's
    observation of a coarse sensor grid; coordinates become ``x[::f]``). ``mode="mean"``
    averages ``f0 x f1 x ...`` blocks (a finite-volume view; each axis must be divisible).

    Args:
        field: any tensor whose last ``ndim`` axes are spatial (fields or trajectories).
        factors: one factor per spatial axis, or one int for all (then ``ndim`` is required).
        ndim: number of spatial axes when ``factors`` is an int.
        mode: ``"subsample"`` or ``"mean"``.

    Raises:
        PhysdiffError: a non-positive factor, a missing ``ndim``, an unknown mode, or (mean) sizes
            not divisible by the factors.
    """
    where = "downsample"
    if isinstance(factors, int) and not isinstance(factors, bool):
        if ndim is None:
            raise PhysdiffError(f"{where}: pass ndim with a single factor, e.g. downsample(u, 4, ndim=2).")
        factors = (factors,) * ndim
    factors = tuple(factors)
    for f in factors:
        _positive_int(f, "factors", where)
    if not factors or len(factors) > field.ndim:
        raise PhysdiffError(
            f"{where}: expected 1 to {field.ndim} factors for a tensor of shape {tuple(field.shape)}, got {factors}."
        )
    spatial = field.shape[field.ndim - len(factors):]
    if mode == "subsample":
        return field[(..., *(slice(None, None, f) for f in factors))]
    if mode != "mean":
        raise PhysdiffError(f"{where}: mode: expected 'subsample' or 'mean', got {mode!r}.")
    if any(n % f for n, f in zip(spatial, factors)):
        raise PhysdiffError(
            f"{where}: mode='mean' needs sizes divisible by the factors, got sizes {tuple(spatial)} and factors {factors}."
        )
    lead = field.shape[: field.ndim - len(factors)]
    blocks = [d for n, f in zip(spatial, factors) for d in (n // f, f)]
    return field.reshape(*lead, *blocks).mean(dim=tuple(len(lead) + 2 * i + 1 for i in range(len(factors))))


def add_noise(truth: torch.Tensor, pec: float, *, seed: int, channel_dim: int = 2) -> torch.Tensor:
    """PeRCNN-style relative noise, per channel ``c``: ``truth + pec * std(truth_c) * R_c / std(R_c)``.

    ``R ~ N(0, 1)`` has the shape of ``truth`` and is drawn in float64 on the CPU from a
    private generator seeded with ``seed`` (the global RNG is never touched; the same seed
    gives the same noise on every device). Standard deviations run over every axis but
    ``channel_dim``; dividing by the sample ``std(R_c)`` makes the added noise's standard
    deviation exactly ``pec * std(truth_c)``.

    Args:
        truth: clean data, e.g. trajectories ``(B, T, C, *space)``.
        pec: relative noise level (0.1 = 10 %), finite and >= 0.
        seed: seed of the private generator.
        channel_dim: the channel axis (2 for trajectories, 1 for fields ``(B, C, *space)``).

    Raises:
        PhysdiffError: a negative or non-finite ``pec``, a bad seed or channel axis, or fewer
            than 2 values per channel.
    """
    where = "add_noise"
    if isinstance(pec, bool) or not isinstance(pec, (int, float)) or not 0 <= pec < float("inf"):
        raise PhysdiffError(f"{where}: pec: expected a finite relative noise level >= 0 (0.1 = 10 %), got {pec!r}.")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise PhysdiffError(f"{where}: seed: expected an int, got {seed!r}.")
    if not -truth.ndim <= channel_dim < truth.ndim:
        raise PhysdiffError(f"{where}: channel_dim={channel_dim} out of range for a tensor of shape {tuple(truth.shape)}.")
    if truth.numel() < 2 * truth.shape[channel_dim]:
        raise PhysdiffError(f"{where}: expected at least 2 values per channel, got shape {tuple(truth.shape)}.")
    gen = torch.Generator(device="cpu").manual_seed(seed)
    noise = torch.randn(truth.shape, generator=gen, dtype=torch.float64)
    clean = truth.detach().to("cpu", torch.float64)
    dims = tuple(d for d in range(truth.ndim) if d != channel_dim % truth.ndim)
    scale = pec * clean.std(dim=dims, keepdim=True) / noise.std(dim=dims, keepdim=True)
    return truth + (scale * noise).to(truth.device, truth.dtype)
