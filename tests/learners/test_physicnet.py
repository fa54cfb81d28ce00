"""PhysicNet: starts as persistence, step = forward, levels and ablations, gradients, trainer, errors."""

from __future__ import annotations

import pytest
import torch

from physdiff.core import PhysdiffError
from physdiff.learners import PhysicNet
from physdiff.operators import warp

TINY = dict(context_frames=3, latent_channels=4, hidden=4, residual_hidden=4, residual_layers=1, head_hidden=4,
            num_codes=8, crop_size=8, num_crops=2)


def tiny(**overrides) -> PhysicNet:
    torch.manual_seed(0)
    return PhysicNet(1, 2, **{**TINY, **overrides}).double()


def frames(t=4, size=16, seed=0):
    return torch.rand(2, t, 1, size, size, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def perturb(model: PhysicNet) -> None:
    """Make the zero-initialised output layers (flow, residual, gate) non-zero."""
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g, dtype=p.dtype))


@pytest.mark.parametrize("ablation", [{}, {"quantize": False}, {"local_experts": False}, {"global_expert": False},
                                      {"residual": False}])
def test_a_new_model_predicts_persistence_and_trains_every_part(ablation):
    model = tiny(**ablation)
    x = frames()
    y = model(x[:, :3], 2)
    torch.testing.assert_close(y, x[:, 2:3].expand(-1, 2, -1, -1, -1))  # zero-initialised heads
    aux = model.auxiliary_loss(x)
    ((y - x[:, 3:4].expand_as(y)).square().mean() + aux).backward()
    trained = [n for n, p in model.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    # the flow heads' output layers get gradients through the warp from the very first step
    for level, present in (("global", ablation.get("global_expert", True)), ("local", ablation.get("local_experts", True))):
        assert any(n.startswith(f"{level}_head.flow") for n in trained) == present
    assert model.auxiliary_loss(x) is None  # consumed
    assert (model.quantizer is None) == (ablation.get("quantize") is False)


def test_step_by_step_equals_the_rollout_and_the_window_slides():
    model = tiny()
    perturb(model)
    model.eval()
    x = frames(t=5)
    rollout = model(x[:, :4], 3)
    state = model.initial_state(x[:, 0])
    for t in range(3):
        _, state = model.step(x[:, t], state)
    u, outs = x[:, 3], []
    for _ in range(3):
        u, state = model.step(u, state)
        outs.append(u)
    torch.testing.assert_close(torch.stack(outs, 1), rollout)
    assert state["frames"].shape[1] == 3  # only the last context_frames are kept
    torch.testing.assert_close(state["frames"][:, -1], outs[1])
    # continuing from a returned state with more context equals one longer rollout
    first, state = model(x[:, :2], 1, return_state=True)
    more = model(x[:, 2:4], 3, state=state)
    torch.testing.assert_close(more, rollout)


def test_global_expert_is_warp_plus_residual_and_fusion_follows_the_gate():
    model = tiny()
    perturb(model)
    model.eval()
    x = frames(t=3)
    state = model.initial_state(x[:, 0])
    state["frames"] = x[:, :2]
    d = model.explain(x[:, 2], state)
    u = x[:, 2]
    # the global prediction is the warp of the last frame by the reported flow, plus the residual head
    features = model._features(model.global_encoder(model._window(torch.cat([x[:, :2], u[:, None]], 1))))[0]
    up = torch.nn.functional.interpolate(features, size=u.shape[-2:], mode="bilinear", align_corners=False)
    expected = warp(u, d["global_flow"], boundary="border") + model.global_head.residual(torch.cat([u, up], 1))
    torch.testing.assert_close(d["global_prediction"], expected)
    # evaluation tiles the 16 x 16 frame with four 8 x 8 views: every pixel is fused by the gate
    assert d["corners"].shape == (2, 4, 2) and bool(d["covered"].all())
    g = d["gate"]
    torch.testing.assert_close(d["prediction"], g * d["local_prediction"] + (1 - g) * d["global_prediction"])
    assert d["global_codes"].shape == (2, 4, 4) and d["local_codes"].shape == (2, 4, 2, 2)
    assert d["global_flow"].shape == (2, 2, 16, 16)


def test_training_views_are_random_per_sequence_and_fixed_over_the_rollout():
    model = tiny(num_crops=3).train()
    x = frames(size=24)
    torch.manual_seed(1)
    _, state = model(x[:, :3], 2, return_state=True)
    corners = state["corners"]
    assert corners.shape == (2, 3, 2) and corners.max() <= 24 - 8
    assert not torch.equal(corners[0], corners[1])
    # outside every window the prediction is the global expert's
    d = model.explain(x[:, 3], state)
    torch.testing.assert_close(d["prediction"][~d["covered"].expand_as(d["prediction"])],
                               d["global_prediction"][~d["covered"].expand_as(d["prediction"])])


def test_gradients_pass_gradcheck_through_both_levels():
    model = tiny(quantize=False, residual_layers=0)
    perturb(model)
    model.eval()
    x = frames(t=3, size=8)[:1].requires_grad_(True)
    # fast mode: checks the Jacobian along random directions (the full Jacobian is 2 x 64 by 3 x 64 here)
    assert torch.autograd.gradcheck(lambda c: model(c, 2), (x,), eps=1e-6, atol=1e-5, fast_mode=True)


def test_config_rebuilds_the_model_and_the_registry_knows_it():
    from physdiff.cli._registry import LEARNERS, learner_name

    model = tiny(residual=False, boundary="periodic")
    again = PhysicNet(**model.config())
    assert again.config() == model.config()
    assert learner_name(PhysicNet) == "physicnet" and LEARNERS["physicnet"] is PhysicNet


def test_trains_with_the_trainer_and_checkpoints(tmp_path):
    from physdiff.training import Trainer, TrainConfig, load_weights

    model = tiny()
    data = [frames(t=5, seed=s)[0] for s in range(4)]
    config = TrainConfig(steps=3, batch_size=2, context_frames=3, horizon=2, validate_every=3, checkpoint_every=3,
                         log_every=1, device="cpu", dtype="float64")
    fit = Trainer(model, config, data, data[:2], out_dir=tmp_path / "run").fit()
    assert fit.steps == 3 and fit.history[0]["aux_loss"] >= 0
    fresh = tiny()
    load_weights(fresh, fit.last_checkpoint)
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values()):
        torch.testing.assert_close(a, b)


def test_bad_input_raises_physdiff_errors():
    with pytest.raises(PhysdiffError, match="code_dim: expected the encoders' latent_channels = 4"):
        tiny(code_dim=6)
    with pytest.raises(PhysdiffError, match="crop size 8 x 8 is larger than the frame 4 x 4"):
        tiny()(frames(size=4), 1)
    with pytest.raises(PhysdiffError, match="crop_size: expected a multiple of 4"):
        tiny(crop_size=6)
    with pytest.raises(PhysdiffError, match="divisible by 4"):
        tiny(local_experts=False)(frames(size=10), 1)
    with pytest.raises(PhysdiffError, match="leave no expert"):
        tiny(local_experts=False, global_expert=False)
    with pytest.raises(PhysdiffError, match="boundary"):
        tiny(boundary="reflect")
    with pytest.raises(PhysdiffError, match="quantize: expected True or False"):
        tiny(quantize=1)
    with pytest.raises(PhysdiffError, match="ndim"):
        PhysicNet(1, 3)
    with pytest.raises(PhysdiffError, match=r"expected frames \(B, T, 1"):
        tiny()(torch.zeros(2, 3, 2, 16, 16, dtype=torch.float64), 1)
