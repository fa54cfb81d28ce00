"""Fourier-spectral operators on periodic boxes.

A field ``u`` of shape ``(batch, channels, n_0, ..., n_{d-1})`` samples a function
on the periodic box ``[0, L_0) x ... x [0, L_{d-1})`` at ``x_j = j L / n`` on every
axis. Its discrete Fourier transform

    u_hat(k) = sum_j u_j exp(-i k . x_j),      k_a = 2 pi q_a / L_a,

with integer indices ``q_a`` in FFT order ``0, 1, ..., -2, -1`` defines the
trigonometric interpolant ``u(x) = N^-1 sum_k u_hat(k) exp(i k . x)``. Every
operator here acts on that interpolant by multiplying ``u_hat`` by a *symbol*:

* derivative of orders ``(p_0, ..., p_{d-1})``: ``prod_a (i k_a)^{p_a}``;
* Laplacian: ``-|k|^2``;
* inverse Laplacian (Poisson solve): ``-1 / |k|^2`` and ``0`` at ``k = 0``;
* dealiasing: ``1`` on the kept modes, ``0`` elsewhere.

The last spatial axis uses ``torch.fft.rfftn`` (half spectrum), so every
transform costs about half a complex one and the output is real by
construction.

Nyquist mode. For even ``n_a`` the index ``q_a = -n_a/2`` is the Nyquist mode,
sampled as ``(-1)^j``. Its real interpolant is ``cos(k_N x)`` (``k_N = pi n / L``).
Even derivatives of it, ``(-1)^{p/2} k_N^p cos(k_N x)``, are real fields and are
kept. Odd derivatives, ``+-k_N^p sin(k_N x)``, vanish at every grid point: the
result is not representable on the grid, and multiplying by ``i k_N`` would
instead produce an imaginary (non-Hermitian) coefficient that ``irfftn`` silently
drops or mis-reads. The symbol is therefore set to zero on the Nyquist index of
every axis whose derivative order is odd, which is the value of the true
derivative at the grid points.

Symbols are built in float64 from exact integer indices, cast to the field's
precision, and kept in a small least-recently-used cache keyed by (operator,
shape, lengths, dtype, device); nothing is computed at import time.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from fractions import Fraction

import torch
from torch import nn

from ..core import PhysdiffError, check_field, check_ndim, positive_per_axis

__all__ = [
    "Dealias",
    "SpectralDerivative",
    "SpectralLaplacian",
    "SpectralPoisson",
    "dealias",
    "dealias_mask",
    "spectral_derivative",
    "spectral_laplacian",
    "spectral_poisson",
    "wavenumbers",
]

_TWO_PI = 2.0 * math.pi
_CACHE_SIZE = 32
_symbol_cache: OrderedDict[tuple, torch.Tensor] = OrderedDict()


# --------------------------------------------------------------------------- checks


def _as_lengths(length: float | Sequence[float], ndim: int, what: str = "length") -> tuple[float, ...]:
    """Box lengths (or measures), one float or one per axis, each finite and positive."""
    return positive_per_axis(
        length, ndim, what,
        f"The box of axis a is [0, {what}[a]) sampled at x_j = j * {what}[a] / n_a; e.g. {what}=2*math.pi.",
    )


def _check_real_field(u: torch.Tensor, ndim: int, name: str) -> None:
    check_field(u, ndim, name)
    if u.dtype not in (torch.float32, torch.float64):
        raise PhysdiffError(
            f"{name}: expected a real float32 or float64 tensor (spectral operators act on real fields through "
            f"rfftn), got dtype {u.dtype}. Convert with u.float() or u.double(); for complex data apply the "
            "operator to u.real and u.imag separately."
        )


def _check_orders(derivative: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(derivative, bool):
        raise PhysdiffError(f"derivative: expected a tuple of non-negative ints, got the bool {derivative!r}.")
    if isinstance(derivative, int):
        orders: tuple = (derivative,)
    else:
        try:
            orders = tuple(derivative)
        except TypeError as exc:
            raise PhysdiffError(
                f"derivative: expected one non-negative int per spatial axis, e.g. (1, 0) for d/dx in 2D, "
                f"got {derivative!r}."
            ) from exc
    if len(orders) not in (1, 2, 3):
        raise PhysdiffError(
            f"derivative: expected 1, 2 or 3 orders (one per spatial axis), got {len(orders)}: {orders!r}. "
            "The number of entries sets the number of spatial axes."
        )
    for axis, p in enumerate(orders):
        if isinstance(p, bool) or not isinstance(p, int) or p < 0:
            raise PhysdiffError(
                f"derivative: expected non-negative int orders, got {p!r} on axis {axis} in {orders!r}. "
                "Use 0 for an axis that is not differentiated."
            )
    return orders


def _check_size(n: int, what: str = "n") -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise PhysdiffError(f"{what}: expected a positive int number of grid points, got {n!r}.")
    return n


# --------------------------------------------------------------------------- wavenumbers


def _indices(n: int, rfft: bool) -> torch.Tensor:
    """Integer wavenumber indices in FFT order (float64, exact)."""
    if rfft:
        return torch.arange(n // 2 + 1, dtype=torch.float64)
    return torch.cat(
        [torch.arange((n - 1) // 2 + 1, dtype=torch.float64), torch.arange(-(n // 2), 0, dtype=torch.float64)]
    )


def wavenumbers(
    n: int,
    length: float = _TWO_PI,
    *,
    rfft: bool = False,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Angular wavenumbers ``k_q = 2 pi q / length`` of an ``n``-point periodic grid, in FFT order.

    ``q`` runs over ``0, 1, ..., (n-1)//2, -(n//2), ..., -1`` (the order of
    ``torch.fft.fft``); for even ``n`` the Nyquist index is stored as ``-n/2``,
    like ``torch.fft.fftfreq``. With ``rfft=True`` only the ``n//2 + 1``
    non-negative indices of ``torch.fft.rfft`` are returned (Nyquist as ``+n/2``).

    Example:
        >>> wavenumbers(4, 2 * math.pi)
        tensor([ 0.,  1., -2., -1.], dtype=torch.float64)
    """
    _check_size(n)
    (L,) = _as_lengths(length, 1)
    return (_indices(n, rfft) * (_TWO_PI / L)).to(dtype=dtype, device=device)


