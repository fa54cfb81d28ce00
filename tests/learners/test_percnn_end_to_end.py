"""PeRCNN learns Gray-Scott: a few hundred Adam steps on a tiny dataset beat persistence on held-out data."""

from __future__ import annotations

import torch

from physdiff.learners import PeRCNN
from physdiff.solvers import GrayScott, simulate


def test_percnn_learns_gray_scott_and_beats_persistence():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: extra intra-op threads only stall on a loaded machine
    try:
        # Data: PeRCNN's 2D Gray-Scott parameters on a 16^2 patch (dx = 1/100), 4 trajectories of
        # 7 frames 2 time units apart, from the solver's RK4 at dt = 0.5; 3 train, 1 held out.
        pde = GrayScott.percnn_2d()
        u0 = pde.initial_condition(4, (16, 16), seed=3, dtype=torch.float64)
        frames = simulate(pde, u0, dt=0.5, steps=24, save_every=4, include_initial=True).float()
        train, test = frames[:3], frames[3:]
        # Model: PeRCNN's cell (Euler at dt = 0.5, 4 substeps per frame), the diffusivities bounded
        # by about twice the true values as in PeRCNN; trained on one-frame-ahead pairs.
        torch.manual_seed(0)
        model = PeRCNN(2, 2, dt=0.5, spacing=0.01, substeps=4, coefficient_bound=[4e-5, 1e-5])
        inputs, targets = train[:, :-1].flatten(0, 1), train[:, 1:].flatten(0, 1)[:, None]
        iterations = 250
        optimiser = torch.optim.Adam(model.parameters(), lr=0.005)
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, iterations)
        losses = []
        for _ in range(iterations):
            loss = (model(inputs, 1) - targets).square().mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append(loss.item())
        # Held-out free rollout of 6 frames (48 Euler steps) from the first frame.
        prediction = model.predict(test[:, 0], 6)
        rmse = (prediction - test[:, 1:]).square().mean().sqrt().item()
        persistence = (test[:, :1] - test[:, 1:]).square().mean().sqrt().item()
    finally:
        torch.set_num_threads(threads)
    assert losses[-1] < 0.25 * losses[0]
    assert rmse < 0.5 * persistence, (rmse, persistence)
