"""Atomic file writes: a reader sees the old file or the complete new one, never a partial one.

Temporary files are named ``.NAME.HOST-PID.RANDOM.tmp`` next to the target ``NAME``: the host
tag and the process id say who writes it, so a later writer of the same target can remove
the temporaries of writers that were killed (``kill -9`` leaves them behind) without ever
touching one that a live process is still writing (:func:`remove_stale_temporaries`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def _host_tag() -> str:
    """Six hex digits naming this host (a shared file system may hold temporaries of other hosts)."""
    return hashlib.sha256(socket.gethostname().encode("utf-8")).hexdigest()[:6]


def _pattern(name: str) -> re.Pattern[str]:
    """Temporary names of target ``name`` written by this module (and by the trajectory writer)."""
    return re.compile(rf"^\.{re.escape(name)}\.([0-9a-f]{{6}})-(\d+)\.[A-Za-z0-9_]+\.tmp$")


#: Any temporary name of this module: ``.NAME.HOST-PID.RANDOM.tmp`` (and the older ``.NAME.RANDOM.tmp``).
TEMPORARY_NAME = re.compile(r"^\.(?P<target>.+?)\.(?:[0-9a-f]{6}-\d+\.)?[A-Za-z0-9_]+\.tmp$")


def temporary_target(path: str | os.PathLike) -> Path | None:
    """The file a temporary ``path`` was going to become, or None if ``path`` is not named like one."""
    path = Path(path)
    match = TEMPORARY_NAME.match(path.name)
    return None if match is None else path.with_name(match.group("target"))


def file_mode(path: Path) -> int:
    """The mode a new file at ``path`` gets: the existing file's, else ``0o666`` less the umask.

    ``tempfile.mkstemp`` creates files readable by their owner only (0600); an atomic write must
    come out like a file written with ``open(path, "w")``.
    """
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        pass
    return 0o666 & ~_umask()


def _umask() -> int:
    """The process umask: read from /proc on Linux (no race with other threads), else set and restored."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # the portable way to read the umask is to set it; restored at once
    os.umask(mask)
    return mask


def new_temporary(path: Path) -> tuple[int, Path]:
    """Create the temporary file of ``path`` (``.NAME.HOST-PID.RANDOM.tmp``) with :func:`file_mode`."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{_host_tag()}-{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, file_mode(path))
    except OSError:  # a file system without permissions (e.g. some mounts): keep what mkstemp made
        pass
    return fd, Path(tmp)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove temporaries of ``path`` left by writers on this host whose process no longer exists.

    Only names this module creates are considered, only with this host's tag, and only if the
    process id in the name is not running, so a temporary that a live process is writing is
    never touched. Returns the removed paths.
    """
    path = Path(path)
    pattern, host, removed = _pattern(path.name), _host_tag(), []
    try:
        candidates = list(path.parent.iterdir())
    except OSError:
        return removed
    for candidate in candidates:
        match = pattern.match(candidate.name)
        if match is None or match.group(1) != host:
            continue
        pid = int(match.group(2))
        if pid == os.getpid() or _alive(pid):
            continue
        try:
            candidate.unlink()
        except OSError:
            continue
        removed.append(candidate)
    return removed


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write(handle)`` on a temporary file next to ``path``, fsync it, then ``os.replace`` it onto ``path``.

    Why the same directory: ``os.replace`` is atomic only within one file system. On any
    exception (including KeyboardInterrupt) the temporary file is removed and ``path`` is untouched.
    The new file gets the mode of the file it replaces, or the umask's (:func:`file_mode`);
    temporaries of the same target left by killed writers are removed after the rename.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = new_temporary(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)
    remove_stale_temporaries(path)
    return path


def fsync_directory(directory: str | os.PathLike) -> None:
    """Persist a rename inside ``directory`` (best effort: not every platform can fsync a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_json(path: str | os.PathLike, value: Any) -> Path:
    """Write ``value`` as indented JSON (UTF-8) atomically."""
    text = json.dumps(value, indent=2, sort_keys=True) + "\n"
    return atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))
