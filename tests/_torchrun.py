"""Launch a 2-process CPU (gloo) job under torchrun for the distributed tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

# A free port is found by binding port 0 and releasing it; another process can take it before
# torchrun binds it, and the rendezvous of the two workers can then fail to connect. Only such
# launch failures (network errors before any training) are retried; a failure of the training
# itself, or a wrong result, fails the test at once.
_LAUNCH_FAILURE = ("address already in use", "eaddrinuse", "errno 98", "distnetworkerror", "connection refused",
                   "connection reset", "rendezvous")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_torchrun(args: list[str], *, cwd: str | None = None, attempts: int = 3) -> subprocess.CompletedProcess:
    """``python -m torch.distributed.run --nproc_per_node=2 ARGS`` with one thread per process."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = "1"
    for _ in range(attempts):
        command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
                   f"--master_port={_free_port()}", *args]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180, cwd=cwd)
        if done.returncode == 0 or not any(s in done.stderr.lower() for s in _LAUNCH_FAILURE):
            return done
    return done
