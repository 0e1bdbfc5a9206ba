"""The whiteboard's shapes as SVG elements: the math-to-pixel view, escaped markup, one function per drawing op.

``board.Board`` lays out the board (frame, title, axes, layers) and calls ``DRAWERS[op](command, view)`` for each
command: a ``Drawing`` with the shape's SVG elements (escaped), the labels still to be placed (``Label``: text
and candidate positions, best first) and the lines other labels should avoid. Plots are sampled once per
(expression, range, view) and kept in a bounded LRU cache.
"""
from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .canvas import DEFAULT_COLOR, PALETTE, PLOT_SAMPLES, CanvasError, clean_text
from .expressions import compile_expression

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


# --- what a drawer returns ------------------------------------------------------------------------------------

Point = tuple[float, float]
Line = tuple[Point, Point]
Box = tuple[float, float, float, float]  # left, top, right, bottom
LABEL_SIZE, TEXT_SIZE = 14.0, 15.0
CHAR_WIDTH = 0.6  # a character's estimated width, in font sizes (system sans-serif fonts, digits and signs)


def text_box(left: float, baseline: float, width: float, size: float) -> Box:
    """The estimated box of a text starting at ``left`` on ``baseline``: one font size high."""
    return left, baseline - 0.78 * size, left + width, baseline + 0.22 * size


@dataclass(frozen=True)
class Label:
    """A text to place at the first of ``spots`` (x, y of the baseline, text-anchor) that collides with nothing."""

    text: str
    color: str
    spots: tuple[tuple[float, float, str], ...]
    size: float = LABEL_SIZE
    bold: bool = True


@dataclass
class Drawing:
    shapes: list[str] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)  # for label placement: what a label should not cover
    boxes: list[Box] = field(default_factory=list)


# --- shapes ----------------------------------------------------------------------------------------------------

def _ink(command: dict) -> str:
    return PALETTE.get(command.get("color", DEFAULT_COLOR), PALETTE[DEFAULT_COLOR])


def _labels(command: dict, spots: Iterable[tuple[float, float, str]]) -> list[Label]:
    if not command.get("label"):
        return []
    return [Label(command["label"], _ink(command), tuple(spots))]


def _around(x: float, y: float, gap: float = 8.0) -> list[tuple[float, float, str]]:
    """Spots around a point: above right first, then the other corners and sides."""
    up, down = y - gap, y + gap + LABEL_SIZE * 0.72
    return [(x + gap, up, "start"), (x - gap, up, "end"), (x + gap, down, "start"), (x - gap, down, "end"),
            (x, up - 2, "middle"), (x, down + 2, "middle"), (x + gap + 2, y + 5, "start"),
            (x - gap - 2, y + 5, "end"), (x + gap, up - LABEL_SIZE, "start"), (x - gap, down + LABEL_SIZE, "end")]


def _stroke(command: dict, width: float = 2.5) -> dict[str, Any]:
    return {"stroke": _ink(command), "stroke-width": width, "stroke-linecap": "round", "stroke-linejoin": "round"}


def _draw_point(command: dict, view: View) -> Drawing:
    x, y = view.point(command["x"], command["y"])
    dot = tag("circle", {"cx": x, "cy": y, "r": 4.5, "fill": _ink(command), "stroke": "#ffffff",
                          "stroke-width": 1.5})
    return Drawing([dot], _labels(command, _around(x, y)), boxes=[(x - 5, y - 5, x + 5, y + 5)])


def _draw_segment(command: dict, view: View) -> Drawing:
    (x1, y1), (x2, y2) = view.point(command["x1"], command["y1"]), view.point(command["x2"], command["y2"])
    line = tag("line", {"x1": x1, "y1": y1, "x2": x2, "y2": y2, **_stroke(command)})
    return Drawing([line], _labels(command, _beside((x1, y1), (x2, y2))), [((x1, y1), (x2, y2))])


