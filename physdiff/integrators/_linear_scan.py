"""The first-order linear recurrence ``h_t = a_t h_{t-1} + b_t`` along a time axis, three ways.

Why in ``integrators``: the recurrence is the time-stepping of a linear (input-driven,
time-varying) system, the same object as one explicit step of a linear ODE ``h' = -k(t) h + s(t)``
(``a = 1 - k dt``, ``b = s dt``), and it is a pure tensor primitive. This layer imports only
``physdiff.core``, so solvers (exponential averages, linear damping) and learners (the minimal
ConvRNNs, whose gates depend on the input only) can both use it, while ``core`` stays limited
to errors, grids and argument checks.

Methods (``method=`` of :func:`linear_scan`):

* ``"sequential"``: a loop over ``T``, ``O(T)`` steps each of ``B * prod(rest)`` work. With
  gradients it runs as a custom autograd function whose backward is the reversed recurrence
  (below), so memory holds the inputs and the ``T`` outputs, not ``T`` small graphs.
* ``"log"``: the Heinsen (2023) log-space scan. With ``A_t = sum_{s<=t} log a_s``,

      h_t = exp(A_t) h_0 + exp(A_t + logcumsumexp_{s<=t}(log b_s - A_s))

  ``O(1)`` sequential steps of tensor work (a cumsum and a logcumsumexp). It needs ``a > 0``
  and ``b >= 0``; ``h_0`` enters linearly as ``exp(A_t) h_0`` (any sign, zero included). Relative error grows with ``|A_T| * eps`` (the sum ``A_t + ...``
  cancels large terms), e.g. ``5e-6`` at float32 for ``T = 1000`` and ``a`` in ``(0.9, 1)``.
* ``"auto"``: the faster of the two for this device, dtype, shape and gradient mode, by timing
  both once on random data of the same shape (cached); ``"sequential"`` if the inputs are not
  all positive.

Backward of the recurrence (the memory-lean ``"sequential"`` path): with ``g_t = dL/dh_t``
(the total gradient, through later steps), ``gbar_t`` the gradient of the outputs alone,

    g_T = gbar_T,   g_t = gbar_t + a_{t+1} g_{t+1}        (the same recurrence, reversed)
    dL/db_t = g_t,  dL/da_t = g_t h_{t-1},  dL/dh_0 = a_1 g_1.

Sources: G. Blelloch, "Prefix sums and their applications" (1990); F. A. Heinsen, "Efficient
parallelization of a ubiquitous sequential computation", arXiv 2311.06281 (2023); Feng et al.,
"Were RNNs all we needed?", arXiv 2410.01201 (2024).
"""

from __future__ import annotations

import time
from typing import Literal

import torch

from ..core import PhysdiffError

__all__ = ["SCAN_METHODS", "linear_scan", "log_linear_scan", "resolve_scan_method"]

#: Values of ``method`` for :func:`linear_scan`: ``"auto"`` measures the other two once per setting
#: (:func:`resolve_scan_method`), ``"sequential"`` loops over time, ``"log"`` is the log-space scan.
SCAN_METHODS = ("auto", "sequential", "log")
ScanMethod = Literal["auto", "sequential", "log"]


