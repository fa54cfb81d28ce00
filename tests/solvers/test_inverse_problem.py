"""Recover Gray-Scott's F and k from a short trajectory by gradient descent through simulate()."""

from __future__ import annotations

import pytest
import torch

from physdiff.integrators import Heun
from physdiff.solvers import GrayScott, simulate

TRUE = {"F": 0.04, "k": 0.06}  # PeRCNN's 2D values


def rollout(F, k, u0: torch.Tensor) -> torch.Tensor:
    return simulate(GrayScott(2, F=F, k=k), u0, dt=0.5, steps=40, save_every=5, integrator=Heun)


@pytest.mark.parametrize("start", [(1.25, 0.75), (0.75, 1.3)], ids=["F+25%,k-25%", "F-25%,k+30%"])
def test_lbfgs_through_the_solver_recovers_f_and_k(start):
    u0 = GrayScott(2).initial_condition(1, (16, 16), seed=3, dtype=torch.float64)
    with torch.no_grad():
        target = rollout(TRUE["F"], TRUE["k"], u0)
    scale = torch.tensor([TRUE["F"], TRUE["k"]], dtype=torch.float64)
    # Optimise relative values (F / F_true-scale) so both unknowns are O(1) for the optimiser.
    ratio = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([ratio], max_iter=40, line_search_fn="strong_wolfe", tolerance_grad=1e-12)

    def closure():
        optimiser.zero_grad()
        F, k = ratio * scale
        loss = (rollout(F, k, u0) - target).pow(2).mean() / target.var()
        loss.backward()
        return loss

    initial_loss = closure().item()
    optimiser.step(closure)
    final_loss = closure().item()
    recovered = (ratio * scale).detach()
    relative_error = ((recovered - scale) / scale).abs().max().item()
    assert relative_error < 1e-2, f"recovered F, k = {recovered.tolist()} (loss {initial_loss:.3g} -> {final_loss:.3g})"
    assert final_loss < 1e-3 * initial_loss
