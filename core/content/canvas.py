"""Whiteboard commands: the vocabulary and its validation (SVG rendering lives in ``core.content.svg``, plot
expressions in ``core.content.expressions``).

A command is a flat dict with an ``op`` and that op's fields (see docs/architecture.md, "Canvas commands").
``validate_command`` normalises one command or raises ``CanvasError``; ``validate_commands`` keeps the valid ones
and reports the dropped ones. A ``plot``'s ``expr`` is checked by compiling it (``compile_expression``).
"""
from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .expressions import CanvasError, compile_expression

logger = logging.getLogger(__name__)

PALETTE: dict[str, str] = {
    "blue": "#2563eb",
    "red": "#dc2626",
    "green": "#16a34a",
    "orange": "#ea580c",
    "purple": "#7c3aed",
    "black": "#1f2937",
    "gray": "#6b7280",
}
DEFAULT_COLOR = "blue"
MAX_ABS = 1000.0
MAX_TEXT = 80
MAX_LABEL = 40
MAX_AXIS_NAME = 24
MIN_POINTS, MAX_POINTS = 3, 20
DEFAULT_VIEW = (-10.0, 10.0, -10.0, 10.0)
PLOT_SAMPLES = 200


# --- text cleaning ---------------------------------------------------------------------------------------------

_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
_NONCHARACTERS = frozenset("\ufffe\uffff")


def clean_text(value: str) -> str:
    """``value`` on one line: whitespace runs become one space; control, surrogate and bidi characters go."""
    if value.isascii() and value.isprintable():  # the common case (numbers, path data), without a look-up per char
        return " ".join(value.split())
    kept = []
    for char in value:
        if char in "\t\n\r\f\v":
            kept.append(" ")
        elif not (unicodedata.category(char) in ("Cc", "Cs") or char in _BIDI_CONTROLS or char in _NONCHARACTERS):
            kept.append(char)
    return " ".join("".join(kept).split())


# --- validation ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Op:
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    label: bool = False
    drawing: bool = True  # drawings may carry an ``id``: a later command with the same id replaces them

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.required + self.optional + (("label",) if self.label else ()) + (("id",) if self.drawing else ())
                + ("color", "at_char"))


_ENDS = ("x1", "y1", "x2", "y2")
OPS: dict[str, _Op] = {
    "axes": _Op(("x_min", "x_max", "y_min", "y_max"), ("grid", "ticks", "visible", "x_label", "y_label"),
                drawing=False),
    "point": _Op(("x", "y"), label=True),
    "segment": _Op(_ENDS, label=True),
    "arrow": _Op(_ENDS, label=True),
    "vector": _Op(("x2", "y2"), ("x1", "y1"), label=True),
    "circle": _Op(("x", "y", "r"), label=True),
    "rect": _Op(("x", "y", "w", "h"), label=True),
    "polygon": _Op(("points",), label=True),
    "text": _Op(("x", "y", "text")),
    "plot": _Op(("expr",), ("x_min", "x_max"), label=True),
    "highlight": _Op(("x", "y", "w", "h")),
    "clear": _Op(drawing=False),
}
_POSITIVE = frozenset({"r", "w", "h"})
_BOOLEANS = frozenset({"grid", "ticks", "visible"})
_TEXT_LIMITS = {"text": MAX_TEXT, "label": MAX_LABEL, "x_label": MAX_AXIS_NAME, "y_label": MAX_AXIS_NAME}
_ID = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")


def validate_command(raw: dict) -> dict:
    """The normalised form of one command, or ``CanvasError`` with the reason it is invalid.

    Null fields are dropped; ``color`` defaults to ``"blue"`` and ``at_char`` to 0; numbers become floats and
    ``points`` a list of ``[x, y]`` lists. Fields come out in a fixed order: op, the op's fields, label, id, color,
    at_char.
    """
    if not isinstance(raw, dict):
        raise CanvasError("a command must be an object", "not_object")
    fields = {key: value for key, value in raw.items() if value is not None}
    op = fields.pop("op", None)
    if not isinstance(op, str) or op not in OPS:
        raise CanvasError(f"unknown op {op!r}; expected one of {', '.join(OPS)}", "unknown_op")
    spec = OPS[op]
    _check_field_names(op, spec, fields)
    fields.setdefault("color", DEFAULT_COLOR)
    fields.setdefault("at_char", 0)
    command = {"op": op, **{name: _field(name, fields[name]) for name in spec.fields if name in fields}}
    _check_relations(command)
    return command


