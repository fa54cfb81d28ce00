"""Build the gallery: run every example and results script at a small size, one page each.

    python docs/_site/gallery.py [NAME ...]        (``make gallery``; names select entries)

Each entry of :data:`ENTRIES` is run from the repository root with the reduced arguments it lists,
its output folder under ``runs/gallery/NAME`` (emptied first). The page ``docs/gallery/NAME.md``
gets the script's own docstring (so the page and the script say the same thing once), the exact
command that ran, what it printed, how long it took and on which machine, and every PNG the run
wrote, copied to ``docs/gallery/NAME/``. ``docs/gallery/index.md`` lists the entries. The pages
and figures are committed, so building the site does not rerun anything: figures in the docs come
from these runs, never from hand.

Adding a script to the gallery is one :class:`Entry` below and one line in ``mkdocs.yml``'s nav
(``tests/test_docs_site.py`` checks both, and that every ``examples/*.py``, every script of
``make results`` and every benchmark that writes a ``docs/results*.md`` page has an entry).
"""

from __future__ import annotations

import ast
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GALLERY = ROOT / "docs" / "gallery"
RUNS = ROOT / "runs" / "gallery"


@dataclass(frozen=True)
class Entry:
    """One gallery page: a script, the arguments that make it small, and what that reduces.

    Attributes:
        name: page name (``docs/gallery/NAME.md``) and output folder name.
        script: path of the script, relative to the repository root.
        args: arguments of the small run; ``{out}`` is replaced by the run's output folder.
        reduced: what the small run reduces compared with the script's default run (shown on the page).
        env: extra environment variables of the run.
        copies: ``(source, name)`` pairs: repository files copied into the output folder before the
            run (a results page whose marked block the script rewrites, so the real one is untouched).
    """

    name: str
    script: str
    args: tuple[str, ...] = ()
    reduced: str = "nothing; this is the script's default run"
    env: dict[str, str] = field(default_factory=dict)
    copies: tuple[tuple[str, str], ...] = ()


ENTRIES: tuple[Entry, ...] = (
    Entry("stencils_and_integrators", "examples/stencils_and_integrators.py"),
    Entry("inverse_gray_scott", "examples/inverse_gray_scott.py"),
    Entry(
        "gray_scott_3d", "examples/gray_scott_3d.py",
        ("--grid", "12", "--scale", "0.05", "--threads", "1", "--out", "{out}"),
        "a 12^3 grid instead of 24^3 and 5 % of every training budget (`--scale 0.05`), one torch thread; "
        "the models are far from trained, so the table shows the pipeline, not the comparison",
    ),
    Entry(
        "pimrl_table", "benchmarks/pimrl_table.py",
        ("--only", "kdv", "--seeds", "1", "--scale", "0.05", "--threads", "1", "--out", "{out}",
         "--results", "{out}/results.md"),
        "the KdV dataset only, one seed instead of three, 5 % of every training budget, one torch thread; "
        "the table is written to the run folder instead of `docs/results.md`. The full table is on the "
        "[results page](../results.md)",
    ),
    Entry(
        "video_table", "benchmarks/video_table.py",
        ("--models", "copy-last,convlstm", "--steps", "10", "--out", "{out}", "--doc", "{out}/results_video.md"),
        "two of the rows (the copy-last baseline and ConvLSTM), 10 training steps instead of the protocol's 300; "
        "the page is rewritten in the run folder. The full table is on the [Moving MNIST results](../results_video.md)",
        copies=(("docs/results_video.md", "results_video.md"),),
    ),
    Entry(
        "convrnn_table", "benchmarks/convrnn_table.py",
        ("--only", "navier-stokes", "--seeds", "0", "--models", "convlstm,minconvgru", "--steps", "10",
         "--out", "{out}", "--results", "{out}/results_convrnn.md"),
        "the Navier-Stokes benchmark only, seed 0 only, ConvLSTM and MinConvGRU only, 10 training steps "
        "instead of 160. The full tables are on the [ConvRNN results](../results_convrnn.md)",
        copies=(("docs/results_convrnn.md", "results_convrnn.md"),),
    ),
    Entry(
        "physicnet_table", "benchmarks/physicnet_table.py",
        ("--only", "persistence,convlstm,physicnet", "--steps", "10", "--out", "{out}",
         "--results", "{out}/results_physicnet.md"),
        "three of the rows (persistence, ConvLSTM, PhysicNet), 10 training steps instead of 150. The full table "
        "is on the [PhysicNet results](../results_physicnet.md)",
    ),
    Entry(
        "ark_navier_stokes", "benchmarks/ark_navier_stokes.py",
        ("--steps", "10", "--out", "{out}", "--page", "{out}/results_ark.md"),
        "10 training steps instead of 150 per model",
    ),
)