def _cached(key: tuple, build) -> torch.Tensor:
    """Return the cached tensor for ``key`` or build, store and return it (LRU, small)."""
    tensor = _symbol_cache.get(key)
    if tensor is not None:
        _symbol_cache.move_to_end(key)
        return tensor
    # Built outside inference mode: an inference tensor cached now could not be
    # saved for backward by a later differentiable call.
    with torch.inference_mode(False), torch.no_grad():
        tensor = build()
    _symbol_cache[key] = tensor
    if len(_symbol_cache) > _CACHE_SIZE:
        _symbol_cache.popitem(last=False)
    return tensor


def _axis_grids(shape: tuple[int, ...], lengths: tuple[float, ...]) -> list[torch.Tensor]:
    """Broadcastable float64 wavenumber grids, one per axis, over the rfftn spectrum."""
    ndim = len(shape)
    grids = []
    for a, (n, L) in enumerate(zip(shape, lengths)):
        k = _indices(n, rfft=(a == ndim - 1)) * (_TWO_PI / L)
        view = [1] * ndim
        view[a] = k.numel()
        grids.append(k.reshape(view))
    return grids


def _nyquist_index(n: int, rfft: bool) -> int | None:
    """Position of the Nyquist mode in the (r)fft spectrum of an axis, None for odd n."""
    if n % 2:
        return None
    return n // 2  # -n/2 sits at position n/2 in fft order; +n/2 is the last rfft entry


