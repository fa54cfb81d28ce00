"""How PIMRL's macro stage limits it: training budget, latent resolution and period, on validation data.

With a converged micro module, PIMRL's micro-only ablation beats full PIMRL on every dataset
of the benchmark (see the results page): the macro steps between micro corrections add the error.
For one dataset and seed this trains full PIMRL (the micro pretraining shared by every
variant, as in the table) under each ``--variant`` and prints, judged on the **validation**
trajectory only (the test trajectories are never read):

* the macro stage's steps and best validation RMSE (its training metric, 4-step windows);
* a free rollout over the whole validation trajectory: RMSE, nRMSE, HCT, artefact ratio;
* the same rollout for the micro-only ablation (the pretrained PeRCNN at every step), the
  floor PIMRL would reach if its macro steps added nothing.

A variant is ``steps:downsample:period``, e.g. ``400:2:2`` (the table's setting), ``2000:2:2``
(5x the macro budget), ``400:1:2`` (a full-resolution latent), ``400:2:4`` (micro corrections
half as often). Runs are kept under ``--out`` and reused (resumable)::

    python benchmarks/pimrl_macro_stage.py --dataset gray-scott-2d --seed 0 \\
        --variant 400:2:2 2000:2:2 400:1:2 [--threads 1] [--out runs/pimrl_macro]
"""

from __future__ import annotations

import argparse
import shutil
from dataclasses import replace
from pathlib import Path

import torch

from physdiff.data import read_trajectories
from physdiff.experiments import BENCHMARK_SETUPS, arms, make_data, train_arm
from physdiff.training import evaluate_rollout, read_log


def _variant(text: str) -> tuple[int, int, int]:
    try:
        steps, downsample, period = (int(part) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected steps:downsample:period as three integers, e.g. 400:2:2; got {text!r}") from None
    return steps, downsample, period


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    names = {build().name: build for build in BENCHMARK_SETUPS}
    parser.add_argument("--dataset", default="gray-scott-2d", choices=sorted(names))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variant", type=_variant, nargs="+", default=[(400, 2, 2), (2000, 2, 2), (400, 1, 2)])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="runs/pimrl_macro")
    parser.add_argument("--table", default="runs/pimrl_table",
                        help="the table's runs: its finished micro pretraining for this seed is copied, not redone")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base = names[args.dataset]()
    out = Path(args.out) / base.name
    data = make_data(base, out / "data")
    micro_folder = out / f"micro-pretraining-seed{args.seed}"
    finished = Path(args.table) / base.name / "runs" / "micro-pretraining" / f"seed{args.seed}"
    if not micro_folder.exists() and (finished / "best.pt").exists():
        shutil.copytree(finished, micro_folder)
    val_macro = read_trajectories(data.train)[list(data.val_ids), :: base.k].to(torch.float32)
    pimrl, micro_only = arms(("pimrl", "pimrl-micro-only"))
    print(f"{base.title}, seed {args.seed}: validation rollout of {val_macro.shape[1] - base.context_frames} "
          f"macro steps (Dt = {base.macro_dt:g})")
    print(f"{'model':<12}{'steps':>6}{'latent':>8}{'N':>3}{'ran':>6}{'val RMSE':>10}"
          f"{'RMSE':>9}{'nRMSE':>8}{'HCT':>8}{'artefact':>9}")

    def report(label: str, setup, model, statistics, ran: str, best: str) -> None:
        with torch.no_grad():
            score = evaluate_rollout(model, val_macro, context_frames=setup.context_frames, dt=setup.macro_dt,
                                     mean=statistics[0], std=statistics[1]).summary()
        latent = f"/{setup.macro.get('downsample', 2)}"
        print(f"{label:<12}{setup.steps:>6}{latent:>8}{setup.period:>3}{ran:>6}{best:>10}{score['rmse']:>9.4g}"
              f"{score['nrmse']:>8.4g}{score['hct_mean']:>8.4g}{score['artefact_ratio']:>9.3g}", flush=True)

    model, _, statistics, _ = train_arm(micro_only, base, data, args.seed, out / f"micro-only-seed{args.seed}",
                                        micro_folder=micro_folder)
    report("micro only", base, model, statistics, "-", "-")
    for steps, downsample, period in args.variant:
        setup = replace(base, steps=steps, period=period, macro={**base.macro, "downsample": downsample})
        folder = out / f"steps{steps}_latent{downsample}_period{period}_seed{args.seed}"
        model, _, statistics, stages = train_arm(pimrl, setup, data, args.seed, folder, micro_folder=micro_folder)
        best = min(r["val_rmse"] for r in read_log(folder / "macro") if "val_rmse" in r)
        report("PIMRL", setup, model, statistics, str(stages["macro"]["steps"]), f"{best:.3g}")


if __name__ == "__main__":
    main()
