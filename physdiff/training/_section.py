"""The machinery of physdiff's configuration dataclasses: type checks from annotations,
``from_dict`` with key/type errors that name the key and where the mapping came from, ``to_dict``."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from ..core import PhysdiffError

C = TypeVar("C", bound="Section")


def _describe(tp: Any) -> str:
    """A readable name of an annotation: ``int``, ``float or None``, ``[float, float]``, ``mapping``."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(tp))
    if origin is tuple:
        return "[" + ", ".join(_describe(a) for a in typing.get_args(tp)) + "]"
    if tp is type(None):
        return "None"
    if isinstance(tp, type) and issubclass(tp, Section):
        return f"a mapping ({tp.__name__} fields)"
    return getattr(tp, "__name__", str(tp))


_NO = object()


def _coerce(value: Any, tp: Any) -> Any:
    """``value`` converted to the annotation ``tp`` (int -> float, list -> tuple, mapping -> section), or _NO."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(tp):
            out = _coerce(value, option)
            if out is not _NO:
                return out
        return _NO
    if tp is type(None):
        return None if value is None else _NO
    if tp is bool:
        return value if isinstance(value, bool) else _NO
    if tp is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else _NO
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        return _NO
    if tp is str:
        return value if isinstance(value, str) else _NO
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            return _NO
        items = tuple(_coerce(v, a) for v, a in zip(value, args))
        return _NO if any(i is _NO for i in items) else items
    if isinstance(tp, type) and issubclass(tp, Section):
        return value if isinstance(value, tp) else _NO
    raise TypeError(f"unsupported annotation {tp!r}")  # a bug in this module, not a user error


class Section:
    """Shared machinery of the configuration dataclasses: type checks, from_dict, to_dict."""

    NAME: ClassVar[str] = ""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value, tp = getattr(self, f.name), hints[f.name]
            if isinstance(tp, type) and issubclass(tp, Section) and isinstance(value, Mapping):
                value = tp.from_dict(value, f"{type(self).__name__}: {f.name}")
            out = _coerce(value, tp)
            if out is _NO:
                raise PhysdiffError(
                    f"{type(self).__name__}: {f.name}: expected {_describe(hints[f.name])}, "
                    f"got {value!r} ({type(value).__name__})."
                )
            object.__setattr__(self, f.name, out)
        self._validate()

    def _validate(self) -> None:
        """Range and choice checks of a subclass (types are already checked)."""

    @classmethod
    def from_dict(cls: type[C], mapping: Mapping[str, Any], where: str = "configuration") -> C:
        """Build from a mapping (e.g. a parsed configuration file section).

        Args:
            mapping: field names to values; nested sections are mappings too.
            where: where the mapping came from (a file name), prefixed to every error.

        Raises:
            PhysdiffError: an unknown key, a value of the wrong type, or a value out of range,
                naming the key, the expected type and ``where``.
        """
        if not isinstance(mapping, Mapping):
            raise PhysdiffError(f"{where}: {cls.__name__}: expected a mapping of settings, got {type(mapping).__name__}.")
        hints = typing.get_type_hints(cls)
        names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        unknown = [k for k in mapping if k not in names]
        if unknown:
            raise PhysdiffError(
                f"{where}: {cls.__name__}: unknown key {unknown[0]!r}; expected one of {', '.join(names)}."
            )
        kwargs = {}
        for key, value in mapping.items():
            tp = hints[key]
            if isinstance(tp, type) and issubclass(tp, Section) and isinstance(value, Mapping):
                value = tp.from_dict(value, f"{where}: {key}")
            kwargs[key] = value
        try:
            return cls(**kwargs)
        except PhysdiffError as exc:
            message = str(exc)
            raise PhysdiffError(message if message.startswith(where) else f"{where}: {message}") from None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable dict (tuples as lists) that :meth:`from_dict` reads back."""

        def plain(value: Any) -> Any:
            if isinstance(value, Section):
                return value.to_dict()
            if isinstance(value, tuple):
                return [plain(v) for v in value]
            return value

        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]


def fail(section: Section, name: str, expected: str) -> PhysdiffError:
    return PhysdiffError(f"{type(section).__name__}: {name}: expected {expected}, got {getattr(section, name)!r}.")


def choice(section: Section, name: str, choices: tuple[str, ...]) -> None:
    if getattr(section, name) not in choices:
        raise fail(section, name, "one of " + ", ".join(repr(c) for c in choices))


def at_least(section: Section, name: str, low: float, optional: bool = False) -> None:
    value = getattr(section, name)
    if optional and value is None:
        return
    if not (math.isfinite(value) and value >= low):
        raise fail(section, name, f"a finite number >= {low}" + (" or None" if optional else ""))


def positive(section: Section, name: str, optional: bool = False) -> None:
    value = getattr(section, name)
    if optional and value is None:
        return
    if not (math.isfinite(value) and value > 0):
        raise fail(section, name, "a positive number" + (" or None" if optional else ""))


def probability(section: Section, name: str) -> None:
    if not 0.0 <= getattr(section, name) <= 1.0:
        raise fail(section, name, "a probability in [0, 1]")
