"""A tour of physdiff's core: exact stencils, observed orders, and a heat-equation solve.

Run with ``make tour`` (or ``python examples/stencils_and_integrators.py``). Every figure
printed here is computed on the spot; nothing is hard-coded.

1. Derive stencils from the Taylor system and print their exact weights and accuracy.
2. Measure the observed order of the periodic Laplacian at accuracy 2, 4 and 6.
3. Solve the 2D heat equation ``u_t = nu lap u`` on the periodic box [0, 2 pi)^2 with
   Euler, Heun and RK4, against the exact decay ``sin(x) cos(2y) exp(-5 nu t)``, and fit
   each integrator's observed order in dt.
4. Show that ``AdaptiveRK2`` with its gate fixed at 0 or 1 is exactly Euler or Heun.
"""

from __future__ import annotations

import math

import torch

from physdiff.integrators import RK4, AdaptiveRK2, Euler, Heun
from physdiff.operators import Laplacian, Stencil
from physdiff.testing import integrator_convergence, operator_convergence


def show_stencils() -> None:
    print("1. Stencils solved exactly from the moment (Taylor) system")
    for name, stencil in [
        ("central d/dx, accuracy 4", Stencil.central(1, 4)),
        ("central d2/dx2, accuracy 6", Stencil.central(2, 6)),
        ("forward d/dx, accuracy 3", Stencil.forward(1, 3)),
        ("staggered d/dx on (-1/2, 1/2)", Stencil.from_offsets(1, ["-1/2", "1/2"])),
    ]:
        weights = ", ".join(str(w) for w in stencil.weights)
        offsets = ", ".join(str(s) for s in stencil.offsets)
        print(f"   {name:<32} offsets ({offsets})  weights ({weights})  accuracy {stencil.accuracy}")


def laplacian_orders() -> None:
    print("\n2. Observed order of the periodic 2D Laplacian on sin(x) cos(2y)")
    for accuracy in (2, 4, 6):
        study = operator_convergence(
            lambda h, a=accuracy: Laplacian(2, h, a),
            lambda x, y: torch.sin(x) * torch.cos(2 * y),
            lambda x, y: -5 * torch.sin(x) * torch.cos(2 * y),
            sizes=(16, 32, 64),
            ndim=2,
        )
        print(f"   accuracy {accuracy}: errors {', '.join(f'{e:.2e}' for e in study.errors)}  "
              f"-> observed order {study.order:.2f}")


def heat_equation() -> None:
    nu, n, t_end = 0.1, 32, 1.0
    h = 2 * math.pi / n
    x = torch.arange(n, dtype=torch.float64) * h
    X, Y = torch.meshgrid(x, x, indexing="ij")
    u0 = (torch.sin(X) * torch.cos(2 * Y))[None, None]
    lap = Laplacian(2, h, accuracy=6)

    def rhs(u: torch.Tensor) -> torch.Tensor:
        return nu * lap(u)

    # Compare with the exact decay of the *discrete* mode, so that only the time error remains.
    discrete_eigenvalue = (lap(u0)[0, 0, 1, 0] / u0[0, 0, 1, 0]).item()
    exact_discrete = u0 * math.exp(nu * discrete_eigenvalue * t_end)
    exact = u0 * math.exp(-5 * nu * t_end)
    print(f"\n3. Heat equation u_t = {nu} lap u on a {n}x{n} periodic grid, t = {t_end}")
    for name, method, order in (("Euler", Euler, 1), ("Heun", Heun, 2), ("RK4", RK4, 4)):
        study = integrator_convergence(method(rhs), u0, t_end, exact_discrete, dts=(0.1, 0.05, 0.025))
        final = method(rhs)
        u = u0
        for _ in range(40):
            u = final(u, t_end / 40)
        total = (u - exact).abs().max().item()
        print(f"   {name:<6} observed order in dt {study.order:.2f} (expected {order}); "
              f"error vs the continuous solution at dt=0.025: {total:.2e}")


def adaptive_rk2_limits() -> None:
    torch.manual_seed(0)
    u = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    rhs = torch.nn.Conv2d(3, 3, 3, padding=1, padding_mode="circular").double()
    euler, heun = Euler(rhs)(u, 0.1), Heun(rhs)(u, 0.1)
    gated_0 = AdaptiveRK2(rhs, gate=0.0)(u, 0.1)
    gated_1 = AdaptiveRK2(rhs, gate=1.0)(u, 0.1)
    gated = AdaptiveRK2(rhs, channels=3, ndim=2).double()
    learned = gated(u, 0.1)
    print("\n4. AdaptiveRK2 (ARK paper): u' = u + dt((1 - a/2) k1 + (a/2) k2), a = sigmoid(conv(u) + b)")
    print(f"   gate 0 vs Euler: max difference {(gated_0 - euler).abs().max().item():.1e}")
    print(f"   gate 1 vs Heun:  max difference {(gated_1 - heun).abs().max().item():.1e}")
    print(f"   learned gate: {sum(p.numel() for p in gated.gate_conv.parameters())} gate parameters, output {tuple(learned.shape)}")


def main() -> None:
    show_stencils()
    laplacian_orders()
    heat_equation()
    adaptive_rk2_limits()


if __name__ == "__main__":
    main()
