"""How PIMRL's micro module (a PeRCNN) learns from the bursts: budget and learning rate, on validation data.

For one dataset of the PIMRL benchmark (``physdiff.experiments``) this pretrains the micro module
on the training trajectories' bursts for each ``--lr`` x ``--steps`` x ``--init-gain`` setting
(Adam, cosine decay to 10 %, the experiments' trainer) and prints, judged on the **validation**
trajectory only (the test trajectories are never read):

* the best validation RMSE of the burst predictions (the pretraining loss's own metric);
* the learned known-term coefficients (the diffusivities on Gray-Scott) next to the PDE's;
* a free rollout of the pretrained module at the macro interval (``k`` micro steps per frame)
  over the whole validation trajectory: RMSE, nRMSE, HCT and artefact ratio;
* with ``--reference`` (PDEs with a Laplacian and a ``Du``/``Dv`` pair, i.e. Gray-Scott): the
  burst RMSE of the micro module's own integrator (forward Euler at ``dt``) run with the PDE's
  exact right-hand side, the floor a perfectly learned module reaches.

This is how the experiments' ``micro_steps = 4000`` and ``micro_lr = 1e-2`` were chosen (see
the results page, section "Micro pretraining"). Runs are kept under ``--out`` and reused (resumable).
Usage::

    python benchmarks/pimrl_micro_pretraining.py --dataset gray-scott-3d --lr 2e-3 1e-2 --steps 600 4000 \\
        [--init-gain 0.1] [--reference] [--threads 1] [--out runs/pimrl_micro]
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch

from physdiff.data import BurstWindows, read_trajectories
from physdiff.experiments import BENCHMARK_SETUPS
from physdiff.experiments._arms import _percnn
from physdiff.experiments._run import _config, _fit, make_data
from physdiff.training import evaluate_rollout, read_log, seed_everything


def _reference_rmse(pde: torch.nn.Module, bursts: BurstWindows, dt: float) -> float:
    """RMSE over every burst frame of forward Euler at ``dt`` with the PDE's exact right-hand side."""
    pde = pde.double()
    squared, count = 0.0, 0
    for i in range(len(bursts)):
        window = bursts[i]
        window = (window if torch.is_tensor(window) else window[0]).double()
        u = window[:1]
        for j in range(1, window.shape[0]):
            u = u + dt * pde(u)
            squared += (u[0] - window[j]).square().sum().item()
            count += window[j].numel()
    return (squared / count) ** 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = {build().name: build for build in BENCHMARK_SETUPS}
    parser.add_argument("--dataset", default="gray-scott-3d", choices=sorted(names))
    parser.add_argument("--lr", type=float, nargs="+", default=[2e-3, 1e-2])
    parser.add_argument("--steps", type=int, nargs="+", default=[600, 4000])
    parser.add_argument("--init-gain", type=float, nargs="+", default=None,
                        help="Xavier gain of the Pi weights (default: the setup's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reference", action="store_true", help="also the exact-RHS Euler floor (Gray-Scott)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="runs/pimrl_micro")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base = names[args.dataset]()
    out = Path(args.out) / base.name
    data = make_data(base, out / "data")
    length = base.burst.burst_length
    train = BurstWindows(data.train, length, trajectories=data.train_ids, normalize=False)
    val = BurstWindows(data.train, length, trajectories=data.val_ids, normalize=False)
    val_macro = read_trajectories(data.train)[list(data.val_ids), :: base.k].to(torch.float32)
    pde = base.build_pde()
    truth = {name: float(getattr(pde, name)) for name in ("Du", "Dv") if hasattr(pde, name)}
    print(f"{base.title}: {len(train)} training and {len(val)} validation bursts of {length} frames, "
          f"validation rollout of {val_macro.shape[1] - 2} macro steps (Dt = {base.macro_dt:g}); PDE {truth or ''}")
    if args.reference:
        print(f"exact right-hand side, forward Euler at dt = {base.dt:g}: validation burst RMSE "
              f"{_reference_rmse(pde, val, base.dt):.3g}")
    gains = args.init_gain or [base.percnn.get("init_gain")]
    print(f"{'lr':>8}{'steps':>7}{'gain':>6}{'ran':>6}  {'burst RMSE':>10}  {'coefficients':<22}"
          f"{'RMSE':>8}{'nRMSE':>8}{'HCT':>7}{'artefact':>9}")
    for gain in gains:
        percnn = dict(base.percnn) if gain is None else {**base.percnn, "init_gain": gain}
        for lr in args.lr:
            for steps in args.steps:
                setup = replace(base, micro_lr=lr, micro_steps=steps, percnn=percnn)
                seed_everything(args.seed)
                micro = _percnn(setup, data.channels, data.spacing, 1)
                folder = out / f"lr{lr:g}_steps{steps}_gain{gain}_seed{args.seed}"
                _, ended = _fit(micro, _config(setup, length - 1, 1, args.seed, "cpu", micro=True), train, val,
                                folder, None)
                best = min(r["val_rmse"] for r in read_log(folder) if r.get("kind") == "val")
                rollout = _percnn(setup, data.channels, data.spacing, setup.k)
                rollout.load_state_dict(micro.state_dict())
                with torch.no_grad():
                    score = evaluate_rollout(rollout, val_macro, context_frames=setup.context_frames,
                                             dt=setup.macro_dt).summary()
                coefficients = ("-" if micro.coefficient is None
                                else " ".join(f"{c:.4g}" for c in micro.coefficient.detach().tolist()))
                print(f"{lr:>8g}{steps:>7}{gain!s:>6}{ended['steps']:>6}  {best:>10.3g}  {coefficients:<22}"
                      f"{score['rmse']:>8.4g}{score['nrmse']:>8.4g}{score['hct_mean']:>7.4g}"
                      f"{score['artefact_ratio']:>9.3g}", flush=True)


if __name__ == "__main__":
    main()
