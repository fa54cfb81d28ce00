"""Data parallelism over ``torch.distributed`` when launched by ``torchrun``.

``torchrun`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; with ``WORLD_SIZE > 1`` the
trainer joins the process group (``nccl`` on CUDA, ``gloo`` on the CPU), each rank computes
the gradient of its equal share of every global batch, and the gradients are averaged with
one ``all_reduce`` per step, so every rank applies the same update as a single process
would on the whole batch. Only rank 0 writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from ..core import PhysdiffError


@dataclass
class DistContext:
    """Where this process stands: ``rank`` of ``world_size`` (1 without torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False  # this process created the group and destroys it in teardown()

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launched_world() -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` from the torchrun environment ((0, 1, 0) without it)."""
    try:
        return (int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                int(os.environ.get("LOCAL_RANK", 0)))
    except ValueError as exc:
        raise PhysdiffError(f"distributed: RANK/WORLD_SIZE/LOCAL_RANK must be integers ({exc}); launch with torchrun.") from exc


def resolve_device(name: str, local_rank: int) -> torch.device:
    """``"auto"``: ``cuda:LOCAL_RANK`` if CUDA is available, else the CPU; otherwise ``torch.device(name)``."""
    if name == "auto":
        return torch.device("cuda", local_rank) if torch.cuda.is_available() else torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as exc:
        raise PhysdiffError(f"TrainConfig: device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got {name!r}.") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise PhysdiffError(f"TrainConfig: device: {name!r} asked for, but this torch has no CUDA device; "
                            "use device 'auto' or 'cpu'.")
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)
    return device


def setup(device: torch.device) -> DistContext:
    """Join the torchrun process group if ``WORLD_SIZE > 1`` (reusing one already initialised)."""
    rank, world, local = launched_world()
    if world <= 1:
        return DistContext()
    if not dist.is_available():
        raise PhysdiffError("distributed: launched with WORLD_SIZE > 1 but this torch has no torch.distributed.")
    owns = False
    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        owns = True
    return DistContext(rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local, owns_group=owns)


def teardown(ctx: DistContext, *, clean: bool = True) -> None:
    """Leave the process group if this trainer created it.

    After a clean run every rank waits for the others first; after an error it leaves at once
    (a barrier could wait forever for a rank that failed elsewhere or is still in a collective).
    """
    if ctx.owns_group and dist.is_initialized():
        if clean:
            dist.barrier()
        dist.destroy_process_group()
        ctx.owns_group = False


def broadcast_parameters(model: nn.Module, ctx: DistContext) -> None:
    """Start every rank from rank 0's weights and buffers."""
    if ctx.active:
        for tensor in list(model.parameters()) + list(model.buffers()):
            dist.broadcast(tensor.data, src=0)


def average_gradients(model: nn.Module, ctx: DistContext) -> None:
    """Average the gradients over ranks in one flat all_reduce (missing gradients count as zero)."""
    if not ctx.active:
        return
    params = [p for p in model.parameters() if p.requires_grad]
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= ctx.world_size
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset : offset + n].view_as(p).clone()
        offset += n


def all_sum(values: list[float], ctx: DistContext, device: torch.device) -> list[float]:
    """Sum a few float64 scalars over ranks (identity without distribution)."""
    if not ctx.active:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def all_agree(flag: bool, ctx: DistContext, device: torch.device) -> bool:
    """True on every rank iff ``flag`` is True on every rank."""
    if not ctx.active:
        return flag
    return all_sum([0.0 if flag else 1.0], ctx, device)[0] == 0.0
