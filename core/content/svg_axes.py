"""The whiteboard's axes: grid, axis lines, numbered ticks and axis names, as the ``axes`` command asks.

``draw_axes(command, view)`` returns a ``Drawing``: the grid, lines and tick numbers as SVG elements, the axis
lines and tick numbers as things labels should avoid, and the axis names as labels to place (at the ends of the
axes, where data rarely is). Tick numbers are ``TICK_SIZE`` units high, readable when the board is shown at 320 px.
"""
from __future__ import annotations

import math

from .svg_shapes import CHAR_WIDTH, Drawing, Label, View, clamp, tag, text_box

INK, MUTED, AXIS, GRID = "#0f172a", "#475569", "#94a3b8", "#e8edf4"
TICK_SIZE, NAME_SIZE = 13.5, 14.0


def draw_axes(command: dict | None, view: View) -> Drawing:
    if not command or not command.get("visible", True):
        return Drawing()
    x_step = _nice_step(view.x_max - view.x_min, max(2, round((view.right - view.left) / 48)))
    y_step = _nice_step(view.y_max - view.y_min, max(2, round((view.bottom - view.top) / 34)))
    drawing = Drawing(shapes=_grid(view, x_step / 2, y_step / 2) if command.get("grid") else [])
    origin_x = view.px(clamp(0.0, view.x_min, view.x_max))
    origin_y = view.py(clamp(0.0, view.y_min, view.y_max))
    line = {"stroke": AXIS, "stroke-width": 1.25, "stroke-linecap": "round"}
    drawing.shapes.append(tag("line", {"x1": view.left, "y1": origin_y, "x2": view.right, "y2": origin_y, **line}))
    drawing.shapes.append(tag("line", {"x1": origin_x, "y1": view.top, "x2": origin_x, "y2": view.bottom, **line}))
    drawing.lines += [((view.left, origin_y), (view.right, origin_y)), ((origin_x, view.top), (origin_x, view.bottom))]
    if command.get("ticks", True):
        _x_ticks(drawing, view, x_step, origin_y)
        _y_ticks(drawing, view, y_step, origin_x)
    drawing.labels += _axis_names(command, view, origin_x, origin_y)
    return drawing


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


def _grid(view: View, x_step: float, y_step: float) -> list[str]:
    style = {"stroke": GRID, "stroke-width": 1.0}
    lines = [tag("line", {"x1": view.px(x), "y1": view.top, "x2": view.px(x), "y2": view.bottom, **style})
             for x in _ticks(view.x_min, view.x_max, x_step)]
    lines += [tag("line", {"x1": view.left, "y1": view.py(y), "x2": view.right, "y2": view.py(y), **style})
              for y in _ticks(view.y_min, view.y_max, y_step)]
    return lines


def _tick_text(drawing: Drawing, x: float, y: float, label: str, anchor: str) -> None:
    drawing.shapes.append(tag("text", {"x": x, "y": y, "font-size": TICK_SIZE, "fill": MUTED, "text-anchor": anchor},
                              label))
    width = len(label) * CHAR_WIDTH * TICK_SIZE
    left = x - width / 2 if anchor == "middle" else x - width if anchor == "end" else x
    drawing.boxes.append(text_box(left, y, width, TICK_SIZE))


def _x_ticks(drawing: Drawing, view: View, step: float, origin_y: float) -> None:
    below = origin_y + 17 <= view.bottom - 1
    for x in _ticks(view.x_min, view.x_max, step):
        px = view.px(x)
        if abs(x) < step / 2 or px - view.left < 14 or view.right - px < 14:
            continue
        drawing.shapes.append(tag("line", {"x1": px, "y1": origin_y - 3, "x2": px, "y2": origin_y + 3,
                                           "stroke": AXIS}))
        _tick_text(drawing, px, origin_y + 17 if below else origin_y - 6, _tick_label(x, step), "middle")


def _y_ticks(drawing: Drawing, view: View, step: float, origin_x: float) -> None:
    left = origin_x - view.left >= 34
    for y in _ticks(view.y_min, view.y_max, step):
        py = view.py(y)
        if abs(y) < step / 2 or py - view.top < 12 or view.bottom - py < 12:
            continue
        drawing.shapes.append(tag("line", {"x1": origin_x - 3, "y1": py, "x2": origin_x + 3, "y2": py,
                                           "stroke": AXIS}))
        _tick_text(drawing, origin_x - 6 if left else origin_x + 6, py + 4.5, _tick_label(y, step),
                   "end" if left else "start")


def _axis_names(command: dict, view: View, origin_x: float, origin_y: float) -> list[Label]:
    """The axis names at the axes' far ends: the x name right-aligned at the right end (above the axis, or below),
    the y name at the top (right of the axis, or left)."""
    x_name, y_name = command.get("x_label", "x"), command.get("y_label", "y")
    x_spots = ((view.right - 4, origin_y - 8, "end"), (view.right - 4, origin_y + 19, "end"),
               (view.right - 4, origin_y - 8 - NAME_SIZE, "end"))
    y_spots = ((origin_x + 8, view.top + 13, "start"), (origin_x - 8, view.top + 13, "end"),
               (origin_x + 8, view.top + 13 + NAME_SIZE, "start"))
    return [Label(x_name, MUTED, x_spots, NAME_SIZE, bold=False), Label(y_name, MUTED, y_spots, NAME_SIZE, bold=False)]
