"""The per-run metrics log: JSON lines (``metrics.jsonl``), the same rows as CSV (``metrics.csv``),
and optionally TensorBoard events.

Records are dicts with ``step`` and ``kind``: ``"train"`` (loss, lr, horizon, ...), ``"val"``
(validation metrics) or ``"event"`` (NaN-guard recoveries, resumes, early stopping). Files
are appended to while a run trains. A run resumed from its checkpoint of step ``k`` first
removes the records the interrupted run wrote after it (``step > k``, from both files, each
rewritten atomically: :func:`truncate_log`), then appends ``{"kind": "event", "event":
"resumed", "step": k}``, so the logs describe the resumed state. :func:`read_log` also drops
such records from logs written before this rule.
"""

from __future__ import annotations

import csv
import json
import math
import os
import warnings
from pathlib import Path
from typing import Any

from ..core import atomic_write

JSONL_NAME = "metrics.jsonl"
CSV_NAME = "metrics.csv"
COLUMNS = ("step", "kind", "time", "loss", "loss_avg", "lr", "horizon", "teacher_forcing", "grad_norm",
           "val_rmse", "val_nrmse", "event", "message")


def _plain(value: Any) -> Any:
    """JSON-safe scalars: non-finite floats become None (strict JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _append_handle(path: Path) -> Any:
    """Open for appending; a last line cut by a crash is closed with a newline, never overwritten."""
    handle = open(path, "a+", encoding="utf-8", newline="")
    if handle.tell() > 0:
        handle.seek(handle.tell() - 1)
        last = handle.read(1)
        handle.seek(0, os.SEEK_END)
        if last != "\n":
            handle.write("\n")
    return handle


class MetricsLog:
    """Append-only JSON-lines + CSV log of one run (and TensorBoard if asked for and installed).

    Args:
        out_dir: the run directory.
        enabled: False on distributed ranks other than 0 (records are then kept in memory only).
        tensorboard: also write TensorBoard scalars (a warning, not an error, if unavailable).
    """

    def __init__(self, out_dir: str | os.PathLike, *, enabled: bool = True, tensorboard: bool = False) -> None:
        self.out_dir = Path(out_dir)
        self.enabled = enabled
        self._jsonl = self._csv = self._writer = self._tb = None
        if not enabled:
            return
        csv_path = self.out_dir / CSV_NAME
        new_csv = not csv_path.exists() or csv_path.stat().st_size == 0
        self._jsonl = _append_handle(self.out_dir / JSONL_NAME)
        self._csv = _append_handle(csv_path)
        self._writer = csv.DictWriter(self._csv, fieldnames=COLUMNS, extrasaction="ignore")
        if new_csv:
            self._writer.writeheader()
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                warnings.warn("TrainConfig.tensorboard: the tensorboard package is not installed; "
                              "logging to metrics.jsonl/metrics.csv only.", stacklevel=3)
            else:
                self._tb = SummaryWriter(log_dir=str(self.out_dir / "tensorboard"))

    def write(self, record: dict[str, Any]) -> None:
        """Append one record (flushed at once, so a killed run keeps every line it wrote)."""
        if not self.enabled:
            return
        record = {k: _plain(v) for k, v in record.items()}
        self._jsonl.write(json.dumps(record) + "\n")
        self._jsonl.flush()
        self._writer.writerow({k: ("" if v is None else v) for k, v in record.items()})
        self._csv.flush()
        if self._tb is not None:
            for key, value in record.items():
                if key not in ("step", "time") and isinstance(value, (int, float)) and not isinstance(value, bool):
                    self._tb.add_scalar(f"{record['kind']}/{key}", value, record["step"])

    def close(self) -> None:
        for handle in (self._jsonl, self._csv):
            if handle is not None:
                handle.close()
        if self._tb is not None:
            self._tb.close()
        self._jsonl = self._csv = self._tb = None


def read_log(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The effective records of a run's ``metrics.jsonl`` (a file or the run directory).

    Records superseded by a resume (``step`` greater than the step resumed from, written
    before the ``resumed`` event) are dropped; lines that are not JSON (a line cut by a
    crash) are skipped.
    """
    path = Path(path)
    if path.is_dir():
        path = path / JSONL_NAME
    records: list[dict[str, Any]] = []
    if not path.exists():
        return records
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if not isinstance(record, dict) or "step" not in record:
                continue
            if record.get("kind") == "event" and record.get("event") == "resumed":
                records = [r for r in records if r["step"] <= record["step"]]
            records.append(record)
    return records


def _at_most(value: Any, step: int) -> bool:
    """``value`` (a record's step, as JSON or CSV text) is a number no greater than ``step``."""
    try:
        return float(value) <= step
    except (TypeError, ValueError):
        return False


def truncate_log(out_dir: str | os.PathLike, step: int) -> int:
    """Remove the records with ``step`` greater than ``step`` from ``metrics.jsonl`` and ``metrics.csv``.

    Lines that cannot be read (a line cut by a crash) go too. Each file is rewritten atomically
    and only if something changes. Returns the number of JSON records removed.
    """
    out_dir = Path(out_dir)
    removed = 0
    path = out_dir / JSONL_NAME
    if path.exists():
        lines = path.read_text(encoding="utf-8").splitlines()
        kept = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and _at_most(record.get("step"), step):
                kept.append(line)
        removed = len(lines) - len(kept)
        if removed:
            text = "".join(line + "\n" for line in kept)
            atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))
    path = out_dir / CSV_NAME
    if path.exists():
        with open(path, encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        if rows:
            header, body = rows[0], rows[1:]
            column = header.index("step") if "step" in header else 0
            kept_rows = [r for r in body if len(r) == len(header) and _at_most(r[column], step)]
            if len(kept_rows) != len(body):
                def write(handle: Any) -> None:
                    import io

                    buffer = io.StringIO(newline="")
                    csv.writer(buffer).writerows([header, *kept_rows])
                    handle.write(buffer.getvalue().encode("utf-8"))

                atomic_write(path, write)
    return removed
