"""Training speed and memory of ConvLSTM, ConvGRU and the minimal ConvRNNs at matched parameters.

(a) Training iterations per second of the five cells in the paper's network
(:class:`physdiff.learners.ConvRNN`, 4 layers at the paper's parameter-matched widths
ConvLSTM 25, ConvGRU 28, MinConvGRU 49, MinConvLSTM 40, MinConvExpLSTM 40) on the Navier-Stokes
setting: 16x16, one channel, sequence 25 of which 20 teacher-forced (the paper's
``forward(x, tf)``: the teacher-forced frames through the scan, then 5 closed-loop steps), batch 8,
MSE over all 25 outputs, backward and an Adam step; and the same at 64x64 (``--big-batch``). The
minimal cells run with every scan method ('sequential', 'log', 'auto'). Routes are timed round
robin in this one process (median iteration time per route over ``--rounds`` rounds, after a
warm-up), and every rate is printed as a ratio to ConvLSTM's measured in the same rounds.

(b) Peak memory of one iteration per route: on the CPU each route runs in a fresh subprocess
(with ``MALLOC_MMAP_THRESHOLD_=65536``, so freed memory returns to the OS) that warms up on a
2x2 grid and reports the growth of its peak resident set size over one full iteration (Linux);
on CUDA ``torch.cuda.max_memory_allocated`` in process.

(c) With ``--inference`` (meant for a GPU): the repository notebook's comparison, a 10-layer
ConvLSTM(12) run sequentially against a 10-layer MinConvLSTM(20) through the scan, no-grad
forward of T = 10 teacher-forced frames, B = 4, grids 4^2 .. 64^2, median of 10 repetitions.
``benchmarks/gpu_check.sh`` runs ``--sizes 16 64 --inference`` on a GPU.

On a shared machine use ``--threads 1`` and read only the ratios. Usage::

    python benchmarks/convrnn.py [--threads 1] [--device cpu] [--rounds 3] [--sizes 16 64]
                                 [--batch 8] [--big-batch 2] [--skip-memory] [--inference [--inference-sizes 4 16 32 64]]
                                 [--profile]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import torch

from physdiff.integrators import resolve_scan_method
from physdiff.learners import ConvRNN

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from convlstm import _proc_status_mib, _reset_peak_rss  # noqa: E402  (the same RSS probes as the ConvLSTM benchmark)

WIDTHS = {"convlstm": 25, "convgru": 28, "minconvgru": 49, "minconvlstm": 40, "minconvexplstm": 40}
ROUTES = [("convlstm", "sequential"), ("convgru", "sequential")] + [
    (cell, scan) for cell in ("minconvgru", "minconvlstm", "minconvexplstm") for scan in ("sequential", "log", "auto")]
SEQUENCE, TEACHER, LAYERS = 25, 20, 4


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_route(cell: str, scan: str, size: int, batch: int, device: torch.device):
    """A closure running one training iteration of ``cell`` with ``scan`` (and its model)."""
    torch.manual_seed(0)
    model = ConvRNN(1, 2, [WIDTHS[cell]] * LAYERS, cell=cell, grid=(size, size), scan=scan).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.randn(batch, SEQUENCE + 1, 1, size, size, device=device)

    def iteration() -> None:
        out = model.paper_rollout(x[:, :-1], TEACHER)
        loss = (out - x[:, 1:]).square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return model, iteration


def speed(args: argparse.Namespace, size: int, batch: int) -> dict[str, float]:
    device = torch.device(args.device)
    routes = {route: make_route(*route, size, batch, device)[1] for route in ROUTES}
    times: dict[tuple, list[float]] = {route: [] for route in routes}
    for route, iteration in routes.items():  # warm-up (and 'auto' measures its choice here)
        iteration()
    for _ in range(args.rounds):
        for route, iteration in routes.items():
            _sync(device)
            start = time.perf_counter()
            iteration()
            _sync(device)
            times[route].append(time.perf_counter() - start)
    rates = {route: 1.0 / statistics.median(t) for route, t in times.items()}
    return {f"{cell}/{scan}": rate for (cell, scan), rate in rates.items()}


def memory_case(args: argparse.Namespace) -> dict[str, float]:
    """One iteration of ``--memory-case CELL/SCAN`` after a warm-up; its peak memory growth in MiB."""
    device = torch.device(args.device)
    cell, scan = args.memory_case.split("/")
    # warm-up on a 2x2 grid (loads the kernels, allocates little); 'auto' times its choice for the
    # measured shape now, so the timing's tensors are not counted
    make_route(cell, scan, 2, 1, device)[1]()
    if scan == "auto":
        resolve_scan_method("auto", (args.memory_batch, TEACHER, WIDTHS[cell], args.memory_size, args.memory_size),
                            torch.float32, device, True)
    _, iteration = make_route(cell, scan, args.memory_size, args.memory_batch, device)
    if device.type == "cuda":
        _sync(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device) / 2**20
    else:
        _reset_peak_rss()
        before = _proc_status_mib("VmRSS") or 0.0
    iteration()
    _sync(device)
    peak = (torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda"
            else _proc_status_mib("VmHWM") or float("nan"))
    return {"growth_mib": peak - before}


def memory(args: argparse.Namespace, size: int, batch: int) -> dict[str, float]:
    results = {}
    for cell, scan in ROUTES:
        name = f"{cell}/{scan}"
        flags = ["--memory-case", name, "--memory-size", str(size), "--memory-batch", str(batch),
                 "--device", args.device, "--threads", str(args.threads)]
        if args.device == "cpu":
            # freed blocks go back to the OS, so the peak RSS tracks live tensors rather than heap
            # that glibc keeps for reuse (as in benchmarks/percnn_pimrl.py --release-memory)
            env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
            lines = subprocess.run([sys.executable, __file__, *flags], check=True, capture_output=True,
                                   text=True, env=env).stdout.splitlines()
            results[name] = json.loads(lines[-1])["growth_mib"]
        else:
            args.memory_case, args.memory_size, args.memory_batch = name, size, batch
            results[name] = memory_case(args)["growth_mib"]
    return results


def inference(args: argparse.Namespace) -> None:
    """The notebook's comparison: 10-layer ConvLSTM(12) sequential vs MinConvLSTM(20) parallel, no grad."""
    device = torch.device(args.device)
    print("\ninference, no grad, T = 10, B = 4, 10 layers: median ms of 10 repetitions")
    print(f"{'grid':>6}{'ConvLSTM(12)':>15}{'MinConvLSTM(20)':>17}{'speed-up':>10}")
    for size in args.inference_sizes:
        timings = []
        for cell, width in (("convlstm", 12), ("minconvlstm", 20)):
            model = ConvRNN(1, 2, [width] * 10, cell=cell, grid=(size, size), scan=args.scan).to(device).eval()
            x = torch.randn(4, 10, 1, size, size, device=device)
            with torch.no_grad():
                model.teacher_forced(x)
                reps = []
                for _ in range(10):
                    _sync(device)
                    start = time.perf_counter()
                    model.teacher_forced(x)
                    _sync(device)
                    reps.append(time.perf_counter() - start)
            timings.append(1e3 * statistics.median(reps))
        print(f"{size:>4}^2{timings[0]:>15.2f}{timings[1]:>17.2f}{timings[0] / timings[1]:>9.2f}x", flush=True)