def _derivative_symbol(
    shape: tuple[int, ...], lengths: tuple[float, ...], orders: tuple[int, ...], dtype: torch.dtype, device
) -> torch.Tensor:
    """Real part ``prod_a k_a^{p_a}`` of the derivative symbol (the phase ``i^{sum p}`` is applied separately)."""

    def build() -> torch.Tensor:
        ndim = len(shape)
        symbol = torch.ones((), dtype=torch.float64)
        for a, (k, p) in enumerate(zip(_axis_grids(shape, lengths), orders)):
            if p == 0:
                continue
            factor = k**p
            nyq = _nyquist_index(shape[a], rfft=(a == ndim - 1))
            if p % 2 == 1 and nyq is not None:
                # odd derivative of cos(k_N x) is +-k_N^p sin(k_N x): zero at every grid point
                factor = factor.clone()
                factor.select(a, nyq).zero_()
            symbol = symbol * factor
        full = list(shape[:-1]) + [shape[-1] // 2 + 1]
        return symbol.expand(full).contiguous().to(dtype=dtype, device=device)

    return _cached(("derivative", shape, lengths, orders, dtype, str(device)), build)


def _laplacian_symbol(
    shape: tuple[int, ...], lengths: tuple[float, ...], dtype: torch.dtype, device, inverse: bool
) -> torch.Tensor:
    def build() -> torch.Tensor:
        k2 = sum(k**2 for k in _axis_grids(shape, lengths))
        full = list(shape[:-1]) + [shape[-1] // 2 + 1]
        k2 = k2.expand(full).contiguous()
        if not inverse:
            symbol = -k2
        else:
            symbol = torch.zeros_like(k2)
            nonzero = k2 > 0
            symbol[nonzero] = -1.0 / k2[nonzero]
        return symbol.to(dtype=dtype, device=device)

    return _cached(("laplacian", shape, lengths, inverse, dtype, str(device)), build)


def _apply_symbol(u: torch.Tensor, ndim: int, symbol: torch.Tensor, phase: complex = 1.0) -> torch.Tensor:
    dims = tuple(range(-ndim, 0))
    spectrum = torch.fft.rfftn(u, dim=dims) * symbol
    if phase != 1.0:
        spectrum = spectrum * phase
    return torch.fft.irfftn(spectrum, s=u.shape[-ndim:], dim=dims)


# --------------------------------------------------------------------------- derivatives


def spectral_derivative(
    u: torch.Tensor, derivative: int | Sequence[int], length: float | Sequence[float] = _TWO_PI
) -> torch.Tensor:
    """Spectral derivative ``d^{p_0} ... d^{p_{d-1}} u`` of a periodic field (functional form).

    Args:
        u: real field ``(batch, channels, *space)`` with ``len(derivative)`` spatial axes.
        derivative: one non-negative order per spatial axis, e.g. ``(1, 1)`` for
            ``d^2/dx dy``; an int means a 1D field.
        length: box length, one float or one per axis.

    Exact (to rounding) for trigonometric polynomials with ``|q_a| < n_a / 2``.
    See :class:`SpectralDerivative`.
    """
    orders = _check_orders(derivative)
    ndim = len(orders)
    _check_real_field(u, ndim, "u")
    lengths = _as_lengths(length, ndim)
    shape = tuple(u.shape[-ndim:])
    if sum(orders) == 0:
        return _apply_symbol(u, ndim, torch.ones((), dtype=u.dtype, device=u.device))
    symbol = _derivative_symbol(shape, lengths, orders, u.dtype, u.device)
    return _apply_symbol(u, ndim, symbol, phase=1j ** (sum(orders) % 4))


class SpectralDerivative(nn.Module):
    """Fourier-spectral partial derivative of any order on each axis (mixed derivatives included).

    ``SpectralDerivative(derivative=(p_0, ..., p_{d-1}), length=L)`` maps a real
    field ``(batch, channels, n_0, ..., n_{d-1})`` to
    ``d^{p_0}/dx_0^{p_0} ... d^{p_{d-1}}/dx_{d-1}^{p_{d-1}} u`` by multiplying its
    spectrum by ``prod_a (i k_a)^{p_a}`` (``rfftn`` on the last axis).

    * Exact to rounding on trigonometric polynomials with ``|q_a| < n_a/2``, for
      even and odd ``n_a``.
    * The Nyquist mode of an axis with odd order is set to zero (its derivative
      ``sin(k_N x)`` vanishes on the grid and is not a representable real field);
      with even order it is kept and multiplied by ``(-1)^{p/2} k_N^p``.
    * ``derivative=(0, ..., 0)`` is the identity (up to one FFT round trip).

    Example:
        >>> x = torch.arange(16, dtype=torch.float64) * (2 * math.pi / 16)
        >>> u = torch.sin(3 * x)[None, None]
        >>> du = SpectralDerivative((1,))(u)
        >>> torch.allclose(du, 3 * torch.cos(3 * x)[None, None])
        True
    """

    def __init__(self, derivative: int | Sequence[int], length: float | Sequence[float] = _TWO_PI) -> None:
        super().__init__()
        self.derivative = _check_orders(derivative)
        self.ndim = len(self.derivative)
        self.length = _as_lengths(length, self.ndim)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return spectral_derivative(u, self.derivative, self.length)

    def extra_repr(self) -> str:
        return f"derivative={self.derivative}, length={self.length}"


# --------------------------------------------------------------------------- Laplacian and Poisson


def spectral_laplacian(u: torch.Tensor, ndim: int, length: float | Sequence[float] = _TWO_PI) -> torch.Tensor:
    """Spectral Laplacian ``sum_a d^2 u / dx_a^2`` (symbol ``-|k|^2``); see :class:`SpectralLaplacian`."""
    check_ndim(ndim)
    _check_real_field(u, ndim, "u")
    lengths = _as_lengths(length, ndim)
    symbol = _laplacian_symbol(tuple(u.shape[-ndim:]), lengths, u.dtype, u.device, inverse=False)
    return _apply_symbol(u, ndim, symbol)


def spectral_poisson(f: torch.Tensor, ndim: int, length: float | Sequence[float] = _TWO_PI) -> torch.Tensor:
    """Zero-mean solution ``u`` of ``laplacian(u) = f - mean(f)`` (symbol ``-1/|k|^2``, ``0`` at ``k = 0``).

    See :class:`SpectralPoisson`.
    """
    check_ndim(ndim)
    _check_real_field(f, ndim, "f")
    lengths = _as_lengths(length, ndim)
    symbol = _laplacian_symbol(tuple(f.shape[-ndim:]), lengths, f.dtype, f.device, inverse=True)
    return _apply_symbol(f, ndim, symbol)


class SpectralLaplacian(nn.Module):
    """Fourier-spectral Laplacian ``sum_a d^2/dx_a^2`` on a periodic box.

    Multiplies the spectrum by ``-|k|^2 = -sum_a k_a^2``. The Nyquist modes are
    kept (second derivatives of ``cos(k_N x)`` are representable), so the result
    equals the sum of :class:`SpectralDerivative` with orders ``2`` on each axis.
    """

    def __init__(self, ndim: int, length: float | Sequence[float] = _TWO_PI) -> None:
        super().__init__()
        self.ndim = check_ndim(ndim)
        self.length = _as_lengths(length, self.ndim)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return spectral_laplacian(u, self.ndim, self.length)

    def extra_repr(self) -> str:
        return f"ndim={self.ndim}, length={self.length}"


class SpectralPoisson(nn.Module):
    """Inverse spectral Laplacian: the zero-mean periodic solution of ``laplacian(u) = f``.

    The spectrum of ``f`` is multiplied by ``-1/|k|^2``; the ``k = 0`` (mean)
    mode, where the Laplacian is not invertible, is set to zero. Hence:

    * the returned ``u`` always has zero mean (the zero-mean convention that fixes
      the free additive constant);
    * on a periodic box ``laplacian(u) = f`` is solvable only when ``mean(f) = 0``;
      for other ``f`` the result solves ``laplacian(u) = f - mean(f)`` (the mean is
      silently projected out, not reported);
    * ``SpectralLaplacian`` after ``SpectralPoisson`` returns ``f - mean(f)``;
      ``SpectralPoisson`` after ``SpectralLaplacian`` returns ``u - mean(u)``.
    """

    def __init__(self, ndim: int, length: float | Sequence[float] = _TWO_PI) -> None:
        super().__init__()
        self.ndim = check_ndim(ndim)
        self.length = _as_lengths(length, self.ndim)

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return spectral_poisson(f, self.ndim, self.length)

    def extra_repr(self) -> str:
        return f"ndim={self.ndim}, length={self.length}"


# --------------------------------------------------------------------------- dealiasing


def _as_fraction(fraction: float) -> Fraction:
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, Fraction)):
        raise PhysdiffError(f"fraction: expected a number in (0, 1], got {fraction!r}.")
    exact = Fraction(fraction).limit_denominator(10**6)
    if not 0 < exact <= 1:
        raise PhysdiffError(
            f"fraction: expected a number in (0, 1] (the share of the resolved band to keep), got {fraction!r}. "
            "Use 2/3 for Orszag's rule on quadratic nonlinearities."
        )
    return exact