def _beside(start: Point, end: Point) -> list[tuple[float, float, str]]:
    """Spots beside a line: at its middle on either side, then nearer each end."""
    nx, ny = _normal(*start, *end)
    spots = []
    for share in (0.5, 0.3, 0.7):
        mx, my = start[0] + (end[0] - start[0]) * share, start[1] + (end[1] - start[1]) * share
        for side in (1, -1):
            gap = 12 * side
            anchor = "middle" if abs(nx) < 0.4 else ("start" if nx * side > 0 else "end")
            spots.append((mx + gap * nx, my + gap * ny + (5 if ny * side > 0.4 else 4 if abs(ny) < 0.4 else 0),
                          anchor))
    return spots


def _normal(x1: float, y1: float, x2: float, y2: float) -> tuple[float, float]:
    length = math.hypot(x2 - x1, y2 - y1) or 1.0
    nx, ny = (y1 - y2) / length, (x2 - x1) / length
    return (nx, ny) if ny <= 0 else (-nx, -ny)


def _draw_arrow(command: dict, view: View) -> Drawing:
    start = view.point(command.get("x1", 0.0), command.get("y1", 0.0))
    end = view.point(command["x2"], command["y2"])
    width = 2.75 if command["op"] == "vector" else 2.25
    dx, dy = _unit(start, end)
    anchor = "start" if dx > 0.3 else "end" if dx < -0.3 else "middle"
    lift = 14.0 if dy > 0.3 else -4.0 if dy < -0.3 else 5.0
    tip = [(end[0] + 8 * dx, end[1] + 8 * dy + lift, anchor)]
    return Drawing(_arrow_shape(command, start, end, width), _labels(command, tip + _beside(start, end)),
                   [(start, end)])


def _unit(start: Point, end: Point) -> Point:
    length = math.hypot(end[0] - start[0], end[1] - start[1])
    return ((end[0] - start[0]) / length, (end[1] - start[1]) / length) if length else (0.0, 0.0)


def _arrow_shape(command: dict, start: Point, end: Point, width: float) -> list[str]:
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


def _points_attr(points: Iterable[Point]) -> str:
    return " ".join(f"{num(x)},{num(y)}" for x, y in points)


def _draw_circle(command: dict, view: View) -> Drawing:
    cx, cy = view.point(command["x"], command["y"])
    rx, ry = command["r"] * view.kx, command["r"] * view.ky
    style = {"fill": _ink(command), "fill-opacity": 0.08, **_stroke(command, 2.25)}
    if abs(rx - ry) < 0.01:
        shape = tag("circle", {"cx": cx, "cy": cy, "r": rx, **style})
    else:
        shape = tag("ellipse", {"cx": cx, "cy": cy, "rx": rx, "ry": ry, **style})
    diagonal = math.sqrt(0.5)
    spots = _around(cx + rx * diagonal, cy - ry * diagonal, 4.0) if rx > 12 else _around(cx, cy, rx + 6)
    return Drawing([shape], _labels(command, spots))


def _draw_rect(command: dict, view: View) -> Drawing:
    left, top = view.point(command["x"], command["y"] + command["h"])
    right, bottom = view.point(command["x"] + command["w"], command["y"])
    shape = tag("rect", {"x": left, "y": top, "width": right - left, "height": bottom - top, "rx": 2.0,
                          "fill": _ink(command), "fill-opacity": 0.08, **_stroke(command, 2.25)})
    spots = [(left + 2, top - 7, "start"), ((left + right) / 2, top - 7, "middle"), (right - 2, top - 7, "end"),
             ((left + right) / 2, (top + bottom) / 2 + 5, "middle"), (left + 2, bottom + 18, "start")]
    return Drawing([shape], _labels(command, spots), _outline([(left, top), (right, top), (right, bottom),
                                                               (left, bottom)]))


def _outline(corners: list[Point]) -> list[Line]:
    return list(zip(corners, corners[1:] + corners[:1]))


