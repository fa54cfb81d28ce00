"""Reproduce PIMRL's benchmark table at CPU scale and write it to docs/results.md.

    python benchmarks/pimrl_table.py [--seeds 2] [--out runs/pimrl_table] [--only kdv,burgers-2d]
                                     [--models pimrl,percnn]

For each of the five datasets (KdV, 2D Burgers, 2D FitzHugh-Nagumo, 2D and 3D Gray-Scott) it
generates the data with physdiff's solvers, trains PIMRL, PeRCNN, ConvLSTM, FNO and PIMRL's
three ablations with seeds 0..S-1 (see ``physdiff/experiments``), evaluates free rollouts on
held-out test trajectories, and writes mean and spread over seeds next to the paper's RMSE,
with plots of each dataset's rollouts in ``OUT/NAME/plots``.
Finished runs are reused, so an interrupted run continues where it stopped. The table block
between the ``<!-- results:NAME:begin -->`` and ``<!-- results:NAME:end -->`` markers of
``docs/results.md`` is replaced (atomically; ``--block NAME``, default ``main``, so runs with
different budgets can sit side by side); the rest of the page is left as written.

A convergence check trains only the learners on the macro frames with more steps, reusing the
PeRCNN-budget runs of the main table (``--macro-scale 5 --reuse-micro runs/pimrl_table --out
runs/pimrl_table_macro5x --block macro5x``). ``--until-converged CAP`` trains them instead on
the plateau schedule until their validation RMSE stops improving at the lowest learning rate
(``CAP`` times the budget is only a cap): ``--until-converged 15 --reuse-micro runs/pimrl_table
--out runs/pimrl_table_converged --block converged``; with ``--converge-micro`` (and no
``--reuse-micro``) the PeRCNNs trained on their own converge the same way.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
from pathlib import Path

import torch

from physdiff.experiments import (
    BENCHMARK_SETUPS,
    PLATEAU_FLOOR,
    PLATEAU_GAMMA,
    PLATEAU_THRESHOLD,
    ExperimentSetup,
    aggregate,
    arms,
    format_table,
    plot_comparison,
    run_experiment,
    write_marked_block,
)

#: RMSE reported in the PIMRL paper (arXiv 2503.10253, via a paper note; systems.md 2.4).
PAPER = {
    "kdv": {"pimrl": 0.0457, "percnn": 0.0942},
    "burgers-2d": {"pimrl": 0.0068, "percnn": 0.0075},
    "fitzhugh-nagumo-2d": {"pimrl": 0.1349, "percnn": 0.1591},
    "gray-scott-2d": {"pimrl": 0.0133, "percnn": 0.0455},
    "gray-scott-3d": {"pimrl": 0.0116, "percnn": 0.0532},
}


def _ordering(rows: list[dict]) -> str:
    """Whether PIMRL < PeRCNN < ConvLSTM in RMSE and PIMRL's HCT is the longest, as measured."""
    by = {r["model"]: r for r in rows}
    need = ("pimrl", "percnn", "convlstm")
    if not all(m in by for m in need):
        return "ordering: not all of PIMRL, PeRCNN, ConvLSTM were run"
    rmse = [by[m]["rmse"][0] for m in need]
    holds = rmse[0] < rmse[1] < rmse[2]
    best_hct = max(r["hct_mean"][0] for r in rows)
    longest = [r["label"] for r in rows if r["hct_mean"][0] == best_hct]
    tie = f" (tied: the whole rollout, {best_hct:.3g})" if len(longest) > 1 else ""
    ablations = [r for r in rows if r["model"].startswith("pimrl-")]
    if ablations:
        worse = [r["label"] for r in ablations if not r["rmse"][0] > rmse[0]]  # NaN (diverged) counts as worse
        verdict = ("every ablation worse than full PIMRL: **holds**" if not worse else
                   f"every ablation worse than full PIMRL: **does not hold** (not worse: {', '.join(worse)})")
    else:
        verdict = "ablations: not run"
    return (f"PIMRL < PeRCNN < ConvLSTM in RMSE: **{'holds' if holds else 'does not hold'}** "
            f"({rmse[0]:.3g} / {rmse[1]:.3g} / {rmse[2]:.3g}); {verdict}; longest HCT: **{', '.join(longest)}**{tie}")


