"""ConvLSTM training throughput against a straightforward reference, and rollout memory with checkpointing.

(a) Training steps per second (Adam step on the MSE of an ``--steps``-frame free rollout from one
frame, both eager) of ``physdiff.learners.ConvLSTM`` and of a reference ConvLSTM written below
the way common reference code writes it (one ``nn.Conv2d`` with ``padding_mode="circular"`` on
``torch.cat([x, h])``, ``torch.split`` into the four gates), with the same layers, hidden
channels, kernel, batch, grid and rollout length. The reference is loaded with the physdiff
model's weights and the largest difference of their rollouts is printed, so the two compute
the same function. Each route is also run after ``model.to(memory_format=torch.channels_last)``
(with channels-last inputs). A timing is the median iteration time over ``--repeat`` seconds;
every entry is the median over ``--runs`` rounds, and in each round the routes are timed back to
back in this process, so ratios compare runs under the same conditions.

(b) Peak memory of a ``--memory-steps``-step rollout (forward and backward) with and without
``checkpoint=True``: on the CPU each case runs in a fresh subprocess that reports the growth of
its peak resident set size (``resource.getrusage``) over the rollout; on CUDA the in-process
``torch.cuda.max_memory_allocated``. The load average is printed before and after; on a shared
machine use ``--threads 1`` (with two OpenMP threads and other processes on the cores, the many
small operations of a rollout wait on each other and the figures mean little). Usage::

    python benchmarks/convlstm.py [--threads N] [--size 64] [--batch 4] [--hidden 32 32] [--steps 10]
                                  [--repeat SECONDS] [--runs N] [--memory-steps 300] [--memory-size 24]
                                  [--skip-speed] [--skip-memory] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

from physdiff.learners import ConvLSTM


class ReferenceCell(nn.Module):
    """The usual ConvLSTM cell: one convolution of the concatenated input and hidden state."""

    def __init__(self, in_channels: int, hidden: int, kernel_size: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.conv = nn.Conv2d(in_channels + hidden, 4 * hidden, kernel_size, padding=kernel_size // 2,
                              padding_mode="circular")

    def forward(self, x, state):
        h, c = state
        gates = self.conv(torch.cat([x, h], dim=1))
        zi, zf, zo, zg = torch.split(gates, self.hidden, dim=1)
        i, f, o, g = torch.sigmoid(zi), torch.sigmoid(zf), torch.sigmoid(zo), torch.tanh(zg)
        c = f * c + i * g
        return o * torch.tanh(c), c


class ReferenceConvLSTM(nn.Module):
    """Stacked reference cells, 1x1 head, residual prediction, free rollout from one frame."""

    def __init__(self, channels: int, hidden: list[int], kernel_size: int) -> None:
        super().__init__()
        inputs = [channels, *hidden[:-1]]
        self.cells = nn.ModuleList(ReferenceCell(i, h, kernel_size) for i, h in zip(inputs, hidden))
        self.head = nn.Conv2d(hidden[-1], channels, 1)

    def forward(self, u, n_steps):
        state = [(u.new_zeros(u.shape[0], c.hidden, *u.shape[2:]),) * 2 for c in self.cells]
        outputs = []
        for _ in range(n_steps):
            x = u
            for layer, cell in enumerate(self.cells):
                x, c = cell(x, state[layer])
                state[layer] = (x, c)
            u = u + self.head(x)
            outputs.append(u)
        return torch.stack(outputs, dim=1)

    def load_from(self, model: ConvLSTM) -> ReferenceConvLSTM:
        with torch.no_grad():
            for mine, theirs in zip(model.cells, self.cells):
                theirs.conv.weight.copy_(mine.weight)
                theirs.conv.bias.copy_(mine.bias)
            self.head.load_state_dict(model.head.state_dict())
        return self


def iteration_time(model, rollout, u0, target, seconds: float) -> float:
    """Median seconds of one training iteration (zero_grad, rollout, MSE, backward, Adam step)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

    def iteration():
        optimizer.zero_grad(set_to_none=True)
        F.mse_loss(rollout(u0), target).backward()
        optimizer.step()

    for _ in range(2):
        iteration()
    times: list[float] = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 3:
        t0 = time.perf_counter()
        iteration()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def speed(args: argparse.Namespace) -> None:
    device = torch.device(args.device)
    torch.manual_seed(0)
    hidden = tuple(args.hidden)
    model = ConvLSTM(args.channels, 2, hidden_channels=hidden, kernel_size=args.kernel).to(device)
    reference = ReferenceConvLSTM(args.channels, args.hidden, args.kernel).to(device).load_from(model)
    g = torch.Generator().manual_seed(1)
    u0 = torch.randn(args.batch, args.channels, args.size, args.size, generator=g).to(device)
    target = torch.randn(args.batch, args.steps, args.channels, args.size, args.size, generator=g).to(device)
    with torch.no_grad():
        difference = (model(u0, args.steps) - reference(u0, args.steps)).abs().max().item()
    # channels-last copies of both models (same weights), fed channels-last frames
    last = torch.channels_last
    model_cl = ConvLSTM(args.channels, 2, hidden_channels=hidden, kernel_size=args.kernel)
    model_cl.load_state_dict(model.state_dict())
    reference_cl = ReferenceConvLSTM(args.channels, args.hidden, args.kernel).load_from(model)
    model_cl.to(device=device, memory_format=last)
    reference_cl.to(device=device, memory_format=last)
    u0_cl = u0.contiguous(memory_format=last)
    routes = {
        "reference": (reference, u0),
        "physdiff": (model, u0),
        "reference CL": (reference_cl, u0_cl),
        "physdiff CL": (model_cl, u0_cl),
    }
    rounds = []
    for _ in range(args.runs):
        rounds.append({name: iteration_time(m, lambda u, m=m: m(u, args.steps), u, target, args.repeat)
                       for name, (m, u) in routes.items()})
    print(f"training iterations per second ({args.steps}-step rollout, batch {args.batch}, {args.size}^2, "
          f"{args.channels} channels, hidden {args.hidden}, kernel {args.kernel}), median of {args.runs} rounds")
    header = f"{'route':<16}{'iter/s':>10}{'vs reference':>15}"
    print(header)
    print("-" * len(header))
    for name in routes:
        rate = statistics.median(1 / r[name] for r in rounds)
        ratio = statistics.median(r["reference"] / r[name] for r in rounds)
        print(f"{name:<16}{rate:>10.2f}{ratio:>14.2f}x", flush=True)
    print(f"largest difference of the physdiff and reference rollouts (same weights): {difference:.1e}")


