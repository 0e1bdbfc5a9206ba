"""The whiteboard's shapes as SVG elements: the math-to-pixel view, escaped markup, one function per drawing op.

``svg.render_svg`` lays out the board (frame, title, axes) and calls ``DRAWERS[op](command, view)`` for each
command; every function here returns SVG lines whose text and attributes are escaped.
"""
from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .canvas import DEFAULT_COLOR, PALETTE, PLOT_SAMPLES, CanvasError, clean_text, compile_expression

_PIXEL_LIMIT = 1e5


@dataclass(frozen=True)
class View:
    """The math → pixel transform of the plotting area (y grows upwards in math space)."""

    left: float
    top: float
    right: float
    bottom: float
    x_min: float
    x_max: float
    y_min: float
    y_max: float

    @property
    def kx(self) -> float:
        return (self.right - self.left) / (self.x_max - self.x_min)

    @property
    def ky(self) -> float:
        return (self.bottom - self.top) / (self.y_max - self.y_min)

    def px(self, x: float) -> float:
        return clamp(self.left + (x - self.x_min) * self.kx, -_PIXEL_LIMIT, _PIXEL_LIMIT)

    def py(self, y: float) -> float:
        return clamp(self.bottom - (y - self.y_min) * self.ky, -_PIXEL_LIMIT, _PIXEL_LIMIT)

    def point(self, x: float, y: float) -> tuple[float, float]:
        return self.px(x), self.py(y)


def clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def num(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def escape(value: Any) -> str:
    if isinstance(value, float):
        text = num(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    else:
        text = clean_text(str(value))
    return html.escape(text, quote=True).replace("$", "&#36;")


def _attrs(attrs: dict[str, Any]) -> str:
    return "".join(f' {key}="{escape(value)}"' for key, value in attrs.items() if value is not None)


def open_tag(name: str, attrs: dict[str, Any]) -> str:
    return f"<{name}{_attrs(attrs)}>"


def tag(name: str, attrs: dict[str, Any], text: str | None = None) -> str:
    if text is None:
        return f"<{name}{_attrs(attrs)}/>"
    return f"<{name}{_attrs(attrs)}>{escape(text)}</{name}>"



# --- shapes ----------------------------------------------------------------------------------------------------

def _ink(command: dict) -> str:
    return PALETTE.get(command.get("color", DEFAULT_COLOR), PALETTE[DEFAULT_COLOR])


def _label(command: dict, x: float, y: float, anchor: str = "start") -> list[str]:
    if not command.get("label"):
        return []
    return [tag("text", {"x": x, "y": y, "font-size": 13, "font-weight": 600, "fill": _ink(command),
                          "text-anchor": anchor, "stroke": "#ffffff", "stroke-width": 3.0,
                          "paint-order": "stroke", "stroke-linejoin": "round"}, command["label"])]


def _stroke(command: dict, width: float = 2.5) -> dict[str, Any]:
    return {"stroke": _ink(command), "stroke-width": width, "stroke-linecap": "round", "stroke-linejoin": "round"}


def _draw_point(command: dict, view: View) -> list[str]:
    x, y = view.point(command["x"], command["y"])
    dot = tag("circle", {"cx": x, "cy": y, "r": 4.5, "fill": _ink(command), "stroke": "#ffffff",
                          "stroke-width": 1.5})
    return [dot, *_label(command, x + 7, y - 7)]


def _draw_segment(command: dict, view: View) -> list[str]:
    (x1, y1), (x2, y2) = view.point(command["x1"], command["y1"]), view.point(command["x2"], command["y2"])
    line = tag("line", {"x1": x1, "y1": y1, "x2": x2, "y2": y2, **_stroke(command)})
    nx, ny = _normal(x1, y1, x2, y2)
    return [line, *_label(command, (x1 + x2) / 2 + 10 * nx, (y1 + y2) / 2 + 10 * ny + 4, "middle")]


def _normal(x1: float, y1: float, x2: float, y2: float) -> tuple[float, float]:
    length = math.hypot(x2 - x1, y2 - y1) or 1.0
    nx, ny = (y1 - y2) / length, (x2 - x1) / length
    return (nx, ny) if ny <= 0 else (-nx, -ny)


def _draw_arrow(command: dict, view: View) -> list[str]:
    start = view.point(command.get("x1", 0.0), command.get("y1", 0.0))
    end = view.point(command["x2"], command["y2"])
    width = 2.75 if command["op"] == "vector" else 2.25
    dx, dy = _unit(start, end)
    anchor = "start" if dx > 0.3 else "end" if dx < -0.3 else "middle"
    lift = 12.0 if dy > 0.3 else -4.0 if dy < -0.3 else 4.0
    return _arrow_shape(command, start, end, width) + _label(command, end[0] + 8 * dx, end[1] + 8 * dy + lift,
                                                             anchor)


def _unit(start: tuple[float, float], end: tuple[float, float]) -> tuple[float, float]:
    length = math.hypot(end[0] - start[0], end[1] - start[1])
    return ((end[0] - start[0]) / length, (end[1] - start[1]) / length) if length else (0.0, 0.0)


def _arrow_shape(command: dict, start: tuple[float, float], end: tuple[float, float], width: float) -> list[str]:
    dx, dy = _unit(start, end)
    head = min(12.0, math.hypot(end[0] - start[0], end[1] - start[1]))
    if head == 0:
        return [tag("circle", {"cx": end[0], "cy": end[1], "r": 3.0, "fill": _ink(command)})]
    base = (end[0] - head * dx, end[1] - head * dy)
    half = head * 0.45
    corners = [end, (base[0] - half * dy, base[1] + half * dx), (base[0] + half * dy, base[1] - half * dx)]
    shaft = tag("line", {"x1": start[0], "y1": start[1], "x2": base[0] + dx, "y2": base[1] + dy,
                          **_stroke(command, width)})
    tip = tag("polygon", {"points": _points_attr(corners), "fill": _ink(command), "stroke": _ink(command),
                           "stroke-width": 1.0, "stroke-linejoin": "round"})
    return [shaft, tip]


def _points_attr(points: Iterable[tuple[float, float]]) -> str:
    return " ".join(f"{num(x)},{num(y)}" for x, y in points)


def _draw_circle(command: dict, view: View) -> list[str]:
    cx, cy = view.point(command["x"], command["y"])
    rx, ry = command["r"] * view.kx, command["r"] * view.ky
    style = {"fill": _ink(command), "fill-opacity": 0.08, **_stroke(command, 2.25)}
    if abs(rx - ry) < 0.01:
        shape = tag("circle", {"cx": cx, "cy": cy, "r": rx, **style})
    else:
        shape = tag("ellipse", {"cx": cx, "cy": cy, "rx": rx, "ry": ry, **style})
    diagonal = math.sqrt(0.5)
    return [shape, *_label(command, cx + rx * diagonal + 4, cy - ry * diagonal - 4)]


def _draw_rect(command: dict, view: View) -> list[str]:
    left, top = view.point(command["x"], command["y"] + command["h"])
    right, bottom = view.point(command["x"] + command["w"], command["y"])
    shape = tag("rect", {"x": left, "y": top, "width": right - left, "height": bottom - top, "rx": 2.0,
                          "fill": _ink(command), "fill-opacity": 0.08, **_stroke(command, 2.25)})
    return [shape, *_label(command, left + 2, top - 7)]


def _draw_highlight(command: dict, view: View) -> list[str]:
    left, top = view.point(command["x"], command["y"] + command["h"])
    right, bottom = view.point(command["x"] + command["w"], command["y"])
    return [tag("rect", {"x": left, "y": top, "width": right - left, "height": bottom - top, "rx": 6.0,
                          "fill": _ink(command), "fill-opacity": 0.16, "stroke": _ink(command),
                          "stroke-opacity": 0.55, "stroke-width": 1.5, "stroke-dasharray": "6 4"})]


def _draw_polygon(command: dict, view: View) -> list[str]:
    corners = [view.point(x, y) for x, y in command["points"]]
    shape = tag("polygon", {"points": _points_attr(corners), "fill": _ink(command), "fill-opacity": 0.1,
                             **_stroke(command, 2.25)})
    cx = sum(x for x, _ in corners) / len(corners)
    cy = sum(y for _, y in corners) / len(corners)
    return [shape, *_label(command, cx, cy + 4, "middle")]


def _draw_text(command: dict, view: View) -> list[str]:
    x, y = view.point(command["x"], command["y"])
    return [tag("text", {"x": x, "y": y, "font-size": 15, "fill": _ink(command)}, command["text"])]


def _draw_plot(command: dict, view: View) -> list[str]:
    try:
        function = compile_expression(command["expr"])
    except CanvasError:
        return []
    low = command.get("x_min", view.x_min)
    high = command.get("x_max", view.x_max)
    if low >= high:
        return []
    pieces = list(_plot_pieces(function, low, high, view))
    path = " ".join("M" + " L".join(f"{num(x)} {num(y)}" for x, y in piece) for piece in pieces)
    if not path:
        return []
    lines = [tag("path", {"d": path, "fill": "none", **_stroke(command)})]
    end = _last_visible(pieces, view)
    return lines + (_label(command, end[0] - 4, end[1] - 8, "end") if end else [])


def _plot_pieces(function: Callable[[float], float], low: float, high: float,
                 view: View) -> Iterator[list[tuple[float, float]]]:
    piece: list[tuple[float, float]] = []
    previous: tuple[float, float] | None = None
    for i in range(PLOT_SAMPLES + 1):
        x = low + (high - low) * i / PLOT_SAMPLES
        y = function(x)
        if not math.isfinite(y) or (previous and _is_jump(function, previous, (x, y), view)):
            if len(piece) > 1:
                yield piece
            piece = []
        if math.isfinite(y):
            piece.append(view.point(x, y))
        previous = (x, y) if math.isfinite(y) else None
    if len(piece) > 1:
        yield piece


def _is_jump(function: Callable[[float], float], a: tuple[float, float], b: tuple[float, float],
             view: View) -> bool:
    """Whether the curve breaks between samples ``a`` and ``b`` (a pole, as in tan): a big jump whose midpoint
    does not lie between the two values."""
    if abs(b[1] - a[1]) * view.ky < (view.bottom - view.top) / 2:
        return False
    middle = function((a[0] + b[0]) / 2)
    return not (math.isfinite(middle) and min(a[1], b[1]) <= middle <= max(a[1], b[1]))


def _last_visible(pieces: list[list[tuple[float, float]]], view: View) -> tuple[float, float] | None:
    for piece in reversed(pieces):
        for x, y in reversed(piece):
            if view.left <= x <= view.right and view.top + 14 <= y <= view.bottom:
                return x, y
    return None


DRAWERS: dict[str, Callable[[dict, View], list[str]]] = {
    "point": _draw_point,
    "segment": _draw_segment,
    "arrow": _draw_arrow,
    "vector": _draw_arrow,
    "circle": _draw_circle,
    "rect": _draw_rect,
    "polygon": _draw_polygon,
    "text": _draw_text,
    "plot": _draw_plot,
    "highlight": _draw_highlight,
}
