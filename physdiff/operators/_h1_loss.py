"""H1 (Sobolev) losses between periodic fields: a spectral one and a neuraloperator-compatible one.

Spectral H1 norm (:class:`H1Loss`, :func:`h1_loss`). For the error ``e = pred - target``
on the box ``Omega = [0, L_0) x ... x [0, L_{d-1})`` sampled with
``N = n_0 ... n_{d-1}`` points, with DFT ``e_hat(k) = sum_j e_j exp(-i k . x_j)`` and
Fourier coefficients ``c_k = e_hat(k) / N``,

    ||e||_H1^2 = |Omega| sum_k (1 + |k|^2) |c_k|^2 = (|Omega| / N^2) sum_k (1 + |k|^2) |e_hat(k)|^2,

summed over the full spectrum (computed from the ``rfftn`` half spectrum with
multiplicity 2 for the columns that stand for a conjugate pair). For a
trigonometric polynomial with ``|q_a| < n_a / 2`` (band-limited data) this *is*
the continuum norm ``int_Omega (e^2 + |grad e|^2) dx`` (Parseval), because the
spectral gradient is exact. The Nyquist mode of an even axis enters with its
sampled amplitude and weight ``1 + |k|^2``.

neuraloperator-compatible norm (:class:`NeuralOperatorH1Loss`,
:func:`neuraloperator_h1_loss`), as defined by ``neuralop.losses.H1Loss`` with
periodic boundaries: quadrature weights ``h_a = measure_a / n_a``, periodic
central differences ``D_a e = (e[i+1] - e[i-1]) / (2 h_a)`` (``torch.roll``), and

    ||e||_{h}^2 = (prod_a h_a) sum_j ( e_j^2 + sum_a (D_a e)_j^2 ),

per (batch, channel); the relative loss is ``||pred - target||_h / ||target||_h``
(the common factor ``prod h_a`` cancels), and the reduction *sums* over batch
and channels by default.

How they relate. On a single mode ``exp(i k . x)`` with ``|q_a| < n_a/2`` the
central difference is exact up to the factor ``sin(k_a h_a) / (k_a h_a)``:
``D_a exp(i k x) = i (sin(k_a h_a) / h_a) exp(i k x)``. With ``measure = length``
the quadrature sum is exact for the squared band-limited field, so

    ||e||_h^2 = |Omega| sum_k (1 + sum_a sin^2(k_a h_a) / h_a^2) |c_k|^2.

The two norms therefore coincide on the ``L2`` part, and the gradient part of
the neuraloperator norm is the spectral one with every ``k_a^2`` damped by
``sinc^2(k_a h_a) = (sin(k_a h_a)/(k_a h_a))^2`` (``1 - (k h)^2/3 + ...``): equal for
well-resolved modes (``k h -> 0``), ``4/pi^2 ~ 0.41`` of it at ``|q| = n/4``, and
blind to the Nyquist mode (``sin(pi) = 0``). With neuraloperator's default
``measure = 1`` the wavenumbers are those of a unit box, i.e. ``k_a`` is rescaled
by ``L_a / measure_a``; the relative losses then differ by that weighting of the
gradient term.

Relative Sobolev loss of the FNO code (:class:`SobolevLoss`, :func:`sobolev_loss`; the
``HsLoss`` of ``utilities3.py``, the most likely H1 term of ARK, spatiotemporal.md 1.4). With
integer wavenumbers ``q`` (``fftfreq(n) * n``: ``0 .. n/2 - 1, -n/2 .. -1``) and the full DFT over
the spatial axes, per *sample* (channels pooled, as FNO flattens them),

    w(q) = sqrt(1 + a^2 |q|^2)                       (order 1; order 2 adds a_2^2 |q|^4)
    loss = || w (e_hat) ||_2 / || w (y_hat) ||_2,    e = pred - target,

a relative, not squared, norm, averaged over the batch. On a ``2 pi`` box ``q`` is the physical
wavenumber, so for one channel ``sobolev_loss(a=a) = h1_loss(relative=True, length=2 pi / a)``
(``a`` rescales the wavenumbers as a box of length ``2 pi / a`` would; the volume and DFT factors
cancel in the ratio). For odd ``n`` FNO's wavenumber vector is off by one on the negative half;
here it is the correct ``fftfreq``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ..core import PhysdiffError, check_field, check_ndim
from ._spectral import _TWO_PI, _as_lengths, _axis_grids, _cached

__all__ = ["H1Loss", "NeuralOperatorH1Loss", "SobolevLoss", "h1_loss", "neuraloperator_h1_loss", "sobolev_loss"]

_REDUCTIONS = ("mean", "sum", "none")


def _check_pair(pred: torch.Tensor, target: torch.Tensor, ndim: int) -> None:
    check_field(pred, ndim, "pred")
    check_field(target, ndim, "target")
    if pred.shape != target.shape:
        raise PhysdiffError(
            f"pred/target: expected equal shapes, got {tuple(pred.shape)} and {tuple(target.shape)}. "
            "Both must be (batch, channels, *space) on the same grid."
        )
    for name, t in (("pred", pred), ("target", target)):
        if t.dtype not in (torch.float32, torch.float64):
            raise PhysdiffError(
                f"{name}: expected a real float32 or float64 tensor, got dtype {t.dtype}. Convert with .float()."
            )


def _check_reduction(reduction: str) -> str:
    if reduction not in _REDUCTIONS:
        raise PhysdiffError(
            f"reduction: expected one of {_REDUCTIONS} ('mean'/'sum' over batch and channels, 'none' keeps "
            f"the (batch, channels) values), got {reduction!r}."
        )
    return reduction


def _reduce(values: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    return values


def _finish(num: torch.Tensor, den: torch.Tensor | None, squared: bool, reduction: str) -> torch.Tensor:
    """From per-(batch, channel) squared norms to the reduced loss."""
    value = num if den is None else num / den
    if not squared:
        # sqrt with a zero (sub)gradient at 0 instead of nan when pred == target exactly
        zero = value == 0
        value = torch.where(zero, torch.zeros_like(value), torch.where(zero, torch.ones_like(value), value).sqrt())
    return _reduce(value, reduction)


# --------------------------------------------------------------------------- spectral


def _h1_weight(shape: tuple[int, ...], lengths: tuple[float, ...], dtype: torch.dtype, device) -> torch.Tensor:
    """``(|Omega| / N^2) (1 + |k|^2)`` times the multiplicity of each rfftn entry (1 or 2)."""

    def build() -> torch.Tensor:
        weight = 1.0 + sum(k**2 for k in _axis_grids(shape, lengths))
        # half-spectrum columns stand for a conjugate pair (2), except q = 0 and, for even n, the Nyquist (1)
        n_last = shape[-1]
        mult = torch.full((n_last // 2 + 1,), 2.0, dtype=torch.float64)
        mult[0] = 1.0
        if n_last % 2 == 0:
            mult[-1] = 1.0
        scale = math.prod(lengths) / math.prod(shape) ** 2
        return (weight * mult * scale).to(dtype=dtype, device=device)

    return _cached(("h1", shape, lengths, dtype, str(device)), build)


def _spectral_h1_squared(u: torch.Tensor, ndim: int, lengths: tuple[float, ...]) -> torch.Tensor:
    """``|Omega| sum_k (1 + |k|^2) |c_k|^2`` per (batch, channel)."""
    dims = tuple(range(-ndim, 0))
    spectrum = torch.fft.rfftn(u, dim=dims)
    weight = _h1_weight(tuple(u.shape[-ndim:]), lengths, u.dtype, u.device)
    return ((spectrum.real**2 + spectrum.imag**2) * weight).sum(dim=dims)


def h1_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    ndim: int,
    length: float | Sequence[float] = _TWO_PI,
    relative: bool = False,
    reduction: str = "mean",
    squared: bool = False,
) -> torch.Tensor:
    """Spectral H1 norm of ``pred - target`` on a periodic box (functional form of :class:`H1Loss`)."""
    check_ndim(ndim)
    _check_pair(pred, target, ndim)
    _check_reduction(reduction)
    lengths = _as_lengths(length, ndim)
    num = _spectral_h1_squared(pred - target, ndim, lengths)
    den = _spectral_h1_squared(target, ndim, lengths) if relative else None
    return _finish(num, den, squared, reduction)


class H1Loss(nn.Module):
    """Spectral H1 norm of the error between two periodic fields.

    For ``e = pred - target``, per (batch, channel),

        ||e||_H1^2 = (|Omega| / N^2) sum_k (1 + |k|^2) |e_hat(k)|^2,

    the continuum ``int (e^2 + |grad e|^2) dx`` of the trigonometric interpolant
    (exact for band-limited data). Options:

    * ``relative=True``: ``||e||_H1 / ||target||_H1`` per (batch, channel); the
      box volume cancels. A zero target gives ``inf``/``nan``.
    * ``squared=True``: return the squared norm (or squared ratio) before reducing.
    * ``reduction``: ``'mean'`` (default) or ``'sum'`` over batch and channels, or
      ``'none'`` for the ``(batch, channels)`` tensor.

    Args:
        ndim: number of spatial axes (1, 2 or 3).
        length: box length per axis (one float or one per axis), default ``2 pi``.

    Example:
        >>> x = torch.arange(32, dtype=torch.float64) * (2 * math.pi / 32)
        >>> e = torch.sin(3 * x)[None, None]               # int e^2 = pi, int e'^2 = 9 pi
        >>> round(H1Loss(1, squared=True)(e, torch.zeros_like(e)).item() / math.pi, 10)
        10.0
    """

    def __init__(
        self,
        ndim: int,
        length: float | Sequence[float] = _TWO_PI,
        *,
        relative: bool = False,
        reduction: str = "mean",
        squared: bool = False,
    ) -> None:
        super().__init__()
        self.ndim = check_ndim(ndim)
        self.length = _as_lengths(length, self.ndim)
        self.relative = bool(relative)
        self.reduction = _check_reduction(reduction)
        self.squared = bool(squared)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return h1_loss(
            pred,
            target,
            ndim=self.ndim,
            length=self.length,
            relative=self.relative,
            reduction=self.reduction,
            squared=self.squared,
        )

    def extra_repr(self) -> str:
        return (
            f"ndim={self.ndim}, length={self.length}, relative={self.relative}, "
            f"reduction={self.reduction!r}, squared={self.squared}"
        )


# --------------------------------------------------------------------------- neuraloperator-compatible


def _central_h1_squared(u: torch.Tensor, ndim: int, spacing: tuple[float, ...]) -> torch.Tensor:
    """``sum_j (u_j^2 + sum_a (D_a u)_j^2)`` per (batch, channel), D_a periodic central differences."""
    dims = tuple(range(-ndim, 0))
    total = (u**2).sum(dim=dims)
    for a, h in enumerate(spacing):
        dim = 2 + a
        du = (torch.roll(u, -1, dims=dim) - torch.roll(u, 1, dims=dim)) / (2.0 * h)
        total = total + (du**2).sum(dim=dims)
    return total


def neuraloperator_h1_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    ndim: int,
    measure: float | Sequence[float] = 1.0,
    relative: bool = True,
    reduction: str = "sum",
    squared: bool = False,
) -> torch.Tensor:
    """neuraloperator-style H1 loss (functional form of :class:`NeuralOperatorH1Loss`)."""
    check_ndim(ndim)
    _check_pair(pred, target, ndim)
    _check_reduction(reduction)
    measures = _as_lengths(measure, ndim, what="measure")
    spacing = tuple(mu / n for mu, n in zip(measures, pred.shape[2:]))
    num = _central_h1_squared(pred - target, ndim, spacing)
    if relative:
        den = _central_h1_squared(target, ndim, spacing)
        return _finish(num, den, squared, reduction)
    return _finish(num * math.prod(spacing), None, squared, reduction)


class NeuralOperatorH1Loss(nn.Module):
    """The H1 loss of ``neuralop.losses.H1Loss`` (periodic case), reimplemented from its definition.

    Per (batch, channel), with ``h_a = measure_a / n_a`` and periodic central
    differences ``D_a u = (u[i+1] - u[i-1]) / (2 h_a)``:

    * absolute (``relative=False``): ``sqrt( prod_a h_a * sum_j (e_j^2 + sum_a (D_a e)_j^2) )``;
    * relative (``relative=True``, the default, what neuraloperator's ``__call__``
      returns): ``sqrt( sum_j (e^2 + |D e|^2) / sum_j (y^2 + |D y|^2) )``;

    then summed (``reduction='sum'``, the default) or averaged (``'mean'``) over
    batch *and* channels; ``'none'`` keeps ``(batch, channels)``. Defaults follow
    neuraloperator: ``measure=1.0`` (a unit box), ``relative=True``, ``'sum'``.
    ``squared=True`` returns the squared ratio/norm (some neuraloperator versions
    default to the squared relative loss in ``rel``; pass ``squared=True`` to match
    those). The non-periodic ``fix_*_bnd`` one-sided boundary stencils are not
    provided.

    Relation to :class:`H1Loss` (with ``measure = length``): identical ``L2``
    part; the gradient part damps each mode by ``sinc^2(k_a h_a)`` and ignores the
    Nyquist mode; see the module docstring and ``docs/api/spectral.md``.
    """

    def __init__(
        self,
        ndim: int,
        measure: float | Sequence[float] = 1.0,
        *,
        relative: bool = True,
        reduction: str = "sum",
        squared: bool = False,
    ) -> None:
        super().__init__()
        self.ndim = check_ndim(ndim)
        self.measure = _as_lengths(measure, self.ndim, what="measure")
        self.relative = bool(relative)
        self.reduction = _check_reduction(reduction)
        self.squared = bool(squared)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return neuraloperator_h1_loss(
            pred,
            target,
            ndim=self.ndim,
            measure=self.measure,
            relative=self.relative,
            reduction=self.reduction,
            squared=self.squared,
        )

    def extra_repr(self) -> str:
        return (
            f"ndim={self.ndim}, measure={self.measure}, relative={self.relative}, "
            f"reduction={self.reduction!r}, squared={self.squared}"
        )


# --------------------------------------------------------------------------- FNO relative Sobolev


def _sobolev_weight(shape: tuple[int, ...], a: tuple[float, ...], dtype: torch.dtype, device) -> torch.Tensor:
    """``1 + sum_m a_m^2 |q|^(2m)`` on the full DFT grid (squared weight ``w^2``)."""

    def build() -> torch.Tensor:
        grids = torch.meshgrid(*(torch.fft.fftfreq(n, 1.0 / n, dtype=torch.float64) for n in shape), indexing="ij")
        q2 = sum(g**2 for g in grids)
        weight = torch.ones_like(q2)
        for m, am in enumerate(a, start=1):
            weight = weight + am**2 * q2**m
        return weight.to(dtype=dtype, device=device)

    return _cached(("sobolev", shape, a, dtype, str(device)), build)


def _as_sobolev_a(a: float | Sequence[float], order: int) -> tuple[float, ...]:
    if order not in (1, 2):
        raise PhysdiffError(f"order: expected 1 (H1) or 2 (H2), got {order!r}.")
    values = (a,) * order if isinstance(a, (int, float)) and not isinstance(a, bool) else a
    if (isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) != order
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)):
        raise PhysdiffError(f"a: expected a finite float or {order} floats (one per derivative order), got {a!r}.")
    return tuple(float(v) for v in values)


def sobolev_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    ndim: int,
    a: float | Sequence[float] = 1.0,
    order: int = 1,
    reduction: str = "mean",
) -> torch.Tensor:
    """FNO's relative Sobolev loss (functional form of :class:`SobolevLoss`); ``'none'`` keeps ``(batch,)``."""
    check_ndim(ndim)
    _check_pair(pred, target, ndim)
    _check_reduction(reduction)
    coeffs = _as_sobolev_a(a, order)
    dims = tuple(range(-ndim, 0))
    weight = _sobolev_weight(tuple(pred.shape[-ndim:]), coeffs, pred.dtype, pred.device)

    def norm2(u: torch.Tensor) -> torch.Tensor:
        spec = torch.fft.fftn(u, dim=dims)
        return ((spec.real**2 + spec.imag**2) * weight).flatten(1).sum(dim=1)

    num, den = norm2(pred - target), norm2(target)
    return _finish(num, den, False, reduction)


