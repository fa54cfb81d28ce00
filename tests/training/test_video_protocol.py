"""The video training protocol: per-sample scheduled sampling masks, the loss on the context phase's
one-step predictions, L1 + L2 loss, reverse-sequence augmentation (and the learner-side loop)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from physdiff.core import PhysdiffError
from physdiff.learners import SequenceLearner
from physdiff.training import TrainConfig, Trainer

from ._helpers import LinearConv, advected, windows


class Halve(SequenceLearner):
    """``u_{n+1} = a u_n`` with one parameter ``a`` (0.5 at first): every output is known in closed form."""

    def __init__(self) -> None:
        super().__init__(1, 1)
        self.a = torch.nn.Parameter(torch.tensor(0.5, dtype=torch.float64))

    def step(self, u: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        return self.a * u, state

    def config(self) -> dict[str, Any]:
        return {}


def _data(batch=2, frames=6):
    return torch.arange(1, batch * frames * 3 + 1, dtype=torch.float64).reshape(batch, frames, 1, 3)


def test_forcing_mask_is_per_sample_and_per_step():
    x = _data()
    context, targets = x[:, :2], x[:, 2:]
    mask = torch.tensor([[True, True, True], [False, True, False]])
    out = Halve()(context, 4, targets=targets, forcing_mask=mask)
    # sample 0: every later input is the truth; sample 1: free, then forced at step 2, then free.
    expected0 = torch.stack([0.5 * context[0, -1]] + [0.5 * targets[0, n] for n in range(3)])
    u1 = 0.5 * context[1, -1]
    u2 = 0.5 * u1
    u3 = 0.5 * targets[1, 1]
    expected1 = torch.stack([u1, u2, u3, 0.5 * u3])
    torch.testing.assert_close(out[0], expected0, rtol=0, atol=0)
    torch.testing.assert_close(out[1], expected1, rtol=0, atol=0)


def test_return_context_prepends_the_one_step_predictions_of_the_context():
    x = _data(frames=7)
    out = Halve()(x[:, :4], 3, return_context=True)
    assert out.shape == (2, 6, 1, 3)
    torch.testing.assert_close(out[:, :3], 0.5 * x[:, :3], rtol=0, atol=0)  # frames 1..3 from frames 0..2
    torch.testing.assert_close(out[:, 3:], Halve()(x[:, :4], 3), rtol=0, atol=0)


@pytest.mark.parametrize("kwargs, message", [
    ({"teacher_forcing": 0.5}, "not both"),
    ({"forcing_mask": torch.ones(2, 2, dtype=torch.bool)}, r"expected a bool tensor \(B, n_steps - 1\) = \(2, 3\)"),
    ({"forcing_mask": torch.ones(2, 3)}, "expected a bool tensor"),
])
def test_forcing_mask_errors(kwargs, message):
    x = _data()
    kwargs.setdefault("forcing_mask", torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(PhysdiffError, match=message):
        Halve()(x[:, :2], 4, targets=x[:, 2:], **kwargs)
    with pytest.raises(PhysdiffError, match="needs targets"):
        Halve()(x[:, :2], 4, forcing_mask=torch.ones(2, 3, dtype=torch.bool))


def test_l1_mse_loss_on_context_and_future_closed_form(tmp_path):
    data = _data(batch=2, frames=6)
    config = TrainConfig(steps=1, batch_size=2, context_frames=3, horizon=3, loss="l1_mse", loss_on_context=True,
                         optimizer={"lr": 1e-3}, log_every=1, device="cpu", dtype="float64")
    model = Halve()
    with torch.no_grad():
        prediction = model(data[:, :3], 3, return_context=True)
        truth = data[:, 1:]
        expected = float((prediction - truth).square().mean() + (prediction - truth).abs().mean())
    result = Trainer(model, config, [data[0], data[1]], out_dir=tmp_path / "run").fit()
    first = next(r for r in result.history if r["kind"] == "train")
    assert first["loss"] == pytest.approx(expected, rel=1e-12)


class Recorder(LinearConv):
    """Records the windows and the forcing arguments of every training forward call."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seen: list[dict[str, Any]] = []

    def forward(self, context: torch.Tensor, n_steps: int, **kwargs: Any) -> Any:
        if self.training and torch.is_grad_enabled():
            self.seen.append({"context": context.detach().clone(), "mask": kwargs.get("forcing_mask"),
                              "p": kwargs.get("teacher_forcing", 0.0), "targets": kwargs.get("targets")})
        return super().forward(context, n_steps, **kwargs)


def test_per_sample_linear_schedule_and_reverse_sequences(tmp_path):
    data = windows(advected(n=8, frames=10, dtype=torch.float64), 8)  # 24 windows
    config = TrainConfig(steps=4, batch_size=16, context_frames=3, horizon=5, reverse_sequences=True,
                         teacher_forcing={"start": 1.0, "end": 0.0, "decay_steps": 4, "per_sample": True},
                         optimizer={"lr": 1e-2}, log_every=1, device="cpu", dtype="float64")
    model = Recorder()
    result = Trainer(model, config, data, out_dir=tmp_path / "run").fit()
    assert len(model.seen) == 8  # two updates per step: forward windows, then reversed ones
    for step in range(4):
        forward, backward = model.seen[2 * step], model.seen[2 * step + 1]
        p = 1.0 - step / 4  # linear schedule
        if p > 0:
            assert forward["mask"].shape == (16, 4) and forward["p"] == 0.0
            assert torch.equal(forward["mask"], backward["mask"])  # same masks for the reversed pass
        # The reversed pass sees the same windows, time-reversed: its context is the last 3 frames reversed.
        batch = [w for w in data if any(torch.equal(w[:3], c) for c in forward["context"][:1])][0]
        assert torch.equal(backward["context"][0], batch.flip(0)[:3])
    masks = [model.seen[2 * s]["mask"].double().mean().item() for s in (1, 2, 3)]
    assert masks[0] > masks[2]  # p = 0.75 vs 0.25 over 64 draws each
    assert torch.all(model.seen[0]["mask"])  # p = 1 at step 0: all true frames
    records = [r for r in result.history if r["kind"] == "train"]
    assert all("loss_reversed" in r and "grad_norm_reversed" in r for r in records)


def test_config_rejects_an_unknown_loss():
    with pytest.raises(PhysdiffError, match="loss"):
        TrainConfig(loss="huber")
