"""rollout: stacking, save_every, and gradient checkpointing (same gradients, fewer saved tensors)."""

from __future__ import annotations

import pytest
import torch

from physdiff.core import PhysdiffError
from physdiff.integrators import RK4, Euler, PiBlock, rollout


def make_step():
    torch.manual_seed(0)
    return RK4(PiBlock(2, hidden=4, kernel_size=3, ndim=2, init_gain=1.0).double())


def initial_state(requires_grad=False):
    torch.manual_seed(1)
    return (0.5 * torch.randn(2, 2, 6, 6, dtype=torch.float64)).requires_grad_(requires_grad)


@pytest.mark.parametrize(("n_steps", "save_every", "include_initial"), [(6, 1, False), (6, 3, False), (6, 2, True)])
def test_rollout_stacks_the_saved_states(n_steps, save_every, include_initial):
    step, u = make_step(), initial_state()
    out = rollout(step, u, n_steps, 0.05, save_every=save_every, include_initial=include_initial)
    expected = [u] if include_initial else []
    for n in range(1, n_steps + 1):
        u = step(u, 0.05)
        if n % save_every == 0:
            expected.append(u)
    assert out.shape == (2, len(expected), 2, 6, 6)
    assert torch.equal(out, torch.stack(expected, dim=1))


@pytest.mark.parametrize("checkpoint_every", [None, 1, 3, 4, 100])
def test_checkpointed_rollout_has_the_same_values_and_gradients(checkpoint_every):
    step = make_step()
    grads = []
    for checkpoint in (False, True):
        u0 = initial_state(requires_grad=True)
        out = rollout(step, u0, 10, 0.05, checkpoint=checkpoint, checkpoint_every=checkpoint_every, save_every=2)
        grads.append([out, *torch.autograd.grad(out.square().sum(), [u0, *step.parameters()])])
    for plain, checkpointed in zip(*grads):
        torch.testing.assert_close(checkpointed, plain, rtol=1e-12, atol=1e-14)


def saved_tensors(n_steps, checkpoint, checkpoint_every=None):
    """Number and bytes of tensors autograd saves for backward during one rollout."""
    step, u0 = make_step(), initial_state(requires_grad=True)
    count = {"tensors": 0, "bytes": 0}

    def pack(t):
        count["tensors"] += 1
        count["bytes"] += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        rollout(step, u0, n_steps, 0.05, checkpoint=checkpoint, checkpoint_every=checkpoint_every)
    return count


def test_checkpointing_keeps_one_state_per_segment_instead_of_every_activation():
    state_bytes = initial_state().numel() * 8
    plain_4, plain_16 = saved_tensors(4, False), saved_tensors(16, False)
    # Without checkpointing, saved activations grow linearly with the number of steps ...
    assert plain_16["tensors"] == 4 * plain_4["tensors"] > 16 * 4  # many per step (4 stages, 3 convs each)
    # ... with it, autograd keeps only each segment's input (sqrt(16) = 4 segments, or 16 / 8 = 2).
    for every, segments in ((None, 4), (8, 2), (16, 1)):
        checkpointed = saved_tensors(16, True, every)
        assert checkpointed["tensors"] == segments
        assert checkpointed["bytes"] == segments * state_bytes
    assert saved_tensors(16, True)["bytes"] * 50 < plain_16["bytes"]


def test_checkpoint_is_skipped_without_autograd():
    step, u = make_step(), initial_state()
    with torch.no_grad():
        out = rollout(step, u, 5, 0.05, checkpoint=True)
    assert torch.equal(out, rollout(step, u, 5, 0.05))


def test_per_sample_dt_is_passed_to_every_step():
    step, u = Euler(lambda u: -u), torch.ones(2, 1, 3, dtype=torch.float64)
    out = rollout(step, u, 3, torch.tensor([0.1, 0.2], dtype=torch.float64))
    torch.testing.assert_close(out[:, -1, 0, 0], torch.tensor([0.9**3, 0.8**3], dtype=torch.float64))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(n_steps=0), "n_steps"),
        (dict(n_steps=2.5), "n_steps"),
        (dict(save_every=0), "save_every"),
        (dict(n_steps=5, save_every=2), "divide"),
        (dict(checkpoint=True, checkpoint_every=0), "checkpoint_every"),
        (dict(step=3), "callable"),
        (dict(step=lambda u, dt: u[..., :-1]), "shape"),
        (dict(u0=[1.0, 2.0]), "torch.Tensor"),
    ],
)
def test_invalid_arguments_raise(kwargs, match):
    args = {"step": Euler(lambda u: -u), "u0": torch.ones(1, 1, 4), "n_steps": 4, "dt": 0.1, **kwargs}
    with pytest.raises(PhysdiffError, match=match):
        rollout(args.pop("step"), args.pop("u0"), args.pop("n_steps"), args.pop("dt"), **args)
