"""Train a tiny problem; run under torchrun by test_distributed.py (and in-process as its reference).

Usage: python -m torch.distributed.run --nproc_per_node=2 tests/training/ddp_script.py OUT_DIR
"""

from __future__ import annotations

import sys

import torch

from physdiff.training import FitResult, TrainConfig, Trainer, seed_everything

try:
    from ._helpers import LinearConv, advected, windows
except ImportError:  # run as a script: this directory is sys.path[0]
    from _helpers import LinearConv, advected, windows

CONFIG = TrainConfig(steps=6, batch_size=4, context_frames=2, horizon=3, dtype="float64", device="cpu",
                     validate_every=3, checkpoint_every=3, log_every=1, grad_clip=5.0, optimizer={"lr": 1e-2},
                     teacher_forcing={"start": 0.5, "end": 0.5})


def run(out_dir: str) -> FitResult:
    seed_everything(0)
    model = LinearConv(kernel_size=5).double()
    trajectories = advected(n=4, frames=8)
    train, val = windows(trajectories[:3], 5), windows(trajectories[3:], 5)  # 12 training windows: 3 batches/epoch
    return Trainer(model, CONFIG, train, val, out_dir=out_dir).fit()


if __name__ == "__main__":
    torch.set_num_threads(1)
    run(sys.argv[1])
