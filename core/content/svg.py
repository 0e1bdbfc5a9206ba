"""The whiteboard as SVG: validated canvas commands drawn as a standalone, escaped SVG string.

Every piece of text and every attribute is escaped (and ``$`` too, so Markdown never renders maths inside the
drawing), so the SVG can be embedded in a page with ``unsafe_allow_html``. One element per line, no blank lines:
it stays a single HTML block inside Markdown.
"""
from __future__ import annotations

import hashlib
import html
import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .canvas import DEFAULT_COLOR, DEFAULT_VIEW, PALETTE, PLOT_SAMPLES, CanvasError, clean_text, compile_expression

SVG_NS = "http://www.w3.org/2000/svg"
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
_INK, _MUTED, _AXIS, _GRID, _BORDER = "#0f172a", "#64748b", "#94a3b8", "#eef2f7", "#e2e8f0"
_MARGIN = 10.0
_TITLE_BAND = 34.0
_PIXEL_LIMIT = 1e5


@dataclass(frozen=True)
class _View:
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
        return _clamp(self.left + (x - self.x_min) * self.kx, -_PIXEL_LIMIT, _PIXEL_LIMIT)

    def py(self, y: float) -> float:
        return _clamp(self.bottom - (y - self.y_min) * self.ky, -_PIXEL_LIMIT, _PIXEL_LIMIT)

    def point(self, x: float, y: float) -> tuple[float, float]:
        return self.px(x), self.py(y)


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def _num(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _escape(value: Any) -> str:
    if isinstance(value, float):
        text = _num(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    else:
        text = clean_text(str(value))
    return html.escape(text, quote=True).replace("$", "&#36;")


def _attrs(attrs: dict[str, Any]) -> str:
    return "".join(f' {key}="{_escape(value)}"' for key, value in attrs.items() if value is not None)


def _open(name: str, attrs: dict[str, Any]) -> str:
    return f"<{name}{_attrs(attrs)}>"


def _tag(name: str, attrs: dict[str, Any], text: str | None = None) -> str:
    if text is None:
        return f"<{name}{_attrs(attrs)}/>"
    return f"<{name}{_attrs(attrs)}>{_escape(text)}</{name}>"


def render_svg(commands: list[dict], *, width: int = 480, height: int = 360, title: str | None = None) -> str:
    """A standalone SVG drawing of validated ``commands``, in order.

    ``clear`` wipes everything before it (coordinates go back to the default -10..10); the latest ``axes`` sets
    the coordinates for the whole board. All text is escaped. The SVG has one element per line and no blank
    lines, so it stays a single HTML block when embedded in Markdown.
    """
    board = _after_last_clear(commands)
    top = _MARGIN + (_TITLE_BAND if title else 0.0)
    axes = next((c for c in reversed(board) if c["op"] == "axes"), None)
    bounds = (axes["x_min"], axes["x_max"], axes["y_min"], axes["y_max"]) if axes else DEFAULT_VIEW
    view = _View(_MARGIN, top, width - _MARGIN, height - _MARGIN, *bounds)
    clip_id = "cv-" + _fingerprint(board, width, height, title)
    lines = [_svg_open(width, height, title), *_header(width, height, title, view, clip_id)]
    if axes:
        lines += _draw_axes(view, bool(axes.get("grid")))
    lines.append(_open("g", {"clip-path": f"url(#{clip_id})"}))
    for command in board:
        lines += _DRAWERS.get(command["op"], _nothing)(command, view)
    lines += ["</g>", "</svg>"]
    return "\n".join(lines)


def _after_last_clear(commands: list[dict]) -> list[dict]:
    last = max((i for i, c in enumerate(commands) if c.get("op") == "clear"), default=-1)
    return list(commands[last + 1:])


def _fingerprint(board: list[dict], width: int, height: int, title: str | None) -> str:
    data = json.dumps([board, width, height, title], sort_keys=True, default=str)
    return hashlib.sha1(data.encode()).hexdigest()[:10]


def _svg_open(width: int, height: int, title: str | None) -> str:
    attrs = {"xmlns": SVG_NS, "viewBox": f"0 0 {width} {height}", "width": width, "height": height,
             "role": "img", "aria-label": title, "font-family": _FONT,
             "style": "max-width:100%;height:auto"}
    return _open("svg", attrs)


def _header(width: int, height: int, title: str | None, view: _View, clip_id: str) -> list[str]:
    lines = []
    if title:
        lines.append(_tag("title", {}, title))
    lines.append("<defs>")
    lines.append(_open("clipPath", {"id": clip_id}))
    lines.append(_tag("rect", {"x": view.left, "y": view.top, "width": view.right - view.left,
                               "height": view.bottom - view.top, "rx": 6.0}))
    lines += ["</clipPath>", "</defs>"]
    lines.append(_tag("rect", {"x": 0.5, "y": 0.5, "width": width - 1.0, "height": height - 1.0, "rx": 14.0,
                               "fill": "#ffffff", "stroke": _BORDER}))
    if title:
        lines.append(_tag("text", {"x": 16.0, "y": _MARGIN + 19.0, "font-size": 15, "font-weight": 600,
                                   "fill": _INK}, _shorten(clean_text(title), 60)))
    return lines


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _nothing(command: dict, view: _View) -> list[str]:
    return []


# --- axes ------------------------------------------------------------------------------------------------------

def _nice_step(span: float, target: int) -> float:
    raw = span / target
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw * 0.999)


def _ticks(low: float, high: float, step: float) -> list[float]:
    first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
    return [k * step for k in range(first, last + 1)][:200]


def _tick_label(value: float, step: float) -> str:
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    text = f"{value:.{decimals}f}"
    return "0" if float(text) == 0 else text.replace("-", "−")


def _draw_axes(view: _View, grid: bool) -> list[str]:
    x_step = _nice_step(view.x_max - view.x_min, max(2, round((view.right - view.left) / 40)))
    y_step = _nice_step(view.y_max - view.y_min, max(2, round((view.bottom - view.top) / 30)))
    lines = _draw_grid(view, x_step / 2, y_step / 2) if grid else []
    origin_x = view.px(_clamp(0.0, view.x_min, view.x_max))
    origin_y = view.py(_clamp(0.0, view.y_min, view.y_max))
    line = {"stroke": _AXIS, "stroke-width": 1.25, "stroke-linecap": "round"}
    lines.append(_tag("line", {"x1": view.left, "y1": origin_y, "x2": view.right, "y2": origin_y, **line}))
    lines.append(_tag("line", {"x1": origin_x, "y1": view.top, "x2": origin_x, "y2": view.bottom, **line}))
    lines += _x_ticks(view, x_step, origin_y) + _y_ticks(view, y_step, origin_x)
    lines += _axis_names(view, origin_x, origin_y)
    return lines


def _draw_grid(view: _View, x_step: float, y_step: float) -> list[str]:
    style = {"stroke": _GRID, "stroke-width": 1.0}
    lines = [_tag("line", {"x1": view.px(x), "y1": view.top, "x2": view.px(x), "y2": view.bottom, **style})
             for x in _ticks(view.x_min, view.x_max, x_step)]
    lines += [_tag("line", {"x1": view.left, "y1": view.py(y), "x2": view.right, "y2": view.py(y), **style})
              for y in _ticks(view.y_min, view.y_max, y_step)]
    return lines


def _tick_text(x: float, y: float, label: str, anchor: str) -> str:
    return _tag("text", {"x": x, "y": y, "font-size": 10, "fill": _MUTED, "text-anchor": anchor}, label)


def _x_ticks(view: _View, step: float, origin_y: float) -> list[str]:
    below = origin_y + 14 <= view.bottom - 2
    lines = []
    for x in _ticks(view.x_min, view.x_max, step):
        px = view.px(x)
        if abs(x) < step / 2 or px - view.left < 12 or view.right - px < 12:
            continue
        lines.append(_tag("line", {"x1": px, "y1": origin_y - 3, "x2": px, "y2": origin_y + 3, "stroke": _AXIS}))
        lines.append(_tick_text(px, origin_y + 14 if below else origin_y - 6, _tick_label(x, step), "middle"))
    return lines


def _y_ticks(view: _View, step: float, origin_x: float) -> list[str]:
    left = origin_x - view.left >= 28
    lines = []
    for y in _ticks(view.y_min, view.y_max, step):
        py = view.py(y)
        if abs(y) < step / 2 or py - view.top < 10 or view.bottom - py < 10:
            continue
        lines.append(_tag("line", {"x1": origin_x - 3, "y1": py, "x2": origin_x + 3, "y2": py, "stroke": _AXIS}))
        lines.append(_tick_text(origin_x - 6 if left else origin_x + 6, py + 3.5, _tick_label(y, step),
                                "end" if left else "start"))
    return lines


def _axis_names(view: _View, origin_x: float, origin_y: float) -> list[str]:
    style = {"font-size": 12, "font-style": "italic", "fill": _MUTED}
    return [
        _tag("text", {"x": view.right - 4, "y": origin_y - 6, "text-anchor": "end", **style}, "x"),
        _tag("text", {"x": origin_x + 7, "y": view.top + 12, **style}, "y"),
    ]


# --- shapes ----------------------------------------------------------------------------------------------------

def _ink(command: dict) -> str:
    return PALETTE.get(command.get("color", DEFAULT_COLOR), PALETTE[DEFAULT_COLOR])


def _label(command: dict, x: float, y: float, anchor: str = "start") -> list[str]:
    if not command.get("label"):
        return []
    return [_tag("text", {"x": x, "y": y, "font-size": 13, "font-weight": 600, "fill": _ink(command),
                          "text-anchor": anchor, "stroke": "#ffffff", "stroke-width": 3.0,
                          "paint-order": "stroke", "stroke-linejoin": "round"}, command["label"])]


def _stroke(command: dict, width: float = 2.5) -> dict[str, Any]:
    return {"stroke": _ink(command), "stroke-width": width, "stroke-linecap": "round", "stroke-linejoin": "round"}


def _draw_point(command: dict, view: _View) -> list[str]:
    x, y = view.point(command["x"], command["y"])
    dot = _tag("circle", {"cx": x, "cy": y, "r": 4.5, "fill": _ink(command), "stroke": "#ffffff",
                          "stroke-width": 1.5})
    return [dot, *_label(command, x + 7, y - 7)]


def _draw_segment(command: dict, view: _View) -> list[str]:
    (x1, y1), (x2, y2) = view.point(command["x1"], command["y1"]), view.point(command["x2"], command["y2"])
    line = _tag("line", {"x1": x1, "y1": y1, "x2": x2, "y2": y2, **_stroke(command)})
    nx, ny = _normal(x1, y1, x2, y2)
    return [line, *_label(command, (x1 + x2) / 2 + 10 * nx, (y1 + y2) / 2 + 10 * ny + 4, "middle")]


def _normal(x1: float, y1: float, x2: float, y2: float) -> tuple[float, float]:
    length = math.hypot(x2 - x1, y2 - y1) or 1.0
    nx, ny = (y1 - y2) / length, (x2 - x1) / length
    return (nx, ny) if ny <= 0 else (-nx, -ny)


def _draw_arrow(command: dict, view: _View) -> list[str]:
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
        return [_tag("circle", {"cx": end[0], "cy": end[1], "r": 3.0, "fill": _ink(command)})]
    base = (end[0] - head * dx, end[1] - head * dy)
    half = head * 0.45
    corners = [end, (base[0] - half * dy, base[1] + half * dx), (base[0] + half * dy, base[1] - half * dx)]
    shaft = _tag("line", {"x1": start[0], "y1": start[1], "x2": base[0] + dx, "y2": base[1] + dy,
                          **_stroke(command, width)})
    tip = _tag("polygon", {"points": _points_attr(corners), "fill": _ink(command), "stroke": _ink(command),
                           "stroke-width": 1.0, "stroke-linejoin": "round"})
    return [shaft, tip]


def _points_attr(points: Iterable[tuple[float, float]]) -> str:
    return " ".join(f"{_num(x)},{_num(y)}" for x, y in points)


def _draw_circle(command: dict, view: _View) -> list[str]:
    cx, cy = view.point(command["x"], command["y"])
    rx, ry = command["r"] * view.kx, command["r"] * view.ky
    style = {"fill": _ink(command), "fill-opacity": 0.08, **_stroke(command, 2.25)}
    if abs(rx - ry) < 0.01:
        shape = _tag("circle", {"cx": cx, "cy": cy, "r": rx, **style})
    else:
        shape = _tag("ellipse", {"cx": cx, "cy": cy, "rx": rx, "ry": ry, **style})
    diagonal = math.sqrt(0.5)
    return [shape, *_label(command, cx + rx * diagonal + 4, cy - ry * diagonal - 4)]


def _draw_rect(command: dict, view: _View) -> list[str]:
    left, top = view.point(command["x"], command["y"] + command["h"])
    right, bottom = view.point(command["x"] + command["w"], command["y"])
    shape = _tag("rect", {"x": left, "y": top, "width": right - left, "height": bottom - top, "rx": 2.0,
                          "fill": _ink(command), "fill-opacity": 0.08, **_stroke(command, 2.25)})
    return [shape, *_label(command, left + 2, top - 7)]


def _draw_highlight(command: dict, view: _View) -> list[str]:
    left, top = view.point(command["x"], command["y"] + command["h"])
    right, bottom = view.point(command["x"] + command["w"], command["y"])
    return [_tag("rect", {"x": left, "y": top, "width": right - left, "height": bottom - top, "rx": 6.0,
                          "fill": _ink(command), "fill-opacity": 0.16, "stroke": _ink(command),
                          "stroke-opacity": 0.55, "stroke-width": 1.5, "stroke-dasharray": "6 4"})]


def _draw_polygon(command: dict, view: _View) -> list[str]:
    corners = [view.point(x, y) for x, y in command["points"]]
    shape = _tag("polygon", {"points": _points_attr(corners), "fill": _ink(command), "fill-opacity": 0.1,
                             **_stroke(command, 2.25)})
    cx = sum(x for x, _ in corners) / len(corners)
    cy = sum(y for _, y in corners) / len(corners)
    return [shape, *_label(command, cx, cy + 4, "middle")]


def _draw_text(command: dict, view: _View) -> list[str]:
    x, y = view.point(command["x"], command["y"])
    return [_tag("text", {"x": x, "y": y, "font-size": 15, "fill": _ink(command)}, command["text"])]


def _draw_plot(command: dict, view: _View) -> list[str]:
    try:
        function = compile_expression(command["expr"])
    except CanvasError:
        return []
    low = command.get("x_min", view.x_min)
    high = command.get("x_max", view.x_max)
    if low >= high:
        return []
    pieces = list(_plot_pieces(function, low, high, view))
    path = " ".join("M" + " L".join(f"{_num(x)} {_num(y)}" for x, y in piece) for piece in pieces)
    if not path:
        return []
    lines = [_tag("path", {"d": path, "fill": "none", **_stroke(command)})]
    end = _last_visible(pieces, view)
    return lines + (_label(command, end[0] - 4, end[1] - 8, "end") if end else [])


def _plot_pieces(function: Callable[[float], float], low: float, high: float,
                 view: _View) -> Iterator[list[tuple[float, float]]]:
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
             view: _View) -> bool:
    """Whether the curve breaks between samples ``a`` and ``b`` (a pole, as in tan): a big jump whose midpoint
    does not lie between the two values."""
    if abs(b[1] - a[1]) * view.ky < (view.bottom - view.top) / 2:
        return False
    middle = function((a[0] + b[0]) / 2)
    return not (math.isfinite(middle) and min(a[1], b[1]) <= middle <= max(a[1], b[1]))


def _last_visible(pieces: list[list[tuple[float, float]]], view: _View) -> tuple[float, float] | None:
    for piece in reversed(pieces):
        for x, y in reversed(piece):
            if view.left <= x <= view.right and view.top + 14 <= y <= view.bottom:
                return x, y
    return None


_DRAWERS: dict[str, Callable[[dict, _View], list[str]]] = {
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