def _draw_highlight(command: dict, view: View) -> Drawing:
    left, top = view.point(command["x"], command["y"] + command["h"])
    right, bottom = view.point(command["x"] + command["w"], command["y"])
    return Drawing([tag("rect", {"x": left, "y": top, "width": right - left, "height": bottom - top, "rx": 6.0,
                                 "fill": _ink(command), "fill-opacity": 0.16, "stroke": _ink(command),
                                 "stroke-opacity": 0.55, "stroke-width": 1.5, "stroke-dasharray": "6 4"})])


def _draw_polygon(command: dict, view: View) -> Drawing:
    corners = [view.point(x, y) for x, y in command["points"]]
    shape = tag("polygon", {"points": _points_attr(corners), "fill": _ink(command), "fill-opacity": 0.1,
                             **_stroke(command, 2.25)})
    cx = sum(x for x, _ in corners) / len(corners)
    cy = sum(y for _, y in corners) / len(corners)
    spots = [(cx, cy + 5, "middle"), (cx, cy - 10, "middle"), (cx, cy + 20, "middle")]
    return Drawing([shape], _labels(command, spots), _outline(corners))


def _draw_text(command: dict, view: View) -> Drawing:
    x, y = view.point(command["x"], command["y"])
    step = TEXT_SIZE
    spots = ((x, y, "start"), (x, y - step, "start"), (x, y + step, "start"), (x + step, y, "start"),
             (x - step, y, "start"), (x, y - 2 * step, "start"), (x, y + 2 * step, "start"))
    return Drawing(labels=[Label(command["text"], _ink(command), spots, TEXT_SIZE, bold=False)])


def _draw_plot(command: dict, view: View) -> Drawing:
    low = command.get("x_min", view.x_min)
    high = command.get("x_max", view.x_max)
    path, pieces = sample_plot(command["expr"], low, high, view)
    if not path:
        return Drawing()
    lines = [(a, b) for piece in pieces for a, b in zip(piece, piece[1:])]
    shape = tag("path", {"d": path, "fill": "none", **_stroke(command)})
    return Drawing([shape], _labels(command, _along(pieces, view)), lines)


def _along(pieces: tuple[tuple[Point, ...], ...], view: View) -> list[tuple[float, float, str]]:
    """Spots for a plot's label: above and below its visible end, then back along the curve."""
    visible = [p for piece in pieces for p in piece
               if view.left <= p[0] <= view.right and view.top + 14 <= p[1] <= view.bottom]
    spots = []
    for share in (1.0, 0.85, 0.7, 0.5, 0.3):
        if visible:
            x, y = visible[min(len(visible) - 1, int(share * (len(visible) - 1)))]
            spots += [(x - 4, y - 9, "end"), (x + 6, y + 18, "start"), (x + 6, y - 9, "start"),
                      (x - 4, y + 18, "end")]
    return spots


@lru_cache(maxsize=512)
def sample_plot(expr: str, low: float, high: float, view: View) -> tuple[str, tuple[tuple[Point, ...], ...]]:
    """A plot's path data and its pieces in pixels, computed once per (expression, range, view)."""
    try:
        function = compile_expression(expr)
    except CanvasError:
        return "", ()
    if low >= high:
        return "", ()
    pieces = tuple(tuple(piece) for piece in _plot_pieces(function, low, high, view))
    path = " ".join("M" + " L".join(f"{num(x)} {num(y)}" for x, y in piece) for piece in pieces)
    return path, pieces


def _plot_pieces(function: Callable[[float], float], low: float, high: float, view: View) -> Iterator[list[Point]]:
    piece: list[Point] = []
    previous: Point | None = None
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


def _is_jump(function: Callable[[float], float], a: Point, b: Point, view: View) -> bool:
    """Whether the curve breaks between samples ``a`` and ``b`` (a pole, as in tan): a big jump whose midpoint
    does not lie between the two values."""
    if abs(b[1] - a[1]) * view.ky < (view.bottom - view.top) / 2:
        return False
    middle = function((a[0] + b[0]) / 2)
    return not (math.isfinite(middle) and min(a[1], b[1]) <= middle <= max(a[1], b[1]))


DRAWERS: dict[str, Callable[[dict, View], Drawing]] = {
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
