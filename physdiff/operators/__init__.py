"""Spatial operators: exact finite-difference stencils, moment matrices, spectral and spherical operators.

Depends only on ``physdiff.core`` (and sympy at stencil-construction time).
"""

__all__: list[str] = []

# --- finite differences: stencils, boundaries, operator algebra ---
from ._algebra import Operator as Operator
from ._boundary import Dirichlet as Dirichlet
from ._boundary import Neumann as Neumann
from ._boundary import OneSided as OneSided
from ._boundary import Periodic as Periodic
from ._finite_difference import FiniteDifference as FiniteDifference
from ._finite_difference import OneSidedDerivative as OneSidedDerivative
from ._finite_difference import StencilOperator as StencilOperator
from ._sparse_kernel import SparseKernel as SparseKernel
from ._stencil import Stencil as Stencil
from ._vector_calculus import Biharmonic as Biharmonic
from ._vector_calculus import Divergence as Divergence
from ._vector_calculus import Gradient as Gradient
from ._vector_calculus import Laplacian as Laplacian

__all__ += [
    "Biharmonic", "Dirichlet", "Divergence", "FiniteDifference", "Gradient", "Laplacian", "Neumann",
    "OneSided", "OneSidedDerivative", "Operator", "Periodic", "SparseKernel", "Stencil", "StencilOperator",
]

# --- moment matrices and moment-constrained convolutions ---
from ._moments import DerivativeMatch as DerivativeMatch
from ._moments import derivative_kernel as derivative_kernel
from ._moments import identify_derivative as identify_derivative
from ._moments import inverse_moment_matrix as inverse_moment_matrix
from ._moments import kernel_to_moments as kernel_to_moments
from ._moments import kernel_to_moments_exact as kernel_to_moments_exact
from ._moments import moment_loss as moment_loss
from ._moments import moment_mask as moment_mask
from ._moments import moment_matrix as moment_matrix
from ._moments import moments_to_kernel as moments_to_kernel
from ._moments import moments_to_kernel_exact as moments_to_kernel_exact
from ._moments import one_hot_moments as one_hot_moments
from ._moment_conv import MomentConv as MomentConv

__all__ += [
    "DerivativeMatch",
    "derivative_kernel",
    "identify_derivative",
    "inverse_moment_matrix",
    "kernel_to_moments",
    "kernel_to_moments_exact",
    "moment_loss",
    "moment_mask",
    "moment_matrix",
    "moments_to_kernel",
    "moments_to_kernel_exact",
    "one_hot_moments",
    "MomentConv",
]

# --- spectral operators on periodic boxes ---
from ._fourier_layer import SpectralConv as SpectralConv
from ._h1_loss import H1Loss as H1Loss
from ._h1_loss import NeuralOperatorH1Loss as NeuralOperatorH1Loss
from ._h1_loss import SobolevLoss as SobolevLoss
from ._h1_loss import h1_loss as h1_loss
from ._h1_loss import neuraloperator_h1_loss as neuraloperator_h1_loss
from ._h1_loss import sobolev_loss as sobolev_loss
from ._spectral import Dealias as Dealias
from ._spectral import SpectralDerivative as SpectralDerivative
from ._spectral import SpectralLaplacian as SpectralLaplacian
from ._spectral import SpectralPoisson as SpectralPoisson
from ._spectral import dealias as dealias
from ._spectral import dealias_mask as dealias_mask
from ._spectral import spectral_derivative as spectral_derivative
from ._spectral import spectral_laplacian as spectral_laplacian
from ._spectral import spectral_poisson as spectral_poisson
from ._spectral import wavenumbers as wavenumbers

__all__ += [
    "Dealias", "H1Loss", "NeuralOperatorH1Loss", "SobolevLoss", "SpectralConv", "SpectralDerivative", "SpectralLaplacian",
    "SpectralPoisson", "dealias", "dealias_mask", "h1_loss", "neuraloperator_h1_loss", "sobolev_loss", "spectral_derivative",
    "spectral_laplacian", "spectral_poisson", "wavenumbers",
]

# --- sphere (torch-harmonics) ---
from ._sphere import SphereLaplacian as SphereLaplacian
from ._sphere import SpherePoisson as SpherePoisson
from ._sphere import SphericalConv as SphericalConv
from ._sphere import sphere_coordinates as sphere_coordinates

__all__ += ["SphereLaplacian", "SpherePoisson", "SphericalConv", "sphere_coordinates"]

# --- flow warping (semi-Lagrangian advection step) ---
from ._warp import warp as warp

__all__ += ["warp"]
