"""Deterministic, resumable batch order: one shuffle per epoch from a private generator.

Epoch ``e`` is a permutation of the dataset drawn from the data generator when the epoch
starts; global batch ``j`` of the epoch is ``perm[j B : (j + 1) B]`` (an incomplete last batch
is dropped). With ``W`` distributed ranks, rank ``r`` loads the slice
``[r B / W, (r + 1) B / W)`` of every global batch, so the global batches are the same as in
a single-process run. The generator state, the current permutation and the position are
saved in checkpoints.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from ..core import PhysdiffError


class BatchStream:
    """Yields this rank's share of successive global batches, stacked to ``(b, T, C, *space)``."""

    def __init__(self, dataset: Dataset, batch_size: int, generator: torch.Generator, *, rank: int = 0,
                 world_size: int = 1, num_workers: int = 0) -> None:
        n = len(dataset)  # type: ignore[arg-type]
        if n < batch_size:
            raise PhysdiffError(
                f"training data: {n} windows, fewer than batch_size = {batch_size}; lower batch_size or use more "
                "(or shorter, or more strided) windows."
            )
        if batch_size % world_size:
            raise PhysdiffError(
                f"TrainConfig: batch_size: {batch_size} windows cannot be split evenly over {world_size} distributed "
                "ranks; choose a multiple of the number of processes."
            )
        self.dataset, self.batch_size, self.generator = dataset, batch_size, generator
        self.rank, self.world_size, self.num_workers = rank, world_size, num_workers
        self.per_epoch = n // batch_size
        self.epoch = -1  # no epoch started yet
        self.position = self.per_epoch  # next batch within the epoch
        self.permutation = torch.empty(0, dtype=torch.int64)
        self._loader: Iterator[torch.Tensor] | None = None

    def _shard(self, j: int) -> list[int]:
        share = self.batch_size // self.world_size
        start = j * self.batch_size + self.rank * share
        return self.permutation[start : start + share].tolist()

    def next(self) -> torch.Tensor:
        """This rank's part of the next global batch."""
        if self.position >= self.per_epoch:
            self.epoch += 1
            self.position = 0
            self.permutation = torch.randperm(len(self.dataset), generator=self.generator)  # type: ignore[arg-type]
            self._loader = None
        j = self.position
        self.position += 1
        if self.num_workers == 0:
            return torch.stack([torch.as_tensor(self.dataset[i]) for i in self._shard(j)])
        if self._loader is None:
            # One loader per (part of an) epoch over the remaining batches; its own generator so that
            # creating it never draws from the global RNG (which would break exact resumption).
            batches = [self._shard(k) for k in range(j, self.per_epoch)]
            seed_gen = torch.Generator().manual_seed(self.epoch)
            self._loader = iter(DataLoader(self.dataset, batch_sampler=batches, num_workers=self.num_workers,
                                           generator=seed_gen))
        return next(self._loader)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state(), "epoch": self.epoch, "position": self.position,
                "permutation": self.permutation.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self.permutation = state["permutation"].clone()
        self._loader = None


def check_windows(model: Any, data: Dataset, frames: int, what: str) -> None:
    """Refuse a dataset whose first window does not fit ``model`` or has fewer than ``frames`` frames."""
    where = f"Trainer: {what}"
    try:
        n = len(data)  # type: ignore[arg-type]
    except TypeError as exc:
        raise PhysdiffError(f"{where}: expected a map-style dataset with len(), got {type(data).__name__}.") from exc
    if n == 0:
        raise PhysdiffError(f"{where}: the dataset is empty.")
    item = torch.as_tensor(data[0])
    try:
        model.check_frames(item[None], what)
    except PhysdiffError as exc:
        raise PhysdiffError(f"{where}: {exc}") from None
    if item.shape[0] < frames:
        raise PhysdiffError(
            f"{where}: windows have {item.shape[0]} frames, but context_frames + horizon = {frames} are needed. "
            "Make longer windows or use a shorter horizon."
        )
