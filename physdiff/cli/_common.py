"""Options every subcommand shares, and the checks ``main`` runs on them before any work.

How a subcommand gets them (new subcommands included, without repeating any check):

* ``--threads N`` is added to every subcommand (and sub-subcommand) by :func:`add_shared_options`,
  which ``build_parser`` calls last; ``main`` applies it.
* ``--device`` comes from :func:`add_device`; ``main`` checks it (and resolves ``auto``) before
  the command runs, so an unusable device is a clear error, never a traceback after the work.
* ``--out`` and ``--overwrite`` come from :func:`add_output` with the kind of output (a file, a
  directory of files, a training run directory); ``main`` applies the one output rule of
  :func:`check_output` before the command runs. A subcommand that declares ``--out`` by hand is
  given ``--overwrite`` and the file rule by :func:`add_shared_options`. Commands with a default
  output (``evaluate``) call :func:`check_output` themselves once the default is known.

The output rule, the same for every command:

* an existing output is refused unless ``--overwrite`` is given (a directory output exists when
  it holds any file); a path of the wrong kind (a directory where a file is written, or the
  reverse) is refused even with ``--overwrite``;
* missing directories on the way to the output are created when writing starts;
* the output's place must be writable: checked up front, so nothing is computed in vain.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from physdiff.core import PhysdiffError

FILE, DIRECTORY, RUN = "file", "directory", "run"


def add_device(parser: argparse.ArgumentParser, default: str | None, help: str) -> None:
    """``--device``: checked by :func:`check_common` before the command runs."""
    parser.add_argument("--device", default=default, help=help + "; 'auto' picks cuda when available")


def add_output(parser: argparse.ArgumentParser, kind: str, *, required: bool, help: str) -> None:
    """``--out`` and ``--overwrite`` for an output of ``kind`` (:data:`FILE`, :data:`DIRECTORY` or :data:`RUN`)."""
    parser.add_argument("--out", required=required, help=help)
    what = {FILE: "replace an existing output file",
            DIRECTORY: "write into an output directory that already holds files (same names are replaced)",
            RUN: "start a new run in a directory that holds one (its checkpoints and logs are deleted)"}[kind]
    parser.add_argument("--overwrite", action="store_true", help=what)
    parser.set_defaults(output_kind=kind)


def add_shared_options(sub: argparse._SubParsersAction) -> None:
    """Give every subcommand (recursively) ``--threads`` unless it defines it itself, and give one
    that declares ``--out`` by hand (not through :func:`add_output`) ``--overwrite`` and the rule of
    a file output, so no command can replace files silently."""
    for parser in set(sub.choices.values()):
        options = {option for action in parser._actions for option in action.option_strings}
        if "--threads" not in options:
            parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice; 1 is often "
                                "fastest for small problems on a busy machine)")
        if "--out" in options and parser.get_default("output_kind") is None:
            if "--overwrite" not in options:
                parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
            parser.set_defaults(output_kind=FILE)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                add_shared_options(action)


def check_device(text: str | None, option: str = "--device") -> str | None:
    """The device ``text`` names if this machine has it (``auto``: cuda if available, else cpu).

    Raises:
        PhysdiffError: not a device name, or a device this machine does not have.
    """
    if text is None:
        return None
    import torch

    cuda = torch.cuda.device_count() if torch.cuda.is_available() else 0
    here = ", ".join(["cpu"] + [f"cuda:{i}" for i in range(cuda)] + (["mps"] if _mps() else []))
    if text == "auto":
        return "cuda" if cuda else "cpu"
    try:
        device = torch.device(text)
    except (RuntimeError, TypeError, ValueError):
        raise PhysdiffError(f"{option}: {text!r} is not a device name; expected cpu, cuda, cuda:N, mps or auto "
                            f"(this machine has {here}).") from None
    if device.type == "cpu":
        return text
    if device.type == "cuda":
        if not cuda:
            raise PhysdiffError(f"{option}: {text!r}, but this torch sees no CUDA device (torch "
                                f"{torch.__version__}); use --device cpu (this machine has {here}).")
        if device.index is not None and device.index >= cuda:
            raise PhysdiffError(f"{option}: {text!r}, but this machine has {cuda} CUDA device(s) ({here}).")
        return text
    if device.type == "mps" and _mps():
        return text
    raise PhysdiffError(f"{option}: {text!r} is not available here; physdiff computes on cpu, cuda or mps "
                        f"devices (this machine has {here}).")


def _mps() -> bool:
    import torch

    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def check_threads(threads: int | None) -> None:
    """Apply ``--threads`` (a positive int)."""
    if threads is None:
        return
    if threads < 1:
        raise PhysdiffError(f"--threads: expected a positive int, got {threads}.")
    import torch

    torch.set_num_threads(threads)


def check_output(path: str | os.PathLike, kind: str, overwrite: bool, option: str = "--out") -> Path:
    """Apply the output rule (module docstring) to ``path``; nothing is created.

    Raises:
        PhysdiffError: an existing output without ``overwrite``, a path of the wrong kind, or a
            place where nothing can be written.
    """
    path = Path(path)
    if kind == FILE:
        if path.is_dir():
            raise PhysdiffError(f"{option} {str(path)!r} is a directory; expected a file path, e.g. "
                                f"{str(path / 'data.h5')!r}.")
        if path.exists() or path.is_symlink():
            if not path.is_file():
                raise PhysdiffError(f"{option} {str(path)!r} exists and is not a regular file; choose another path.")
            if not overwrite:
                raise PhysdiffError(f"{option} {str(path)!r} already exists; pass --overwrite to replace it, or "
                                    "choose another path. Nothing was written.")
    elif path.exists() and not path.is_dir():
        raise PhysdiffError(f"{option} {str(path)!r} is a file; expected a directory (it is created if missing).")
    elif kind == DIRECTORY and path.is_dir() and any(path.iterdir()) and not overwrite:
        held = sorted(p.name for p in path.iterdir())
        shown = ", ".join(held[:4]) + (", ..." if len(held) > 4 else "")
        raise PhysdiffError(f"{option} {str(path)!r} already holds files ({shown}); pass --overwrite to write "
                            "into it (files of the same names are replaced), or choose another directory.")
    _check_writable(path if kind != FILE else path.parent, option, path)
    return path


def _check_writable(directory: Path, option: str, path: Path) -> None:
    """The nearest existing directory on the way to ``directory`` must accept a new file."""
    existing = directory.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise PhysdiffError(f"{option} {str(path)!r}: {str(existing)!r} is a file, so it cannot hold the output; "
                            "choose a path in a directory.")
    try:  # the one reliable test (permissions, read-only mounts, /proc): create a file and remove it
        fd, probe = tempfile.mkstemp(prefix=".physdiff-probe-", dir=existing)
    except OSError as exc:
        raise PhysdiffError(f"{option} {str(path)!r}: cannot write in {str(existing)!r} ({exc.strerror}); choose "
                            "a writable place.") from None
    os.close(fd)
    os.unlink(probe)


def check_common(args: argparse.Namespace) -> None:
    """The shared checks, run by ``main`` before the command does any work."""
    check_threads(getattr(args, "threads", None))
    if getattr(args, "device", None) is not None:
        args.device = check_device(args.device)
    kind = getattr(args, "output_kind", None)
    if kind is not None and getattr(args, "out", None) is not None:
        check_output(args.out, kind, bool(getattr(args, "overwrite", False)))

