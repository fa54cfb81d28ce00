"""physdiff's main job: learn 3D Gray-Scott dynamics from burst-sampled data, physics hard-coded.

Run with ``python examples/gray_scott_3d.py`` (``make demo``): about 35 minutes on an idle 2-core CPU
(estimated from runs on a shared one; the PeRCNNs, PIMRL's micro module and the PeRCNN baseline,
train at most 4000 steps, the other models at most 400, fewer when early stopping on the
validation trajectory ends them; ``--scale 0.1`` gives a quick look at the pipeline).

1. Simulate 3D Gray-Scott (PeRCNN/PIMRL parameters, RK4) with physdiff's reference solver:
   3 training/validation trajectories and 2 held-out test trajectories on a 24^3 grid, saved
   every dt = 0.5 and tagged with a burst layout (bursts of 6 frames every 40; macro frames
   every k = 5 frames, Dt = 2.5). Nothing is downloaded.
2. Train, each on the same data and from the same 2 context frames:
   PIMRL (micro PeRCNN pretrained on the bursts and frozen, then macro ConvLSTM autoencoder
   with cross-scale message passing), PeRCNN (Euler at dt with a known Laplacian, trained on the
   macro frames with the micro module's budget), and the black-box baselines ConvLSTM and FNO (``--ablations`` adds PIMRL's
   three ablations).
3. Roll every model out over the whole held-out test trajectories (47 macro steps, t = 117.5)
   and print RMSE, HCT (time until the Pearson correlation with the truth first drops below 0.8),
   the artefact ratio (high-wavenumber energy of the prediction over the truth's, last quarter of
   the rollouts: 1 = as smooth as the truth, >> 1 stripes or noise), steps trained,
   parameter count and training time; write plots (mid-plane slices of truth and each model
   over time; error and correlation over time).

Everything lands in ``--out`` (default ``runs/gray_scott_3d``): data, checkpoints, metrics
logs, results and plots. Rerunning the command skips finished models and resumes an
interrupted training from its last checkpoint. ``--paper`` selects the paper's 48^3 grid
(hours on a CPU; use a GPU: ``--device cuda`` or the default ``auto``).
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from physdiff.experiments import aggregate, arms, format_table, gray_scott_3d, plot_comparison, run_experiment


class Bar:
    """``label [#####-----]  50%`` on stderr, redrawn in place."""

    def __init__(self, label: str, width: int = 30) -> None:
        self.label, self.width, self.last = label, width, -1

    def __call__(self, done: int, total: int) -> None:
        percent = 100 * done // total
        if percent == self.last:
            return
        self.last = percent
        filled = self.width * done // total
        sys.stderr.write(f"\r  {self.label:<34} [{'#' * filled}{'-' * (self.width - filled)}] {percent:3d}%")
        if done >= total:
            sys.stderr.write("\n")
            self.last = -1
        sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/gray_scott_3d", help="output folder (default: %(default)s)")
    parser.add_argument("--grid", type=int, default=24, help="grid points per axis (default: %(default)s)")
    parser.add_argument("--paper", action="store_true", help="the paper's 48^3 grid and full training budget")
    parser.add_argument("--seeds", type=int, default=1, help="training seeds per model (default: %(default)s)")
    parser.add_argument("--ablations", action="store_true", help="also train PIMRL's three ablations")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every training budget (e.g. 0.1 for a smoke run)")
    parser.add_argument("--device", default="auto", help="'auto' (CUDA if present), 'cpu' or 'cuda' (default: auto)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's choice; 1 is fastest on a busy shared machine)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    setup = gray_scott_3d(48 if args.paper else args.grid)
    if args.paper:
        args.scale *= 10
    if args.scale != 1.0:
        setup = setup.scaled(args.scale)
    start = time.perf_counter()
    results = run_experiment(setup, args.out, seeds=tuple(range(args.seeds)), models=arms(ablations=args.ablations),
                             device=args.device, bar_factory=Bar)
    rows = aggregate(results)
    print(f"\n{setup.title} on {'x'.join(map(str, setup.shape))}, test rollouts of "
          f"{len(results[0]['time'])} macro steps (Dt = {setup.macro_dt:g}); RMSE in the fields' units, HCT in "
          "time units, artefact ratio 1 = as smooth as the truth:\n")
    print(format_table(rows, markdown=False))
    paths = plot_comparison(setup, args.out, results)
    print(f"\nplots: {', '.join(str(p) for p in paths)}")
    print(f"total time {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
