"""The only place where names typed by users become classes: PDEs, their presets, integrators, learners.

Adding a PDE to the command line is one :class:`PDEEntry` in ``PDES`` (plus its import)::

    PDEEntry("burgers", Burgers, presets=(
        Preset("percnn-2d", lambda shape: Burgers.percnn_2d(), grid=(100, 100),
               dt=2.5e-4, steps=2000, save_every=1, integrator="rk4"),
    )),

Everything else (``physdiff simulate``, ``regenerate``, the help text) reads this table.
Adding a learner to ``physdiff train`` is one line in ``LEARNERS`` (and, if some of its
constructor arguments follow from the data file, one in ``FILLED_FROM_DATA``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from physdiff.core import PhysdiffError
from physdiff.integrators import RK4, SSPRK3, BogackiShampine, DormandPrince, Euler, Heun, Midpoint, Ralston
from physdiff.learners import FNO, PIMRL, ConvLSTM, ConvLSTMAutoencoder, MoDeRNN, PeRCNN, PhyDNet, SequenceLearner
from physdiff.learners import ConvGRU, ConvRNN, MinConvExpLSTM, MinConvGRU, MinConvLSTM
from physdiff.learners import ARKMNet
from physdiff.learners import PhysicNet
from physdiff.solvers import (
    PDE,
    Burgers,
    FitzHughNagumo,
    GrayScott,
    KdV,
    LambdaOmega,
    NavierStokes2D,
    NativeScheme,
    ShallowWaterSphere,
)


#: Fixed-step integrator names, as stored in trajectory files (each is the method's tableau name,
#: or ``NAME`` for the PDE-specific :class:`NativeScheme`).
#: The embedded pairs run here as fixed-step methods of their higher order (``integrator(u, dt)``).
INTEGRATORS: Mapping[str, type] = {
    "euler": Euler,
    "midpoint": Midpoint,
    "heun": Heun,
    "ralston": Ralston,
    "ssprk3": SSPRK3,
    "rk4": RK4,
    "bogacki_shampine": BogackiShampine,
    "dormand_prince": DormandPrince,
    "native": NativeScheme,
}


@dataclass(frozen=True)
class Preset:
    """A named, published setting of one PDE and the run that goes with it.

    Attributes:
        name: e.g. ``"percnn-2d"``.
        build: ``build(shape)`` returns the PDE with the preset's parameters for a grid of
            ``shape`` points (PDEs whose spacing follows from the grid use it, e.g. ``L / N``).
        grid: default grid points per axis (its length is the number of spatial axes).
        dt, steps, save_every, integrator: the default run (integrator by name in ``INTEGRATORS``).
        ic_options: extra keyword arguments of ``initial_condition``.
        note: one line for ``--help`` listings.
    """

    name: str
    build: Callable[[tuple[int, ...]], PDE]
    grid: tuple[int, ...]
    dt: float
    steps: int
    save_every: int
    integrator: str = "rk4"
    ic_options: Mapping[str, Any] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class PDEEntry:
    """One PDE on the command line: its name (as in ``config()["pde"]``), class and presets.

    ``from_config`` rebuilds the PDE from a stored ``config()`` (for ``regenerate``); the
    default passes every key but ``"pde"`` to the constructor.
    """

    name: str
    cls: type[PDE]
    presets: tuple[Preset, ...]
    from_config: Callable[[dict[str, Any]], PDE] | None = None

    def preset(self, name: str | None) -> Preset:
        if name is None:
            return self.presets[0]
        for preset in self.presets:
            if preset.name == name:
                return preset
        raise PhysdiffError(
            f"{self.name}: unknown preset {name!r}; expected one of {[p.name for p in self.presets]}."
        )

    def rebuild(self, config: dict[str, Any]) -> PDE:
        if self.from_config is not None:
            return self.from_config(config)
        return self.cls(**{key: value for key, value in config.items() if key != "pde"})


#: Storage/simulation dtypes by name (``--dtype``).
DTYPES: Mapping[str, torch.dtype] = {"float32": torch.float32, "float64": torch.float64}

#: PDE name -> entry. Adding a PDE is adding one entry to this tuple.
PDES: Mapping[str, PDEEntry] = {entry.name: entry for entry in (
    # PeRCNN's Gray-Scott data: RK4 at dt = 0.5, every step saved (3001 frames of 100^2 / 48^3).
    # The spacing stays the preset's (dx = 0.01 / 100/48) for any --grid: a smaller grid is a
    # smaller box at the same resolution, which keeps the spots resolved.
    PDEEntry("gray-scott", GrayScott, presets=(
        Preset("percnn-2d", lambda shape: GrayScott.percnn_2d(), grid=(100, 100), dt=0.5, steps=3000,
               save_every=1, note="Du=2e-5 Dv=5e-6 F=0.04 k=0.06, dx=0.01"),
        Preset("percnn-3d", lambda shape: GrayScott.percnn_3d(), grid=(48, 48, 48), dt=0.5, steps=3000,
               save_every=1, note="Du=0.2 Dv=0.1 F=0.025 k=0.055, dx=100/48"),
    )),
    # PeRCNN's Burgers data: forward Euler at dt = 2.5e-4, 2001 frames of 100^2 on [0, 1)^2.
    PDEEntry("burgers", Burgers, presets=(
        Preset("percnn-2d", lambda shape: Burgers.percnn_2d(), grid=(100, 100), dt=2.5e-4, steps=2000,
               save_every=1, integrator="euler", note="nu=0.005, dx=0.01"),
    )),
    # PeRCNN's lambda-omega case: forward Euler at dt = 0.0125 on [-10, 10)^2 (100^2).
    PDEEntry("lambda-omega", LambdaOmega, presets=(
        Preset("percnn-2d", lambda shape: LambdaOmega.percnn_2d(), grid=(100, 100), dt=0.0125, steps=1600,
               save_every=1, integrator="euler", note="D=0.1 beta=1, dx=0.2"),
    )),
    # PDEBench's 2D diffusion-reaction set: t in [0, 5], 101 frames, 128^2 (periodic here).
    PDEEntry("fitzhugh-nagumo", FitzHughNagumo, presets=(
        Preset("pdebench-2d", lambda shape: FitzHughNagumo.pdebench_2d(), grid=(128, 128), dt=0.01, steps=500,
               save_every=5, note="Du=1e-3 Dv=5e-3 alpha=-5e-3 beta=1, dx=1/64"),
    )),
    # KdV u_t + 6 u u_x + u_xxx = 0 on [0, 40): pseudo-spectral, ETDRK4 (the stiff u_xxx is exact).
    PDEEntry("kdv", KdV, presets=(
        Preset("periodic-40", lambda shape: KdV(n=shape[0], length=40.0), grid=(256,), dt=0.01, steps=1000,
               save_every=10, integrator="native", note="a=6 b=1, L=40, ETDRK4"),
    )),
    # The FNO / Minimal-ConvRNN Navier-Stokes data: nu=1e-3 on [0, 1)^2, 64^2, dt=1e-2, CN viscosity,
    # explicit advection, forcing 0.1(sin 2pi(x+y) + cos 2pi(x+y)); one frame per time unit, T = 50.
    PDEEntry("navier-stokes-2d", NavierStokes2D, presets=(
        Preset("mcrnn-64", lambda shape: NavierStokes2D(n=shape[0]), grid=(64, 64), dt=1e-2, steps=5000,
               save_every=100, integrator="native", note="nu=1e-3, GRF(alpha=2, tau=7), FNO forcing"),
    ), from_config=lambda config: NavierStokes2D(
        nu=config["nu"], n=config["n"], length=config["length"], forcing=config["forcing"] == "fno")),
    # Shallow water on the Earth-sized sphere (SI units): the Galewsky et al. (2004) barotropically
    # unstable jet, 6 days at dt = 600 s with 6-hour hyperdiffusion, a frame every 6 hours.
    PDEEntry("shallow-water-sphere", ShallowWaterSphere, presets=(
        Preset("galewsky", lambda shape: ShallowWaterSphere(shape[0], shape[1], hyperdiffusion=21600.0),
               grid=(64, 128), dt=600.0, steps=864, save_every=36, ic_options={"kind": "galewsky"},
               note="Galewsky jet, Legendre-Gauss grid, 6 days"),
        Preset("random", lambda shape: ShallowWaterSphere(shape[0], shape[1], hyperdiffusion=21600.0),
               grid=(32, 64), dt=600.0, steps=144, save_every=12, ic_options={"kind": "random"},
               note="seeded random balanced flows, 1 day"),
    )),
)}


def pde_entry(name: str) -> PDEEntry:
    """The entry of PDE ``name``; raises with the list of known names."""
    try:
        return PDES[name]
    except KeyError:
        raise PhysdiffError(f"unknown PDE {name!r}; expected one of {sorted(PDES)}.") from None


def pde_from_config(config: dict[str, Any]) -> PDE:
    """Rebuild a PDE from its stored ``config()`` (the ``"pde"`` key selects the entry)."""
    if not isinstance(config, dict) or "pde" not in config:
        raise PhysdiffError(f"expected a PDE config with a 'pde' name, got {config!r}.")
    return pde_entry(config["pde"]).rebuild(config)


def integrator_class(name: str) -> type:
    """The integrator class of ``name``; raises with the list of known names."""
    try:
        return INTEGRATORS[name]
    except KeyError:
        raise PhysdiffError(f"unknown integrator {name!r}; expected one of {sorted(INTEGRATORS)}.") from None


#: ``[model] name`` in a training configuration -> learner class. Every other key of ``[model]``
#: is a keyword argument of the class; ``cls(**model.config())`` rebuilds a trained model.
LEARNERS: Mapping[str, type[SequenceLearner]] = {
    "convlstm": ConvLSTM,
    "convlstm-autoencoder": ConvLSTMAutoencoder,
    "fno": FNO,
    "percnn": PeRCNN,
    "pimrl": PIMRL,
    "phydnet": PhyDNet,
    "modernn": MoDeRNN,
    "convrnn": ConvRNN,
    "convgru": ConvGRU,
    "minconvgru": MinConvGRU,
    "minconvlstm": MinConvLSTM,
    "minconvexplstm": MinConvExpLSTM,
    "arkmnet": ARKMNet,
    "physicnet": PhysicNet,
}

#: Constructor arguments ``physdiff train`` fills from the training data file when ``[model]``
#: omits them (``micro.`` / ``macro.``: keys of PIMRL's nested module tables). ``channels`` and
#: ``in_channels`` are the file's channel count, ``ndim`` its number of spatial axes, ``grid`` its
#: grid shape (not filled when ``[model]`` gives the deprecated ``frame_size``), ``spacing`` its
#: uniform grid step per axis, ``dt`` its sampling interval divided by ``substeps``.
FILLED_FROM_DATA: Mapping[str, tuple[str, ...]] = {
    "convlstm": ("channels", "ndim"),
    "convlstm-autoencoder": ("channels", "ndim"),
    "fno": ("in_channels",),
    "percnn": ("channels", "ndim", "spacing", "dt"),
    "pimrl": ("micro.channels", "micro.ndim", "micro.spacing", "macro.channels", "macro.ndim"),
    "phydnet": ("channels", "ndim"),
    "modernn": ("channels", "ndim", "grid"),
    **{name: ("channels", "ndim", "grid") for name in ("convrnn", "convgru", "minconvgru", "minconvlstm",
                                                      "minconvexplstm")},
    "arkmnet": ("channels", "ndim", "grid"),
    "physicnet": ("channels", "ndim"),
}


def learner_class(name: str) -> type[SequenceLearner]:
    """The learner class of ``[model] name``; raises with the list of known names."""
    try:
        return LEARNERS[name]
    except (KeyError, TypeError):
        raise PhysdiffError(f"unknown model {name!r}; expected one of {sorted(LEARNERS)}.") from None


def learner_name(cls: type) -> str:
    """The registry name of a learner class (the inverse of :func:`learner_class`)."""
    for name, known in LEARNERS.items():
        if known is cls:
            return name
    raise PhysdiffError(f"{cls.__name__} is not a learner the command line knows; expected one of "
                        f"{sorted(c.__name__ for c in LEARNERS.values())}.")


def build_learner(class_name: str, config: dict[str, Any]) -> SequenceLearner:
    """The builder of :func:`physdiff.training.load_learner`: a checkpoint's ``model_class`` (the
    Python class name, e.g. ``"ConvLSTM"``) and ``model_config`` -> a new model."""
    for cls in LEARNERS.values():
        if cls.__name__ == class_name:
            return cls(**config)
    raise PhysdiffError(f"the checkpoint holds a {class_name} model, which the command line cannot rebuild; "
                        f"expected one of {sorted(c.__name__ for c in LEARNERS.values())}.")
