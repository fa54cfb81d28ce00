"""The learners compared on every dataset ("arms" of the experiment) and how each is built.

Every arm predicts at the macro interval ``Dt = k dt`` from the same context frames:

* ``pimrl``: PIMRL, micro PeRCNN (step ``dt``) pretrained on the bursts, then the whole model
  trained on the macro frames; ``pimrl-micro-only``, ``pimrl-macro-only``,
  ``pimrl-no-message-passing``: its three ablations (the same two-stage training).
* ``percnn``: PeRCNN as in its paper: a ``dt`` Euler model (``k`` substeps per macro step)
  trained on the macro frames only (the sparse-in-time data loss of PeRCNN), with the budget
  and learning rate of PIMRL's micro pretraining (the same architecture).
* ``convlstm``, ``fno``: black-box baselines on normalised macro frames.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..learners import FNO, PIMRL, ConvLSTM, ConvLSTMAutoencoder, PeRCNN, SequenceLearner
from ._setups import ExperimentSetup


def _percnn(setup: ExperimentSetup, channels: int, spacing: tuple[float, ...], substeps: int) -> PeRCNN:
    """A PeRCNN whose output interval is ``substeps`` data intervals ``dt``."""
    m = setup.percnn_substeps
    return PeRCNN(channels, setup.ndim, dt=setup.dt / m, spacing=list(spacing), substeps=substeps * m,
                  **setup.percnn)


def _pimrl(mode: str) -> Callable[[ExperimentSetup, int, tuple[float, ...]], SequenceLearner]:
    def build(setup: ExperimentSetup, channels: int, spacing: tuple[float, ...]) -> SequenceLearner:
        micro = _percnn(setup, channels, spacing, 1)
        macro = ConvLSTMAutoencoder(channels, setup.ndim, time_step=setup.macro_dt, **setup.macro)
        return PIMRL(micro, macro, period=setup.period, mode=mode)
    return build


@dataclass(frozen=True)
class Arm:
    """One compared learner.

    Attributes:
        name: identifier used in file names and tables.
        label: table label.
        build: ``build(setup, channels, spacing)`` returns a fresh model (seeded by the caller).
        pretrain_micro: pretrain ``model.micro`` on the bursts before the macro training.
        ablation: True for PIMRL's ablations (left out of the quick example by default).
        physics_budget: train with the setup's ``micro_*`` budget and learning rate (a PeRCNN
            trained on its own) instead of the macro-frame learners' ``steps`` and ``lr``.
    """

    name: str
    label: str
    build: Callable[[ExperimentSetup, int, tuple[float, ...]], SequenceLearner]
    pretrain_micro: bool = False
    ablation: bool = False
    physics_budget: bool = False


#: Every compared model of the benchmark: PIMRL, its ablations, PeRCNN and the baselines.
ARMS: tuple[Arm, ...] = (
    Arm("pimrl", "PIMRL", _pimrl("full"), pretrain_micro=True),
    Arm("percnn", "PeRCNN", lambda s, c, h: _percnn(s, c, h, s.k), physics_budget=True),
    Arm("convlstm", "ConvLSTM", lambda s, c, h: ConvLSTM(c, s.ndim, time_step=s.macro_dt, **s.convlstm)),
    Arm("fno", "FNO", lambda s, c, h: FNO(in_channels=c, time_step=s.macro_dt, **s.fno)),
    Arm("pimrl-micro-only", "PIMRL micro only", _pimrl("micro_only"), pretrain_micro=True, ablation=True),
    Arm("pimrl-macro-only", "PIMRL macro only", _pimrl("macro_only"), ablation=True),
    Arm("pimrl-no-message-passing", "PIMRL no message passing", _pimrl("no_message_passing"),
        pretrain_micro=True, ablation=True),
)


def arms(names: tuple[str, ...] | None = None, *, ablations: bool = True) -> tuple[Arm, ...]:
    """The arms with the given names (in table order), or all (without ablations if ``ablations=False``)."""
    if names is None:
        return tuple(a for a in ARMS if ablations or not a.ablation)
    from ..core import PhysdiffError

    known = {a.name: a for a in ARMS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise PhysdiffError(f"experiments: unknown model(s) {unknown}; expected some of {list(known)}.")
    return tuple(a for a in ARMS if a.name in names)
