"""PeRCNN learns Gray-Scott and KdV: a few hundred Adam steps on a tiny dataset beat persistence on held-out data."""

from __future__ import annotations

import torch

from physdiff.learners import PeRCNN
from physdiff.solvers import GrayScott, KdV, simulate


def fit_one_frame_ahead(model: PeRCNN, train: torch.Tensor, *, iterations: int, lr: float) -> list[float]:
    """Adam with cosine decay on one-frame-ahead pairs of ``train`` ``(B, T, C, *space)``; the losses."""
    inputs, targets = train[:, :-1].flatten(0, 1), train[:, 1:].flatten(0, 1)[:, None]
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, iterations)
    losses = []
    for _ in range(iterations):
        loss = (model(inputs, 1) - targets).square().mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(loss.item())
    return losses


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
        losses = fit_one_frame_ahead(model, train, iterations=250, lr=0.005)
        # Held-out free rollout of 6 frames (48 Euler steps) from the first frame.
        prediction = model.predict(test[:, 0], 6)
        rmse = (prediction - test[:, 1:]).square().mean().sqrt().item()
        persistence = (test[:, :1] - test[:, 1:]).square().mean().sqrt().item()
    finally:
        torch.set_num_threads(threads)
    assert losses[-1] < 0.25 * losses[0]
    assert rmse < 0.5 * persistence, (rmse, persistence)


def test_percnn_with_a_third_derivative_known_term_learns_kdv():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: extra intra-op threads only stall on a loaded machine
    try:
        # Data: u_t + 6 u u_x + u_xxx = 0 on a periodic interval of length 16 with 64 points (dx = 0.25,
        # solitons of width ~1 resolved by 4 points), ETDRK4 at dt = 0.01; frames 0.1 apart; 4 trajectories
        # of 11 frames, 3 train, 1 held out.
        pde = KdV(n=64, length=16.0)
        stepper = pde.stepper(0.01)
        u = pde.initial_condition(4, seed=5, amplitude=0.5, max_mode=2, dtype=torch.float64)
        frames = [u]
        for _ in range(10):
            u = stepper(u, steps=10)
            frames.append(u)
        data = torch.stack(frames, dim=1).float()  # (4, 11, 1, 64)
        train, test = data[:3], data[3:]
        # Model: a frozen second-order d^3/dx^3 stencil with a learnable coefficient (starts at 0) and
        # a 2-branch, 5-point Pi-block for u u_x; RK4 (Euler is unstable on dispersion) at dt = 0.01,
        # 10 steps per frame: dt * max|symbol| = 0.01 * 166 = 1.66 < 2.8 for coefficients up to ~1.7.
        torch.manual_seed(0)
        model = PeRCNN(1, 1, dt=0.01, spacing=0.25, substeps=10, hidden=8, n_branches=2, kernel_size=5,
                       known_term="third_derivative", accuracy=2, integrator="RK4", init_gain=0.1)
        losses = fit_one_frame_ahead(model, train, iterations=100, lr=0.03)
        # Held-out free rollout of 10 frames (t = 1, 100 RK4 steps) from the first frame.
        with torch.no_grad():
            prediction = model.predict(test[:, 0], 10)
        rmse = (prediction - test[:, 1:]).square().mean().sqrt().item()
        persistence = (test[:, :1] - test[:, 1:]).square().mean().sqrt().item()
    finally:
        torch.set_num_threads(threads)
    assert losses[-1] < 0.1 * losses[0]
    assert rmse < 0.5 * persistence, (rmse, persistence)
    # The true coefficient of u_xxx is -1 (the 5-point Pi-block can carry a little of it).
    assert -1.3 < model.coefficient.item() < -0.6, model.coefficient