def _check_field_names(op: str, spec: _Op, fields: dict) -> None:
    unknown = [str(name) for name in fields if name not in spec.fields]
    if unknown:
        raise CanvasError(f"{op}: unknown field(s) {', '.join(sorted(unknown))}", "unknown_fields",
                          field=", ".join(sorted(unknown)))
    missing = [name for name in spec.required if name not in fields]
    if missing:
        raise CanvasError(f"{op}: missing field(s) {', '.join(missing)}", "missing_fields", field=", ".join(missing))


def _field(name: str, value: Any) -> Any:
    if name == "at_char":
        return _at_char(value)
    if name == "color":
        return _color(value)
    if name in _BOOLEANS:
        return _boolean(name, value)
    if name == "points":
        return _points(value)
    if name in _TEXT_LIMITS:
        return _text(name, value, _TEXT_LIMITS[name])
    if name == "id":
        return _identifier(value)
    if name == "expr":
        compile_expression(value)
        return value.strip()
    number = _number(name, value)
    if name in _POSITIVE and number <= 0:
        raise CanvasError(f"{name} must be greater than 0", "positive", field=name)
    return number


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CanvasError(f"{name} must be a number", "number", field=name)
    if abs(value) > MAX_ABS or not math.isfinite(value):
        raise CanvasError(f"{name} must be a finite number within ±{MAX_ABS:g}", "too_large", field=name,
                          limit=f"{MAX_ABS:g}")
    return float(value)


def _at_char(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CanvasError("at_char must be an integer ≥ 0", "at_char")
    return value


def _color(value: Any) -> str:
    if not isinstance(value, str) or value not in PALETTE:
        raise CanvasError(f"color must be one of {', '.join(PALETTE)}", "color")
    return value


def _boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise CanvasError(f"{name} must be true or false", "boolean", field=name)
    return value


def _identifier(value: Any) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise CanvasError("id must be 1 to 32 letters, digits, - or _, starting with a letter (e.g. \"answer\")", "id")
    return value


def _text(name: str, value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise CanvasError(f"{name} must be a string", "text", field=name)
    cleaned = clean_text(value)
    if not cleaned:
        raise CanvasError(f"{name} is empty", "empty", field=name)
    if len(cleaned) > limit:
        raise CanvasError(f"{name} is longer than {limit} characters", "too_long", field=name, limit=limit)
    return cleaned


def _points(value: Any) -> list[list[float]]:
    if not isinstance(value, (list, tuple)) or not MIN_POINTS <= len(value) <= MAX_POINTS:
        raise CanvasError(f"points must be a list of {MIN_POINTS} to {MAX_POINTS} [x, y] pairs", "points",
                          low=MIN_POINTS, high=MAX_POINTS)
    pairs = []
    for index, pair in enumerate(value):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise CanvasError(f"points[{index}] must be an [x, y] pair", "points", low=MIN_POINTS, high=MAX_POINTS)
        pairs.append([_number(f"points[{index}][0]", pair[0]), _number(f"points[{index}][1]", pair[1])])
    return pairs


def _check_relations(command: dict) -> None:
    for low, high in (("x_min", "x_max"), ("y_min", "y_max")):
        if low in command and high in command and command[low] >= command[high]:
            raise CanvasError(f"{command['op']}: {low} must be less than {high}", "order", field=low, other=high)
    if command["op"] == "vector" and ("x1" in command) != ("y1" in command):
        raise CanvasError("vector: give both x1 and y1, or neither (the vector then starts at the origin)", "vector")


def validate_commands(raws: Iterable[Any] | None, content_length: int) -> tuple[list[dict], list[tuple[object, CanvasError]]]:
    """The valid commands (``at_char`` clamped to ``content_length``) and the dropped ones with their errors."""
    valid: list[dict] = []
    dropped: list[tuple[object, CanvasError]] = []
    for raw in raws or ():
        try:
            command = validate_command(raw)
        except CanvasError as error:
            dropped.append((raw, error))
            logger.warning("canvas command dropped: %s: %.200r", error.reason, raw)
            continue
        command["at_char"] = min(command["at_char"], max(0, content_length))
        valid.append(command)
    return valid, dropped


def commands_until(commands: list[dict], at_char: int) -> list[dict]:
    """The commands due once the text has reached offset ``at_char``."""
    return [command for command in commands if command.get("at_char", 0) <= at_char]

