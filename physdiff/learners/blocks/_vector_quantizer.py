"""Vector quantiser (VQ-VAE, van den Oord et al. 2017) with an EMA or a loss-updated codebook.

Every vector ``z`` (a channel column of a ``(B, D, *space)`` latent) is replaced by its nearest
code ``e_k`` of a codebook ``E = (e_1, ..., e_K)``, ``k = argmin_j ||z - e_j||^2``. The output is
``q = z + sg(e_k - z)`` (``sg`` = stop-gradient), which equals ``e_k`` in value and passes the
gradient to ``z`` unchanged (the straight-through estimator). The quantiser's loss is

* ``update="ema"``: ``beta * ||z - sg(e_k)||^2`` (commitment only); the codebook is not trained by
  gradients but by exponential moving averages of the assignment counts ``N_k`` and of the
  assigned sums ``m_k`` (van den Oord et al. 2017, appendix; decay ``gamma``)::

      N_k <- gamma N_k + (1 - gamma) n_k,        m_k <- gamma m_k + (1 - gamma) sum_{z -> k} z,
      e_k = m_k / N~_k,   N~_k = (N_k + eps) / (sum_j N_j + K eps) * sum_j N_j   (Laplace smoothing)

* ``update="loss"``: ``||sg(z) - e_k||^2 + beta * ||z - sg(e_k)||^2`` (codebook and commitment
  terms; the codebook is an ``nn.Parameter``).

Squared norms are means over vectors and channels (the usual ``F.mse_loss``). Codebook usage is
reported as the perplexity ``exp(-sum_k p_k log p_k)`` of the batch's assignment frequencies
``p_k`` (1 when one code is used, ``K`` when all are used equally). Dead-code restart: in
training, every ``restart_every`` calls, codes whose running usage ``N_k`` fell below
``restart_threshold`` (in vectors per call) are replaced by randomly chosen vectors of the
current batch (and their running statistics reset to one assignment of that vector), so that a
codebook initialised away from the data does not keep unused entries.

The EMA statistics are buffers updated in place in ``forward`` under training; under data
parallelism each rank updates from its own share (no all-reduce; the ranks' codebooks can drift
apart, so use ``update="loss"`` when training on several processes).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from ...core import PhysdiffError

__all__ = ["Quantized", "VectorQuantizer"]

UPDATES = ("ema", "loss")


class Quantized(NamedTuple):
    """What :class:`VectorQuantizer` returns.

    Attributes:
        quantized: ``(B, D, *space)``, equal to the codes in value, straight-through in gradient.
        loss: the quantiser's loss (0-d).
        indices: ``(B, *space)`` code index of every vector (int64).
        perplexity: codebook usage of this batch, ``exp(entropy)`` of the assignment frequencies (0-d).
    """

    quantized: torch.Tensor
    loss: torch.Tensor
    indices: torch.Tensor
    perplexity: torch.Tensor


def _check_positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PhysdiffError(f"VectorQuantizer: {name}: expected a positive int, got {value!r}.")
    return value


class VectorQuantizer(nn.Module):
    """Nearest-code quantisation of ``(B, D, *space)`` latents with straight-through gradients.

    Args:
        num_codes: ``K``, the codebook size.
        dim: ``D``, the code dimension (must equal the encoder's channels).
        commitment: ``beta``, the weight of the commitment term.
        update: ``"ema"`` (moving averages, decay ``decay``) or ``"loss"`` (gradient on the codebook term).
        decay: ``gamma`` of the EMA update, in (0, 1).
        eps: Laplace smoothing of the EMA counts.
        restart_every: check for dead codes every this many training calls (0 disables restarts).
        restart_threshold: a code whose running usage ``N_k`` is below this is dead.

    Attributes:
        codebook: ``(K, D)`` (a buffer for ``"ema"``, a parameter for ``"loss"``).
        usage: ``(K,)`` running assignment counts ``N_k`` (EMA in both modes; drives restarts).
    """

    def __init__(self, num_codes: int = 512, dim: int = 64, *, commitment: float = 0.25, update: str = "ema",
                 decay: float = 0.99, eps: float = 1e-5, restart_every: int = 100,
                 restart_threshold: float = 1e-3) -> None:
        super().__init__()
        self.num_codes = _check_positive_int(num_codes, "num_codes")
        self.dim = _check_positive_int(dim, "dim")
        if update not in UPDATES:
            raise PhysdiffError(f"VectorQuantizer: update: expected one of {UPDATES}, got {update!r}.")
        if not 0.0 < float(decay) < 1.0:
            raise PhysdiffError(f"VectorQuantizer: decay: expected a number in (0, 1) (e.g. 0.99), got {decay!r}.")
        if not float(commitment) >= 0.0 or not float(eps) > 0.0 or not float(restart_threshold) >= 0.0:
            raise PhysdiffError(f"VectorQuantizer: expected commitment >= 0, eps > 0, restart_threshold >= 0, got "
                                f"{commitment!r}, {eps!r}, {restart_threshold!r}.")
        if isinstance(restart_every, bool) or not isinstance(restart_every, int) or restart_every < 0:
            raise PhysdiffError(f"VectorQuantizer: restart_every: expected an int >= 0, got {restart_every!r}.")
        self.update, self.commitment, self.decay, self.eps = update, float(commitment), float(decay), float(eps)
        self.restart_every, self.restart_threshold = restart_every, float(restart_threshold)
        # Uniform in +-1/K, the VQ-VAE initialisation (codes start near the origin; restarts move
        # the unused ones onto the data).
        codebook = torch.empty(num_codes, dim).uniform_(-1.0 / num_codes, 1.0 / num_codes)
        if update == "ema":
            self.register_buffer("codebook", codebook)
            self.register_buffer("embed_sum", codebook.clone())
        else:
            self.codebook = nn.Parameter(codebook)
        self.register_buffer("usage", torch.ones(num_codes))
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))

    def extra_repr(self) -> str:
        return (f"num_codes={self.num_codes}, dim={self.dim}, update={self.update!r}, "
                f"commitment={self.commitment}, decay={self.decay}")

    def nearest(self, flat: torch.Tensor) -> torch.Tensor:
        """Index of the nearest code of each row of ``flat`` ``(N, D)`` (squared Euclidean distance)."""
        codebook = self.codebook.detach()
        distance = (flat.square().sum(1, keepdim=True) - 2.0 * flat @ codebook.t()
                    + codebook.square().sum(1)[None])
        return distance.argmin(dim=1)

    def forward(self, z: torch.Tensor) -> Quantized:
        """Quantise ``z`` ``(B, D, *space)``; in training mode also update the EMA codebook and restart dead codes."""
        if not isinstance(z, torch.Tensor) or z.dim() < 2 or z.shape[1] != self.dim:
            got = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise PhysdiffError(
                f"VectorQuantizer: z: expected latents (B, {self.dim}, *space) (channels = the codebook dimension "
                f"{self.dim}), got {got}. The encoder's output channels and the codebook dimension must match: "
                "build the quantiser with dim equal to the encoder's latent channels."
            )
        flat = rearrange(z, "b d ... -> (b ...) d")
        indices = self.nearest(flat.detach().to(self.codebook.dtype))
        one_hot = F.one_hot(indices, self.num_codes).to(flat.dtype)
        counts = one_hot.sum(0)
        if self.training:
            self._update_statistics(flat.detach(), one_hot, counts)
        codes = self.codebook[indices].to(flat.dtype)  # after the EMA update, as in VQ-VAE-2 implementations
        commit = F.mse_loss(flat, codes.detach())
        loss = self.commitment * commit
        if self.update == "loss":
            loss = loss + F.mse_loss(codes, flat.detach())
        quantized_flat = flat + (codes - flat).detach()  # straight-through
        quantized = quantized_flat.reshape(z.shape[0], *z.shape[2:], self.dim).movedim(-1, 1)
        p = counts / counts.sum()
        perplexity = torch.exp(-(p * torch.log(p + 1e-10)).sum())
        return Quantized(quantized, loss, indices.view(z.shape[0], *z.shape[2:]), perplexity)

    @torch.no_grad()
    def _update_statistics(self, flat: torch.Tensor, one_hot: torch.Tensor, counts: torch.Tensor) -> None:
        self.calls += 1
        self.usage.mul_(self.decay).add_(counts.to(self.usage.dtype), alpha=1.0 - self.decay)
        if self.update == "ema":
            sums = (one_hot.t() @ flat).to(self.embed_sum.dtype)
            self.embed_sum.mul_(self.decay).add_(sums, alpha=1.0 - self.decay)
            total = self.usage.sum()
            smoothed = (self.usage + self.eps) / (total + self.num_codes * self.eps) * total
            self.codebook.copy_(self.embed_sum / smoothed[:, None])
        if self.restart_every and int(self.calls) % self.restart_every == 0:
            self._restart_dead_codes(flat)

    @torch.no_grad()
    def _restart_dead_codes(self, flat: torch.Tensor) -> None:
        dead = torch.nonzero(self.usage < self.restart_threshold).flatten()
        if dead.numel() == 0:
            return
        picks = torch.randint(flat.shape[0], (dead.numel(),), device=flat.device)
        vectors = flat[picks].to(self.codebook.dtype)
        self.codebook.data[dead] = vectors
        self.usage[dead] = 1.0
        if self.update == "ema":
            self.embed_sum[dead] = vectors