def dealias_mask(
    shape: Sequence[int],
    fraction: float = 2.0 / 3.0,
    *,
    rfft: bool = True,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Boolean mask of the Fourier modes kept by the ``fraction`` (default 2/3) dealiasing rule.

    For spatial shape ``(n_0, ..., n_{d-1})`` a mode with integer indices ``q`` is
    kept iff on *every* axis ``|q_a| < fraction * k_max,a`` with ``k_max,a = n_a / 2``
    (the Nyquist index). With ``fraction = 2/3`` this is ``3 |q_a| < n_a``: all
    modes with ``|q_a| >= n_a / 3`` are zeroed. The tie ``|q_a| = n_a/3`` (only when
    ``3`` divides ``n_a``) is removed because a product of two fields with
    ``|q| <= K`` has modes up to ``2K``, which alias onto ``2K - n``; that lands
    on a kept mode unless ``n > 3K``. The comparison uses exact rational arithmetic.

    Args:
        shape: spatial shape (without batch and channel axes), 1 to 3 entries.
        fraction: kept share of the band, in ``(0, 1]``.
        rfft: mask for the ``rfftn`` half spectrum (last axis ``n//2 + 1``) if True,
            for the full ``fftn`` spectrum otherwise.

    Returns:
        A bool tensor of the spectrum's shape, broadcastable against ``(batch, channels, ...)`` spectra.
    """
    try:
        shape = tuple(shape)
    except TypeError as exc:
        raise PhysdiffError(f"shape: expected a tuple of 1 to 3 positive ints, got {shape!r}.") from exc
    check_ndim(len(shape))
    for n in shape:
        _check_size(n, "shape entry")
    frac = _as_fraction(fraction)
    ndim = len(shape)
    mask = torch.ones((), dtype=torch.bool)
    for a, n in enumerate(shape):
        q = _indices(n, rfft=rfft and a == ndim - 1).abs().to(torch.int64)
        # |q| < frac * n / 2   <=>   2 |q| den < num n   (exact integers)
        keep = 2 * q * frac.denominator < frac.numerator * n
        view = [1] * ndim
        view[a] = keep.numel()
        mask = mask & keep.reshape(view)
    full = list(shape[:-1]) + [shape[-1] // 2 + 1 if rfft else shape[-1]]
    return mask.expand(full).contiguous().to(device=device)


def dealias(u: torch.Tensor, ndim: int, fraction: float = 2.0 / 3.0) -> torch.Tensor:
    """Zero the modes outside :func:`dealias_mask` (functional form of :class:`Dealias`)."""
    check_ndim(ndim)
    _check_real_field(u, ndim, "u")
    shape = tuple(u.shape[-ndim:])
    frac = _as_fraction(fraction)
    mask = _cached(
        ("dealias", shape, frac, u.dtype, str(u.device)),
        lambda: dealias_mask(shape, frac, device=u.device).to(u.dtype),
    )
    return _apply_symbol(u, ndim, mask)


class Dealias(nn.Module):
    """Spectral low-pass projection of the 2/3 rule (or any ``fraction``), per axis.

    ``Dealias(ndim)(u)`` keeps the modes with ``|q_a| < fraction * n_a / 2`` on every
    axis (see :func:`dealias_mask`) and zeroes the rest. For a quadratic term,
    ``Dealias(ndim)(Dealias(ndim)(u) * Dealias(ndim)(v))`` equals the kept modes of
    the exact product of the dealiased ``u`` and ``v`` (no aliasing error).
    """

    def __init__(self, ndim: int, fraction: float = 2.0 / 3.0) -> None:
        super().__init__()
        self.ndim = check_ndim(ndim)
        self.fraction = _as_fraction(fraction)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        return dealias(u, self.ndim, self.fraction)

    def extra_repr(self) -> str:
        return f"ndim={self.ndim}, fraction={self.fraction}"