def _proc_status_mib(field: str) -> float | None:
    """A memory line of /proc/self/status (Linux) in MiB, or None where there is none."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Reset this process's peak resident set size (Linux >= 4.0); False where that is impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
        return True
    except OSError:
        return False


def memory_case(args: argparse.Namespace) -> dict[str, float]:
    """Run one rollout (forward + backward) and return its peak memory growth in MiB.

    On the CPU: the peak RSS is reset before the rollout where Linux allows it (so an earlier
    transient, e.g. while importing, does not hide the rollout's peak) and the growth is the peak
    minus the resident size at the start; elsewhere ``getrusage``'s lifetime peak is the fallback.
    """
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = ConvLSTM(args.channels, 2, hidden_channels=tuple(args.hidden), kernel_size=args.kernel).to(device)
    u0 = torch.randn(args.memory_batch, args.channels, args.memory_size, args.memory_size, device=device)
    checkpoint = args.memory_case == "checkpoint"
    model(u0, 2, checkpoint=checkpoint).square().mean().backward()  # load kernels, allocate the gradients
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated() / 2**20
    elif _reset_peak_rss() and _proc_status_mib("VmRSS") is not None:
        before = _proc_status_mib("VmRSS")
    else:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    model(u0, args.memory_steps, checkpoint=checkpoint).square().mean().backward()
    seconds = time.perf_counter() - start
    if device.type == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = _proc_status_mib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"growth_mib": peak - before, "seconds": seconds}


def memory(args: argparse.Namespace) -> None:
    results = {}
    for case in ("plain", "checkpoint"):
        if args.device == "cpu":
            command = [sys.executable, __file__, "--memory-case", case, *sys.argv[1:]]
            lines = subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines()
            results[case] = json.loads(lines[-1])
        else:
            args.memory_case = case
            results[case] = memory_case(args)
    what = "peak RSS growth" if args.device == "cpu" else "peak CUDA memory above the start"
    print(f"{args.memory_steps}-step rollout, forward + backward (batch {args.memory_batch}, {args.memory_size}^2, "
          f"hidden {args.hidden}): {what}")
    for case, r in results.items():
        print(f"  {case:<11}{r['growth_mib']:>9.0f} MiB  in {r['seconds']:.1f} s")
    ratio = results["plain"]["growth_mib"] / max(results["checkpoint"]["growth_mib"], 1e-9)
    print(f"  checkpoint=True uses {ratio:.1f}x less memory")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--channels", type=int, default=2)
    parser.add_argument("--hidden", type=int, nargs="+", default=[32, 32])
    parser.add_argument("--kernel", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10, help="rollout length of a training iteration")
    parser.add_argument("--repeat", type=float, default=1.5, help="seconds of timing per route and round")
    parser.add_argument("--runs", type=int, default=3, help="rounds; each entry is the median over them")
    parser.add_argument("--memory-steps", type=int, default=300)
    parser.add_argument("--memory-size", type=int, default=24)
    parser.add_argument("--memory-batch", type=int, default=2)
    parser.add_argument("--memory-case", choices=("plain", "checkpoint"), help=argparse.SUPPRESS)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-memory", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_case:
        print(json.dumps(memory_case(args)))
        return
    print(f"torch {torch.__version__}, {platform.processor() or platform.machine()}, device {args.device}, "
          f"threads {torch.get_num_threads()}, load average before {os.getloadavg()[0]:.2f}")
    if not args.skip_speed:
        speed(args)
    if not args.skip_memory:
        memory(args)
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
