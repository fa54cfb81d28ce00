"""Equation discovery: read a trained Pi-block back as polynomials in the channel symbols (sympy)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ...core import PhysdiffError
from ...integrators import PiBlock


def default_channel_names(channels: int) -> list[str]:
    """``u``, ``u, v``, ``u, v, w`` for up to three channels, else ``u0, u1, ...``."""
    return ["u", "v", "w"][:channels] if channels <= 3 else [f"u{i}" for i in range(channels)]


def _parts(model: object) -> tuple[PiBlock | None, torch.Tensor | None, str, int]:
    """``(Pi-block, known-term coefficient, known-term function name, channels)`` of a model."""
    from ._percnn import PeRCNN
    from ._pimrl import PIMRL

    if isinstance(model, PIMRL):
        model = model.micro
    if isinstance(model, PeRCNN):
        return model.pi, model.coefficient, "Lap" if model.known_term == "laplacian" else "D3", model.channels
    if isinstance(model, PiBlock):
        # A PiBlock's known term is any callable; call it L unless it is a Laplacian.
        name = "Lap" if type(model.known_term).__name__ == "Laplacian" else "L"
        return model, model.coefficient, name, model.channels
    raise PhysdiffError(
        f"pi_block_expressions: expected a PeRCNN, a PIMRL (its micro module is read) or a PiBlock, "
        f"got {type(model).__name__}."
    )


def _number(value: float, digits: int | None, sympy: Any) -> Any:
    """A sympy number: an Integer when the (rounded) value is integral (reads ``-u*v**2``, not ``-1.0*u*v**2``)."""
    value = value if digits is None else float(f"{value:.{digits}g}")
    return sympy.Integer(int(value)) if value.is_integer() else sympy.Float(value)


def pi_block_expressions(
    model_or_piblock: nn.Module, channel_names: Sequence[str] | None = None, *, threshold: float = 0.0,
    digits: int | None = None,
) -> list[Any]:
    """The learned right-hand side ``du_i/dt`` of each channel as a sympy expression.

    The Pi-block ``W_out((W_1 s + b_1) ⊙ ... ⊙ (W_n s + b_n)) + b_out`` with 1x1 kernels is a
    polynomial of degree ``n`` in the channel values ``s``; it is expanded exactly (in
    float64) and its monomials are kept if ``|coefficient| > threshold`` (``threshold = 0``
    keeps every nonzero one). The known term is added symbolically as ``c_i * Lap(s_i)``
    (a sympy ``Function('Lap')``; ``L`` for a PiBlock whose known term is not a Laplacian).
    This is PeRCNN's equation-discovery read-back: a block trained on Gray-Scott data
    should read back close to ``-u*v**2 + F - F*u + Du*Lap(u)``.

    Args:
        model_or_piblock: a :class:`PeRCNN`, a :class:`PIMRL` (its micro module) or a
            :class:`physdiff.integrators.PiBlock`.
        channel_names: one symbol name per channel; default ``u, v, w`` (or ``u0, u1, ...``).
        threshold: drop polynomial terms with ``|coefficient| <= threshold`` (the known
            term is always kept).
        digits: round every coefficient to this many significant digits (None: exact float64).

    Returns:
        One sympy expression per output channel.

    Raises:
        PhysdiffError: another model type, kernels larger than 1x1 (the block then mixes
            neighbours and is not a polynomial in the point values), or bad names/options.
    """
    import sympy

    where = "pi_block_expressions"
    pi, coefficient, function_name, channels = _parts(model_or_piblock)
    coefficient = None if coefficient is None else coefficient.detach().double().cpu()
    names = default_channel_names(channels) if channel_names is None else list(channel_names)
    if len(names) != channels or not all(isinstance(n, str) and n.isidentifier() for n in names) \
            or len(set(names)) != channels:
        raise PhysdiffError(
            f"{where}: channel_names: expected {channels} distinct identifiers (one per channel), "
            f"got {channel_names!r}."
        )
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold >= 0:
        raise PhysdiffError(f"{where}: threshold: expected a non-negative number, got {threshold!r}.")
    if digits is not None and (isinstance(digits, bool) or not isinstance(digits, int) or digits < 1):
        raise PhysdiffError(f"{where}: digits: expected None or a positive int, got {digits!r}.")
    symbols = sympy.symbols(names)
    polynomials = [sympy.Integer(0)] * channels
    if pi is not None:
        sizes = [tuple(conv.weight.shape[2:]) for conv in pi.branches]
        if any(any(k != 1 for k in size) for size in sizes):
            raise PhysdiffError(
                f"{where}: expected a Pi-block with 1x1 kernels (kernel_size=1), got branch kernels {sizes[0]}. "
                "A larger kernel mixes neighbouring points, so the block is not a polynomial in the channel values."
            )
        polynomials = _expand(pi, symbols, sympy)
    lap = sympy.Function(function_name)
    out = []
    for i, poly in enumerate(polynomials):
        terms = sympy.Poly(poly, *symbols).terms() if poly != 0 else []
        expr = sympy.Add(*(
            _number(float(c), digits, sympy) * sympy.Mul(*(s**e for s, e in zip(symbols, powers)))
            for powers, c in terms if abs(float(c)) > threshold
        ))
        if coefficient is not None:
            expr = expr + _number(float(coefficient[i]), digits, sympy) * lap(symbols[i])
        out.append(expr)
    return out


def _expand(pi: PiBlock, symbols: Sequence[Any], sympy: Any) -> list[Any]:
    """``W_out (prod_b (W_b s + bias_b)) + bias_out``, expanded, one polynomial per output channel."""
    with torch.no_grad():
        s = sympy.Matrix(symbols)
        product = None
        for conv in pi.branches:
            weight = conv.weight.detach().double().flatten(1).cpu().tolist()
            bias = conv.bias.detach().double().cpu().tolist()
            linear = sympy.Matrix(weight) * s + sympy.Matrix(bias)
            product = linear if product is None else product.multiply_elementwise(linear)
        w_out = sympy.Matrix(pi.output.weight.detach().double().flatten(1).cpu().tolist())
        b_out = sympy.Matrix(pi.output.bias.detach().double().cpu().tolist())
        result = w_out * product + b_out
    return [sympy.expand(result[i]) for i in range(result.shape[0])]
