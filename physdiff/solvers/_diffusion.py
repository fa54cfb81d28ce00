"""The heat equation on a periodic box, and the seeded smooth random fields other PDEs start from."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from ..core import PhysdiffError, as_spacing, check_ndim
from ..operators import Laplacian, Stencil
from ._base import PDE, diffusion_stable_dt, generator, laplacian_symbol_max, scalar

Parameter = float | torch.Tensor


def check_shape(owner: str, shape: Sequence[int], ndim: int, batch: int = 1) -> tuple[int, ...]:
    """``shape`` as a tuple of ``ndim`` positive ints (and ``batch`` a positive int), else a
    :class:`PhysdiffError` naming ``owner``."""
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise PhysdiffError(f"{owner}: batch: expected a positive int, got {batch!r}.")
    shape = tuple(shape)
    if len(shape) != ndim or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in shape):
        raise PhysdiffError(
            f"{owner}: expected {ndim} positive grid sizes (one per spatial axis), got {shape!r}."
        )
    return shape


def random_fourier_field(
    batch: int, channels: int, shape: tuple[int, ...], *, modes: int, gen: torch.Generator, owner: str
) -> torch.Tensor:
    """Zero-mean random trigonometric polynomials, each scaled to ``max |W| = 1``; float64 on the CPU.

    ``W(x) = sum_m a_m cos(2 pi m.x / L) + b_m sin(2 pi m.x / L)`` over the integer wave
    vectors with ``0 < max_a |m_a| <= modes`` (``m = 0`` excluded: zero mean), with
    ``a_m, b_m ~ N(0, 1)`` drawn from ``gen``. Built as the inverse FFT of the random
    spectrum, so the field is exactly periodic and depends only on the grid *indices*
    (the same seed gives the same pattern on any box length). ``N_a >= 2 * modes + 1`` points
    per axis keep every retained mode strictly below the Nyquist frequency.
    """
    if isinstance(modes, bool) or not isinstance(modes, int) or modes < 1:
        raise PhysdiffError(f"{owner}.initial_condition: modes: expected a positive int, got {modes!r}.")
    if any(2 * modes + 1 > n for n in shape):
        raise PhysdiffError(
            f"{owner}.initial_condition: modes={modes} needs at least {2 * modes + 1} points per axis "
            f"(Nyquist), got shape {shape}. Use fewer modes or a finer grid."
        )
    band = 2 * modes + 1
    real = torch.randn((batch, channels, *(band,) * len(shape)), generator=gen, dtype=torch.float64)
    imag = torch.randn((batch, channels, *(band,) * len(shape)), generator=gen, dtype=torch.float64)
    spectrum = torch.zeros((batch, channels, *shape), dtype=torch.complex128)
    # Wave number m in -modes..modes sits at FFT index m mod N.
    index = [torch.arange(-modes, modes + 1) for _ in shape]
    wrapped = [i % n for i, n in zip(index, shape)]
    spectrum[(slice(None), slice(None), *torch.meshgrid(*wrapped, indexing="ij"))] = torch.complex(real, imag)
    spectrum[(slice(None), slice(None), *(0,) * len(shape))] = 0.0
    field = torch.fft.ifftn(spectrum, dim=tuple(range(2, 2 + len(shape)))).real
    peak = field.flatten(2).abs().amax(dim=2).clamp_min(1e-300)
    return field / peak.reshape(batch, channels, *(1,) * len(shape))


class Diffusion(PDE):
    """The heat equation ``u_t = nu lap u`` (one channel ``u``) on a periodic box.

    ``nu`` is the diffusivity (length^2 / time); ``spacing`` is in the same length unit.
    The Laplacian is the exact central stencil of order ``accuracy`` along each axis.

    Behaviour: every Fourier mode ``exp(i k.x)`` of the grid is an eigenvector of the
    discrete Laplacian, so it decays exactly as ``exp(-lambda t)`` with the *discrete*
    rate :meth:`decay_rate` (``discrete=True``); the continuous rate ``nu |k|^2`` is
    matched to ``O(h^accuracy)``. This is physdiff's closed-form validation case.

    Failure mode: explicit steps above :meth:`stable_dt` (``r / (nu |lambda|_max)``,
    ``r`` = 2 for Euler, 2.79 for RK4) amplify the grid-scale mode; :func:`simulate` refuses them.

    Args:
        ndim: 1, 2 or 3.
        nu: diffusivity, a float or a tensor (differentiable).
        spacing: grid spacing, one float or one per axis.
        accuracy: order of the Laplacian stencil (even).
    """

    channel_names = ("u",)

    def __init__(
        self, ndim: int = 2, *, nu: Parameter = 1.0, spacing: float | Sequence[float] = 1.0, accuracy: int = 2
    ) -> None:
        super().__init__(check_ndim(ndim))
        self.nu = nu
        self.spacing = as_spacing(spacing, ndim)
        self.accuracy = accuracy
        self.laplacian = Laplacian(ndim, self.spacing, accuracy, "periodic")

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        self.check_state(state)
        return self.nu * self.laplacian(state)

    def stable_dt(self, integrator: type | None = None) -> float | None:
        return diffusion_stable_dt(scalar(self.nu), laplacian_symbol_max(self.accuracy, self.spacing), integrator)

    def decay_rate(self, wavenumber: Sequence[float], *, discrete: bool = True) -> float:
        """Decay rate ``lambda`` of the mode ``exp(i k.x)``: it evolves as ``exp(-lambda t)``.

        Args:
            wavenumber: ``k`` per axis, in radians per length unit (``2 pi m / L`` on a box of length ``L``).
            discrete: the exact rate of the semi-discrete system,
                ``-nu sum_a sigma(k_a h_a) / h_a^2`` with the stencil symbol
                ``sigma(theta) = w_0 + 2 sum_{s>0} w_s cos(s theta)``; else the continuous ``nu |k|^2``.
        """
        k = tuple(float(x) for x in wavenumber)
        if len(k) != self.ndim:
            raise PhysdiffError(f"Diffusion.decay_rate: expected {self.ndim} wavenumbers (one per axis), got {k}.")
        if not discrete:
            return scalar(self.nu) * sum(x * x for x in k)
        stencil = Stencil.central(2, self.accuracy)
        offsets, weights = stencil.integer_offsets(), stencil.float_weights()
        symbol = sum(
            sum(w * math.cos(s * x * h) for s, w in zip(offsets, weights)) / h**2 for x, h in zip(k, self.spacing)
        )
        return -scalar(self.nu) * symbol

    def initial_condition(
        self, batch: int, shape: tuple[int, ...], *, seed: int = 0, modes: int = 4,
        dtype: torch.dtype = torch.float32, device: torch.device | str | None = None,
    ) -> torch.Tensor:
        """A random trigonometric polynomial with wave numbers up to ``modes`` per axis, ``max |u| = 1``."""
        shape = check_shape("Diffusion.initial_condition", shape, self.ndim, batch)
        field = random_fourier_field(batch, 1, shape, modes=modes, gen=generator(seed), owner="Diffusion")
        return field.to(dtype=dtype, device=device)

    def config(self) -> dict[str, Any]:
        return {
            "pde": "diffusion", "ndim": self.ndim, "nu": scalar(self.nu),
            "spacing": list(self.spacing), "accuracy": self.accuracy,
        }
