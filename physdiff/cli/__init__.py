"""The ``physdiff`` command line: the only layer that reads argv.

Subcommands (details in ``docs/cli.md``):

* ``physdiff info [FILE.h5]``: versions and devices; with a file, its schema, shapes and provenance.
* ``physdiff stencil D [ACCURACY] [--kind central|forward|backward] [--offsets=-1/2,1/2]``: print exact weights.
* ``physdiff simulate PDE [--preset NAME] [--grid N] ... --out FILE.h5``: generate a trajectory file.
* ``physdiff moving-mnist --out FILE.h5 [--sequences N] ...``: Moving MNIST sequences (or the fixed test file).
* ``physdiff regenerate FILE.h5 --out NEW.h5``: rebuild a file from its provenance and compare.
* ``physdiff plot FILE.h5 --out DIR``: PNG frames and a GIF of one trajectory.
* ``physdiff train --config FILE [--out DIR] [--resume] [--quiet]``: train a learner (also under torchrun).
* ``physdiff evaluate CHECKPOINT --data FILE.h5``: free-rollout metrics and plots of a trained learner.
* ``physdiff predict CHECKPOINT --data FILE.h5 --out PRED.h5``: roll a trained learner out into a file.

Names typed here (PDEs, presets, integrators, dtypes, learners) become classes only in ``_registry.py``.
"""

from __future__ import annotations

import argparse
import os
import contextlib
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from physdiff.core import PhysdiffError

from ._common import DIRECTORY, FILE, RUN, add_device, add_output, add_shared_options, check_common

if TYPE_CHECKING:  # physdiff.data (and h5py behind it) loads only when a command needs it
    from physdiff.data import BurstSpec


class _ProgressBar:
    """Progress on stderr: on a terminal, ``label [#####-----]  50% (2/4 steps) suffix`` redrawn in
    place at most once per percent; otherwise (a log file, a pipe) one plain line every 10 %, so
    logs hold no carriage-return frames.

    ``suffix`` (e.g. ``loss 0.0123``) is what is shown with the bar; training passes the loss.
    """

    def __init__(self, label: str, width: int = 30, terminal: bool | None = None) -> None:
        self.label, self.width, self._last, self._open, self._length = label, width, -1, False, 0
        self.terminal = sys.stderr.isatty() if terminal is None else terminal

    def __call__(self, done: int, total: int, suffix: str = "") -> None:
        percent = 100 * done // total
        step = 1 if self.terminal else 10
        if percent // step == self._last // step and done != total:
            return
        self._last = percent
        text = f"({done}/{total} steps)" + (f" {suffix}" if suffix else "")
        if not self.terminal:
            sys.stderr.write(f"{self.label}: {percent:3d}% {text}\n")
            sys.stderr.flush()
            return
        filled = self.width * done // total
        bar = "#" * filled + "-" * (self.width - filled)
        line = f"{self.label} [{bar}] {percent:3d}% {text}"
        # Pad over the end of a longer previous line (the suffix changes length).
        sys.stderr.write("\r" + line + " " * max(self._length - len(line), 0))
        self._length = len(line)
        self._open = done != total
        if not self._open:
            sys.stderr.write("\n")
        sys.stderr.flush()

    def message(self, text: str) -> None:
        """Print ``text`` on its own line of stderr (the bar, if open, is redrawn by its next update)."""
        self.close()
        self._last = -1  # redraw on the next update
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        """End a bar left unfinished (by an error), so the error message starts on its own line."""
        if self._open:
            sys.stderr.write("\n")
            self._open = False


@contextlib.contextmanager
def _progress(quiet: bool, label: str) -> Iterator[_ProgressBar | None]:
    bar = None if quiet else _ProgressBar(label)
    try:
        yield bar
    finally:
        if bar is not None:
            bar.close()


def _grid(text: str | None, default: tuple[int, ...]) -> tuple[int, ...]:
    """``--grid 64`` (every axis) or ``--grid 64x32`` (one size per axis)."""
    if text is None:
        return default
    try:
        sizes = tuple(int(part) for part in text.lower().split("x"))
    except ValueError:
        raise PhysdiffError(f"--grid: expected N or N0xN1[xN2] (positive ints), got {text!r}.") from None
    if len(sizes) == 1:
        sizes = sizes * len(default)
    if len(sizes) != len(default) or min(sizes) < 1:
        raise PhysdiffError(
            f"--grid: expected 1 or {len(default)} positive sizes for this {len(default)}D preset, got {text!r}."
        )
    return sizes


