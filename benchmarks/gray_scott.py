"""Gray-Scott 3D throughput: physdiff vs the seed authors' NumPy np.roll generator style.

Prints, for 48^3 and 64^3 grids, Euler and RK4, float32 and float64, on the CPU:
steps per second of ``physdiff.solvers.GrayScott`` advanced by physdiff's
integrator, of a NumPy implementation written below in the style of the
PeRCNN/PIMRL data generators (periodic ``np.roll`` 4th-order Laplacian, same
precision), their ratio, and physdiff's cell updates per second
(grid points x steps / s). Usage::

    python benchmarks/gray_scott.py [--threads N] [--repeat SECONDS]
    python benchmarks/gray_scott.py --memory   # peak memory of a streamed 64^3, 2000-step run
"""

from __future__ import annotations

import argparse
import resource
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
    for _ in range(3):
        state = step(state)
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        state = step(state)
        calls += 1
    return calls / (time.perf_counter() - start)


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_run(n: int = 64, steps: int = 2000, save_every: int = 10) -> None:
    """Simulate Gray-Scott 3D streaming every ``save_every``-th state to HDF5; print the peak memory."""
    from physdiff.data import generate

    pde = GrayScott.percnn_3d()
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
    print(f"Gray-Scott 3D {n}^3, {steps} Euler steps, every {save_every}th of {frames} frames streamed to HDF5 "
          f"({size:.0f} MiB on disk) in {seconds:.1f} s")
    print(f"peak resident memory {peak_rss_mib():.0f} MiB (before the run {before:.0f} MiB); "
          f"keeping the frames in memory would need {in_memory:.0f} MiB more")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeat", type=float, default=2.0, help="seconds of timing per entry")
    parser.add_argument("--memory", action="store_true", help="run the streamed-memory check instead")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory:
        memory_run()
        return
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    header = f"{'case':<26}{'numpy steps/s':>15}{'physdiff steps/s':>18}{'ratio':>8}{'physdiff Mcell/s':>18}"
    print(header)
    print("-" * len(header))
    dt = 0.5
    for n in (48, 64):
        for method, integrator in (("euler", Euler), ("rk4", RK4)):
            for dtype, np_dtype in ((torch.float32, np.float32), (torch.float64, np.float64)):
                pde = GrayScott.percnn_3d()
                u0 = pde.initial_condition(1, (n, n, n), seed=0, dtype=dtype)
                stepper = integrator(pde)
                with torch.inference_mode():
                    physdiff_rate = steps_per_second(lambda s: stepper(s, dt), u0, args.repeat)
                a0, b0 = (u0[0, c].numpy().astype(np_dtype) for c in range(2))
                numpy_rate = steps_per_second(lambda ab: numpy_step(*ab, dt, method), (a0, b0), args.repeat)
                name = f"{n}^3 {method} {str(dtype).split('.')[-1]}"
                print(f"{name:<26}{numpy_rate:>15.0f}{physdiff_rate:>18.0f}{physdiff_rate / numpy_rate:>7.2f}x"
                      f"{physdiff_rate * n**3 / 1e6:>18.0f}")


if __name__ == "__main__":
    main()
