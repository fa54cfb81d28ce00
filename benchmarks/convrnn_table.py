"""The minimal-ConvRNN paper's two benchmarks at CPU scale; writes docs/results_convrnn.md.

    python benchmarks/convrnn_table.py [--only navier-stokes,geopotential] [--seeds 0,1,2] [--out runs/convrnn]

For each benchmark it makes the data with physdiff's solvers (Navier-Stokes: ``NavierStokes2D``
with the paper's generator settings, coarsened 4x to 16x16; geopotential stand-in:
``ShallowWaterSphere`` random balanced flows on 32x64, ``g h`` downscaled 2x to 16x32, hourly
frames), trains ConvLSTM, ConvGRU, MinConvGRU, MinConvLSTM and MinConvExpLSTM in the paper's
network (:class:`physdiff.learners.ConvRNN`) with each seed, with early stopping on validation
RMSE, evaluates on held-out test trajectories the paper's way (teacher-forced frames, then a
closed loop; RMSE of each part) and writes mean and spread over seeds. Everything is cached
under ``--out``: finished runs are reused and an interrupted run resumes from its checkpoint,
so the same command continues where it stopped. The block between
``<!-- convrnn:NAME:begin -->`` and ``<!-- convrnn:NAME:end -->`` of the results page is
replaced atomically, one per benchmark; the rest of the page is left as written.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from physdiff.core import atomic_write, atomic_write_json
from physdiff.integrators import RK4
from physdiff.learners import ConvRNN
from physdiff.solvers import NavierStokes2D, ShallowWaterSphere, simulate
from physdiff.training import TrainConfig, Trainer, load_weights

MODELS = ("convlstm", "convgru", "minconvgru", "minconvlstm", "minconvexplstm")
LABELS = {"convlstm": "ConvLSTM", "convgru": "ConvGRU", "minconvgru": "MinConvGRU", "minconvlstm": "MinConvLSTM",
          "minconvexplstm": "MinConvExpLSTM"}


@dataclass(frozen=True)
class Benchmark:
    """One benchmark's reduced setting (the paper's in the comments of BENCHMARKS)."""

    name: str
    grid: tuple[int, int]
    padding: str
    layers: int
    hidden: dict[str, int]  # parameter-matched widths (the paper's ratios, about 1/3 of its widths)
    train_trajectories: int
    val_trajectories: int
    test_trajectories: int
    frames: int  # frames per trajectory
    sequence: int  # training window length L
    teacher: int  # teacher-forced frames of a window
    test_sequence: int  # evaluation window length
    input_noise: float
    lr: float
    max_steps: int
    batch: int = 8
    validate_every: int = 20
    patience: int = 4


REDUCED_HIDDEN = {"convlstm": 8, "convgru": 9, "minconvgru": 16, "minconvlstm": 13, "minconvexplstm": 13}
BENCHMARKS = {
    # paper: 1000/50/200 trajectories of 50 (test 51) frames; 4 layers x {25, 28, 49, 40, 40};
    # L = 15, tf = 5 (and L = 25, tf = 20); 30 epochs of batch 1, Adam 5e-4, wd 0.01, cosine.
    "navier-stokes": Benchmark("navier-stokes", (16, 16), "circular", 2, REDUCED_HIDDEN, 16, 4, 8, 30, 15, 5, 25,
                               1e-2, 1e-3, 100),
    # paper: WeatherBench 1979-2018 hourly (train/val/test years); 3 layers x {12, 14, 24, 20, 20};
    # L = 24, tf = 20; test 96 frames, 20 teacher-forced; 20 epochs of batch 1, Adam 1e-3, cosine.
    "geopotential": Benchmark("geopotential", (16, 32), "cylinder", 2, REDUCED_HIDDEN, 8, 2, 4, 30, 12, 8, 24,
                              0.0, 1e-3, 100, batch=4),
}


# ---------------------------------------------------------------------- data
def navier_stokes_data(n: int, frames: int, seed: int) -> torch.Tensor:
    """``(n, frames, 1, 16, 16)``: vorticity at t = 1 .. frames (the paper drops the initial state),
    64^2 pseudo-spectral Crank-Nicolson steps of dt = 1e-2, averaged over 4x4 blocks."""
    pde = NavierStokes2D(n=64)  # nu = 1e-3, FNO forcing
    w = pde.initial_condition(n, seed=seed, dtype=torch.float64)
    out = []
    for _ in range(frames):
        w = pde.step(w, 1e-2, steps=100)
        out.append(F.avg_pool2d(w, 4))
    return torch.stack(out, 1).float()


def geopotential_data(n: int, frames: int, seed: int) -> torch.Tensor:
    """``(n, frames, 1, 16, 32)``: ``g h`` (m^2/s^2) of random balanced shallow-water flows on a 32x64
    Gauss grid, RK4 at dt = 600 s, one frame per hour, averaged over 2x2 blocks."""
    pde = ShallowWaterSphere(32, 64, hyperdiffusion=21600.0)
    state = pde.initial_condition(n, seed=seed, dtype=torch.float64)
    states = simulate(pde, state, dt=600.0, steps=6 * frames, save_every=6, integrator=RK4, include_initial=False)
    return (F.avg_pool2d(states[:, :, 0], 2) * pde.gravity)[:, :, None].float()


def make_data(bench: Benchmark, root: Path) -> dict[str, torch.Tensor]:
    """Train/validation/test trajectories (cached); geopotential normalised by the training mean and std."""
    path = root / "data" / f"{bench.name}.pt"
    if path.exists():
        return torch.load(path)
    make = navier_stokes_data if bench.name == "navier-stokes" else geopotential_data
    start = time.perf_counter()
    splits = {"train": make(bench.train_trajectories, bench.frames, 1000),
              "val": make(bench.val_trajectories, bench.frames, 2000),
              "test": make(bench.test_trajectories, bench.frames, 3000)}
    if bench.name == "geopotential":  # the paper normalises geopotential (not Navier-Stokes)
        mean, std = splits["train"].mean(), splits["train"].std()
        splits = {k: (v - mean) / std for k, v in splits.items()}
    print(f"{bench.name}: data made in {time.perf_counter() - start:.0f} s", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: torch.save(splits, f))
    return splits


class Windows(Dataset):
    """Windows ``(length, C, *space)`` of trajectories ``(N, T, C, *space)``, starts every ``stride`` frames."""

    def __init__(self, trajectories: torch.Tensor, length: int, stride: int = 1) -> None:
        self.data, self.length = trajectories, length
        self.index = [(i, s) for i in range(trajectories.shape[0])
                      for s in range(0, trajectories.shape[1] - length + 1, stride)]

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, k: int) -> torch.Tensor:
        i, s = self.index[k]
        return self.data[i, s: s + self.length]


# ---------------------------------------------------------------------- one run
def build(bench: Benchmark, model: str) -> ConvRNN:
    """The paper's network, except that it predicts the increment (``residual=True``) from a zero-initialised
    decoder, so every model starts at persistence: with the paper's direct decoder, 100 steps left the
    one-step predictions far worse than persistence (geopotential ConvLSTM, seed 0: teacher-forced RMSE
    0.36 against 0.074; closed loop 0.53 against 0.50 for the held last frame)."""
    net = ConvRNN(1, 2, [bench.hidden[model]] * bench.layers, cell=model, padding_mode=bench.padding,
                  norm="layer", grid=bench.grid, input_noise=bench.input_noise, residual=True)
    torch.nn.init.zeros_(net.decoder.weight)
    torch.nn.init.zeros_(net.decoder.bias)
    return net


def test_windows(test: torch.Tensor, bench: Benchmark) -> torch.Tensor:
    """``(N, test_sequence + 1, C, *space)``: non-overlapping windows of the test trajectories."""
    return torch.stack(list(Windows(test, bench.test_sequence + 1, stride=bench.test_sequence)))


def evaluate(model: ConvRNN, test: torch.Tensor, bench: Benchmark) -> dict[str, float]:
    """RMSE over the teacher-forced and the closed-loop predictions of the test windows (paper's split)."""
    windows = test_windows(test, bench)
    model.eval()
    with torch.no_grad():
        out = torch.cat([model.paper_rollout(w[:, :-1], bench.teacher) for w in windows.split(16)])
    err = (out - windows[:, 1:]) ** 2
    return {"rmse_tf": float(err[:, :bench.teacher].mean().sqrt()), "rmse_cl": float(err[:, bench.teacher:].mean().sqrt()),
            "windows": int(windows.shape[0])}


def persistence(test: torch.Tensor, bench: Benchmark) -> dict[str, float]:
    """The persistence forecast's RMSE on the same split: teacher-forced part ``u_{t+1} = u_t`` (true
    ``u_t``); closed loop: the last teacher-forced frame held (no true frame is seen after it)."""
    windows = test_windows(test, bench)
    target, tf = windows[:, 1:], bench.teacher
    one_step = (windows[:, :tf] - target[:, :tf]) ** 2
    held = (windows[:, tf:tf + 1] - target[:, tf:]) ** 2
    return {"tf": float(one_step.mean().sqrt()), "cl": float(held.mean().sqrt())}


def run_one(bench: Benchmark, model_name: str, seed: int, data: dict[str, torch.Tensor], root: Path) -> dict:
    out_dir = root / bench.name / model_name / f"seed{seed}"
    result_path = out_dir / "result.json"
    if result_path.exists():
        return json.loads(result_path.read_text())
    torch.manual_seed(seed)
    model = build(bench, model_name)
    config = TrainConfig(
        steps=bench.max_steps, batch_size=bench.batch, context_frames=bench.teacher,
        horizon=bench.sequence - bench.teacher, optimizer={"name": "adam", "lr": bench.lr},
        schedule={"name": "cosine"}, validate_every=bench.validate_every, checkpoint_every=bench.validate_every,
        early_stopping_patience=bench.patience, log_every=bench.validate_every, seed=seed, device="auto")
    train = Windows(data["train"], bench.sequence)
    val = Windows(data["val"], bench.sequence, stride=bench.sequence)
    trainer = Trainer(model, config, train, val, out_dir=out_dir, resume="auto")
    steps_before = trainer.step
    start = time.perf_counter()
    fit = trainer.fit()
    seconds = time.perf_counter() - start
    steps_done = fit.steps - steps_before
    load_weights(model, out_dir / "best.pt")  # the model of the best validation RMSE
    result = {"benchmark": bench.name, "model": model_name, "seed": seed,
              "parameters": sum(p.numel() for p in model.parameters()), "steps": fit.steps,
              "best_step": fit.best_step, "stopped": fit.stopped,
              "seconds_per_step": seconds / steps_done if steps_done else None,
              "steps_per_epoch": math.ceil(len(train) / bench.batch), **evaluate(model, data["test"], bench)}
    atomic_write_json(result_path, result)
    print(json.dumps(result), flush=True)
    return result


# ---------------------------------------------------------------------- table
def _stat(values: list[float]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    mean = sum(values) / len(values)
    spread = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5 if len(values) > 1 else 0.0
    return f"{mean:.4f} ± {spread:.4f}"


def table(bench: Benchmark, results: list[dict], seeds: list[int], baseline: dict[str, float]) -> str:
    lines = [f"Seeds {', '.join(map(str, seeds))}; test windows: {results[0]['windows']} of "
             f"{bench.test_sequence} frames ({bench.teacher} teacher-forced, {bench.test_sequence - bench.teacher} "
             "closed-loop). Mean ± standard deviation over seeds.", "",
             "| model | hidden × layers | parameters | RMSE teacher-forced | RMSE closed loop | s / epoch | "
             "steps run (best) |", "|---|---|---|---|---|---|---|"]
    for model in MODELS:
        rows = [r for r in results if r["model"] == model]
        if not rows:
            continue
        epoch = [r["seconds_per_step"] * r["steps_per_epoch"] for r in rows if r["seconds_per_step"]]
        steps = ", ".join(f"{r['steps']} ({r['best_step']})" for r in rows)
        lines.append(
            f"| {LABELS[model]} | {bench.hidden[model]} × {bench.layers} | {rows[0]['parameters']:,} | "
            f"{_stat([r['rmse_tf'] for r in rows])} | {_stat([r['rmse_cl'] for r in rows])} | "
            f"{_stat(epoch)} | {steps} |")
    lines.append(f"| persistence (TF: u_t+1 = u_t; CL: last TF frame held) | | 0 | {baseline['tf']:.4f} | "
                 f"{baseline['cl']:.4f} | | |")
    return "\n".join(lines)


def replace_block(page: Path, name: str, body: str) -> None:
    text = page.read_text()
    begin, end = f"<!-- convrnn:{name}:begin -->", f"<!-- convrnn:{name}:end -->"
    if begin not in text or end not in text:
        raise SystemExit(f"{page}: markers {begin} / {end} not found")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    new = f"{head}{begin}\n{body}\n{end}{tail}"
    atomic_write(page, lambda f: f.write(new.encode()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/convrnn")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--only", default="navier-stokes,geopotential")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--results", default=str(Path(__file__).resolve().parents[1] / "docs" / "results_convrnn.md"))
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    root = Path(args.out)
    seeds = [int(s) for s in args.seeds.split(",")]
    for name in args.only.split(","):
        bench = BENCHMARKS[name]
        data = make_data(bench, root)
        results = [run_one(bench, model, seed, data, root) for seed in seeds for model in args.models.split(",")]
        body = table(bench, results, seeds, persistence(data["test"], bench))
        body += (f"\n\nMachine: {platform.machine()} CPU, torch {torch.__version__}, {args.threads} thread(s), "
                 "shared with other jobs (timings are indicative only).")
        print(body, flush=True)
        replace_block(Path(args.results), name, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
