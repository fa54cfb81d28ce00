"""Laplacian throughput: physdiff (both routes) vs a NumPy np.roll baseline vs the bandwidth bound.

Prints, for 2D 256x256 and 3D 64^3 float32 fields on the CPU, at accuracy 2
and 4, applications per second of:

* ``physdiff shift``: :class:`physdiff.operators.Laplacian` with ``method="shift"``,
* ``physdiff conv``: the same operator with ``method="conv"``,
* ``physdiff compiled``: ``method="compiled"`` (one ``torch.compile``d loop; compiled before timing),
* ``numpy roll``: the textbook ``np.roll`` implementation written below,
* ``bound``: memory-bandwidth bound, ``copy bandwidth / (bytes read + bytes written once)``,
  with the copy bandwidth of a large (256 MiB) tensor measured in the same run.

Ratios are against the NumPy baseline of the same run. Usage::

    python benchmarks/laplacian.py [--threads N] [--repeat SECONDS]
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable

import numpy as np
import torch

from physdiff.operators import Laplacian, Stencil


def numpy_roll_laplacian(u: np.ndarray, weights: list[float], offsets: list[int], h: float) -> np.ndarray:
    """Periodic Laplacian by summing np.roll-shifted copies, the way reference scripts do it."""
    out = np.zeros_like(u)
    for axis in range(u.ndim):
        for w, s in zip(weights, offsets):
            if w != 0.0:
                out += (w / h**2) * np.roll(u, -s, axis=axis)
    return out


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second: warm up, then repeat for about ``seconds`` and take the best of 5 batches."""
    for _ in range(3):
        fn()
    start, calls = time.perf_counter(), 0
    while time.perf_counter() - start < seconds / 5:
        fn()
        calls += 1
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t0) / calls)
    return 1.0 / best


def copy_bandwidth(seconds: float) -> float:
    """Bytes per second of ``dst.copy_(src)`` on 256 MiB (read + write counted)."""
    src = torch.ones(64 * 1024 * 1024, dtype=torch.float32)
    dst = torch.empty_like(src)
    return rate(lambda: dst.copy_(src), seconds) * 2 * src.numel() * src.element_size()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeat", type=float, default=1.0, help="seconds of timing per entry")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    bandwidth = copy_bandwidth(args.repeat)
    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}, copy bandwidth {bandwidth / 1e9:.1f} GB/s")
    header = (f"{'case':<18}{'numpy roll':>12}{'shift':>12}{'conv':>12}{'compiled':>12}{'bound':>12}"
              f"{'shift/numpy':>13}{'comp/numpy':>12}{'shift/bound':>13}{'comp/bound':>12}")
    print(header)
    print("-" * len(header))
    for shape in ((256, 256), (64, 64, 64)):
        ndim = len(shape)
        for accuracy in (2, 4):
            h = 1.0 / shape[0]
            u = torch.randn(1, 1, *shape, dtype=torch.float32)
            stencil = Stencil.central(2, accuracy)
            weights, offsets = list(stencil.float_weights()), list(stencil.integer_offsets())
            u_np = u[0, 0].numpy()
            shift = Laplacian(ndim, h, accuracy, method="shift")
            conv = Laplacian(ndim, h, accuracy, method="conv")
            compiled = Laplacian(ndim, h, accuracy, method="compiled")
            np.testing.assert_allclose(
                shift(u)[0, 0].numpy(), numpy_roll_laplacian(u_np, weights, offsets, h), rtol=1e-4, atol=1e-2 / h**2 * 1e-3
            )
            with torch.inference_mode():
                torch.testing.assert_close(compiled(u), shift(u), rtol=1e-5, atol=1e-5 / h**2)
                r_shift = rate(lambda: shift(u), args.repeat)
                r_conv = rate(lambda: conv(u), args.repeat)
                r_compiled = rate(lambda: compiled(u), args.repeat)
            r_numpy = rate(lambda: numpy_roll_laplacian(u_np, weights, offsets, h), args.repeat)
            bound = bandwidth / (2 * u.numel() * u.element_size())
            name = f"{'x'.join(map(str, shape))} acc{accuracy}"
            print(f"{name:<18}{r_numpy:>12.0f}{r_shift:>12.0f}{r_conv:>12.0f}{r_compiled:>12.0f}{bound:>12.0f}"
                  f"{r_shift / r_numpy:>12.2f}x{r_compiled / r_numpy:>11.2f}x"
                  f"{r_shift / bound:>12.2f}x{r_compiled / bound:>11.2f}x")


if __name__ == "__main__":
    main()
