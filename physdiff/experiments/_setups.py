"""The five datasets of the PIMRL benchmark, at a scale a 2-core CPU trains in minutes.

Each :class:`ExperimentSetup` says how the data are made (PDE, grid, solver, sampling, burst
layout, trajectory counts), the hyperparameters of every compared learner, and the training
budget. The protocol shared by all of them is in ``docs/results.md``; what was reduced with
respect to the paper is stated per setup in :attr:`ExperimentSetup.reduced`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from ..core import PhysdiffError
from ..data import BurstSpec
from ..integrators import RK4
from ..solvers import PDE, Burgers, FitzHughNagumo, GrayScott, KdV, NativeScheme


@dataclass(frozen=True)
class ExperimentSetup:
    """One dataset of the comparison and how every learner is trained on it.

    Data: ``n_train + n_val`` training-file trajectories and ``n_test`` held-out ones, each
    ``frames`` frames saved every ``dt`` (the micro interval ``delta tau``; the solver takes
    ``save_every`` steps of ``dt / save_every`` with ``integrator``). The learners may see the
    bursts (``burst``: runs of ``burst_length`` frames at ``dt``) and the macro frames every
    ``k = burst.macro_every`` frames (``Dt = k dt``); every learner predicts at ``Dt``.

    Attributes:
        name, title: identifier and table title.
        build_pde: the reference PDE for the grid ``shape``.
        shape, dt, save_every, integrator, frames, burst, n_train, n_val, n_test: the data (see above).
        burn_in: solver steps before the first stored frame (skips the initial transient).
        ic_options: keyword arguments of the PDE's ``initial_condition``.
        seed: first initial-condition seed (trajectory ``i`` uses ``seed + i``; the test file ``seed + 1000 + i``).
        context_frames: true frames every learner gets before predicting.
        horizon: macro steps unrolled in the training loss.
        steps: maximum optimiser steps (the budget) of each learner's training on the macro
            frames. Training stops earlier once the validation RMSE has not improved for
            ``patience`` validations, one every ``validate_every`` steps; the best validated
            weights are kept.
        micro_steps, micro_lr, micro_validate_every, micro_patience: the same for the
            physics-encoded PeRCNN trained on its own: PIMRL's micro pretraining on the bursts
            and the PeRCNN arm on the macro frames (one budget for both, so the baseline gets
            what PIMRL's micro module gets). Its few Pi-block weights start near zero and their
            product form learns slowly: measured on 3D Gray-Scott's validation bursts, 600
            steps left the micro module 20x above the exact model's error with its
            diffusivities drifting away from the truth (and its rollouts diverging), while 4000
            steps at ``micro_lr = 1e-2`` reached a validation rollout nRMSE of 0.026
            (docs/results.md, "Micro pretraining"). ``micro_lr`` None = ``lr``. The patience is
            long (16 validations, 800 steps) because these models sit on plateaus: on 2D Burgers
            the validation RMSE stayed flat for the first ~400-650 steps before it fell 10x, and
            a patience of 8 stopped the micro pretraining there, untrained.
        batch_size, lr: training batch and Adam learning rate (cosine decay to 10 %).
        macro_schedule: ``"cosine"`` (the above: cosine decay over ``steps``, early stopping with
            ``patience``) or ``"plateau"`` for the learners trained on the macro frames: constant
            ``lr`` until ``patience`` validations bring no validation RMSE 1 % below the best, then
            x0.2, down to 1 % of ``lr``; ``patience`` such validations at 1 % end the run
            (:class:`~physdiff.training.ScheduleConfig`, "converged"), ``steps`` is only a cap.
            The PeRCNNs trained on their own follow ``micro_schedule`` (the same choice, with the
            ``micro_*`` validation interval and patience).
        percnn: keyword arguments of :class:`~physdiff.learners.PeRCNN` (besides channels, ndim, dt, spacing).
        finetune_micro: whether PIMRL's macro training also updates the pretrained micro module (the
            paper fine-tunes the whole model; False keeps the burst-pretrained PeRCNN frozen, because
            fine-tuning it made its long rollouts blow up on 3D Gray-Scott).
        percnn_substeps: integrator steps of every PeRCNN (PIMRL's micro module included) per data
            interval ``dt`` (its step is ``dt / percnn_substeps``; >1 where ``dt`` is beyond the
            stability limit of the integrator on the known term, e.g. KdV's dispersion).
        convlstm, fno, macro: keyword arguments of ConvLSTM, FNO and PIMRL's ConvLSTMAutoencoder.
        period: PIMRL's message-passing period ``N`` (macro steps).
        reduced: what differs from the paper's setting.
    """

    name: str
    title: str
    build_pde: Callable[[], PDE]
    shape: tuple[int, ...]
    dt: float
    save_every: int
    frames: int
    burst: BurstSpec
    integrator: type = RK4
    burn_in: int = 0
    ic_options: dict[str, Any] = field(default_factory=dict)
    n_train: int = 2
    n_val: int = 1
    n_test: int = 2
    seed: int = 0
    context_frames: int = 2
    horizon: int = 4
    steps: int = 400
    micro_steps: int = 4000
    micro_lr: float | None = 1e-2
    micro_validate_every: int = 50
    micro_patience: int = 16
    validate_every: int = 20
    patience: int = 5
    batch_size: int = 4
    lr: float = 2e-3
    macro_schedule: str = "cosine"
    micro_schedule: str = "cosine"
    percnn: dict[str, Any] = field(default_factory=dict)
    percnn_substeps: int = 1
    finetune_micro: bool = False
    convlstm: dict[str, Any] = field(default_factory=lambda: {"hidden_channels": (16, 16)})
    fno: dict[str, Any] = field(default_factory=dict)
    macro: dict[str, Any] = field(default_factory=lambda: {"latent_channels": 16, "hidden_channels": (16,)})
    period: int = 2
    reduced: str = ""

    def __post_init__(self) -> None:
        where = f"ExperimentSetup({self.name!r})"
        for name in ("macro_schedule", "micro_schedule"):
            if getattr(self, name) not in ("cosine", "plateau"):
                raise PhysdiffError(f"{where}: {name}: expected 'cosine' or 'plateau', got {getattr(self, name)!r}.")
        if self.burst.burst_length - 1 < self.burst.macro_every:
            raise PhysdiffError(
                f"{where}: bursts of {self.burst.burst_length} frames hold {self.burst.burst_length - 1} micro steps, "
                f"fewer than the k = {self.burst.macro_every} micro steps of one macro step, so PIMRL's micro module "
                f"could not be pretrained over a whole macro step; use burst_length >= {self.burst.macro_every + 1}."
            )
        if (self.frames - 1) % self.burst.macro_every:
            raise PhysdiffError(
                f"{where}: the macro stride k = {self.burst.macro_every} does not divide the {self.frames - 1} micro "
                f"intervals of a trajectory; use frames = {self.burst.macro_every} * n + 1."
            )
        macro_frames = (self.frames - 1) // self.burst.macro_every + 1
        if macro_frames < self.context_frames + self.horizon + 1:
            raise PhysdiffError(
                f"{where}: {macro_frames} macro frames cannot hold a training window of {self.context_frames} "
                f"context + {self.horizon} horizon frames and leave a frame to predict; use longer trajectories."
            )

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def k(self) -> int:
        """Micro steps per macro step."""
        return self.burst.macro_every

    @property
    def macro_dt(self) -> float:
        return self.k * self.dt

    def scaled(self, factor: float, *, micro_factor: float | None = None) -> "ExperimentSetup":
        """The same setup with ``factor`` times the training steps (at least 1 each), e.g. for a smoke test.

        ``micro_factor`` (default ``factor``) scales the PeRCNNs' own budget (``micro_steps``)
        separately from the macro-frame learners' (``steps``).
        """
        micro_factor = factor if micro_factor is None else micro_factor
        return replace(self, steps=max(1, round(self.steps * factor)),
                       micro_steps=max(1, round(self.micro_steps * micro_factor)))

    def until_converged(self, cap_factor: float, *, micro: bool = False) -> "ExperimentSetup":
        """The macro-frame learners trained on the ``plateau`` schedule until their validation RMSE
        stops improving, with a cap of ``cap_factor`` times ``steps``; ``micro=True``: the PeRCNNs
        trained on their own too (cap ``cap_factor`` times ``micro_steps``), else their budget is unchanged."""
        setup = replace(self.scaled(cap_factor, micro_factor=cap_factor if micro else 1.0), macro_schedule="plateau")
        return replace(setup, micro_schedule="plateau") if micro else setup


#: Xavier gain of the PeRCNNs' Pi-block weights. The Pi-block multiplies its branches, so at
#: PeRCNN's own 0.02 the product term and every gradient through it start ~gain^(branches-1)
#: small: a saddle. Measured on validation data (benchmarks/pimrl_micro_pretraining.py, 4000
#: steps at lr 1e-2, burst RMSE of the micro pretraining): 2D Burgers seed 1 stayed flat at
#: 6.8e-3 until early stopping at 850 steps with 0.02, and reached 3.0e-4 with 0.1 (seeds 0 and 2
#: ended at 5.3e-3 and 5.0e-3 with 0.02); 2D Gray-Scott seed 0 settled at 2.6e-3 with wrong
#: diffusivities (1.3e-5 and 2.0e-6 for 2e-5 and 5e-6) with 0.02, and reached 3.7e-4 (1.7e-5,
#: 4.7e-6) with 0.1; 2D FitzHugh-Nagumo seed 0, which learned with 0.02 (3.2e-5), reached 2.7e-5
#: with 0.1. See the results page, section "Micro pretraining".
PI_INIT_GAIN = 0.1


def _fno_modes(shape: tuple[int, ...], modes: int) -> dict[str, Any]:
    return {"n_modes": (modes,) * len(shape), "hidden_channels": 16, "n_layers": 4}


def gray_scott_3d(grid: int = 24) -> ExperimentSetup:
    """3D Gray-Scott, PeRCNN/PIMRL parameters (Du 0.2, Dv 0.1, F 0.025, k 0.055, dx = 100/48), ``grid^3`` points."""
    shape = (grid,) * 3
    return ExperimentSetup(
        name="gray-scott-3d", title="3D Gray-Scott",
        build_pde=lambda: GrayScott.percnn_3d(), shape=shape, dt=0.5, save_every=1, frames=241, burn_in=200,
        ic_options={"seeds": 8},
        burst=BurstSpec(burst_length=6, burst_every=40, macro_every=5),
        percnn={"hidden": 4, "coefficient_bound": [0.4, 0.2], "init_gain": PI_INIT_GAIN},
        convlstm={"hidden_channels": (12, 12)}, fno={"n_modes": (min(6, grid // 4),) * 3, "hidden_channels": 12, "n_layers": 4},
        reduced=(f"grid {grid}^3 on [0, {grid * 100 / 48:.0f})^3 (paper 48^3 on [0, 100)^3, same dx); "
                 "8 initial seed cubes, the first 100 time units skipped; 3 + 2 trajectories of 120 time units; "
                 "at most 400 Adam steps per model on the macro frames, 4000 for the PeRCNNs (early stopping)"),
    )


def gray_scott_2d(grid: int = 32) -> ExperimentSetup:
    """2D Gray-Scott, PeRCNN parameters (Du 2e-5, Dv 5e-6, F 0.04, k 0.06, dx = 0.01), ``grid^2`` points.

    Scales (checked on simulated fields): the spots and rings have a diameter of ~0.1 (10 cells)
    and a rim ~0.05 wide, so the default 32^2 grid (0.32 wide) holds about three pattern units per
    axis; the initial seed squares (half-width ``grid // 10``) fill it with patterns by ``t ~ 200``.
    64^2 shows the same structures with more empty space at 4x the cost. PeRCNN gets the setting
    of its own 2D Gray-Scott script: the known Laplacian (5-point, 4th order) with coefficients
    bounded by twice the true diffusivities, a 1x1 Pi-block of 8 channels (3 branches), forward
    Euler at its ``dt = 0.5`` with ``k = 10`` substeps per macro step; except the Pi-block's
    initial gain, 0.1 instead of the script's 0.02 (see :data:`PI_INIT_GAIN`).
    """
    shape = (grid,) * 2
    return ExperimentSetup(
        name="gray-scott-2d", title="2D Gray-Scott",
        build_pde=lambda: GrayScott.percnn_2d(), shape=shape, dt=0.5, save_every=1, frames=401, burn_in=100,
        burst=BurstSpec(burst_length=11, burst_every=100, macro_every=10),
        percnn={"hidden": 8, "coefficient_bound": [4e-5, 1e-5], "init_gain": PI_INIT_GAIN},
        fno=_fno_modes(shape, grid // 4),
        reduced=f"grid {grid}^2 (paper 100^2), same dx; 3 + 2 trajectories of 200 time units",
    )


def burgers_2d(grid: int = 32) -> ExperimentSetup:
    """2D viscous Burgers, nu = 0.01 on [0, 1)^2 (the PIMRL group's generator), ``grid^2`` points."""
    shape = (grid,) * 2
    return ExperimentSetup(
        name="burgers-2d", title="2D Burgers",
        build_pde=lambda: Burgers(2, nu=0.01, spacing=1.0 / grid), shape=shape, dt=0.002, save_every=2,
        frames=201, burst=BurstSpec(burst_length=6, burst_every=50, macro_every=5),
        percnn={"hidden": 16, "kernel_size": 5, "coefficient_bound": [0.02, 0.02], "init_gain": PI_INIT_GAIN},
        fno=_fno_modes(shape, grid // 4),
        reduced=f"grid {grid}^2 (generator 50^2); 3 + 2 trajectories of 0.4 time units",
    )


def fitzhugh_nagumo_2d(grid: int = 32) -> ExperimentSetup:
    """2D FitzHugh-Nagumo with PDEBench's parameters on [-1, 1)^2, ``grid^2`` points."""
    shape = (grid,) * 2
    return ExperimentSetup(
        name="fitzhugh-nagumo-2d", title="2D FitzHugh-Nagumo",
        build_pde=lambda: FitzHughNagumo(2, spacing=2.0 / grid), shape=shape, dt=0.01, save_every=1,
        frames=301, burst=BurstSpec(burst_length=6, burst_every=50, macro_every=5),
        percnn={"hidden": 8, "coefficient_bound": [2e-3, 1e-2], "init_gain": PI_INIT_GAIN},
        fno=_fno_modes(shape, grid // 4),
        reduced=f"grid {grid}^2 (PDEBench 128^2); PIMRL's own FN parameters are unpublished",
    )


def kdv(points: int = 128) -> ExperimentSetup:
    """KdV ``u_t + 6 u u_x + u_xxx = 0`` on a periodic interval of length 32, ``points`` points (ETDRK4 data).

    Scales: the smooth initial data (5 sines of amplitude <= 0.5, modes 1-3) steepen into
    solitons of height up to ~1.8, i.e. speed ``c`` up to ~3.6 and width ``2 / sqrt(c)`` ~ 1. With
    128 points (dx = 0.25) a soliton spans ~4 points, and the data are resolved (energy above half
    the Nyquist wavenumber ~1e-6 of the total, against ~1e-3 with 64 points); in one macro step
    ``Dt = 0.1`` the fastest soliton moves ~1.4 grid points, inside a 3-point convolution's reach.
    PeRCNN's known term is the dispersion: a frozen second-order ``d^3/dx^3`` stencil (5 points)
    with a learnable coefficient; the advective ``u u_x`` is left to a 2-branch, 5-point
    Pi-block. RK4, not Euler (unstable on the imaginary eigenvalues of dispersion), with 4
    substeps per data interval: ``dt = 0.005``, ``dt * max|symbol| = 0.005 * 166 = 0.83 < 2.8``.
    """
    shape = (points,)
    return ExperimentSetup(
        name="kdv", title="KdV",
        build_pde=lambda: KdV(n=points, length=32.0), shape=shape, dt=0.02, save_every=2, frames=301,
        integrator=NativeScheme, burst=BurstSpec(burst_length=6, burst_every=50, macro_every=5),
        percnn={"hidden": 8, "n_branches": 2, "kernel_size": 5, "known_term": "third_derivative", "accuracy": 2,
                "integrator": "RK4", "init_gain": PI_INIT_GAIN},
        percnn_substeps=4, steps=1000, validate_every=25, patience=6,
        fno=_fno_modes(shape, points // 8),
        reduced=f"{points} points on [0, 32) (the paper's grid is unpublished); 3 + 2 trajectories of 6 time units",
    )


#: Every setup of the benchmark table, in the paper's order.
BENCHMARK_SETUPS: tuple[Callable[[], ExperimentSetup], ...] = (
    kdv, burgers_2d, fitzhugh_nagumo_2d, gray_scott_2d, gray_scott_3d,
)
