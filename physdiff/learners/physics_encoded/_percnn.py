"""PeRCNN: a recurrent network whose cell is one explicit integrator step of a learnable PDE."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from ... import integrators as _integrators
from ...core import PhysdiffError, as_spacing
from ...integrators import EmbeddedRK, ExplicitRK, PiBlock
from ...operators import FiniteDifference, Laplacian
from .._base import SequenceLearner, State
from ._upscaler import Upscaler, check_factor, interpolation_target

KNOWN_TERMS = ("laplacian", "third_derivative", None)


def integrator_names() -> tuple[str, ...]:
    """Names of the explicit fixed-step integrators of :mod:`physdiff.integrators` that PeRCNN accepts."""
    names = []
    for name in _integrators.__all__:
        obj = getattr(_integrators, name)
        if isinstance(obj, type) and issubclass(obj, ExplicitRK) and obj not in (ExplicitRK, EmbeddedRK):
            names.append(name)
    return tuple(sorted(names))


def _integrator_class(integrator: object, where: str) -> type:
    valid = integrator_names()
    name = integrator if isinstance(integrator, str) else getattr(integrator, "__name__", None)
    if name in valid and (isinstance(integrator, str) or getattr(_integrators, name) is integrator):
        return getattr(_integrators, name)
    raise PhysdiffError(
        f"{where}: integrator: expected one of {valid} (a class of physdiff.integrators or its name), "
        f"got {integrator!r}."
    )


def _per_channel(value: object, channels: int, name: str, where: str) -> list[float] | None:
    """None, one finite float or ``channels`` finite floats -> None or a list of ``channels`` floats."""
    if value is None:
        return None
    values = [value] * channels if isinstance(value, (int, float)) and not isinstance(value, bool) else value
    if isinstance(values, (str, bytes)):
        values = [values]
    try:
        out = [float(v) for v in values if not isinstance(v, bool)]
    except (TypeError, ValueError):
        out = []
    if len(out) != channels or len(out) != len(values) or not all(math.isfinite(v) for v in out):
        raise PhysdiffError(
            f"{where}: {name}: expected None, one finite number or {channels} (one per channel), got {value!r}."
        )
    return out


class _Rhs(nn.Module):
    """``F(u) = Pi(u) + c ⊙ K(u)`` (``K``: the frozen known operator); either part may be absent.

    ``c = bound ⊙ sigmoid(theta)`` with a bound (a non-persistent buffer: it comes from the
    configuration), else ``c = theta``.
    """

    def __init__(
        self, pi: PiBlock | None, known: nn.Module | None, theta: torch.Tensor | None,
        bound: torch.Tensor | None,
    ) -> None:
        super().__init__()
        self.pi, self.known = pi, known
        self.theta = None if theta is None else nn.Parameter(theta)
        self.register_buffer("bound", bound, persistent=False)

    @property
    def coefficient(self) -> torch.Tensor | None:
        if self.theta is None:
            return None
        return self.theta if self.bound is None else self.bound * torch.sigmoid(self.theta)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        out = None if self.pi is None else self.pi(u)
        if self.known is not None:
            c = self.coefficient.to(u.dtype).reshape((1, -1) + (1,) * (u.dim() - 2))
            known = c * self.known(u)
            out = known if out is None else out + known
        return out


class PeRCNN(SequenceLearner):
    """Physics-encoded recurrent CNN (Rao et al., Nature Machine Intelligence 2023).

    Each output interval is ``substeps`` steps of an explicit integrator (forward Euler by
    default, as in the paper) of size ``dt`` for the learnable PDE

        du/dt = F(u) = Pi(u) + c ⊙ K(u),     K = Lap (known_term="laplacian") or d^3/dx^3 ("third_derivative")
        Pi(u) = W_out( W_1 u ⊙ W_2 u ⊙ ... ⊙ W_n u )          (PiBlock, joint form)
        c     = bound ⊙ sigmoid(theta)   (coefficient_bound given)   or   c = theta

    ``Pi`` is :class:`physdiff.integrators.PiBlock` (without known term): a polynomial of
    degree ``n_branches`` in ``u`` (and its neighbours when ``kernel_size > 1``). The known
    term is a frozen periodic :class:`physdiff.operators.Laplacian` of order ``accuracy``
    (4 is PeRCNN's 5-point-per-axis stencil) with one learnable coefficient per channel
    (a diffusivity, in length^2 / time); the coefficient lives here rather than in the
    PiBlock so that it can have one bound per channel and exist without ``Pi``
    (``pi_block=False``: ``F = c ⊙ Lap u``, no Pi parameters). For dispersive 1D equations
    (KdV ``u_t = -6 u u_x - u_xxx``), ``known_term="third_derivative"`` is a frozen periodic
    central ``d^3/dx^3`` stencil of order ``accuracy`` (:class:`physdiff.operators.FiniteDifference`)
    with a learnable coefficient (length^3 / time, of either sign: use it unbounded); the
    advective term ``u u_x`` is left to a Pi-block with ``kernel_size >= 3`` and 2 branches.
    Forward Euler is unstable for any ``dt`` on a dispersive term (its eigenvalues are
    imaginary); use ``integrator="RK4"`` with ``dt |c| max|symbol(d^3/dx^3)| < 2.8``. The model works in the units
    of the PDE (``normalized_data = False``): ``dt`` and ``spacing`` are physical.

    With ``upscale_factor = f``, the model observes its initial condition on a coarse sensor
    grid, like PeRCNN: :meth:`forward` subsamples the last context frame with ``[::f]``
    per axis, maps it back with a learned :class:`Upscaler`, and integrates from there;
    :meth:`auxiliary_loss` is PeRCNN's IC loss ``MSE(upscaler(low), interpolant(low))``.
    Every call re-initialises from the subsampled last context frame, including calls that
    continue from a returned state (PeRCNN is memoryless; the state is always None).

    Failure modes: like any explicit scheme the rollout blows up when ``dt`` exceeds the
    stability limit of the learned operator (for the diffusion part about
    ``2 / (c * |lambda_max(Lap)|)`` with Euler); a bound on ``c`` keeps the known term
    inside it. Unbounded coefficients start at 0 by default, not 1: in PDE units a unit
    diffusivity is usually far outside the stable range.

    Args:
        channels: ``C``.
        ndim: spatial dimensions 1, 2 or 3.
        dt: integrator step (time units).
        spacing: grid spacing, one float or one per axis (length units).
        hidden: channels of each Pi branch.
        n_branches: factors of the product (polynomial degree).
        kernel_size: odd kernel size of the Pi branches (1 = pointwise polynomial).
        known_term: ``"laplacian"``, ``"third_derivative"`` (1D only) or None (no known term, no
            coefficient).
        accuracy: order of the known term's stencil.
        coefficient_bound: None (unbounded ``c``), one positive upper bound, or one per channel.
        coefficient_init: initial ``c`` (one float or one per channel); default ``bound / 2``
            when bounded, else 0.
        pi_block: False switches the unknown term off (``F = c ⊙ Lap u``).
        integrator: a fixed-step explicit integrator of :mod:`physdiff.integrators` or its
            name (see :func:`integrator_names`); ``"Euler"`` by default.
        substeps: integrator steps per output interval; ``time_step = dt * substeps``.
        init_gain: Xavier gain of the Pi weights (PeRCNN: 0.02).
        upscale_factor: None, or the coarse-grid subsampling factor (a power of two).
        upscaler_hidden: channels of the upscaler stages.

    Raises:
        PhysdiffError: invalid sizes, an unknown integrator or known term, neither a known
            term nor a Pi-block, bounds that are not positive, or an initial coefficient
            outside ``(0, bound)``.
    """

    normalized_data: ClassVar[bool] = False

    def __init__(
        self, channels: int, ndim: int = 2, *, dt: float, spacing: float | Sequence[float], hidden: int = 8,
        n_branches: int = 3, kernel_size: int = 1, known_term: str | None = "laplacian", accuracy: int = 4,
        coefficient_bound: float | Sequence[float] | None = None,
        coefficient_init: float | Sequence[float] | None = None, pi_block: bool = True,
        integrator: str | type = "Euler", substeps: int = 1, init_gain: float = 0.02,
        upscale_factor: int | None = None, upscaler_hidden: int = 8,
    ) -> None:
        where = "PeRCNN"
        if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not (math.isfinite(dt) and dt > 0):
            raise PhysdiffError(f"{where}: dt: expected a finite positive time step, got {dt!r}.")
        if isinstance(substeps, bool) or not isinstance(substeps, int) or substeps < 1:
            raise PhysdiffError(f"{where}: substeps: expected a positive int, got {substeps!r}.")
        super().__init__(channels, ndim, time_step=float(dt) * substeps)
        if known_term not in KNOWN_TERMS:
            raise PhysdiffError(f"{where}: known_term: expected one of {KNOWN_TERMS}, got {known_term!r}.")
        if not isinstance(pi_block, bool):
            raise PhysdiffError(f"{where}: pi_block: expected True or False, got {pi_block!r}.")
        if known_term is None and not pi_block:
            raise PhysdiffError(
                f"{where}: known_term=None with pi_block=False leaves nothing to learn (F = 0). "
                "Keep the Pi-block or the Laplacian."
            )
        for name, value in (("hidden", hidden), ("n_branches", n_branches), ("upscaler_hidden", upscaler_hidden)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise PhysdiffError(f"{where}: {name}: expected a positive int, got {value!r}.")
        if isinstance(kernel_size, bool) or not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
            raise PhysdiffError(f"{where}: kernel_size: expected a positive odd int, got {kernel_size!r}.")
        self.dt, self.substeps = float(dt), substeps
        self.spacing = as_spacing(spacing, ndim)
        self.hidden, self.n_branches, self.kernel_size = hidden, n_branches, kernel_size
        self.known_term, self.accuracy, self.pi_block, self.init_gain = known_term, accuracy, pi_block, init_gain
        self.integrator_class = _integrator_class(integrator, where)
        pi = None
        if pi_block:
            pi = PiBlock(channels, hidden, n_branches, kernel_size, ndim, init_gain=init_gain)
        laplacian = theta = bound = None
        self.coefficient_bound = self.coefficient_init = None
        if known_term == "laplacian":
            laplacian = Laplacian(ndim, self.spacing, accuracy, "periodic")
        elif known_term == "third_derivative":
            if ndim != 1:
                raise PhysdiffError(f"{where}: known_term='third_derivative' is the 1D d^3/dx^3 (dispersion, e.g. "
                                    f"KdV); got ndim={ndim}. Use known_term='laplacian' or None in {ndim}D.")
            laplacian = FiniteDifference((3,), self.spacing, accuracy, "periodic")
        if known_term is not None:
            theta, bound = self._initial_theta(coefficient_init, coefficient_bound, where)
        elif coefficient_init is not None or coefficient_bound is not None:
            raise PhysdiffError(f"{where}: coefficient_init/coefficient_bound need known_term='laplacian' or "
                                "'third_derivative' (they set the known term's coefficient); drop them or add one.")
        self.integrator = self.integrator_class(_Rhs(pi, laplacian, theta, bound))
        self.upscale_factor, self.upscaler_hidden = upscale_factor, upscaler_hidden
        self.upscaler = None
        if upscale_factor is not None:
            check_factor(upscale_factor, where)
            self.upscaler = Upscaler(channels, ndim, upscale_factor, upscaler_hidden)

    def _initial_theta(self, init: object, bound: object, where: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(theta, bound tensor or None)`` for the initial coefficient; records the validated config."""
        dtype = torch.get_default_dtype()
        bounds = _per_channel(bound, self.channels, "coefficient_bound", where)
        if bounds is not None and not all(b > 0 for b in bounds):
            raise PhysdiffError(f"{where}: coefficient_bound: expected positive upper bounds, got {bound!r}.")
        c0 = _per_channel(init, self.channels, "coefficient_init", where)
        self.coefficient_bound, self.coefficient_init = bounds, c0
        if bounds is None:
            return torch.tensor(c0 or [0.0] * self.channels, dtype=dtype), None
        if c0 is None:  # sigmoid(0) = 1/2: c = bound / 2
            return torch.zeros(self.channels, dtype=dtype), torch.tensor(bounds, dtype=dtype)
        p = torch.tensor(c0, dtype=torch.float64) / torch.tensor(bounds, dtype=torch.float64)
        if not bool(((p > 0) & (p < 1)).all()):
            raise PhysdiffError(
                f"{where}: coefficient_init: expected values strictly inside (0, bound) for the bounded form "
                f"c = bound * sigmoid(theta), got {c0} with bounds {bounds}."
            )
        return torch.logit(p).to(dtype), torch.tensor(bounds, dtype=dtype)

    # ----------------------------------------------------------------- parts
    @property
    def rhs(self) -> nn.Module:
        """The learnable right-hand side ``F`` (an ``nn.Module`` mapping ``(B, C, *space)`` to ``du/dt``)."""
        return self.integrator.rhs

    @property
    def pi(self) -> PiBlock | None:
        """The Pi-block (unknown terms), or None with ``pi_block=False``."""
        return self.integrator.rhs.pi

    @property
    def laplacian(self) -> nn.Module | None:
        """The frozen periodic Laplacian of the known term, or None (another known term or none)."""
        return self.integrator.rhs.known if self.known_term == "laplacian" else None

    @property
    def known_operator(self) -> nn.Module | None:
        """The frozen known operator ``K`` (Laplacian or ``d^3/dx^3``), or None without a known term."""
        return self.integrator.rhs.known

    @property
    def coefficient(self) -> torch.Tensor | None:
        """The per-channel coefficient ``c`` of the known term (shape ``(C,)``), or None."""
        return self.integrator.rhs.coefficient

    # ----------------------------------------------------------------- learner contract
    def step(self, u: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """``substeps`` integrator steps of ``dt`` from ``u`` ``(B, C, *space)``; the state stays None."""
        if not isinstance(u, torch.Tensor) or u.dim() != self.ndim + 2 or u.shape[1] != self.channels:
            got = tuple(u.shape) if isinstance(u, torch.Tensor) else type(u).__name__
            raise PhysdiffError(
                f"PeRCNN.step: expected a state (B, {self.channels}, *space) with {self.ndim} spatial axes, got {got}."
            )
        for _ in range(self.substeps):
            u = self.integrator(u, self.dt)
        return u, state

    def subsample(self, frame: torch.Tensor) -> torch.Tensor:
        """The coarse sensor grid: ``frame[..., ::f, ::f]`` (``f`` = ``upscale_factor``) of a full-resolution frame."""
        f = self.upscale_factor
        bad = [n for n in frame.shape[2:] if n % f]
        if bad:
            raise PhysdiffError(
                f"PeRCNN: upscale_factor={f} needs full-resolution sizes divisible by {f} (the upscaler maps "
                f"the [::{f}] samples back to the full grid), got spatial shape {tuple(frame.shape[2:])}."
            )
        return frame[(slice(None), slice(None), *(slice(None, None, f),) * self.ndim)]

    def forward(self, context: torch.Tensor, n_steps: int, **kwargs: Any) -> Any:
        """As :meth:`SequenceLearner.forward`; with an upscaler the rollout starts from
        ``upscaler(subsample(context[:, -1]))`` (see the class docstring)."""
        if self.upscaler is None:
            return super().forward(context, n_steps, **kwargs)
        context = self.check_frames(context)
        u0 = self.upscaler(self.subsample(context[:, -1]))
        return super().forward(u0, n_steps, **kwargs)

    def auxiliary_loss(self, context: torch.Tensor) -> torch.Tensor | None:
        """PeRCNN's IC loss ``MSE(upscaler(low), interpolation_target(low))`` on the last context frame, or None."""
        if self.upscaler is None:
            return None
        low = self.subsample(self.check_frames(context)[:, -1])
        return F.mse_loss(self.upscaler(low), interpolation_target(low, self.upscale_factor))

    def config(self) -> dict[str, Any]:
        return {
            "channels": self.channels, "ndim": self.ndim, "dt": self.dt, "spacing": list(self.spacing),
            "hidden": self.hidden, "n_branches": self.n_branches, "kernel_size": self.kernel_size,
            "known_term": self.known_term, "accuracy": self.accuracy,
            "coefficient_bound": self.coefficient_bound, "coefficient_init": self.coefficient_init,
            "pi_block": self.pi_block, "integrator": self.integrator_class.__name__, "substeps": self.substeps,
            "init_gain": self.init_gain, "upscale_factor": self.upscale_factor,
            "upscaler_hidden": self.upscaler_hidden,
        }

    def extra_repr(self) -> str:
        return (
            f"channels={self.channels}, ndim={self.ndim}, dt={self.dt}, substeps={self.substeps}, "
            f"integrator={self.integrator_class.__name__}, known_term={self.known_term!r}, "
            f"coefficient_bound={self.coefficient_bound}"
        )
