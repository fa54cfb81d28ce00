"""Training iterations per second and peak memory of PeRCNN and PIMRL on 3D Gray-Scott, long rollouts.

    python benchmarks/percnn_pimrl.py [--grid 48] [--rollout 300] [--device cpu|cuda] [--threads 1]

One training iteration = a rollout of ``--rollout`` micro steps (``dt = 0.5``; PeRCNN: that many
Euler steps; PIMRL: ``rollout / k`` macro steps of ``k = 5`` micro steps, message passing every
2nd) from a random Gray-Scott-like state, an MSE loss on every output frame, and backward.
Each (model, checkpointing) case runs in a fresh subprocess: on the CPU it reports the growth
of the process's peak resident memory (``ru_maxrss``) during the measured iteration above the
state after a warm-up iteration of 2 steps; on CUDA, ``max_memory_allocated`` above the start.
``checkpoint=True`` is the learners' gradient checkpointing (segments of ``ceil(sqrt(n))``
steps recomputed in backward). The table prints iterations/s and memory, with the ratio of the
plain to the checkpointed run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import torch

from physdiff.learners import PIMRL, ConvLSTMAutoencoder, PeRCNN

K, PERIOD, DT = 5, 2, 0.5


def build(name: str, grid: int) -> tuple[torch.nn.Module, int]:
    """The model and the number of its output steps covering the rollout."""
    spacing = [100 / 48] * 3
    micro = PeRCNN(2, 3, dt=DT, spacing=spacing, hidden=4, coefficient_bound=[0.4, 0.2], init_gain=0.01)
    if name == "percnn":
        return micro, 1
    macro = ConvLSTMAutoencoder(2, 3, latent_channels=16, hidden_channels=(16,), time_step=K * DT)
    return PIMRL(micro, macro, period=PERIOD), K


def run_case(args: argparse.Namespace) -> dict[str, float]:
    device = torch.device(args.device)
    torch.manual_seed(0)
    model, per_step = build(args.model, args.grid)
    model = model.to(device)
    n_steps = args.rollout // per_step
    u0 = torch.rand(1, 2, *(args.grid,) * 3, device=device) * 0.5 + torch.tensor([0.5, 0.0], device=device).view(1, 2, 1, 1, 1)
    checkpoint = args.case == "checkpoint"

    def iteration(steps: int) -> None:
        model.zero_grad(set_to_none=True)
        model(u0, steps, checkpoint=checkpoint).square().mean().backward()

    iteration(2)  # allocate gradients, load kernels
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated() / 2**20
    else:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    iteration(n_steps)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = (torch.cuda.max_memory_allocated() if device.type == "cuda" else
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024) / 2**20
    return {"seconds": seconds, "memory_mib": peak - before}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=int, default=48)
    parser.add_argument("--rollout", type=int, default=300, help="micro steps per training iteration")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--models", default="percnn,pimrl")
    parser.add_argument("--release-memory", action="store_true",
                        help="run the cases with MALLOC_MMAP_THRESHOLD_=65536 so freed blocks go back to the OS and "
                             "peak RSS tracks live tensors rather than glibc's retained heap")
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--case", choices=("plain", "checkpoint"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.case:
        print(json.dumps(run_case(args)))
        return
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, device {args.device}, "
          f"threads {args.threads}, load average before {os.getloadavg()[0]:.2f}")
    print(f"3D Gray-Scott {args.grid}^3, batch 1, rollout of {args.rollout} micro steps (dt = {DT}), forward + backward"
          + (", glibc returning freed blocks (MALLOC_MMAP_THRESHOLD_=65536)" if args.release_memory else ""))
    header = f"{'model':<8}{'checkpoint':<12}{'s/iter':>9}{'iter/s':>9}{'memory MiB':>12}"
    print(header)
    print("-" * len(header))
    for name in args.models.split(","):
        results = {}
        for case in ("plain", "checkpoint"):
            command = [sys.executable, __file__, "--model", name, "--case", case, "--grid", str(args.grid),
                       "--rollout", str(args.rollout), "--device", args.device, "--threads", str(args.threads)]
            env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536") if args.release_memory else None
            results[case] = json.loads(subprocess.run(command, check=True, capture_output=True, text=True, env=env)
                                       .stdout.splitlines()[-1])
            r = results[case]
            print(f"{name:<8}{case:<12}{r['seconds']:>9.2f}{1 / r['seconds']:>9.3f}{r['memory_mib']:>12.0f}", flush=True)
        ratio = results["plain"]["memory_mib"] / max(results["checkpoint"]["memory_mib"], 1e-9)
        slow = results["checkpoint"]["seconds"] / results["plain"]["seconds"]
        print(f"{name}: checkpointing uses {ratio:.1f}x less memory and takes {slow:.2f}x the time")
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
