"""The ``physdiff`` command line: the only layer that reads argv.

Subcommands:

* ``physdiff info``: versions of physdiff and its dependencies, and the available devices.
* ``physdiff stencil D [ACCURACY] [--kind central|forward|backward] [--offsets=-1/2,1/2]``: print exact weights.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _info(_: argparse.Namespace) -> int:
    import importlib.metadata as md

    import torch

    import physdiff

    print(f"physdiff {physdiff.__version__}")
    for name in ("torch", "torch-harmonics", "numpy", "scipy", "sympy", "einops", "h5py", "matplotlib"):
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
    print(f"derivative {stencil.derivative}, accuracy {stencil.accuracy}")
    for offset, weight in zip(stencil.offsets, stencil.weights):
        print(f"  {str(offset):>6}  {weight}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="physdiff", description="Differentiable physics solvers for PyTorch.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("info", help="versions and devices").set_defaults(func=_info)
    stencil = sub.add_parser("stencil", help="exact finite-difference weights")
    stencil.add_argument("derivative", type=int)
    stencil.add_argument("accuracy", type=int, nargs="?", default=2)
    stencil.add_argument("--kind", choices=("central", "forward", "backward"), default="central")
    stencil.add_argument(
        "--offsets", type=lambda text: text.split(","), help="comma-separated offsets, e.g. --offsets=-1/2,1/2 (overrides --kind)"
    )
    stencil.set_defaults(func=_stencil)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``physdiff`` console script."""
    from physdiff import PhysdiffError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except PhysdiffError as error:
        print(f"physdiff: error: {error}", file=sys.stderr)
        return 2
