"""Navier-Stokes step throughput: physdiff NavierStokes2D.step vs a plain port of the FNO generator's step.

The baseline ``NaiveNS`` is written here from the equations of the FNO / Minimal-ConvRNN
data generator (vorticity form, full complex ``fft2``, Crank-Nicolson viscosity, explicit
advection and forcing, 2/3 dealiasing), the straightforward way on current ``torch.fft``:
the state stays in Fourier space, and every step does four inverse and one forward full
complex FFT. Same maths as physdiff (the script checks the two agree), different code.

Prints steps per second (float32, CPU unless --device says otherwise) at 64^2 and 256^2,
batch 1 and 20, for:

* ``naive``: the baseline loop above;
* ``physdiff``: ``ns.step(w, dt)`` called once per step (physical state in and out);
* ``physdiff k``: ``ns.step(w, dt, steps=k)`` (stays in Fourier space between the k steps).

Usage::

    python benchmarks/navier_stokes.py [--threads N] [--repeat SECONDS] [--device cpu]
"""

from __future__ import annotations

import argparse
import math
import platform
import time
from collections.abc import Callable

import torch

from physdiff.solvers import NavierStokes2D


class NaiveNS:
    """The FNO generator's per-step algorithm, written plainly (full complex FFTs)."""

    def __init__(self, n: int, nu: float, dt: float, forcing: torch.Tensor, device: str, dtype: torch.dtype) -> None:
        q = torch.fft.fftfreq(n, 1.0 / n, device=device, dtype=dtype)  # integer wavenumbers, FFT order
        self.kx = q.reshape(n, 1).repeat(1, n)
        self.ky = q.reshape(1, n).repeat(n, 1)
        self.lap = 4 * math.pi**2 * (self.kx**2 + self.ky**2)  # |2 pi k|^2 on the unit box
        self.lap_inv = self.lap.clone()
        self.lap_inv[0, 0] = 1.0
        k_max = n // 2
        self.dealias = ((self.kx.abs() <= 2 / 3 * k_max) & (self.ky.abs() <= 2 / 3 * k_max)).to(dtype)
        self.f_h = torch.fft.fft2(forcing.to(device=device, dtype=dtype))
        self.nu, self.dt = nu, dt

    def run(self, w: torch.Tensor, steps: int) -> torch.Tensor:
        w_h = torch.fft.fft2(w)
        for _ in range(steps):
            psi_h = w_h / self.lap_inv
            q = torch.fft.ifft2(2j * math.pi * self.ky * psi_h).real
            v = torch.fft.ifft2(-2j * math.pi * self.kx * psi_h).real
            w_x = torch.fft.ifft2(2j * math.pi * self.kx * w_h).real
            w_y = torch.fft.ifft2(2j * math.pi * self.ky * w_h).real
            f_h = torch.fft.fft2(q * w_x + v * w_y) * self.dealias
            half = 0.5 * self.dt * self.nu * self.lap
            w_h = (-self.dt * f_h + self.dt * self.f_h + (1.0 - half) * w_h) / (1.0 + half)
        return torch.fft.ifft2(w_h).real


def rate(fn: Callable[[], object], seconds: float, device: str) -> float:
    """Calls per second: warm up, then the best of 5 batches of about ``seconds / 5`` each."""
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    for _ in range(2):
        fn()
    sync()
    start, calls = time.perf_counter(), 0
    while time.perf_counter() - start < seconds / 5:
        fn()
        calls += 1
    sync()
    best = math.inf
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        sync()
        best = min(best, (time.perf_counter() - t0) / calls)
    return 1.0 / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeat", type=float, default=1.0, help="seconds of timing per entry")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--fused", type=int, default=10, help="k for the 'physdiff k' column")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dtype, dt, nu, k = torch.float32, 1e-2, 1e-3, args.fused
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}, device {args.device}, float32, dt {dt}, nu {nu}")
    header = (f"{'grid':>6}{'batch':>6}{'naive /s':>11}{'physdiff /s':>13}{f'physdiff {k} /s':>16}"
              f"{'phys/naive':>12}{f'{k}/naive':>10}{'max |diff|':>12}")
    print(header)
    print("-" * len(header))
    for n in (64, 256):
        ns = NavierStokes2D(nu=nu, n=n)
        x, y = ns.grid.mesh()
        phase = 2 * math.pi * (x + y)
        naive = NaiveNS(n, nu, dt, 0.1 * (torch.sin(phase) + torch.cos(phase)), args.device, dtype)
        for batch in (1, 20):
            w = ns.initial_condition(batch, seed=0, dtype=dtype, device=args.device)
            # same maths: 10 steps of each agree to float32 rounding
            diff = (naive.run(w, 10) - ns.step(w, dt, steps=10)).abs().max().item()
            r_naive = rate(lambda: naive.run(w, k), args.repeat, args.device) * k
            r_step = rate(lambda: ns.step(w, dt), args.repeat, args.device)
            r_fused = rate(lambda: ns.step(w, dt, steps=k), args.repeat, args.device) * k
            print(f"{n:>4}^2{batch:>6}{r_naive:>11.0f}{r_step:>13.0f}{r_fused:>16.0f}"
                  f"{r_step / r_naive:>11.2f}x{r_fused / r_naive:>9.2f}x{diff:>12.1e}")


if __name__ == "__main__":
    main()