def _check(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None, where: str, names: tuple[str, str, str]
           ) -> None:
    na, nb, nh = names
    for name, t in ((na, a), (nb, b)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            got = f"dtype {t.dtype}" if isinstance(t, torch.Tensor) else type(t).__name__
            raise PhysdiffError(f"{where}: {name}: expected a floating-point tensor (B, T, ...), got {got}.")
    if a.dim() < 2 or a.shape != b.shape:
        raise PhysdiffError(
            f"{where}: expected {na} and {nb} of one shape (B, T, ...) with at least 2 dimensions, got "
            f"{tuple(a.shape)} and {tuple(b.shape)}. Broadcast them first (e.g. a.expand_as(b))."
        )
    if a.dtype != b.dtype or a.device != b.device:
        raise PhysdiffError(f"{where}: {na} and {nb} must share dtype and device, got {a.dtype}/{a.device} and "
                            f"{b.dtype}/{b.device}.")
    if h0 is not None:
        expected = (a.shape[0], *a.shape[2:])
        if not isinstance(h0, torch.Tensor) or tuple(h0.shape) != expected:
            got = tuple(h0.shape) if isinstance(h0, torch.Tensor) else type(h0).__name__
            raise PhysdiffError(f"{where}: {nh}: expected None (zeros) or a tensor of shape {expected} (B, ...), "
                                f"got {got}.")
        if h0.dtype != a.dtype or h0.device != a.device:
            raise PhysdiffError(f"{where}: {nh}: expected dtype {a.dtype} on {a.device}, got {h0.dtype} on "
                                f"{h0.device}.")


def _loop(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None) -> torch.Tensor:
    """The recurrence as a plain loop (differentiable by autograd, one graph node per step)."""
    h = b[:, 0] if h0 is None else torch.addcmul(b[:, 0], a[:, 0], h0)
    out = [h]
    for t in range(1, a.shape[1]):
        h = torch.addcmul(b[:, t], a[:, t], h)
        out.append(h)
    return torch.stack(out, dim=1)


def _loop_into(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None) -> torch.Tensor:
    """The loop without autograd, writing into one preallocated output (no list, no stack)."""
    out = torch.empty_like(b)
    prev = h0
    for t in range(a.shape[1]):
        if prev is None:
            out[:, t] = b[:, t]
        else:
            torch.addcmul(b[:, t], a[:, t], prev, out=out[:, t])
        prev = out[:, t]
    return out


class _SequentialScan(torch.autograd.Function):
    """``h = scan(a, b, h0)`` whose backward is the reversed scan (see the module docstring)."""

    @staticmethod
    def forward(ctx, a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None) -> torch.Tensor:  # type: ignore[override]
        h = _loop_into(a, b, h0)
        ctx.has_h0 = h0 is not None
        ctx.save_for_backward(a, h, h0 if h0 is not None else h.new_zeros(()))
        return h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_h: torch.Tensor):  # type: ignore[override]
        a, h, h0 = ctx.saved_tensors
        # g_t = gbar_t + a_{t+1} g_{t+1}, run backwards in time straight into one buffer (no flipped
        # or shifted copies of a and the gradient)
        g = torch.empty_like(grad_h)
        steps = a.shape[1]
        g[:, steps - 1] = grad_h[:, steps - 1]
        for t in range(steps - 2, -1, -1):
            torch.addcmul(grad_h[:, t], a[:, t + 1], g[:, t + 1], out=g[:, t])
        grad_a = grad_b = grad_h0 = None
        if ctx.needs_input_grad[0]:  # dL/da_t = g_t h_{t-1}, with h_0 (zeros if None) before h_1
            grad_a = torch.empty_like(g)
            torch.mul(g[:, 1:], h[:, :-1], out=grad_a[:, 1:])
            if ctx.has_h0:
                torch.mul(g[:, 0], h0, out=grad_a[:, 0])
            else:
                grad_a[:, 0] = 0
        if ctx.needs_input_grad[1]:
            grad_b = g
        if ctx.has_h0 and ctx.needs_input_grad[2]:
            grad_h0 = a[:, 0] * g[:, 0]
        return grad_a, grad_b, grad_h0


def _sequential(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None) -> torch.Tensor:
    needs_grad = torch.is_grad_enabled() and (a.requires_grad or b.requires_grad
                                              or (h0 is not None and h0.requires_grad))
    if not needs_grad:
        return _loop_into(a, b, h0)
    return _SequentialScan.apply(a, b, h0)


