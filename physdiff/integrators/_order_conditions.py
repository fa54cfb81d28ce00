"""Exact order conditions (Butcher's rooted trees) and the SSP coefficient test.

A Runge-Kutta method ``(A, b)`` has order ``p`` on every smooth autonomous
system if and only if, for every rooted tree ``t`` with ``|t| <= p`` nodes,

    b . Phi(t) = 1 / gamma(t),

where the stage vector ``Phi`` is ``Phi(leaf) = 1`` and, for a root with
subtrees ``t_1 .. t_m``, ``Phi(t)_i = prod_k (A Phi(t_k))_i``; the density is
``gamma(t) = |t| * prod_k gamma(t_k)``. With ``Fraction`` coefficients every
residual is computed exactly, so a declared order is proved, not sampled.

A tree is a sorted tuple of its subtrees; the single node is ``()``.
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

Tree = tuple  # tuple of Trees, sorted: a canonical form, so equal trees compare equal
Coefficient = Fraction | float

# Residual allowed when a tableau holds floats (irrational coefficients).
FLOAT_TOLERANCE = 1e-12


@lru_cache(maxsize=None)
def rooted_trees(n: int) -> tuple[Tree, ...]:
    """All rooted trees with exactly ``n`` nodes (1, 1, 2, 4, 9, 20, 48, ... of them)."""
    if n == 1:
        return ((),)
    return tuple(sorted(_forests(n - 1)))


@lru_cache(maxsize=None)
def _forests(m: int) -> frozenset[Tree]:
    """Multisets of trees with ``m`` nodes in all, each as a sorted tuple."""
    if m == 0:
        return frozenset({()})
    out = set()
    for k in range(1, m + 1):
        for tree in rooted_trees(k):
            for rest in _forests(m - k):
                out.add(tuple(sorted((tree, *rest))))
    return frozenset(out)


def _size(tree: Tree) -> int:
    return 1 + sum(_size(t) for t in tree)


def _density(tree: Tree) -> int:
    out = _size(tree)
    for t in tree:
        out *= _density(t)
    return out


def _stage_weights(tree: Tree, a: tuple[tuple[Coefficient, ...], ...]) -> list[Coefficient]:
    s = len(a)
    phi: list[Coefficient] = [Fraction(1)] * s
    for sub in tree:
        inner = _stage_weights(sub, a)
        a_inner = [sum((a[i][j] * inner[j] for j in range(s)), Fraction(0)) for i in range(s)]
        phi = [p * q for p, q in zip(phi, a_inner)]
    return phi


def _tolerance(x: Coefficient) -> float:
    return 0.0 if isinstance(x, Fraction) else FLOAT_TOLERANCE


def _is_zero(x: Coefficient) -> bool:
    return abs(x) <= _tolerance(x)


def order_residuals(a, b, n: int) -> list[tuple[Tree, Coefficient]]:
    """``(tree, b . Phi(t) - 1/gamma(t))`` for every tree with exactly ``n`` nodes."""
    out = []
    for tree in rooted_trees(n):
        weight = sum((bi * p for bi, p in zip(b, _stage_weights(tree, a))), Fraction(0))
        out.append((tree, weight - Fraction(1, _density(tree))))
    return out


def satisfied_order(a, b, max_order: int = 8) -> int:
    """The largest ``p <= max_order`` whose order conditions all hold (0 if none do)."""
    p = 0
    for n in range(1, max_order + 1):
        if not all(_is_zero(r) for _, r in order_residuals(a, b, n)):
            break
        p = n
    return p


def is_absolutely_monotonic(a, b, r: Coefficient) -> bool:
    """Whether the method is strong-stability-preserving with coefficient ``r``.

    With ``K = [[A, 0], [b^T, 0]]`` the method is a convex combination of
    forward-Euler steps of size ``dt / r`` (Shu-Osher form) iff
    ``M = (I + r K)^{-1}`` has non-positive off-diagonal entries and
    non-negative row sums (i.e. ``0 <= r K (I + r K)^{-1}`` with row sums
    ``<= 1``). The SSP coefficient is the largest such ``r``. For an explicit
    method ``I + r K`` is unit lower triangular, so ``M`` is exact by forward
    substitution.
    """
    k = [list(row) + [Fraction(0)] for row in a] + [list(b) + [Fraction(0)]]
    n = len(k)
    m = [[Fraction(0)] * n for _ in range(n)]
    for col in range(n):
        for i in range(n):
            identity = Fraction(1 if i == col else 0)
            m[i][col] = identity - sum((r * k[i][j] * m[j][col] for j in range(i)), Fraction(0))
    off_diagonal_ok = all(m[i][j] <= _tolerance(m[i][j]) for i in range(n) for j in range(n) if i != j)
    rows_ok = all(sum(row, Fraction(0)) >= -_tolerance(sum(row, Fraction(0))) for row in m)
    return off_diagonal_ok and rows_ok
