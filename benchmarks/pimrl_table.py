"""Reproduce PIMRL's benchmark table at CPU scale and write it to docs/results.md.

    python benchmarks/pimrl_table.py [--seeds 2] [--out runs/pimrl_table] [--only kdv,burgers-2d]

For each of the five datasets (KdV, 2D Burgers, 2D FitzHugh-Nagumo, 2D and 3D Gray-Scott) it
generates the data with physdiff's solvers, trains PIMRL, PeRCNN, ConvLSTM, FNO and PIMRL's
three ablations with seeds 0..S-1 (see ``physdiff/experiments``), evaluates free rollouts on
held-out test trajectories, and writes mean and spread over seeds next to the paper's RMSE,
with plots of each dataset's rollouts in ``OUT/NAME/plots``.
Finished runs are reused, so an interrupted run continues where it stopped. The table block
between the ``<!-- results:NAME:begin -->`` and ``<!-- results:NAME:end -->`` markers of
``docs/results.md`` is replaced (atomically; ``--block NAME``, default ``main``, so runs with
different budgets can sit side by side); the rest of the page is left as written.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import torch

from physdiff.core import atomic_write
from physdiff.experiments import BENCHMARK_SETUPS, aggregate, format_table, plot_comparison, run_experiment

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
    return (f"PIMRL < PeRCNN < ConvLSTM in RMSE: **{'holds' if holds else 'does not hold'}** "
            f"({rmse[0]:.3g} / {rmse[1]:.3g} / {rmse[2]:.3g}); longest HCT: **{', '.join(longest)}**{tie}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/pimrl_table")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--only", default=None, help="comma-separated dataset names (default: all five)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every training budget")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--block", default="main", help="name of the marked block of docs/results.md to replace")
    parser.add_argument("--results", default=str(Path(__file__).resolve().parents[1] / "docs" / "results.md"))
    args = parser.parse_args(argv)
    begin, end = f"<!-- results:{args.block}:begin -->", f"<!-- results:{args.block}:end -->"
    if args.threads:
        torch.set_num_threads(args.threads)
    setups = [build() for build in BENCHMARK_SETUPS]
    if args.only:
        wanted = args.only.split(",")
        setups = [s for s in setups if s.name in wanted]
    blocks = []
    train_seconds = 0.0
    for setup in setups:
        if args.scale != 1.0:
            setup = setup.scaled(args.scale)
        results = run_experiment(setup, Path(args.out) / setup.name, seeds=tuple(range(args.seeds)))
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
            f"trajectories of {setup.frames} frames; {setup.steps} training steps per model "
            f"({setup.micro_steps} micro pretraining steps); test rollouts of {len(results[0]['time'])} macro steps. "
            f"Reduced: {setup.reduced}.\n\n{table}\n\n{_ordering(rows)}\n"
        )
    machine = f"{platform.machine()} CPU, {torch.get_num_threads()} torch thread(s), torch {torch.__version__}"
    command = " ".join(["python benchmarks/pimrl_table.py", *(argv if argv is not None else sys.argv[1:])])
    body = (f"{begin}\n_Generated by `{command}` on {machine}, "
            f"{train_seconds / 60:.0f} min of training in all (runs are reused when the command is repeated). RMSE in the fields' units over all "
            f"test rollouts (mean ± sample std over seeds); HCT in time units._\n\n" + "\n".join(blocks) + end)
    path = Path(args.results)
    text = path.read_text() if path.exists() else f"# Results\n\n{begin}\n{end}\n"
    if begin not in text or end not in text:
        text = text.rstrip() + f"\n\n{begin}\n{end}\n"
    head, rest = text.split(begin, 1)
    new = head + body + rest.split(end, 1)[1]
    atomic_write(path, lambda handle: handle.write(new.encode("utf-8")))
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
