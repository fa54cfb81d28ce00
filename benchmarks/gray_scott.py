"""Gray-Scott 3D throughput: physdiff's routes vs the seed authors' NumPy np.roll generator style.

Prints, for 48^3 and 64^3 grids, Euler and RK4, float32 and float64, on the CPU, steps
per second of a NumPy implementation written below in the style of the PeRCNN/PIMRL data
generators (periodic ``np.roll`` 4th-order Laplacian, same precision) and of
``physdiff.solvers.GrayScott.percnn_3d()`` along four routes:

* ``reference``: ``backend="reference"`` (the general autograd path) under ``Euler(pde)`` /
  ``RK4(pde)``, i.e. the figure before the fused kernels;
* ``eager step``: ``backend="eager"``, ``pde.step(u, dt, integrator=...)`` (fused eager
  kernel, no compilation);
* ``compiled rhs``: ``backend="compiled"`` under ``Euler(pde)`` / ``RK4(pde)`` (what
  ``simulate`` and ``physdiff.data.generate`` run once ``"auto"`` has compiled);
* ``compiled step``: ``backend="compiled"``, ``pde.step(u, dt, integrator=...)``.

A timing is the median of about-20-ms batches of steps (robust to brief load from other
processes on a shared machine); every entry is the median over ``--runs`` rounds (default
3), and in each round NumPy and the four routes are timed back to back in this process, so
ratios compare runs under the same conditions. Ratios
and cell updates per second (grid points x steps / s) are given for the two compiled
routes. The load average is printed before and after. Usage::

    python benchmarks/gray_scott.py [--threads N] [--repeat SECONDS] [--runs N] [--sizes 48 64]
    python benchmarks/gray_scott.py --memory   # peak memory of a streamed 64^3, 2000-step run
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from physdiff.integrators import RK4, Euler
from physdiff.solvers import GrayScott

DU, DV, F, K, DX = 0.2, 0.1, 0.025, 0.055, 100 / 48


def numpy_laplacian(a: np.ndarray, dx: float) -> np.ndarray:
    """4th-order periodic Laplacian by rolled copies, as the reference generators write it."""
    out = -7.5 * a
    for axis in range(3):
        out = out + (4 / 3) * (np.roll(a, 1, axis) + np.roll(a, -1, axis))
        out = out - (1 / 12) * (np.roll(a, 2, axis) + np.roll(a, -2, axis))
    return out / dx**2


def numpy_rhs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    abb = a * b * b
    return DU * numpy_laplacian(a, DX) - abb + F * (1 - a), DV * numpy_laplacian(b, DX) + abb - (F + K) * b


def numpy_step(a: np.ndarray, b: np.ndarray, dt: float, method: str) -> tuple[np.ndarray, np.ndarray]:
    if method == "euler":
        da, db = numpy_rhs(a, b)
        return a + dt * da, b + dt * db
    k1 = numpy_rhs(a, b)
    k2 = numpy_rhs(a + dt / 2 * k1[0], b + dt / 2 * k1[1])
    k3 = numpy_rhs(a + dt / 2 * k2[0], b + dt / 2 * k2[1])
    k4 = numpy_rhs(a + dt * k3[0], b + dt * k3[1])
    return tuple(x + dt / 6 * (p + 2 * q + 2 * r + s) for x, p, q, r, s in zip((a, b), k1, k2, k3, k4))


def steps_per_second(step, state, seconds: float) -> float:
    """Steps per second: 3 warm-up steps (which compile, on the compiled routes), then batches of
    about 20 ms for ``seconds``; the median batch time, so that a moment of load from other
    processes on a shared machine does not count."""
    for _ in range(3):
        state = step(state)
    start = time.perf_counter()
    state = step(state)
    per_batch = max(1, int(0.02 / max(time.perf_counter() - start, 1e-6)))
    batches: list[float] = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(batches) < 5:
        t0 = time.perf_counter()
        for _ in range(per_batch):
            state = step(state)
        batches.append(time.perf_counter() - t0)
    return per_batch / statistics.median(batches)


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_run(n: int = 64, steps: int = 2000, save_every: int = 10) -> None:
    """Simulate Gray-Scott 3D streaming every ``save_every``-th state to HDF5; print the peak memory."""
    from physdiff.data import generate

    pde = GrayScott.percnn_3d()
    # Eager fused kernel: the figure is about streaming, and importing the compiler (what
    # "auto" would do near the end of this run) adds its own ~115 MiB of code to the process.
    pde.backend = "eager"
    frames = steps // save_every + 1
    in_memory = frames * 2 * n**3 * 4 / 2**20
    before = peak_rss_mib()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        with torch.inference_mode():
            generate(pde, Path(tmp) / "gs.h5", shape=(n, n, n), dt=0.5, steps=steps, save_every=save_every,
                     integrator=Euler, compression="lzf")
        seconds = time.perf_counter() - start
        size = (Path(tmp) / "gs.h5").stat().st_size / 2**20
    print(f"Gray-Scott 3D {n}^3, {steps} Euler steps (eager fused kernel), every {save_every}th of {frames} frames "
          f"streamed to HDF5 ({size:.0f} MiB on disk) in {seconds:.1f} s")
    print(f"peak resident memory {peak_rss_mib():.0f} MiB (before the run {before:.0f} MiB); "
          f"keeping the frames in memory would need {in_memory:.0f} MiB more")


def route_rates(n: int, method: str, dtype: torch.dtype, seconds: float) -> tuple[dict[str, float], float]:
    """Steps per second of NumPy and of the four physdiff routes for one case (one round), and
    the largest difference of one step between a route and the reference route."""
    dt = 0.5
    integrator = Euler if method == "euler" else RK4
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    pde = GrayScott.percnn_3d()
    u0 = pde.initial_condition(1, (n, n, n), seed=0, dtype=dtype)
    a0, b0 = (u0[0, c].numpy().astype(np_dtype) for c in range(2))
    rates = {"numpy": steps_per_second(lambda ab: numpy_step(*ab, dt, method), (a0, b0), seconds)}
    stepper = integrator(pde)
    routes = {
        "reference": ("reference", lambda s: stepper(s, dt)),
        "eager step": ("eager", lambda s: pde.step(s, dt, integrator=integrator)),
        "compiled rhs": ("compiled", lambda s: stepper(s, dt)),
        "compiled step": ("compiled", lambda s: pde.step(s, dt, integrator=integrator)),
    }
    difference = 0.0
    with torch.inference_mode():
        for name, (backend, step) in routes.items():
            pde.backend = backend
            first = step(u0)  # compiles on the compiled routes
            if name == "reference":
                expected = first
            difference = max(difference, (first - expected).abs().max().item())
            rates[name] = steps_per_second(step, u0, seconds)
    return rates, difference


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeat", type=float, default=1.0, help="seconds of timing per entry and round")
    parser.add_argument("--runs", type=int, default=3, help="rounds; each entry is the median over them")
    parser.add_argument("--sizes", type=int, nargs="+", default=[48, 64])
    parser.add_argument("--memory", action="store_true", help="run the streamed-memory check instead")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory:
        memory_run()
        return
    print(f"torch {torch.__version__}, numpy {np.__version__}, {platform.processor() or platform.machine()}, "
          f"threads {torch.get_num_threads()}, load average before {os.getloadavg()[0]:.2f}")
    names = ("numpy", "reference", "eager step", "compiled rhs", "compiled step")
    header = (f"{'case':<20}" + "".join(f"{name:>15}" for name in names)
              + f"{'ratio rhs/step':>18}{'Mcell/s rhs/step':>20}")
    print("steps per second, median of", args.runs, "rounds")
    print(header)
    print("-" * len(header))
    differences = {torch.float32: 0.0, torch.float64: 0.0}
    for n in args.sizes:
        for method in ("euler", "rk4"):
            for dtype in (torch.float32, torch.float64):
                rounds = []
                for _ in range(args.runs):
                    rates, difference = route_rates(n, method, dtype, args.repeat)
                    rounds.append(rates)
                    differences[dtype] = max(differences[dtype], difference)
                median = {name: statistics.median(r[name] for r in rounds) for name in names}
                ratios = [statistics.median(r[name] / r["numpy"] for r in rounds) for name in names[3:]]
                mcells = [median[name] * n**3 / 1e6 for name in names[3:]]
                case = f"{n}^3 {method} {str(dtype).split('.')[-1]}"
                print(f"{case:<20}" + "".join(f"{median[name]:>15.0f}" for name in names)
                      + f"{ratios[0]:>8.1f}x /{ratios[1]:>5.1f}x" + f"{mcells[0]:>11.0f} /{mcells[1]:>6.0f}",
                      flush=True)
    print("largest difference of one step between any route and the reference route: "
          + ", ".join(f"{str(d).split('.')[-1]} {v:.1e}" for d, v in differences.items()))
    print(f"load average after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
