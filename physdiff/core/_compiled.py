"""Lazy, optional ``torch.compile`` of a pure-tensor kernel, with an eager fallback.

Solvers and operators use :class:`LazyCompiled` for hot kernels that the inductor backend fuses into
a few vectorised loops (``_reaction_diffusion_kernel``). It exists to make compilation safe to
leave on by default:

* **Pay only for long runs** (a "ski rental" rule): compiling costs about 1-5 s per
  kernel, grid shape and dtype on the 2-core benchmark machine (0.1-2 s with inductor's
  on-disk cache warm), while the eager kernels process about 3e8-7e8 elements per second.
  In ``"auto"`` mode a key is compiled only once ``COMPILE_AFTER`` elements (1.5-3 s of
  eager work, about one compilation) have been processed under it, so a short run or a
  test never compiles, and a run that ends just after compiling pays at most about twice
  what staying eager would have cost.
* **Never fail because of compilation**: any exception of a compiled call (no C++
  compiler, an unsupported platform, dynamo's per-function recompile limit, which with
  ``fullgraph=True`` is a hard error) marks the key as failed, warns once, and the caller
  runs its eager kernel instead. At most ``MAX_KEYS`` keys are compiled per kernel, below
  dynamo's default recompile limit of 8.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Hashable
from typing import Any

import torch

#: Elements processed eagerly under one key before ``"auto"`` compiles it (see the module docstring).
COMPILE_AFTER = 10**9
#: Compiled keys per kernel; dynamo refuses (fullgraph) or silently stops compiling after 8.
MAX_KEYS = 6


class LazyCompiled:
    """``torch.compile(fn, fullgraph=True, dynamic=False)``, created on first use.

    Call :meth:`wants` to ask whether a key should run compiled, then :meth:`run`,
    which returns None when compilation is unavailable (the caller then runs eagerly).

    Args:
        fn: a function of tensors (and Python ints) that dynamo can trace without breaks.
        name: used in the one-time warning when compilation fails.
    """

    def __init__(self, fn: Callable[..., Any], name: str) -> None:
        self.fn = fn
        self.name = name
        self._compiled: Callable[..., Any] | None = None
        self._ready: set[Hashable] = set()
        self._failed: set[Hashable] = set()
        self._work: dict[Hashable, int] = {}
        self._warned = False

    def wants(self, key: Hashable, elements: int, force: bool) -> bool:
        """Whether to run ``key`` compiled now; counts ``elements`` of eager work otherwise."""
        if key in self._ready:
            return True
        if key in self._failed or len(self._ready) >= MAX_KEYS or torch.compiler.is_compiling():
            return False
        if force:
            return True
        done = self._work.get(key, 0) + elements
        self._work[key] = done
        return done >= COMPILE_AFTER

    def run(self, key: Hashable, *args: Any) -> Any:
        """The compiled ``fn(*args)``, or None if compiling ``key`` failed (now or before)."""
        if key in self._failed:
            return None
        try:
            if self._compiled is None:
                self._compiled = torch.compile(self.fn, fullgraph=True, dynamic=False)
            out = self._compiled(*args)
        except Exception as error:  # noqa: BLE001 - any compiler failure means: run eagerly
            self._failed.add(key)
            self._ready.discard(key)
            if not self._warned:
                reason = " ".join(line.strip() for line in str(error).splitlines()[:2] if line.strip())[:300]
                self._warned = True
                warnings.warn(
                    f"physdiff: torch.compile of {self.name} failed ({type(error).__name__}: {reason}); "
                    "running the eager kernel instead (same results, slower).",
                    RuntimeWarning,
                    stacklevel=3,
                )
            return None
        self._ready.add(key)
        return out