def _burst(text: str | None) -> BurstSpec | None:
    """``--burst L,E,K``: burst_length, burst_every, macro_every."""
    if text is None:
        return None
    from physdiff.data import BurstSpec

    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 3:
        raise PhysdiffError(
            f"--burst: expected L,E,K (burst_length, burst_every, macro_every: three ints, e.g. 3,8,4), got {text!r}."
        )
    try:
        return BurstSpec(*values)
    except PhysdiffError as exc:
        raise PhysdiffError(f"--burst {text}: {exc}") from None


def _check_integrator(entry: object, preset: object, pde: object, name: str) -> None:
    """Refuse an explicit integrator that is unstable for this PDE at every step (e.g. Euler on KdV)."""
    from . import _registry as registry

    limit = getattr(pde, "stable_dt", lambda integrator: None)(registry.integrator_class(name))
    if limit is None or limit > 0:
        return
    working = [other for other, cls in registry.INTEGRATORS.items() if (pde.stable_dt(cls) or 0) > 0]
    raise PhysdiffError(
        f"--integrator {name}: unstable for {entry.name} ({preset.name}) at any time step: this equation's "
        f"spatial eigenvalues lie on the imaginary axis (it is dispersive or advective), and the stability "
        f"region of {name} contains no part of that axis, so no dt helps. Use one of: {', '.join(working)}."
    )


def _simulate(args: argparse.Namespace) -> int:
    from physdiff.data import generate

    from . import _registry as registry

    entry = registry.pde_entry(args.pde)
    preset = entry.preset(args.preset)
    shape = _grid(args.grid, preset.grid)
    burst = _burst(args.burst)
    pde = preset.build(shape)
    integrator = args.integrator or preset.integrator
    _check_integrator(entry, preset, pde, integrator)
    with _progress(args.quiet, f"{entry.name}/{preset.name}") as bar:
        try:
            info = generate(
                pde, args.out, shape=shape, dt=preset.dt if args.dt is None else args.dt,
                steps=preset.steps if args.steps is None else args.steps,
                save_every=preset.save_every if args.save_every is None else args.save_every,
                integrator=registry.integrator_class(integrator), n_trajectories=args.n_traj,
                seed=args.seed, dtype=registry.DTYPES[args.dtype], device=args.device, ic_options=preset.ic_options,
                batch_size=args.batch_size, compression=None if args.compression == "none" else args.compression,
                progress=bar, burst=burst,
            )
        except PhysdiffError as exc:
            raise _grid_advice(exc, args.grid, preset.name) from None
    print(f"wrote {info.path}: trajectories {info.shape} {info.dtype}, setup sha256 {info.provenance.sha256}")
    return 0


def _grid_advice(error: PhysdiffError, grid: str | None, preset: str) -> PhysdiffError:
    """The operators' "use a finer grid or a lower accuracy" in command-line terms (the presets fix the accuracy)."""
    text = str(error)
    advice = "Use a finer grid or a lower accuracy."
    if not (text.startswith("grid: ") and text.endswith(advice)):
        return error
    return PhysdiffError(f"--grid {grid}: {text[len('grid: '):-len(advice)]}The {preset} preset's finite-difference "
                         "accuracy is fixed, so give more points per axis with --grid.")


def _regenerate(args: argparse.Namespace) -> int:
    from physdiff.data import regenerate

    from . import _registry as registry

    with _progress(args.quiet, "regenerate") as bar:
        result = regenerate(
            args.file, args.out, resolve_pde=registry.pde_from_config, resolve_integrator=registry.integrator_class,
            device=args.device, progress=bar,
        )
    if result.identical:
        print(f"wrote {result.path}: identical to {args.file}, bit for bit (device {result.device}).")
        return 0
    print(
        f"wrote {result.path}: DIFFERS from {args.file}, max |difference| {result.max_abs_diff:.3g} "
        f"(device {result.device}). Different devices, torch or physdiff versions can change the last bits."
    )
    return 1


def _plot_command(args: argparse.Namespace) -> int:  # not `_plot`: importing the submodule would shadow it
    from ._plot import plot_trajectory

    written = plot_trajectory(args.file, args.out, trajectory=args.trajectory, max_frames=args.max_frames, fps=args.fps,
                              warn=lambda text: print(f"physdiff: warning: {text}", file=sys.stderr))
    print(f"wrote {len(written) - 1} frames and {written[-1]}")
    return 0