def _finished(folder: Path, seeds: int) -> list[dict]:
    """The results of the runs already finished under ``folder`` (seeds below ``seeds``), in table order."""
    results = []
    for seed in range(seeds):
        for arm in arms():
            path = folder / "runs" / arm.name / f"seed{seed}" / "result.json"
            if path.exists():
                results.append(json.loads(path.read_text()))
    return results


def _copy_micro_runs(source: Path, target: Path, seeds: int) -> None:
    """Copy the finished runs of ``source`` that the macro budget does not change into ``target``.

    The micro pretraining, the PeRCNN arm and the micro-only ablation train on the PeRCNN budget
    alone; the data is deterministic in the setup. Runs already under ``target`` are kept.
    """
    if not (source / "data").is_dir():
        print(f"--reuse-micro: no data under {source}; nothing copied")
        return
    if not (target / "data").exists():
        shutil.copytree(source / "data", target / "data")
    for name in ("micro-pretraining", "percnn", "pimrl-micro-only"):
        for seed in range(seeds):
            finished, copy = source / "runs" / name / f"seed{seed}", target / "runs" / name / f"seed{seed}"
            done = finished / ("best.pt" if name == "micro-pretraining" else "result.json")
            if done.exists() and not copy.exists():
                shutil.copytree(finished, copy)
                print(f"--reuse-micro: copied {finished}")


def _stage_protocol(schedule: str, steps: int, lr: float, patience: int, every: int) -> str:
    if schedule == "plateau":
        return (f"trained until converged: lr {lr:g}, x{PLATEAU_GAMMA:g} after {patience} validations (one every "
                f"{every} steps) without a validation RMSE {PLATEAU_THRESHOLD:.0%} below the best, down to "
                f"{PLATEAU_FLOOR:.0%} of lr, where {patience} more such validations end the run (cap {steps} steps)")
    return (f"at most {steps} steps (lr {lr:g}), early stopping after {patience} validations (one every {every} "
            f"steps) without improvement")


def _protocol(setup: ExperimentSetup) -> str:
    """How the learners on the macro frames and the PeRCNNs trained on their own were trained, in words."""
    micro_lr = setup.lr if setup.micro_lr is None else setup.micro_lr
    macro = _stage_protocol(setup.macro_schedule, setup.steps, setup.lr, setup.patience, setup.validate_every)
    micro = _stage_protocol(setup.micro_schedule, setup.micro_steps, micro_lr, setup.micro_patience,
                            setup.micro_validate_every)
    return (f"the models on the macro frames {macro}; the PeRCNNs trained on their own (PIMRL's micro pretraining, "
            f"the PeRCNN arm) {micro}")


