"""The whiteboard as SVG: validated canvas commands drawn as a standalone, escaped SVG string.

Every piece of text and every attribute is escaped (and ``$`` too, so Markdown never renders maths inside the
drawing), so the SVG can be embedded in a page with ``unsafe_allow_html``. One element per line, no blank lines:
it stays a single HTML block inside Markdown.
"""
from __future__ import annotations

import hashlib
import json
import math

from .canvas import DEFAULT_VIEW, clean_text
from .svg_shapes import DRAWERS, View, clamp, open_tag, tag

SVG_NS = "http://www.w3.org/2000/svg"
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
_INK, _MUTED, _AXIS, _GRID, _BORDER = "#0f172a", "#64748b", "#94a3b8", "#eef2f7", "#e2e8f0"
_MARGIN = 10.0
_TITLE_BAND = 34.0


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
    view = View(_MARGIN, top, width - _MARGIN, height - _MARGIN, *bounds)
    clip_id = "cv-" + _fingerprint(board, width, height, title)
    lines = [_svg_open(width, height, title), *_header(width, height, title, view, clip_id)]
    if axes:
        lines += _draw_axes(view, bool(axes.get("grid")))
    lines.append(open_tag("g", {"clip-path": f"url(#{clip_id})"}))
    for command in board:
        lines += DRAWERS.get(command["op"], _nothing)(command, view)
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
    return open_tag("svg", attrs)


def _header(width: int, height: int, title: str | None, view: View, clip_id: str) -> list[str]:
    lines = []
    if title:
        lines.append(tag("title", {}, title))
    lines.append("<defs>")
    lines.append(open_tag("clipPath", {"id": clip_id}))
    lines.append(tag("rect", {"x": view.left, "y": view.top, "width": view.right - view.left,
                               "height": view.bottom - view.top, "rx": 6.0}))
    lines += ["</clipPath>", "</defs>"]
    lines.append(tag("rect", {"x": 0.5, "y": 0.5, "width": width - 1.0, "height": height - 1.0, "rx": 14.0,
                               "fill": "#ffffff", "stroke": _BORDER}))
    if title:
        lines.append(tag("text", {"x": 16.0, "y": _MARGIN + 19.0, "font-size": 15, "font-weight": 600,
                                   "fill": _INK}, _shorten(clean_text(title), 60)))
    return lines


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _nothing(command: dict, view: View) -> list[str]:
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


def _draw_axes(view: View, grid: bool) -> list[str]:
    x_step = _nice_step(view.x_max - view.x_min, max(2, round((view.right - view.left) / 40)))
    y_step = _nice_step(view.y_max - view.y_min, max(2, round((view.bottom - view.top) / 30)))
    lines = _draw_grid(view, x_step / 2, y_step / 2) if grid else []
    origin_x = view.px(clamp(0.0, view.x_min, view.x_max))
    origin_y = view.py(clamp(0.0, view.y_min, view.y_max))
    line = {"stroke": _AXIS, "stroke-width": 1.25, "stroke-linecap": "round"}
    lines.append(tag("line", {"x1": view.left, "y1": origin_y, "x2": view.right, "y2": origin_y, **line}))
    lines.append(tag("line", {"x1": origin_x, "y1": view.top, "x2": origin_x, "y2": view.bottom, **line}))
    lines += _x_ticks(view, x_step, origin_y) + _y_ticks(view, y_step, origin_x)
    lines += _axis_names(view, origin_x, origin_y)
    return lines


def _draw_grid(view: View, x_step: float, y_step: float) -> list[str]:
    style = {"stroke": _GRID, "stroke-width": 1.0}
    lines = [tag("line", {"x1": view.px(x), "y1": view.top, "x2": view.px(x), "y2": view.bottom, **style})
             for x in _ticks(view.x_min, view.x_max, x_step)]
    lines += [tag("line", {"x1": view.left, "y1": view.py(y), "x2": view.right, "y2": view.py(y), **style})
              for y in _ticks(view.y_min, view.y_max, y_step)]
    return lines


def _tick_text(x: float, y: float, label: str, anchor: str) -> str:
    return tag("text", {"x": x, "y": y, "font-size": 10, "fill": _MUTED, "text-anchor": anchor}, label)


def _x_ticks(view: View, step: float, origin_y: float) -> list[str]:
    below = origin_y + 14 <= view.bottom - 2
    lines = []
    for x in _ticks(view.x_min, view.x_max, step):
        px = view.px(x)
        if abs(x) < step / 2 or px - view.left < 12 or view.right - px < 12:
            continue
        lines.append(tag("line", {"x1": px, "y1": origin_y - 3, "x2": px, "y2": origin_y + 3, "stroke": _AXIS}))
        lines.append(_tick_text(px, origin_y + 14 if below else origin_y - 6, _tick_label(x, step), "middle"))
    return lines


def _y_ticks(view: View, step: float, origin_x: float) -> list[str]:
    left = origin_x - view.left >= 28
    lines = []
    for y in _ticks(view.y_min, view.y_max, step):
        py = view.py(y)
        if abs(y) < step / 2 or py - view.top < 10 or view.bottom - py < 10:
            continue
        lines.append(tag("line", {"x1": origin_x - 3, "y1": py, "x2": origin_x + 3, "y2": py, "stroke": _AXIS}))
        lines.append(_tick_text(origin_x - 6 if left else origin_x + 6, py + 3.5, _tick_label(y, step),
                                "end" if left else "start"))
    return lines


def _axis_names(view: View, origin_x: float, origin_y: float) -> list[str]:
    style = {"font-size": 12, "font-style": "italic", "fill": _MUTED}
    return [
        tag("text", {"x": view.right - 4, "y": origin_y - 6, "text-anchor": "end", **style}, "x"),
        tag("text", {"x": origin_x + 7, "y": view.top + 12, **style}, "y"),
    ]