def log_linear_scan(log_a: torch.Tensor, log_b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """The Heinsen log-space scan: ``h_t = a_t h_{t-1} + b_t`` given ``log a`` and ``log b``.

    ``h_t = exp(A_t) h_0 + exp(A_t + logcumsumexp_{s<=t}(log b_s - A_s))`` with
    ``A_t = sum_{s<=t} log a_s``. The initial state enters linearly (its own term, not as a
    log value), so ``h_0`` may be zero or of any sign and its gradient stays finite; a zero
    state is exactly ``h_0 = 0`` (unlike feeding ``log g(h_0)`` into the log sum, which turns
    a zero state into a nonzero one). Callers that have the logs of their coefficients in a
    stable closed form (``log sigmoid(x) = -softplus(-x)``) should use this rather than
    :func:`linear_scan`, which takes logs of the values.

    Args:
        log_a, log_b: ``(B, T, ...)`` logarithms (``log_a`` finite; ``log_b`` may be ``-inf``
            where ``b = 0``, which has no finite gradient).
        h0: ``(B, ...)`` initial state, or None for zeros.

    Returns:
        ``h_1 .. h_T`` ``(B, T, ...)``.
    """
    _check(log_a, log_b, h0, "log_linear_scan", ("log_a", "log_b", "h0"))
    a_star = torch.cumsum(log_a, dim=1)
    h = torch.exp(a_star + torch.logcumsumexp(log_b - a_star, dim=1))
    return h if h0 is None else torch.addcmul(h, torch.exp(a_star), h0[:, None])


def _log(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None) -> torch.Tensor:
    bad = [name for name, t, strict in (("a", a, True), ("b", b, False)) if bool((t <= 0).any() if strict
                                                                                else (t < 0).any())]
    if bad:
        raise PhysdiffError(
            f"linear_scan(method='log'): expected a > 0 and b >= 0 (the log-space scan takes their logarithms), "
            f"got {'non-positive' if bad[0] == 'a' else 'negative'} values in {' and '.join(bad)}. Use "
            "method='sequential' for coefficients or inputs of any sign."
        )
    return log_linear_scan(torch.log(a), torch.log(b), h0)


_AUTO_CACHE: dict[tuple, str] = {}


def _bucket(n: int) -> int:
    """Round up to a power of two: sizes within a factor 2 share one timing."""
    return 1 << max(n - 1, 0).bit_length()


def resolve_scan_method(method: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device | str,
                        requires_grad: bool) -> str:
    """``"sequential"`` or ``"log"`` for ``method``; ``"auto"`` times both once per setting.

    The setting is (device type, dtype, ``B * prod(rest)`` and ``T`` rounded up to powers of two,
    gradient or not); both methods run on random positive data of ``shape`` (forward, plus
    backward if ``requires_grad``), best of 3 after a warm-up, and the faster is cached.
    """
    if method not in SCAN_METHODS:
        raise PhysdiffError(f"linear_scan: method: expected one of {SCAN_METHODS}, got {method!r}.")
    if method != "auto":
        return method
    device = torch.device(device)
    numel_per_step = shape[0] * int(torch.Size(shape[2:]).numel())
    key = (device.type, dtype, _bucket(numel_per_step), _bucket(shape[1]), bool(requires_grad))
    if key not in _AUTO_CACHE:
        gen = torch.Generator().manual_seed(0)
        a = (0.5 + 0.5 * torch.rand(shape, generator=gen, dtype=torch.float64)).to(device, dtype)
        b = torch.rand(shape, generator=gen, dtype=torch.float64).to(device, dtype)
        timings = {}
        for name, fn in (("sequential", _sequential), ("log", lambda a, b, h0: log_linear_scan(a.log(), b.log()))):
            best = float("inf")
            for _ in range(4):  # the first is the warm-up
                x, y = a.detach().requires_grad_(requires_grad), b.detach().requires_grad_(requires_grad)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                start = time.perf_counter()
                with torch.set_grad_enabled(requires_grad):
                    h = fn(x, y, None)
                    if requires_grad:
                        h.sum().backward()
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                best = min(best, time.perf_counter() - start)
            timings[name] = best
        _AUTO_CACHE[key] = min(timings, key=timings.__getitem__)
    return _AUTO_CACHE[key]


def linear_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None, *,
                method: ScanMethod = "auto") -> torch.Tensor:
    """``h_t = a_t * h_{t-1} + b_t`` for ``t = 1 .. T`` along dim 1, differentiable in ``a``, ``b``, ``h0``.

    Args:
        a: coefficients ``(B, T, ...)``.
        b: inputs ``(B, T, ...)``, the shape of ``a``.
        h0: the state before the first step ``(B, ...)``; None means zeros.
        method: ``"sequential"`` (a loop, memory-lean backward), ``"log"`` (Heinsen log-space
            scan; needs ``a > 0``, ``b >= 0``) or ``"auto"`` (the faster for this
            device and size, measured once; sequential unless all inputs qualify for ``"log"``).

    Returns:
        ``h_1 .. h_T`` ``(B, T, ...)`` (``h_0`` is not included).

    Example:
        >>> import torch
        >>> from physdiff.integrators import linear_scan
        >>> a, b = torch.full((1, 3, 1), 0.5), torch.ones(1, 3, 1)
        >>> linear_scan(a, b, method="sequential").flatten().tolist()
        [1.0, 1.5, 1.75]
    """
    _check(a, b, h0, "linear_scan", ("a", "b", "h0"))
    needs_grad = torch.is_grad_enabled() and (a.requires_grad or b.requires_grad
                                              or (h0 is not None and h0.requires_grad))
    chosen = resolve_scan_method(method, tuple(a.shape), a.dtype, a.device, needs_grad)
    if method == "auto" and chosen == "log":
        positive = bool((a > 0).all()) and bool((b >= 0).all())
        chosen = "log" if positive else "sequential"
    return _log(a, b, h0) if chosen == "log" else _sequential(a, b, h0)