def _missing(results: list[dict], seeds: int) -> str:
    """A sentence naming the (model, seed) runs not finished, or nothing when all are."""
    done = {(r["model"], r["seed"]) for r in results}
    missing = [f"{a.label} seed {s}" for s in range(seeds) for a in arms() if (a.name, s) not in done]
    return f"\n\n**Not run or not finished:** {', '.join(missing)}." if missing else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/pimrl_table")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--only", default=None, help="comma-separated dataset names (default: all five)")
    parser.add_argument("--models", default=None,
                        help="comma-separated arm names to train (default: all; e.g. pimrl,percnn to schedule "
                             "the expensive arms first); the table still shows every finished run")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every training budget")
    parser.add_argument("--macro-scale", type=float, default=1.0,
                        help="multiply only the budget of the learners trained on the macro frames (PIMRL's "
                             "macro stage and its ablations, ConvLSTM, FNO), e.g. to see whether they converge")
    parser.add_argument("--until-converged", type=float, default=None, metavar="CAP",
                        help="train the learners on the macro frames on the plateau schedule until the validation "
                             "RMSE stops improving, at most CAP times their budget (see ExperimentSetup.macro_schedule)")
    parser.add_argument("--converge-micro", action="store_true",
                        help="with --until-converged: the PeRCNNs trained on their own (micro pretraining, PeRCNN arm) "
                             "on the plateau schedule too, capped at CAP times their budget")
    parser.add_argument("--reuse-micro", default=None, metavar="DIR",
                        help="copy the finished runs that depend only on the PeRCNN budget (micro pretraining, "
                             "PeRCNN arm, micro-only ablation) from the table under DIR instead of retraining them")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--block", default="main", help="name of the marked block of docs/results.md to replace")
    parser.add_argument("--report-only", action="store_true",
                        help="train nothing: tabulate the runs already finished under --out (partial tables)")
    parser.add_argument("--results", default=str(Path(__file__).resolve().parents[1] / "docs" / "results.md"))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    models = arms(tuple(args.models.split(","))) if args.models else None
    setups = [build() for build in BENCHMARK_SETUPS]
    if args.only:
        wanted = args.only.split(",")
        setups = [s for s in setups if s.name in wanted]
    blocks = []
    train_seconds = 0.0
    for setup in setups:
        if args.scale != 1.0 or args.macro_scale != 1.0:
            setup = setup.scaled(args.scale * args.macro_scale, micro_factor=args.scale)
        if args.until_converged:
            setup = setup.until_converged(args.until_converged, micro=args.converge_micro)
        elif args.converge_micro:
            parser.error("--converge-micro needs --until-converged CAP")
        if args.reuse_micro:
            _copy_micro_runs(Path(args.reuse_micro) / setup.name, Path(args.out) / setup.name, args.seeds)
        if args.report_only:
            results = _finished(Path(args.out) / setup.name, args.seeds)
            if not results:
                print(f"{setup.title}: no finished run under {args.out}; skipped")
                continue
        else:
            run_experiment(setup, Path(args.out) / setup.name, seeds=tuple(range(args.seeds)), models=models)
            results = _finished(Path(args.out) / setup.name, args.seeds)
        train_seconds += sum(r["train_seconds"] for r in results)
        rows = aggregate(results)
        table = format_table(rows, paper=PAPER.get(setup.name))
        print(f"\n{setup.title}\n{format_table(rows, markdown=False, paper=PAPER.get(setup.name))}")
        plots = plot_comparison(setup, Path(args.out) / setup.name, results)
        print(f"plots: {', '.join(str(p) for p in plots)}")
        blocks.append(
            f"### {setup.title}\n\nGrid {'x'.join(map(str, setup.shape))}, micro dt = {setup.dt:g}, "
            f"k = {setup.k} (macro Dt = {setup.macro_dt:g}), bursts of {setup.burst.burst_length} frames every "
            f"{setup.burst.burst_every}, {setup.n_train} training + {setup.n_val} validation + {setup.n_test} test "
            f"trajectories of {setup.frames} frames; {_protocol(setup)}; test rollouts of "
            f"{len(results[0]['time'])} macro steps. Reduced: {setup.reduced}.\n\n{table}\n\n{_ordering(rows)}"
            f"{_missing(results, args.seeds)}\n"
        )
    machine = f"{platform.machine()} CPU, {torch.get_num_threads()} torch thread(s), torch {torch.__version__}"
    command = " ".join(["python benchmarks/pimrl_table.py", *(argv if argv is not None else sys.argv[1:])])
    body = (f"_Generated by `{command}` on {machine}, "
            f"{train_seconds / 60:.0f} min of training in all (runs are reused when the command is repeated). RMSE in the fields' units over all "
            f"test rollouts (mean ± sample std over seeds); HCT in time units; artefact ratio: high-wavenumber "
            f"energy of the predictions over the truth's, last quarter of the rollouts (1 = as smooth as the truth); "
            f"steps: mean training steps of the last stage, macro or, for the micro-only ablation, the micro "
            f"pretraining (seeds that validation stopped: early stopping or the plateau rule, not the "
            f"budget)._\n\n" + "\n".join(blocks))
    path = write_marked_block(args.results, args.block, body)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