#: Entries whose page has not been generated yet (their run did not fit in the change that added
#: them): ``make gallery GALLERY=NAME`` writes the page; then add it to the nav and remove the name here.
PENDING: tuple[str, ...] = ()


def _docstring(script: Path) -> tuple[str, str]:
    """The script's title (first docstring line) and the rest of its docstring."""
    doc = ast.get_docstring(ast.parse(script.read_text())) or script.name
    title, _, body = doc.partition("\n")
    return title.rstrip("."), body.strip("\n")  # keep the indentation of an indented first line (a command)


def _run(entry: Entry) -> tuple[list[str], str, float, float]:
    out = RUNS / entry.name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    for source, name in entry.copies:
        shutil.copyfile(ROOT / source, out / name)
    args = [a.replace("{out}", str(out.relative_to(ROOT))) for a in entry.args]
    command = ["python", entry.script, *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", **entry.env}
    load = os.getloadavg()[0]
    start = time.perf_counter()
    result = subprocess.run([sys.executable, entry.script, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.stderr.write(result.stderr[-4000:])
        raise SystemExit(f"gallery: {' '.join(command)} exited with {result.returncode} (stderr above)")
    return command, result.stdout, seconds, load


def _figures(entry: Entry) -> list[str]:
    """Copy the run's PNGs next to its page; returns their paths relative to ``docs/gallery``."""
    target = GALLERY / entry.name
    shutil.rmtree(target, ignore_errors=True)
    copied = []
    for png in sorted((RUNS / entry.name).rglob("*.png")):
        name = "__".join(png.relative_to(RUNS / entry.name).parts)
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, target / name)
        copied.append(f"{entry.name}/{name}")
    return copied


def _write(path: Path, text: str) -> None:
    from physdiff.core import atomic_write

    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def build(entry: Entry) -> None:
    title, body = _docstring(ROOT / entry.script)
    command, stdout, seconds, load = _run(entry)
    figures = _figures(entry)
    import torch

    machine = (f"{platform.machine()} CPU ({os.cpu_count()} cores, load average {load:.1f} when it started), "
               f"Python {platform.python_version()}, torch {torch.__version__}")
    # A fence longer than any backtick run in the output, which may itself be Markdown with code blocks.
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", stdout)), default=0))
    parts = [
        f"# {title}\n",
        f"*Generated by `make gallery` from `{entry.script}`; do not edit by hand.*\n",
        "## The script\n",
        f"{body}\n",  # prose with ``code``, numbered lists and indented commands, which Markdown reads as such
        "## This run\n",
        f"Reduced: {entry.reduced}.\n",
        f"```bash\n{' '.join(command)}\n```\n",
        f"took {seconds:.0f} s on {machine}, on {time.strftime('%Y-%m-%d')}. It printed:\n",
        f"{fence}text\n{stdout.rstrip()}\n{fence}\n",
    ]
    if figures:
        parts.append("## Figures\n")
        parts.append("Click a figure for its full size.\n")
        parts += [f"[![{Path(f).stem}]({f})]({f})\n" for f in figures]
    _write(GALLERY / f"{entry.name}.md", "\n".join(p for p in parts if p))
    print(f"gallery: {entry.name}: {seconds:.0f} s, {len(figures)} figures")


def write_index() -> None:
    rows = "\n".join(
        f"| {e.name if e.name in PENDING else f'[{e.name}]({e.name}.md)'} | `{e.script}` | "
        f"{_docstring(ROOT / e.script)[0]}{' (not run for the gallery yet)' if e.name in PENDING else ''} |"
        for e in ENTRIES
    )
    _write(GALLERY / "index.md", (
        "# Gallery\n\n*Generated by `make gallery`; do not edit by hand.*\n\n"
        "Every example and results script, run at a small size: the command, what it printed and the "
        "figures it wrote. Each page says what its run reduced; the full-size results are on the "
        "results pages.\n\n| page | script | what it does |\n|---|---|---|\n" + rows + "\n"
    ))


def main(argv: list[str]) -> int:
    known = {e.name: e for e in ENTRIES}
    unknown = [n for n in argv if n not in known]
    if unknown:
        raise SystemExit(f"gallery: unknown entries {unknown}; expected some of {sorted(known)}")
    for entry in ENTRIES:
        if not argv or entry.name in argv:
            build(entry)
    write_index()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
