"""PIMRL: the micro/macro schedule, its ablation modes, state carry-over, gradients, configuration, errors."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import torch
from torch.func import functional_call

from physdiff.core import PhysdiffError
from physdiff.learners import PIMRL, ConvLSTMAutoencoder, PeRCNN, pi_block_expressions

DT, K = 0.1, 3


def micro(ndim: int = 2, **kwargs) -> PeRCNN:
    return PeRCNN(2, ndim, dt=DT, spacing=1.0, hidden=2, accuracy=2, coefficient_bound=0.5, init_gain=1.0,
                  **kwargs)


def macro(ndim: int = 2, time_step: float | None = K * DT, **kwargs) -> ConvLSTMAutoencoder:
    return ConvLSTMAutoencoder(2, ndim, latent_channels=2, hidden_channels=(2,), downsample=2, time_step=time_step,
                               **kwargs)


def pimrl(ndim: int = 2, *, period: int = 2, mode: str = "full") -> PIMRL:
    torch.manual_seed(ndim)
    return PIMRL(micro(ndim), macro(ndim), period=period, mode=mode).double()


def frames(ndim: int, t: int = 1, n: int = 4, batch: int = 2) -> torch.Tensor:
    torch.manual_seed(10 + ndim)
    return torch.rand((batch, t, 2) + (n,) * ndim, dtype=torch.float64)


def micro_interval(model: PIMRL, u: torch.Tensor) -> torch.Tensor:
    for _ in range(model.k):
        u = model.micro.step(u, None)[0]
    return u


# ----------------------------------------------------------------- the schedule
@pytest.mark.parametrize(("mode", "expected"), [
    ("full", "IAAIAAI"),
    ("micro_only", "IIIIIII"),
    ("macro_only", "AAAAAAA"),
    ("no_message_passing", "IAAAAAA"),
])
def test_schedule_of_each_mode(mode, expected):
    model = pimrl(period=3, mode=mode)
    assert "".join("I" if m == "micro" else "A" for m in model.schedule(7)) == expected
    assert model.schedule(2, start=-2) == (["micro"] * 2 if mode == "micro_only" else ["macro"] * 2)  # warm-up


@pytest.mark.parametrize("mode", ["full", "micro_only", "macro_only", "no_message_passing"])
def test_step_runs_the_modules_of_the_schedule(mode, monkeypatch):
    # Count the real calls: micro k times per micro step, macro at every step except in micro_only.
    model = pimrl(period=3, mode=mode)
    calls: list[tuple[str, int]] = []
    index = {"now": None}
    original_step = model.step
    for name in ("micro", "macro"):
        module = getattr(model, name)
        real = module.step
        monkeypatch.setattr(module, "step", lambda u, s, real=real, name=name: (
            calls.append((name, index["now"])), real(u, s))[1])

    def counting_step(u, state):
        index["now"] = state["index"]
        return original_step(u, state)

    monkeypatch.setattr(model, "step", counting_step)
    context, n = frames(2, t=3), 7
    model(context, n)
    per_index = {i: Counter(name for name, j in calls if j == i) for i in range(-2, n)}
    schedule = model.schedule(n + 2, start=-2)
    for i, used in zip(range(-2, n), schedule):
        assert per_index[i]["micro"] == (K if used == "micro" else 0), (i, per_index[i])
        assert per_index[i]["macro"] == (0 if mode == "micro_only" else 1), (i, per_index[i])


def test_full_mode_outputs_follow_the_schedule_exactly():
    model = pimrl(period=2)
    context = frames(2, t=2)
    out = model(context, 4)
    # Reproduce by hand: warm-up on frame 0 (index -1), then indices 0..3.
    memory = model.macro.initial_state(context[:, 0])
    _, memory = model.macro.step(context[:, 0], memory)
    u = context[:, 1]
    for i in range(4):
        u_hat, memory = model.macro.step(u, memory)
        u = micro_interval(model, u) if i % 2 == 0 else u_hat
        torch.testing.assert_close(out[:, i], u, rtol=0, atol=0)


def test_micro_only_is_percnn_at_the_micro_step():
    model = pimrl(mode="micro_only")
    u0 = frames(2)
    torch.testing.assert_close(model(u0, 3), model.micro(u0, 3 * K)[:, K - 1::K])


def test_macro_only_is_the_convlstm_autoencoder():
    model = pimrl(mode="macro_only")
    context = frames(2, t=3)
    torch.testing.assert_close(model(context, 4), model.macro(context, 4))


def test_no_message_passing_uses_the_micro_module_once():
    model = pimrl(mode="no_message_passing")
    reference = pimrl(mode="macro_only")
    u0 = frames(2)
    out = model(u0, 3)
    torch.testing.assert_close(out[:, 0], micro_interval(model, u0[:, 0]))
    # Afterwards the macro module runs alone; differs from macro_only because of the first step.
    assert not torch.allclose(out[:, 1:], reference(u0, 3)[:, 1:])


def test_state_carry_over_continues_the_schedule():
    model = pimrl(period=3)
    u0 = frames(2)
    whole = model(u0, 5)
    first, state = model(u0, 2, return_state=True)
    assert state["index"] == 2
    second = model(first[:, -1], 3, state=state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole, rtol=0, atol=0)


def test_checkpointing_gives_the_same_rollout_and_gradients():
    model = pimrl(period=2)
    u0 = frames(2)
    plain = model(u0, 4)
    grads = torch.autograd.grad(plain.square().sum(), list(model.parameters()))
    checkpointed = model(u0, 4, checkpoint=True, checkpoint_every=2)
    grads_ckpt = torch.autograd.grad(checkpointed.square().sum(), list(model.parameters()))
    torch.testing.assert_close(checkpointed, plain)
    for a, b in zip(grads, grads_ckpt):
        torch.testing.assert_close(a, b)


# ----------------------------------------------------------------- gradients
@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_forward_backward_every_parameter_gets_a_gradient(ndim):
    model = pimrl(ndim, period=2)
    out = model(frames(ndim, t=2), 3)  # schedule micro, macro, micro: both modules feed the outputs
    assert out.shape == (2, 3, 2) + (4,) * ndim and model.time_step == pytest.approx(K * DT)
    out.square().mean().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_float64_gradcheck(ndim):
    # Through the input and the parameters (all in 1D; in 2D/3D every tensor of at most 40 entries,
    # which leaves out the large convolution kernels, to stay fast).
    model = pimrl(ndim, period=2)
    named = dict(model.named_parameters())
    names = list(named) if ndim == 1 else [n for n in named if named[n].numel() <= 40]
    assert any(n.startswith("micro") for n in names) and any(n.startswith("macro") for n in names)
    u = frames(ndim, batch=1).requires_grad_()

    def rollout(u, *params):
        return functional_call(model, dict(zip(names, params)), (u, 2), strict=False)

    params = tuple(named[n].detach().clone().requires_grad_() for n in names)
    # fast_mode (random projections of the Jacobian) keeps the 2D/3D checks quick.
    assert torch.autograd.gradcheck(rollout, (u, *params), fast_mode=ndim > 1)


# ----------------------------------------------------------------- configuration and discovery
def test_config_is_json_and_rebuilds_the_model():
    model = PIMRL(micro(coefficient_init=0.2, integrator="RK4"), macro(), period=4, mode="no_message_passing")
    config = json.loads(json.dumps(model.config()))
    assert isinstance(config["micro"], dict) and isinstance(config["macro"], dict)
    clone = PIMRL(**config)
    assert clone.config() == model.config() and clone.k == K
    clone.load_state_dict(model.state_dict())
    u0 = torch.rand(1, 2, 4, 4)
    torch.testing.assert_close(clone(u0, 3), model(u0, 3))
    assert PIMRL.normalized_data is False


def test_expressions_read_the_micro_module():
    model = pimrl()
    assert [str(e) for e in pi_block_expressions(model)] == [str(e) for e in pi_block_expressions(model.micro)]


@pytest.mark.parametrize(("build", "match"), [
    (lambda: PIMRL(micro(), macro(time_step=0.25)), r"0\.25.*0\.1"),
    (lambda: PIMRL(micro(), macro(time_step=0.05)), "positive integer"),
    (lambda: PIMRL(micro(), macro(time_step=None)), "time_step=None"),
    (lambda: PIMRL(micro(), ConvLSTMAutoencoder(3, 2, time_step=0.3)), "same channels"),
    (lambda: PIMRL(micro(1), macro(2)), "ndim"),
    (lambda: PIMRL(micro(upscale_factor=2), macro()), "upscale_factor"),
    (lambda: PIMRL(macro(), macro()), "micro: expected a PeRCNN"),
    (lambda: PIMRL(micro(), micro()), "macro: expected a ConvLSTMAutoencoder"),
    (lambda: PIMRL({"channels": 2, "bogus": 1}, macro()), "valid PeRCNN config"),
    (lambda: PIMRL(micro(), macro(), period=0), "period"),
    (lambda: PIMRL(micro(), macro(), mode="fast"), "mode"),
    (lambda: pimrl()(torch.rand(1, 3, 4, 4, dtype=torch.float64), 1), "channels"),
    (lambda: pimrl().schedule(-1), "n_steps"),
])
def test_errors(build, match):
    with pytest.raises(PhysdiffError, match=match):
        build()