def profile(args: argparse.Namespace, size: int, batch: int) -> None:
    """Where one iteration's time goes (torch.profiler, self CPU time): convolutions forward and
    backward against the rest, and the largest other operations, per cell with its default scan."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    device = torch.device(args.device)
    print(f"\nprofile, {size}x{size}, batch {batch}: one iteration after two warm-ups, self CPU ms")
    print(f"{'route':<28}{'total':>8}{'conv':>8}{'share':>7}  largest other operations")
    for cell, scan in ROUTES:
        if scan not in ("sequential",):
            continue
        _, iteration = make_route(cell, scan, size, batch, device)
        iteration()
        iteration()
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            iteration()
        ops = {e.key: e.self_cpu_time_total / 1e3 for e in prof.key_averages()}
        total = sum(ops.values())
        conv = sum(ms for name, ms in ops.items() if "conv" in name and name.startswith("aten::"))
        others = sorted(((ms, name) for name, ms in ops.items() if "conv" not in name and "::" in name
                         and not name.startswith(("autograd::", "Optimizer."))), reverse=True)[:5]
        listed = ", ".join(f"{name.replace('aten::', '')} {ms:.0f}" for ms, name in others)
        print(f"{cell + '/' + scan:<28}{total:>8.0f}{conv:>8.0f}{conv / total:>6.0%}  {listed}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--batch", type=int, default=8, help="batch at 16x16 (the paper's setting)")
    parser.add_argument("--big-batch", type=int, default=2, help="batch at grids above 16x16")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-memory-at", type=int, nargs="*", default=[], help="grid sizes without memory")
    parser.add_argument("--inference", action="store_true")
    parser.add_argument("--profile", action="store_true", help="also profile one iteration per cell (CPU)")
    parser.add_argument("--scan", default="auto", help="scan method of MinConvLSTM in --inference")
    parser.add_argument("--inference-sizes", type=int, nargs="+", default=[4, 16, 32, 64],
                        help="grid sizes of --inference (the notebook's: 4 16 32 64)")
    parser.add_argument("--memory-case", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--memory-size", type=int, default=16, help=argparse.SUPPRESS)
    parser.add_argument("--memory-batch", type=int, default=8, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_case is not None:
        print(json.dumps(memory_case(args)))
        return
    print(f"machine: {platform.machine()} {platform.processor() or ''}, torch {torch.__version__}, "
          f"device {args.device}, threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}")
    for size in args.sizes:
        batch = args.batch if size <= 16 else args.big_batch
        print(f"\n{size}x{size}, batch {batch}, sequence {SEQUENCE} ({TEACHER} teacher-forced), {LAYERS} layers; "
              "training iterations/s, ratio to ConvLSTM, peak memory growth of one iteration")
        rates = {} if args.skip_speed else speed(args, size, batch)
        mem = {} if args.skip_memory or size in args.skip_memory_at else memory(args, size, batch)
        if rates:
            chosen = {cell: resolve_scan_method("auto", (batch, TEACHER, WIDTHS[cell], size, size), torch.float32,
                                                args.device, True) for cell in ("minconvgru", "minconvlstm")}
            print(f"'auto' chose (with gradients): {chosen}")
        base = rates.get("convlstm/sequential")
        print(f"{'route':<28}{'it/s':>8}{'vs ConvLSTM':>13}{'memory MiB':>12}")
        for cell, scan in ROUTES:
            name = f"{cell}/{scan}"
            rate = rates.get(name)
            shown = f"{rate:>8.3f}{rate / base:>12.2f}x" if rate else f"{'-':>8}{'-':>13}"
            print(f"{name:<28}{shown}{mem.get(name, float('nan')):>12.0f}", flush=True)
        if args.profile:
            profile(args, size, batch)
    if args.inference:
        inference(args)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
