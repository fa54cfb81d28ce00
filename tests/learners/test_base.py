"""SequenceLearner loop semantics, on a tiny toy learner and on ConvLSTM."""

from __future__ import annotations

import json

import pytest
import torch

from physdiff.core import PhysdiffError
from physdiff.learners import FNO, ConvLSTM, ConvLSTMAutoencoder, SequenceLearner

F64 = torch.float64


class Toy(SequenceLearner):
    """u_{n+1} = a u_n + b m_n with memory m_{n+1} = m_n / 2 + u_n (a per-point linear recurrence)."""

    def __init__(self, channels: int = 1, ndim: int = 1) -> None:
        super().__init__(channels, ndim)
        self.a = torch.nn.Parameter(torch.tensor(0.9, dtype=F64))
        self.b = torch.nn.Parameter(torch.tensor(0.3, dtype=F64))

    def initial_state(self, u):
        return torch.zeros_like(u)

    def step(self, u, state):
        return self.a * u + self.b * state, state / 2 + u

    def config(self):
        return {"channels": self.channels, "ndim": self.ndim}


def toy() -> Toy:
    return Toy()


def convlstm() -> ConvLSTM:
    torch.manual_seed(0)
    return ConvLSTM(2, 1, hidden_channels=(3, 3)).double()


def frames(channels: int, t: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(2, t, channels, 6, generator=g, dtype=F64)


MODELS = [toy, convlstm]


@pytest.mark.parametrize("make", MODELS)
def test_warm_up_changes_the_state(make):
    model = make()
    context = frames(model.channels, 3)
    long = model(context, 2)
    short = model(context[:, -1:], 2)
    assert long.shape == short.shape == (2, 2, model.channels, 6)
    assert not torch.allclose(long, short)
    # the single-frame form (B, C, *space) is the one-frame context
    torch.testing.assert_close(model(context[:, -1], 2), short)


@pytest.mark.parametrize("make", MODELS)
def test_full_teacher_forcing_steps_from_every_true_frame(make):
    model = make()
    context, targets = frames(model.channels, 2), frames(model.channels, 3, seed=2)
    out = model(context, 4, targets=targets, teacher_forcing=1.0)
    state = model.initial_state(context[:, 0])
    _, state = model.step(context[:, 0], state)
    expected = []
    for u in (context[:, 1], targets[:, 0], targets[:, 1], targets[:, 2]):
        pred, state = model.step(u, state)
        expected.append(pred)
    torch.testing.assert_close(out, torch.stack(expected, 1))
    # without forcing, step n feeds on the prediction, so the outputs differ after the first
    free = model(context, 4)
    torch.testing.assert_close(free[:, 0], out[:, 0])
    assert not torch.allclose(free[:, 1:], out[:, 1:])


@pytest.mark.parametrize("make", MODELS)
def test_checkpointing_gives_the_same_outputs_and_gradients(make):
    model = make()
    context = frames(model.channels, 2).requires_grad_()
    results = []
    for checkpoint in (False, True):
        out = model(context, 7, checkpoint=checkpoint, checkpoint_every=3)
        grads = torch.autograd.grad(out.square().sum(), [context, *model.parameters()])
        results.append((out.detach(), grads))
    torch.testing.assert_close(results[0][0], results[1][0])
    for a, b in zip(results[0][1], results[1][1]):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("make", MODELS)
def test_detach_every_truncates_the_gradient(make):
    model = make()
    context = frames(model.channels, 1).requires_grad_()
    out = model(context, 6, detach_every=2)
    inside = torch.autograd.grad(out[:, 1].sum(), context, retain_graph=True)[0]
    assert inside.abs().max() > 0
    for n in range(2, 6):
        beyond = torch.autograd.grad(out[:, n].sum(), context, retain_graph=True, allow_unused=True)[0]
        assert beyond is None or beyond.abs().max() == 0
    # without truncation the late steps do depend on the first frame
    late = torch.autograd.grad(model(context, 6)[:, 5].sum(), context)[0]
    assert late.abs().max() > 0


@pytest.mark.parametrize("make", MODELS)
def test_state_carries_over_between_calls(make):
    model = make()
    context = frames(model.channels, 2)
    whole = model(context, 10)
    first, state = model(context, 5, return_state=True)
    second = model(first[:, -1], 5, state=state)
    torch.testing.assert_close(torch.cat([first, second], 1), whole)


def test_predict_runs_without_gradients_and_restores_training_mode():
    model = convlstm().train()
    out = model.predict(frames(2, 2), 3)
    assert out.shape == (2, 3, 2, 6) and not out.requires_grad and model.training


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda m, c: m(c, 0), "n_steps: expected a positive int"),
        (lambda m, c: m(c, 2.0), "n_steps: expected a positive int"),
        (lambda m, c: m(c, 3, teacher_forcing=0.5), "needs targets"),
        (lambda m, c: m(c, 3, teacher_forcing=1.5), "probability in [0, 1]"),
        (lambda m, c: m(c, 3, targets=c[:, :1], teacher_forcing=1.0), "at least n_steps - 1 = 2"),
        (lambda m, c: m(c[:, :, :1], 2), "expected frames (B, T, 2, *space)"),
        (lambda m, c: m(c[..., None], 2), "with 1 spatial axes"),
        (lambda m, c: m(c.long(), 2), "floating-point"),
        (lambda m, c: m(c, 2, detach_every=0), "detach_every"),
    ],
)
def test_bad_calls_raise(call, fragment):
    model = convlstm()
    with pytest.raises(PhysdiffError, match=fragment.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]").replace("*", r"\*")):
        call(model, frames(2, 2))


@pytest.mark.parametrize(
    "make",
    [
        lambda: ConvLSTM(2, 2, hidden_channels=(3, 4), kernel_size=5, padding_mode="zeros", residual=False,
                         time_step=0.5),
        lambda: ConvLSTMAutoencoder(channels=3, ndim=3, latent_channels=4, hidden_channels=(2, 5), downsample=2),
        lambda: FNO((3, 2), 5, 2, n_layers=2, lifting_channels=7, projection_channels=6, time_step=1.0),
        lambda: FNO((3,), 5, 1, positional_embedding=False, residual=False),
    ],
)
def test_config_round_trip_rebuilds_the_same_model(make):
    model = make()
    config = json.loads(json.dumps(model.config()))
    rebuilt = type(model)(**config)
    assert rebuilt.config() == model.config()
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == shapes
    rebuilt.load_state_dict(model.state_dict())
