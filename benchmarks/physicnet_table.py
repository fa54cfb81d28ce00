"""PhysicNet and its ablations against ConvLSTM on 2D Gray-Scott data made by physdiff; writes docs/results_physicnet.md.

    python benchmarks/physicnet_table.py [--out runs/physicnet] [--steps 600] [--only physicnet,convlstm]

1. Data: Gray-Scott (PeRCNN 2D parameters, ``Du=2e-5, Dv=5e-6, F=0.04, k=0.06, dx=0.01``) on a 64 x 64
   periodic grid, RK4 at ``dt = 0.5``, from the rest state with 3 to 8 random seed squares (one count
   per trajectory); a frame every 40 steps (20 time units); frames 1..20 of each trajectory make one
   sample (10 in, 10 out). Disjoint trajectory seeds for train / validation / test. The models see the
   frames average-pooled 2 x 2 to 32 x 32 (CPU budget).
2. Training: every model with the same budget (``--steps`` Adam steps at batch 8, lr 1e-3, horizon
   10, free rollout, validation every ``--steps / 10`` steps, early stopping patience 4, best
   validation checkpoint kept), the same seed; runs are resumable (finished ones are reused).
3. Test: free 10-frame rollouts of the best checkpoint on the test samples, scored by
   ``physdiff.metrics.video_metrics`` with ``data_range = 1`` (the fields lie in [0, 1]): MSE and MAE
   as per-frame sums over (C, H, W) before clipping, PSNR and SSIM (scikit-image defaults: 7 x 7
   uniform window, and the published data-range-2 variant) on clipped frames; also the MSE as a mean
   over entries; parameters; training time; figures of predictions, flows and codebook usage.

The table block between ``<!-- results:physicnet:begin -->`` and ``<!-- results:physicnet:end -->``
of docs/results_physicnet.md is replaced; the rest of the page is left as written.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

#: Sample counts (trajectories; one 20-frame sample each).
SPLITS = {"train": 192, "val": 24, "test": 48}
SPLIT_SEEDS = {"train": 1000, "val": 2000, "test": 3000}
FRAMES_IN, FRAMES_OUT, SAVE_EVERY, GRID = 10, 10, 40, 64

#: PhysicNet at CPU scale (the paper's sizes are unknown; spatiotemporal.md 3.3 proposes hidden 128,
#: K = 512, D = 64): reduced here to fit the budget, the same for every ablation.
PHYSICNET_SMALL = dict(context_frames=FRAMES_IN, latent_channels=16, hidden=32, residual_hidden=16, residual_layers=2,
                       head_hidden=16, num_codes=64, crop_size=16, num_crops=4, boundary="periodic")
#: The 64 x 64 simulation is average-pooled by this factor before training (CPU budget): 32 x 32 frames,
#: on which a 16 x 16 local view covers a quarter of the frame, as a 32 x 32 view does at 64 x 64.
POOL = 2

#: name -> (label, registry class name, constructor keywords)
MODELS: dict[str, tuple[str, str, dict]] = {
    "physicnet": ("PhysicNet", "PhysicNet", PHYSICNET_SMALL),
    "convlstm": ("ConvLSTM", "ConvLSTM", dict(hidden_channels=(16, 16), kernel_size=3, padding_mode="circular")),
    # The video helpers' reduced widths (benchmarks/video_table.py), trained here with the same plain MSE
    # rollout loss as every other row (not PhyDNet's loss on the context phase nor MoDeRNN's L1 + L2 with
    # scheduled sampling).
    "phydnet": ("PhyDNet", "PhyDNet", dict(base_channels=16, convlstm_hidden=(64, 64, 32))),
    "modernn": ("MoDeRNN", "MoDeRNN", dict(grid=(64 // POOL, 64 // POOL), hidden_channels=32, num_layers=2,
                                          patch_size=4)),
    "physicnet-no-vq": ("PhysicNet, no quantiser", "PhysicNet", {**PHYSICNET_SMALL, "quantize": False}),
    "physicnet-no-local": ("PhysicNet, no local experts", "PhysicNet", {**PHYSICNET_SMALL, "local_experts": False}),
    "physicnet-no-global": ("PhysicNet, no global expert", "PhysicNet", {**PHYSICNET_SMALL, "global_expert": False}),
    "physicnet-no-residual": ("PhysicNet, no residual term", "PhysicNet", {**PHYSICNET_SMALL, "residual": False}),
    "persistence": ("last frame repeated (no training)", "", {}),
}


def make_data(path: Path) -> dict[str, torch.Tensor]:
    """Gray-Scott samples ``(N, 20, 2, 64, 64)`` per split, cached in ``path``."""
    if path.exists():
        return torch.load(path)
    from physdiff.integrators import RK4
    from physdiff.solvers import GrayScott, simulate

    pde = GrayScott.percnn_2d()
    data = {}
    for split, count in SPLITS.items():
        samples = []
        for i in range(count):
            seed = SPLIT_SEEDS[split] + i
            seeds = 3 + seed % 6
            u0 = pde.initial_condition(1, (GRID, GRID), seed=seed, seeds=seeds, dtype=torch.float64)
            steps = SAVE_EVERY * (FRAMES_IN + FRAMES_OUT)
            traj = simulate(pde, u0, dt=0.5, steps=steps, save_every=SAVE_EVERY, integrator=RK4, include_initial=False)
            samples.append(traj.float())
        data[split] = torch.cat(samples)
        print(f"data: {split} {tuple(data[split].shape)}", flush=True)
    from physdiff.core import atomic_write

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda handle: torch.save(data, handle))
    return data


def pool(samples: torch.Tensor) -> torch.Tensor:
    """Average-pool ``(N, T, C, H, W)`` samples by :data:`POOL` in space, clipped to [0, 1].

    (The solver undershoots 0 by at most 3e-8 in ``v``; the video metrics require truth in [0, 1].)
    """
    n, t = samples.shape[:2]
    pooled = torch.nn.functional.avg_pool2d(samples.flatten(0, 1), POOL).clamp(0.0, 1.0)
    return pooled.view(n, t, *pooled.shape[1:])


class Samples(torch.utils.data.Dataset):
    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor = tensor

    def __len__(self) -> int:
        return self.tensor.shape[0]

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.tensor[index]


def build(name: str) -> torch.nn.Module:
    from physdiff.cli._registry import LEARNERS

    _, cls_name, kwargs = MODELS[name]
    cls = next(c for c in LEARNERS.values() if c.__name__ == cls_name)
    return cls(2, 2, **kwargs)


def train(name: str, data: dict, out: Path, steps: int, seed: int) -> dict:
    """Train ``name`` (resumable); return the run's record (``out/result.json``)."""
    from physdiff.training import OptimizerConfig, Trainer, TrainConfig, load_weights, seed_everything

    result_path = out / "result.json"
    if result_path.exists():
        return json.loads(result_path.read_text())
    seed_everything(seed)
    model = build(name)
    config = TrainConfig(steps=steps, batch_size=8, context_frames=FRAMES_IN, horizon=FRAMES_OUT,
                         optimizer=OptimizerConfig(lr=1e-3), grad_clip=1.0, validate_every=max(steps // 10, 1),
                         checkpoint_every=max(steps // 20, 1), early_stopping_patience=4, log_every=10, seed=seed,
                         device="cpu")
    trainer = Trainer(model, config, Samples(data["train"]), Samples(data["val"]), out_dir=out, resume="auto")
    fit = trainer.fit()
    # the trainer's clock: wall time of all sessions of the run (it survives interruptions and resumes)
    seconds = float(fit.history[-1]["time"])
    from physdiff.core import atomic_write_json

    load_weights(model, fit.best_checkpoint or fit.last_checkpoint)
    record = {"name": name, "steps": fit.steps, "stopped": fit.stopped, "best_step": fit.best_step,
              "train_seconds": seconds, "params": sum(p.numel() for p in model.parameters() if p.requires_grad),
              "seed": seed}
    from physdiff.core import atomic_write

    atomic_write(out / "best_weights.pt", lambda handle: torch.save(model.state_dict(), handle))
    atomic_write_json(result_path, record)
    return record


def evaluate(name: str, data: dict, out: Path) -> tuple[dict, torch.Tensor]:
    from physdiff.metrics import mse, video_error_curve, video_metrics

    test = data["test"]
    context, truth = test[:, :FRAMES_IN], test[:, FRAMES_IN:]
    if name == "persistence":
        prediction = context[:, -1:].expand_as(truth)
    else:
        model = build(name)
        model.load_state_dict(torch.load(out / "best_weights.pt"))
        model.eval()
        with torch.no_grad():
            prediction = torch.cat([model.predict(context[i:i + 8], FRAMES_OUT) for i in range(0, len(test), 8)])
    metrics = video_metrics(prediction, truth, data_range=1.0)
    metrics["mse_mean"] = float(mse(prediction, truth))
    metrics["mse_per_step"] = video_error_curve(prediction, truth).tolist()
    return metrics, prediction


def figures(data: dict, predictions: dict[str, torch.Tensor], out_dir: Path, run_root: Path) -> list[str]:
    """Prediction strip, flows + gate + codebook usage of PhysicNet on test sample 0; returns file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.patches
    import matplotlib.pyplot as plt

    from physdiff.core import atomic_write

    names = []
    test = data["test"]
    sample = 0
    shown = [n for n in ("physicnet", "physicnet-no-residual", "physicnet-no-local", "convlstm") if n in predictions]
    steps = [0, 2, 4, 6, 9]
    fig, axes = plt.subplots(len(shown) + 2, len(steps), figsize=(2.0 * len(steps), 2.0 * (len(shown) + 2)))
    rows = [("input (last)", None)] + [("truth", None)] + [(MODELS[n][0], n) for n in shown]
    for r, (label, name) in enumerate(rows):
        for c, step in enumerate(steps):
            ax = axes[r, c]
            if r == 0:
                frame = test[sample, FRAMES_IN - 1 - (len(steps) - 1 - c) * 2]
                title = f"t = {FRAMES_IN - 1 - (len(steps) - 1 - c) * 2 - FRAMES_IN + 1}"
            elif r == 1:
                frame, title = test[sample, FRAMES_IN + step], f"t = +{step + 1}"
            else:
                frame, title = predictions[name][sample, step], f"t = +{step + 1}"
            ax.imshow(frame[1].numpy(), vmin=0.0, vmax=0.6, cmap="viridis")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(title, fontsize=8)
            if c == 0:
                ax.set_ylabel(label, fontsize=7)
    fig.suptitle("Gray-Scott v, test sample 0: inputs, truth and free rollouts", fontsize=9)
    fig.tight_layout()
    names.append(_save(fig, out_dir / "physicnet_predictions.png", atomic_write))
    plt.close(fig)

    if "physicnet" in predictions:
        model = build("physicnet")
        model.load_state_dict(torch.load(run_root / "physicnet" / "best_weights.pt"))
        model.eval()
        context = test[sample:sample + 1, :FRAMES_IN]
        with torch.no_grad():
            state = model.initial_state(context[:, 0])
            state["frames"] = context[:, :-1]
            u, details = context[:, -1], []
            for _ in range(FRAMES_OUT):
                d = model.explain(u, state)
                details.append(d)
                _, state = model.step(u, state)
                u = d["prediction"]
        fig, axes = plt.subplots(3, 4, figsize=(11, 8))
        for c, step in enumerate([0, 3, 6, 9]):
            d = details[step]
            background = d["prediction"][0, 1].numpy()
            for r, (key, label) in enumerate((("global_flow", "global flow"), ("local_flow", "local flow (tiles)"))):
                ax = axes[r, c]
                ax.imshow(background, cmap="gray", vmin=0.0, vmax=0.6)
                flow = d[key][0]
                k, size = 2, background.shape[-1]
                ys, xs = torch.meshgrid(torch.arange(0, size, k), torch.arange(0, size, k), indexing="ij")
                largest = float(flow.norm(dim=0).max())
                magnify = 3.0 / max(largest, 1e-6)  # the longest arrow is drawn 3 pixels long
                ax.quiver(xs, ys, flow[0, ::k, ::k], flow[1, ::k, ::k], color="red", angles="xy", scale_units="xy",
                          scale=1.0 / magnify)
                if key == "local_flow":  # the evaluation tiling: the views' edges
                    for r0, c0 in d["corners"][0].tolist():
                        ax.add_patch(matplotlib.patches.Rectangle((c0 - 0.5, r0 - 0.5), model.crop_size,
                                                                  model.crop_size, fill=False, ls="--", lw=0.8,
                                                                  color="cyan"))
                ax.set_title(f"{label}, step +{step + 1}\nmax |f| = {largest:.2f} px, arrows x{magnify:.0f}",
                             fontsize=8)
                ax.set_xticks([])
                ax.set_yticks([])
            ax = axes[2, c]
            im = ax.imshow(d["gate"][0, 0].numpy(), vmin=0.0, vmax=1.0, cmap="magma")
            ax.set_title(f"gate g, step +{step + 1}", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        fig.colorbar(im, ax=axes[2].tolist(), shrink=0.7)
        fig.suptitle("PhysicNet on test sample 0: predicted flows (pixels per frame; arrows magnified) over the "
                     "prediction (v), local views dashed; the fusion gate g (weight of the local experts)", fontsize=9)
        names.append(_save(fig, out_dir / "physicnet_flows.png", atomic_write))
        plt.close(fig)

        fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
        num_codes = model.quantizer.num_codes
        g_codes = torch.cat([d["global_codes"].flatten() for d in details])
        l_codes = torch.cat([d["local_codes"].flatten() for d in details])
        for ax, codes, label in ((axes[0], g_codes, "global level"), (axes[1], l_codes, "local level")):
            counts = torch.bincount(codes, minlength=num_codes).float()
            p = counts / counts.sum()
            perplexity = torch.exp(-(p[p > 0] * p[p > 0].log()).sum())
            ax.bar(range(num_codes), counts.numpy(), width=1.0)
            ax.set_title(f"codebook usage, {label}: {int((counts > 0).sum())}/{num_codes} codes used, "
                         f"perplexity {perplexity:.1f}", fontsize=8)
            ax.set_xlabel("code index")
            ax.set_ylabel("assignments (10 steps)")
        from physdiff.learners import paste

        # the local views' code indices, each view's latent cells at their place in the frame (latent grid)
        first = details[0]
        codes, corners = first["local_codes"][:1].double(), first["corners"][:1] // 4
        size = test.shape[-1] // 4
        code_map = paste(codes[:, :, None], corners, size, size)[0, 0].numpy()
        ax = axes[2]
        ax.imshow(code_map, cmap="tab20", interpolation="nearest")
        ax.set_title(f"local code index per latent cell ({size} x {size}, 4 views), step +1", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        fig.tight_layout()
        names.append(_save(fig, out_dir / "physicnet_codebook.png", atomic_write))
        plt.close(fig)
    return names


def _save(fig, path: Path, atomic_write) -> str:
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    atomic_write(path, lambda handle: handle.write(buffer.getvalue()))
    return path.name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "runs" / "physicnet"))
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default=None, help="comma-separated model names (default: all)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--results", default=str(DOCS / "results_physicnet.md"))
    parser.add_argument("--no-docs", action="store_true", help="train and print only")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    root = Path(args.out)
    data = {split: pool(tensor) for split, tensor in make_data(root / "gray_scott_64.pt").items()}
    names = list(MODELS) if not args.only else args.only.split(",")
    rows, predictions = [], {}
    for name in names:
        run = root / name
        record = {"name": name, "params": 0, "train_seconds": 0.0, "steps": 0, "stopped": "-", "best_step": None}
        if name != "persistence":
            print(f"training {name} ...", flush=True)
            record = train(name, data, run, args.steps, args.seed)
        metrics, predictions[name] = evaluate(name, data, run)
        rows.append({**record, **metrics})
        print(f"{name}: PSNR {metrics['psnr']:.2f} SSIM {metrics['ssim']:.4f} MSE/frame {metrics['mse']:.2f} "
              f"params {record['params']} time {record['train_seconds']:.0f}s", flush=True)
    if args.no_docs:
        return 0
    # Figures go beside the results page (docs/images by default; the gallery runs it elsewhere).
    images = Path(args.results).parent / "images"
    images.mkdir(parents=True, exist_ok=True)
    pictures = figures(data, predictions, images, root)
    write_docs(Path(args.results), rows, pictures, args)
    return 0


def write_docs(path: Path, rows: list[dict], pictures: list[str], args) -> None:
    from physdiff.core import atomic_write

    lines = ["| model | PSNR (dB) ↑ | SSIM ↑ | SSIM (range 2) | MSE ↓ | MAE ↓ | MSE step +1 / +10 | "
             "MSE (mean over entries) | params | train time (s) | steps (best) |", "|" + "---|" * 11]
    for r in rows:
        per = r["mse_per_step"]
        steps = "–" if r["name"] == "persistence" else f"{r['steps']} ({r['best_step']})"
        lines.append(
            f"| {MODELS[r['name']][0]} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['ssim_published']:.4f} | "
            f"{r['mse']:.2f} | {r['mae']:.2f} | {per[0]:.2f} / {per[-1]:.2f} | {r['mse_mean']:.2e} | "
            f"{r['params']:,} | {r['train_seconds']:.0f} | {steps} |")
    block = "\n".join([
        f"Generated by `python benchmarks/physicnet_table.py --steps {args.steps} --seed {args.seed}` on "
        f"{platform.machine()} CPU, torch {torch.__version__}, Python {sys.version.split()[0]}, "
        f"{args.threads} thread(s) per run, machine shared with other jobs (times are indicative).",
        "",
        *lines,
        "",
        *[f"![{p}](images/{p})" for p in pictures],
    ])
    begin, end = "<!-- results:physicnet:begin -->", "<!-- results:physicnet:end -->"
    text = path.read_text() if path.exists() else f"# PhysicNet results\n\n{begin}\n{end}\n"
    if begin not in text:
        text += f"\n{begin}\n{end}\n"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    text = f"{head}{begin}\n{block}\n{end}{tail}"
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


if __name__ == "__main__":
    sys.exit(main())