def _describe(path: str) -> int:
    import json

    from physdiff.data import read_info, scan_values

    info = read_info(path)
    nonfinite = scan_values(path).nonfinite
    axes = ", ".join(["N", "T", "C"] + [f"x{a}" for a in range(len(info.space_shape))])
    rows = [
        ("file", str(info.path)),
        ("schema", f"physdiff.trajectories v{info.schema_version}, complete"),
        ("trajectories", f"{info.shape} ({axes}) {info.dtype}, chunks {info.chunks}, {info.compression or 'uncompressed'}"),
        ("values", "all finite" if nonfinite is None else f"NOT FINITE: {nonfinite.describe(info)}; "
                   "training and evaluation refuse this file"),
        ("channels", ", ".join(info.channel_names)),
        ("time", f"{info.n_frames} frames, t = {info.time[0]:.6g} .. {info.time[-1]:.6g}"),
    ]
    for axis, x in enumerate(info.coordinates):
        rows.append((f"x{axis}", f"{x.size} points, {x[0]:.6g} .. {x[-1]:.6g}"))
    stats = "; ".join(f"{c}: mean {m:.6g}, std {s:.6g}" for c, m, s in zip(info.channel_names, info.mean, info.std))
    rows.append(("statistics", stats))
    if info.burst is not None:
        b = info.burst
        rows.append(("bursts", f"{b.burst_length} frames every {b.burst_every}; macro frames every {b.macro_every}"))
    p = info.provenance
    if p is None:
        rows.append(("provenance", "none (written without a setup; cannot be regenerated)"))
    elif p.is_video:
        s = p.setup
        rows.append(("generator", f"{s['generator']} {json.dumps(s['options'])}"))
        if s.get("digits") is not None:
            d = s["digits"]
            rows.append(("digits", f"{d['source']} {d['split']} split, {d['count']} images {d['size']}, "
                                   f"sha256 {d['sha256'][:16]}..."))
        seed = "" if s.get("seed") is None else f" of seed {s['seed']}"
        rows += [
            ("sequences", f"{s['n_sequences']} (indices {s['first_index']} .. "
                          f"{s['first_index'] + s['n_sequences'] - 1}{seed})"),
            ("made with", f"physdiff {p.physdiff_version}, torch {p.torch_version}, {s['dtype']} on {p.device}"),
            ("setup sha256", p.sha256),
        ]
    elif str(p.setup.get("integrator", "")).startswith("learner:"):
        rows += _prediction_rows(p)
    else:
        s = p.setup
        rows += [
            ("pde", json.dumps(s["pde"])),
            ("integrator", f"{s['integrator']}, dt {s['dt']:.6g}, {s['steps']} steps, save every {s['save_every']}"
                           + (f", after {s['burn_in']} burn-in steps" if s.get("burn_in") else "")),
        ]
        if s.get("accuracy") is not None:
            rows.append(("stencil", f"accuracy {s['accuracy']}, spacing {s['spacing']}"))
        rows += [
            ("initial cond.", f"{s['initial_condition']['name']} {json.dumps(s['initial_condition']['options'])}, "
                              f"seeds {s['initial_condition']['seeds']}, batch size {s['batch_size']}"),
            ("made with", f"physdiff {p.physdiff_version}, torch {p.torch_version}, {s['dtype']} on {p.device}"),
            ("setup sha256", p.sha256),
        ]
    for key, value in rows:
        print(f"{key:<16}{value}")
    return 0


def _prediction_rows(p: object) -> list[tuple[str, str]]:
    """``info`` rows of a ``physdiff predict`` file: which model, checkpoint and data made it."""
    import json

    s = p.setup
    o = s["initial_condition"]["options"]
    return [
        ("made by", f"physdiff predict: {o.get('model_class')} rolled out {o.get('predicted_frames')} frames "
                    f"{s['dt']:.6g} apart after {o.get('context_frames')} context frame(s) of the data"),
        ("checkpoint", f"{o.get('checkpoint')} (step {o.get('checkpoint_step')}, sha256 {o.get('checkpoint_sha256')})"),
        ("model config", json.dumps(o.get("model_config"))),
        ("data", f"{o.get('data')} (setup sha256 {o.get('data_setup_sha256')})"),
        ("pde", json.dumps(s["pde"])),
        ("made with", f"physdiff {p.physdiff_version}, torch {p.torch_version}, {s['dtype']} on {p.device}; "
                      "cannot be regenerated (regenerate reruns PDEs, not learners)"),
        ("setup sha256", p.sha256),
    ]