class SobolevLoss(nn.Module):
    """FNO's relative Sobolev (``HsLoss``) loss: ``||w e_hat|| / ||w y_hat||`` with ``w = sqrt(1 + a^2 |q|^2)``.

    Integer wavenumbers ``q`` (a ``2 pi`` box), full DFT over the ``ndim`` trailing axes, one
    norm per sample over every channel, mean over the batch (``reduction``: ``'mean'``, ``'sum'``
    or ``'none'``). For a single channel it equals ``H1Loss(ndim, length=2 pi / a, relative=True)``;
    see the module docstring.

    Args:
        ndim: spatial axes.
        a: weight of the gradient term (order 1), or ``(a_1, a_2)`` with ``order=2``
            (``w^2 = 1 + a_1^2 |q|^2 + a_2^2 |q|^4``).
        order: 1 (H1) or 2 (H2).

    Example:
        >>> x = torch.arange(16, dtype=torch.float64) * (2 * math.pi / 16)
        >>> y = torch.sin(x)[None, None]                 # |q| = 1: weight^2 = 2
        >>> e = 0.1 * torch.sin(2 * x)[None, None]       # |q| = 2: weight^2 = 5
        >>> round(SobolevLoss(1)(y + e, y).item() ** 2, 12) == round(0.01 * 5 / 2, 12)
        True
    """

    def __init__(self, ndim: int, a: float | Sequence[float] = 1.0, *, order: int = 1,
                 reduction: str = "mean") -> None:
        super().__init__()
        self.ndim = check_ndim(ndim)
        self.a = _as_sobolev_a(a, order)
        self.order = order
        self.reduction = _check_reduction(reduction)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return sobolev_loss(pred, target, ndim=self.ndim, a=self.a, order=self.order, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"ndim={self.ndim}, a={self.a}, order={self.order}, reduction={self.reduction!r}"
