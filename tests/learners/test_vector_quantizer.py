"""VectorQuantizer: nearest codes, straight-through gradient, EMA update, perplexity, restarts, errors."""

from __future__ import annotations

import math

import pytest
import torch

from physdiff.core import PhysdiffError
from physdiff.learners import VectorQuantizer

F64 = torch.float64


def latents(shape=(2, 3, 4, 5), seed=0):
    return torch.randn(shape, dtype=F64, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("update", ["ema", "loss"])
def test_quantisation_returns_the_nearest_codebook_entries(update):
    torch.manual_seed(0)
    vq = VectorQuantizer(8, 3, update=update).double().eval()
    with torch.no_grad():
        vq.codebook.copy_(torch.randn(8, 3, dtype=F64))
    z = latents()
    out = vq(z)
    flat = z.permute(0, 2, 3, 1).reshape(-1, 3)
    brute = torch.cdist(flat, vq.codebook).argmin(1)
    assert torch.equal(out.indices.flatten(), brute)
    torch.testing.assert_close(out.quantized.permute(0, 2, 3, 1).reshape(-1, 3), vq.codebook[brute].detach())
    assert out.indices.shape == (2, 4, 5)


@pytest.mark.parametrize("update", ["ema", "loss"])
def test_straight_through_gradient_equals_the_identity(update):
    vq = VectorQuantizer(8, 3, update=update).double().eval()
    z = latents().requires_grad_(True)
    weight = latents(seed=1)
    (grad,) = torch.autograd.grad((vq(z).quantized * weight).sum(), z)
    torch.testing.assert_close(grad, weight)  # d/dz sum(w * z) = w


def test_commitment_and_codebook_losses_follow_their_definitions():
    for update in ("ema", "loss"):
        vq = VectorQuantizer(8, 3, update=update, commitment=0.25).double().eval()
        z = latents()
        out = vq(z)
        commit = (z - out.quantized.detach()).square().mean()
        expected = 0.25 * commit + (commit if update == "loss" else 0.0)
        torch.testing.assert_close(out.loss, expected)
    # loss mode: the codebook gets the gradient of ||sg(z) - e||^2 (a code moves toward its vectors)
    vq = VectorQuantizer(4, 3, update="loss").double().train()
    vq(latents()).loss.backward()
    assert vq.codebook.grad is not None and vq.codebook.grad.abs().sum() > 0


def test_ema_update_moves_codes_toward_their_assigned_vectors():
    torch.manual_seed(0)
    vq = VectorQuantizer(4, 2, decay=0.9, restart_every=0).double().train()
    with torch.no_grad():
        vq.codebook.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]], dtype=F64))
        vq.embed_sum.copy_(vq.codebook)
    g = torch.Generator().manual_seed(2)
    centres = torch.tensor([[2.0, 0.5], [0.3, 2.0], [-2.0, -0.4], [0.2, -2.2]], dtype=F64)
    z = (centres[:, :, None] + 0.1 * torch.randn(4, 2, 16, generator=g, dtype=F64)).permute(1, 0, 2)[None]
    z = z.reshape(1, 2, 4, 16)  # each centre's 16 vectors in one row
    before = vq.codebook.clone()
    flat = z.permute(0, 2, 3, 1).reshape(-1, 2)
    assign = torch.cdist(flat, before).argmin(1)
    means = torch.stack([flat[assign == k].mean(0) for k in range(4)])
    vq(z)
    # closer to the mean of the assigned vectors after the update ...
    assert ((vq.codebook - means).norm(dim=1) < (before - means).norm(dim=1)).all()
    # ... and exactly the smoothed EMA formula of the docstring
    counts = torch.bincount(assign, minlength=4).to(F64)
    usage = 0.9 * torch.ones(4, dtype=F64) + 0.1 * counts
    sums = 0.9 * before + 0.1 * torch.stack([flat[assign == k].sum(0) for k in range(4)])
    smoothed = (usage + vq.eps) / (usage.sum() + 4 * vq.eps) * usage.sum()
    torch.testing.assert_close(vq.codebook, sums / smoothed[:, None])
    # repeated updates converge to the means
    for _ in range(200):
        vq(z)
    torch.testing.assert_close(vq.codebook, means, atol=1e-6, rtol=0)


def test_perplexity_counts_the_codes_in_use():
    vq = VectorQuantizer(8, 1).double().eval()
    with torch.no_grad():
        vq.codebook.copy_(torch.arange(8, dtype=F64)[:, None])
    assert vq(torch.zeros(1, 1, 3, 3, dtype=F64)).perplexity.item() == pytest.approx(1.0)
    uniform = torch.arange(8, dtype=F64).repeat(2).view(1, 1, 4, 4)
    assert vq(uniform).perplexity.item() == pytest.approx(8.0)
    two = torch.tensor([0.0, 0.0, 0.0, 5.0], dtype=F64).view(1, 1, 2, 2)  # p = (3/4, 1/4)
    assert vq(two).perplexity.item() == pytest.approx(math.exp(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25))))


def test_dead_codes_are_restarted_on_batch_vectors():
    torch.manual_seed(0)
    vq = VectorQuantizer(6, 2, decay=0.5, restart_every=5, restart_threshold=0.05).double().train()
    with torch.no_grad():  # code 0 near the data, the others far away (never assigned)
        vq.codebook.copy_(torch.tensor([[0.0, 0.0]] + [[100.0 + k, 100.0] for k in range(5)], dtype=F64))
        vq.embed_sum.copy_(vq.codebook)
    z = 0.1 * latents((1, 2, 4, 4))
    for _ in range(4):
        vq(z)
    assert (vq.codebook[1:, 0] > 99).all()  # not yet: restarts only every 5 calls
    vq(z)
    flat = z.permute(0, 2, 3, 1).reshape(-1, 2)
    for k in range(1, 6):  # every dead code now sits on one of the batch's vectors
        assert (flat - vq.codebook[k]).norm(dim=1).min() < 1e-12
    assert (vq.usage[1:] == 1.0).all()
    assert vq(z).perplexity > 1.0


def test_bad_input_raises_physdiff_errors():
    vq = VectorQuantizer(8, 4)
    with pytest.raises(PhysdiffError, match=r"expected latents \(B, 4, \*space\).*must match"):
        vq(torch.zeros(1, 3, 2, 2))
    with pytest.raises(PhysdiffError, match="update"):
        VectorQuantizer(8, 4, update="kmeans")
    with pytest.raises(PhysdiffError, match="decay"):
        VectorQuantizer(8, 4, decay=1.0)
    with pytest.raises(PhysdiffError, match="num_codes"):
        VectorQuantizer(0, 4)