def _info(args: argparse.Namespace) -> int:
    if getattr(args, "file", None):
        return _describe(args.file)
    import importlib.metadata as md

    import torch

    import physdiff

    print(f"physdiff {physdiff.__version__}")
    for name in ("torch", "torch-harmonics", "numpy", "scipy", "sympy", "einops", "h5py", "matplotlib", "mlxtend",
                 "scikit-learn"):
        try:
            print(f"{name:<16}{md.version(name)}")
        except md.PackageNotFoundError:
            print(f"{name:<16}not installed")
    devices = ["cpu"] + [f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())]
    print(f"devices         {', '.join(devices)}")
    return 0


def _stencil(args: argparse.Namespace) -> int:
    from physdiff.operators import Stencil

    if args.offsets:
        stencil = Stencil.from_offsets(args.derivative, args.offsets)
    else:
        stencil = getattr(Stencil, args.kind)(args.derivative, args.accuracy)
    from physdiff.operators._stencil import EXACT_ACCURACY

    accuracy = "exact (no truncation error)" if stencil.accuracy == EXACT_ACCURACY else stencil.accuracy
    print(f"derivative {stencil.derivative}, accuracy {accuracy}")
    for offset, weight in zip(stencil.offsets, stencil.weights):
        print(f"  {str(offset):>6}  {weight}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="physdiff", description="Differentiable physics solvers for PyTorch.")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="versions and devices, or the contents of a trajectory file")
    info.add_argument("file", nargs="?", help="a trajectory file (.h5) to describe")
    info.set_defaults(func=_info)
    stencil = sub.add_parser("stencil", help="exact finite-difference weights")
    stencil.add_argument("derivative", type=int)
    stencil.add_argument("accuracy", type=int, nargs="?", default=2)
    stencil.add_argument("--kind", choices=("central", "forward", "backward"), default="central")
    stencil.add_argument(
        "--offsets", type=lambda text: text.split(","), help="comma-separated offsets, e.g. --offsets=-1/2,1/2 (overrides --kind)"
    )
    stencil.set_defaults(func=_stencil)
    _add_data_commands(sub)
    _add_learner_commands(sub)
    add_shared_options(sub)  # last: --threads on every subcommand, including ones added above
    return parser


def _add_data_commands(sub: argparse._SubParsersAction) -> None:
    from . import _registry as registry

    presets = "; ".join(f"{e.name}: {', '.join(p.name for p in e.presets)}" for e in registry.PDES.values())
    simulate = sub.add_parser("simulate", help="generate a trajectory file from a PDE preset",
                              description=f"Presets (the first is the default): {presets}.")
    simulate.add_argument("pde", choices=sorted(registry.PDES))
    simulate.add_argument("--preset", help="named parameter set (default: the PDE's first)")
    simulate.add_argument("--grid", help="points per axis: N, or N0xN1[xN2] (default: the preset's)")
    simulate.add_argument("--steps", type=int, help="time steps (default: the preset's)")
    simulate.add_argument("--save-every", type=int, help="save interval in steps (default: the preset's)")
    simulate.add_argument("--dt", type=float, help="time step (default: the preset's)")
    simulate.add_argument("--integrator", choices=sorted(registry.INTEGRATORS), help="default: the preset's")
    simulate.add_argument("--n-traj", type=int, default=1, help="number of trajectories (seeds SEED, SEED+1, ...)")
    simulate.add_argument("--seed", type=int, default=0, help="seed of the first trajectory's initial condition")
    simulate.add_argument("--batch-size", type=int, help="trajectories simulated together (default: all)")
    add_device(simulate, None, "torch device, e.g. cpu or cuda:0 (default: cpu)")
    simulate.add_argument("--dtype", choices=sorted(registry.DTYPES), default="float32")
    simulate.add_argument("--compression", choices=("gzip", "lzf", "none"), default="gzip")
    simulate.add_argument("--burst", metavar="L,E,K", help="store a burst layout: bursts of L frames every E "
                          "frames, macro stride K (PIMRL; see docs/data_format.md)")
    simulate.add_argument("--quiet", action="store_true", help="no progress bar")
    add_output(simulate, FILE, required=True, help="output file (.h5), written atomically; missing directories "
               "are created")
    simulate.set_defaults(func=_simulate)

    regen = sub.add_parser("regenerate", help="rebuild a trajectory file from its provenance and compare")
    regen.add_argument("file")
    add_output(regen, FILE, required=True, help="the new file (.h5)")
    add_device(regen, None, "default: the original's if available, else cpu")
    regen.add_argument("--quiet", action="store_true", help="no progress bar")
    regen.set_defaults(func=_regenerate)

    plot = sub.add_parser("plot", help="PNG frames and a GIF of one trajectory")
    plot.add_argument("file")
    add_output(plot, DIRECTORY, required=True, help="output directory (created if needed)")
    plot.add_argument("--trajectory", type=int, default=0, help="which trajectory (default 0)")
    plot.add_argument("--max-frames", type=int, default=40, help="frames drawn, evenly spaced (default 40)")
    plot.add_argument("--fps", type=float, default=5.0, help="GIF frames per second (default 5)")
    plot.set_defaults(func=_plot_command)

    from ._moving_mnist import add_moving_mnist_command

    add_moving_mnist_command(sub)


def _trajectory_list(text: str) -> list[int]:
    """``--trajectories 0,2,5``: trajectory indices."""
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated trajectory indices, e.g. 0,1; got {text!r}") \
            from None
    if not values or min(values) < 0:
        raise argparse.ArgumentTypeError(f"expected indices >= 0, e.g. 0,1; got {text!r}")
    return values


def _train_command(args: argparse.Namespace) -> int:
    from ._train import train_command

    return train_command(args)


def _evaluate_command(args: argparse.Namespace) -> int:
    from ._evaluate import evaluate_command

    return evaluate_command(args)


def _predict_command(args: argparse.Namespace) -> int:
    from ._predict import predict_command

    return predict_command(args)


def _add_learner_commands(sub: argparse._SubParsersAction) -> None:
    train = sub.add_parser("train", help="train a learner from a configuration file (TOML or JSON)",
                           description="Train a learner; see docs/cli.md and examples/configs/. Also runs under "
                                       "torchrun --nproc_per_node=N -m physdiff train ...")
    train.add_argument("--config", required=True, help="configuration file (.toml, or .json)")
    add_output(train, RUN, required=False, help="run directory (default: the file's `out`, else runs/NAME next to it)")
    train.add_argument("--resume", action="store_true", help="continue the run in the run directory from last.pt")
    train.add_argument("--nproc-per-node", type=int, metavar="N", help="train in N processes (data parallel, "
                       "through torchrun's launcher, after checking the configuration once); as torchrun "
                       "--nproc_per_node=N -m physdiff train ..., without its traceback on errors")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(func=_train_command)

    for name, helptext in (("evaluate", "free-rollout metrics and plots of a trained learner on a data file"),
                           ("predict", "roll a trained learner out from the first frames of a data file")):
        command = sub.add_parser(name, help=helptext)
        command.add_argument("checkpoint", help="best.pt or last.pt of a `physdiff train` run (run.json next to it)")
        command.add_argument("--data", required=True, help="trajectory file (.h5) of the trained PDE")
        command.add_argument("--context", type=int, help="context frames (default: the training context_frames)")
        command.add_argument("--steps", type=int, help="frames to predict after the context (default: all the data "
                             "has" + ("" if name == "evaluate" else ", else the training horizon") + ")")
        add_device(command, "cpu", "torch device (default cpu)")
        if name == "evaluate":
            command.add_argument("--trajectories", type=_trajectory_list, help="indices, e.g. 0,1 (default: all)")
            add_output(command, DIRECTORY, required=False,
                       help="output directory (default: RUN/eval_DATASTEM next to the checkpoint)")
            command.add_argument("--no-plots", action="store_true", help="metrics only, no PNG files")
            command.set_defaults(func=_evaluate_command)
        else:
            add_output(command, FILE, required=True, help="output trajectory file (.h5), written atomically")
            command.set_defaults(func=_predict_command)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``physdiff`` console script."""
    args = build_parser().parse_args(argv)
    try:
        check_common(args)  # device, threads and output, before any work
        code = args.func(args)
        sys.stdout.flush()  # inside the try: a closed pipe must surface here, not at exit
        return code
    except PhysdiffError as error:
        print(f"physdiff: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader closed the pipe (``physdiff info | head``): stop quietly, as Unix tools do.
        # Point stdout at devnull so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
