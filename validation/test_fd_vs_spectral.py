"""Finite differences against the spectral operators on band-limited fields, in 1D, 2D and 3D.

On a trigonometric polynomial the spectral derivative is exact to round-off, so the difference
between ``FiniteDifference``/``Laplacian`` and ``SpectralDerivative``/``SpectralLaplacian`` is
the stencil's error alone. Two studies: (1) the order of that difference on random band-limited
fields over four grids, for accuracy 2 to 8, up to 128^2 and 64^3; (2) the resolution each
stencil needs, as points per wavelength (PPW) for a given relative error, measured on single
modes on 256 points and checked against the stencil's Fourier symbol (its "modified
wavenumber") ``sigma(theta) = sum_s w_s exp(i s theta)``, ``theta = k h``.
"""

from __future__ import annotations

import math

import pytest
import torch

from physdiff.operators import FiniteDifference, Laplacian, SpectralDerivative, SpectralLaplacian, Stencil
from physdiff.testing import ConvergenceStudy, assert_order

MODES = 4  # wave numbers up to 4 per axis


def band_limited_field(n: int, ndim: int, seed: int = 0) -> torch.Tensor:
    """``sum_q a_q cos(q.x) + b_q sin(q.x)`` over ``0 <= q_a <= MODES`` on ``[0, 2 pi)^ndim``, ``(1, 1, *n)``."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.arange(n, dtype=torch.float64) * (2 * math.pi / n)
    axes = torch.meshgrid(*([x] * ndim), indexing="ij")
    field = torch.zeros((n,) * ndim, dtype=torch.float64)
    for q in torch.cartesian_prod(*[torch.arange(-MODES, MODES + 1)] * ndim).reshape(-1, ndim).tolist():
        phase = sum(qa * xa for qa, xa in zip(q, axes))
        a, b = torch.randn(2, generator=gen, dtype=torch.float64)
        field += a * torch.cos(phase) + b * torch.sin(phase)
    return field[None, None]


CASES = [(1, (24, 32, 64, 128)), (2, (24, 32, 64, 128)), (3, (24, 32, 48, 64))]


@pytest.mark.parametrize("ndim, sizes", CASES, ids=["1D", "2D", "3D"])
@pytest.mark.parametrize("accuracy", [2, 4, 6, 8])
def test_finite_differences_converge_to_the_spectral_operators(ndim, sizes, accuracy, figures):
    derivative = (1,) + (0,) * (ndim - 1)
    hs, lap_errors, d1_errors = [], [], []
    for n in sizes:
        u, h = band_limited_field(n, ndim), 2 * math.pi / n
        exact_lap, exact_d1 = SpectralLaplacian(ndim)(u), SpectralDerivative(derivative)(u)
        lap = Laplacian(ndim, h, accuracy)(u)
        d1 = FiniteDifference(derivative, h, accuracy)(u)
        hs.append(h)
        lap_errors.append(((lap - exact_lap).abs().max() / exact_lap.abs().max()).item())
        d1_errors.append(((d1 - exact_d1).abs().max() / exact_d1.abs().max()).item())
    lap_study, d1_study = ConvergenceStudy(tuple(hs), tuple(lap_errors)), ConvergenceStudy(tuple(hs), tuple(d1_errors))
    figures(f"{ndim}D, accuracy {accuracy}, N = {sizes}, modes <= {MODES}: Laplacian {figures.sci(lap_errors)} "
            f"(order {lap_study.order:.2f}); d/dx_0 {figures.sci(d1_errors)} (order {d1_study.order:.2f})")
    # The finest accuracy-8 errors are ~1e-11: still above round-off, so the slope is clean.
    assert_order(lap_study, accuracy, tol=0.3)
    assert_order(d1_study, accuracy, tol=0.3)


def symbol_error(derivative: int, accuracy: int, theta: torch.Tensor) -> torch.Tensor:
    """``|sigma(theta) / (i theta)^d - 1|``: the stencil's relative error on ``exp(i theta j)``."""
    stencil = Stencil.central(derivative, accuracy)
    sigma = sum(w * torch.exp(1j * s * theta) for s, w in zip(stencil.integer_offsets(), stencil.float_weights()))
    return (sigma / (1j * theta) ** derivative - 1).abs()


@pytest.mark.parametrize("derivative", [1, 2])
def test_points_per_wavelength_needed_for_a_given_accuracy(derivative, figures):
    n = 256
    h = 2 * math.pi / n
    x = torch.arange(n, dtype=torch.float64) * h
    q = torch.arange(1, n // 2, dtype=torch.float64)  # wave numbers 1 .. 127: PPW = n / q from 256 to 2.02
    modes = torch.cos(q[:, None] * x)[:, None]  # (127, 1, n): one mode per batch entry
    exact = (q[:, None] ** derivative) * (torch.cos if derivative == 2 else torch.sin)(q[:, None] * x)
    exact = -exact[:, None]  # d/dx cos = -q sin, d2/dx2 cos = -q^2 cos
    theta = torch.linspace(1e-4, math.pi, 200001, dtype=torch.float64)  # fine grid for the thresholds
    thresholds, rows = {}, []
    for accuracy in (2, 4, 6, 8):
        result = FiniteDifference((derivative,), h, accuracy)(modes)
        measured = (result - exact).abs().amax(-1)[:, 0] / q**derivative
        # The stencil acts on every mode exactly as its symbol says (to round-off, ~1e-12 / (q h)^d).
        assert torch.allclose(measured, symbol_error(derivative, accuracy, q * h), rtol=1e-6, atol=1e-10), accuracy
        error = symbol_error(derivative, accuracy, theta)
        # PPW = 2 pi / theta at the largest theta below which the error stays <= tol
        thresholds[accuracy] = {tol: 2 * math.pi / theta[: int((error > tol).nonzero()[0])][-1].item()
                                for tol in (1e-2, 1e-4, 1e-6)}
        rows.append(f"accuracy {accuracy}: " + ", ".join(f"{tol:.0e}: {v:.1f}" for tol, v in thresholds[accuracy].items()))
    figures.table(f"d^{derivative}/dx^{derivative}: points per wavelength for a relative error <= 1e-2, 1e-4, 1e-6", rows)
    for tol in (1e-2, 1e-4, 1e-6):
        values = [thresholds[a][tol] for a in (2, 4, 6, 8)]
        assert values == sorted(values, reverse=True) and values[0] > 1.5 * values[-1], tol
