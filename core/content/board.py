"""The whiteboard, drawn one command at a time: the whole SVG once, then only what each command adds.

``Board.add(command)`` takes one validated canvas command and returns the patches that bring a copy of the board
up to date (one JSON-able dict each):

- ``{"op": "reset", "svg": "<svg ...>...</svg>"}``: the whole board — at the first command, at ``clear``, and when
  an ``axes`` command moves shapes already drawn (they are drawn again in the new coordinates);
- ``{"op": "append", "layer": NAME, "svg": ELEMENTS}``: elements to append inside ``<g data-layer="NAME">``;
- ``{"op": "replace", "id": ID, "svg": ELEMENT}``: the new element for the one carrying ``data-id="ID"`` (the axes,
  ``_axes``, when an ``axes`` command keeps the coordinates; a drawing given an ``id``, ``ID`` for its shapes and
  ``ID:label`` for its labels, when a later command has the same id).

``Board.svg()`` is the whole board as it stands, and ``render_svg`` is a board given every command, so a copy
patched command by command and a board drawn at once are the same by construction. Layers, bottom to top: ``axes``
(grid, axes, tick numbers, axis names), ``shapes`` (clipped to the plot area), ``labels``. Labels are placed
greedily: each takes the first of its candidate spots whose estimated box overlaps no earlier label, axis, tick
number or line; all of them have a white halo. Every text and attribute is escaped (and ``$`` too, so Markdown
never renders maths inside the drawing); one element per line and no blank lines, so the SVG stays one HTML block
inside Markdown.
"""
from __future__ import annotations

import hashlib
import secrets

from .canvas import DEFAULT_VIEW, clean_text
from .svg_axes import INK, draw_axes
from .svg_shapes import CHAR_WIDTH, DRAWERS, Box, Drawing, Label, Line, View, open_tag, tag, text_box

SVG_NS = "http://www.w3.org/2000/svg"
WIDTH, HEIGHT = 360, 270  # a 4:3 viewBox: at 320 px on screen a 13.5-unit text is 12 px
MARGIN, TITLE_BAND, TITLE_SIZE = 10.0, 30.0, 16.0
LAYERS = ("axes", "shapes", "labels")
AXES_ID = "_axes"
_FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
_BORDER = "#cbd5e1"
_HALO = {"stroke": "#ffffff", "stroke-width": 4.0, "stroke-linejoin": "round", "paint-order": "stroke"}
_CHUNK = 16  # lines are checked against a label's box by bounding boxes of this many


class Board:
    """One whiteboard: feed it validated commands in order with ``add``; ``svg()`` is the board so far.

    ``key`` names the board: its clip-path id derives from it (a random key when ``None``), fixed for the board's
    life so that patches never refer to an id a copy does not have, and different for two boards on one page.
    """

    def __init__(self, title: str | None = None, width: int = WIDTH, height: int = HEIGHT, *, key: str | None = None):
        self.title, self.width, self.height = title, width, height
        seed = key if key is not None else secrets.token_hex(8)
        self._clip_id = "cv-" + hashlib.sha1(seed.encode()).hexdigest()[:10]
        self._top = MARGIN + (TITLE_BAND if title else 0.0)
        self._started = False
        self._start()

    # --- the patches --------------------------------------------------------------------------------------------

    def add(self, command: dict) -> list[dict]:
        """The patches that bring a copy of the board from before ``command`` to after it."""
        op = command.get("op")
        first, self._started = not self._started, True
        if op == "clear":
            self._start()
            return [self._reset()]
        if op == "axes":
            return self._set_axes(command, first)
        if op not in DRAWERS:
            return [self._reset()] if first else []
        self._commands.append(command)
        if first:
            self._redraw()
            return [self._reset()]
        return self._draw(command)

    def svg(self) -> str:
        """The whole board as a standalone SVG string."""
        lines = [self._svg_open(), *self._header()]
        for name in LAYERS:
            clip = f"url(#{self._clip_id})" if name == "shapes" else None
            lines += [open_tag("g", {"data-layer": name, "clip-path": clip}), *self._layers[name], "</g>"]
        lines.append("</svg>")
        return "\n".join(lines)

    def _reset(self) -> dict:
        return {"op": "reset", "svg": self.svg()}

    def _set_axes(self, command: dict, first: bool) -> list[dict]:
        bounds = (command["x_min"], command["x_max"], command["y_min"], command["y_max"])
        moved = bounds != (self._view.x_min, self._view.x_max, self._view.y_min, self._view.y_max)
        self._axes, self._view = command, self._view_of(bounds)
        if first or (moved and self._commands):
            self._redraw()
            return [self._reset()]
        self._forget(AXES_ID)
        self._layers["axes"] = [self._axes_group()]
        return [{"op": "replace", "id": AXES_ID, "svg": self._layers["axes"][0]}]

    # --- the state ----------------------------------------------------------------------------------------------

    def _start(self) -> None:
        """An empty board in the default coordinates (as after ``clear``)."""
        self._axes: dict | None = None
        self._commands: list[dict] = []
        self._view = self._view_of(DEFAULT_VIEW)
        self._redraw()

    def _view_of(self, bounds: tuple[float, float, float, float]) -> View:
        return View(MARGIN, self._top, self.width - MARGIN, self.height - MARGIN, *bounds)

    def _clean(self) -> None:
        self._layers: dict[str, list[str]] = {name: [] for name in LAYERS}
        self._slots: dict[str, tuple[str, int]] = {}  # data-id → (layer, index) of the element carrying it
        self._labels: list[tuple[str | None, Box]] = []  # placed labels, by owner (a command's id, or None)
        self._boxes: list[tuple[str | None, Box]] = []  # what labels avoid: tick numbers, dots
        self._lines: list[tuple[str | None, Box, list[Line]]] = []  # and lines, in chunks with their bounding box

    def _redraw(self) -> None:
        """Everything drawn again from the commands since the last ``clear`` (after the coordinates changed)."""
        self._clean()
        self._layers["axes"] = [self._axes_group()]
        for command in self._commands:
            self._draw(command)

    def _axes_group(self) -> str:
        drawing = draw_axes(self._axes, self._view)
        self._remember(AXES_ID, drawing)
        names = [self._place(label, AXES_ID) for label in drawing.labels]
        return _group(AXES_ID, drawing.shapes + names)

    def _draw(self, command: dict) -> list[dict]:
        drawing = DRAWERS[command["op"]](command, self._view)
        owner = command.get("id")
        if owner:
            self._forget(owner)
        self._remember(owner, drawing)
        texts = [self._place(label, owner) for label in drawing.labels]
        if not owner:
            return [self._append(layer, elements) for layer, elements in (("shapes", drawing.shapes),
                                                                          ("labels", texts)) if elements]
        return [self._put("shapes", owner, _group(owner, drawing.shapes)),
                self._put("labels", f"{owner}:label", _group(f"{owner}:label", texts))]

    def _append(self, layer: str, elements: list[str]) -> dict:
        self._layers[layer] += elements
        return {"op": "append", "layer": layer, "svg": "\n".join(elements)}

    def _put(self, layer: str, slot: str, element: str) -> dict:
        if slot in self._slots:
            layer, index = self._slots[slot]
            self._layers[layer][index] = element
            return {"op": "replace", "id": slot, "svg": element}
        self._slots[slot] = (layer, len(self._layers[layer]))
        return self._append(layer, [element])

    # --- label placement ----------------------------------------------------------------------------------------

    def _remember(self, owner: str | None, drawing: Drawing) -> None:
        self._boxes += [(owner, box) for box in drawing.boxes]
        for start in range(0, len(drawing.lines), _CHUNK):
            chunk = drawing.lines[start:start + _CHUNK]
            xs = [x for line in chunk for x, _ in line]
            ys = [y for line in chunk for _, y in line]
            self._lines.append((owner, (min(xs), min(ys), max(xs), max(ys)), chunk))

    def _forget(self, owner: str) -> None:
        self._labels = [item for item in self._labels if item[0] != owner]
        self._boxes = [item for item in self._boxes if item[0] != owner]
        self._lines = [item for item in self._lines if item[0] != owner]

    def _place(self, label: Label, owner: str | None) -> str:
        """``label`` as a text element at its best spot; its box is kept for the labels placed after it."""
        text = clean_text(label.text)
        width = len(text) * CHAR_WIDTH * label.size
        spots = [self._inside(spot, width, label.size) for spot in label.spots]
        boxes = [text_box(_left(x, width, anchor), y, width, label.size) for x, y, anchor in spots]
        best = min(range(len(boxes)), key=lambda i: (self._cost(boxes[i]), i))
        x, y, anchor = spots[best]
        self._labels.append((owner, boxes[best]))
        attrs = {"x": x, "y": y, "font-size": label.size, "font-weight": 600 if label.bold else None,
                 "fill": label.color, "text-anchor": None if anchor == "start" else anchor, **_HALO}
        return tag("text", attrs, text)

    def _inside(self, spot: tuple[float, float, str], width: float, size: float) -> tuple[float, float, str]:
        """``spot`` moved the least that keeps a text of ``width`` and ``size`` on the board (a cut text is lost)."""
        x, y, anchor = spot
        left = _left(x, width, anchor)
        x += max(0.0, 4 - left) - max(0.0, left + width - (self.width - 4))
        y += max(0.0, self._top + 0.78 * size - y) - max(0.0, y + 0.22 * size - (self.height - MARGIN + 4))
        return x, y, anchor

    def _cost(self, box: Box) -> int:
        cost = 1000 * sum(_overlap(box, other) for _, other in self._labels)
        cost += 150 * sum(_overlap(box, other) for _, other in self._boxes)
        for _, bounds, chunk in self._lines:
            if _overlap(box, bounds):
                cost += 10 * any(_crosses(box, *line) for line in chunk)
        return cost

    # --- the frame ----------------------------------------------------------------------------------------------

    def _svg_open(self) -> str:
        attrs = {"xmlns": SVG_NS, "viewBox": f"0 0 {self.width} {self.height}", "width": self.width,
                 "height": self.height, "role": "img", "aria-label": self.title, "font-family": _FONT,
                 "style": "width:100%;max-width:100%;height:auto"}
        return open_tag("svg", attrs)

    def _header(self) -> list[str]:
        view = self._view
        lines = [tag("title", {}, self.title)] if self.title else []
        lines += ["<defs>", open_tag("clipPath", {"id": self._clip_id}),
                  tag("rect", {"x": view.left, "y": view.top, "width": view.right - view.left,
                               "height": view.bottom - view.top, "rx": 6.0}), "</clipPath>", "</defs>"]
        lines.append(tag("rect", {"x": 0.5, "y": 0.5, "width": self.width - 1.0, "height": self.height - 1.0,
                                  "rx": 12.0, "fill": "#ffffff", "stroke": _BORDER}))
        if self.title:
            lines.append(tag("text", {"x": 14.0, "y": MARGIN + 18.0, "font-size": TITLE_SIZE, "font-weight": 600,
                                      "fill": INK}, _shorten(clean_text(self.title), 38)))
        return lines


def _group(slot: str, elements: list[str]) -> str:
    if not elements:
        return tag("g", {"data-id": slot})
    return "\n".join([open_tag("g", {"data-id": slot}), *elements, "</g>"])


def _left(x: float, width: float, anchor: str) -> float:
    return x - width / 2 if anchor == "middle" else x - width if anchor == "end" else x


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _crosses(box: Box, start: tuple[float, float], end: tuple[float, float]) -> bool:
    """Whether the segment from ``start`` to ``end`` passes through ``box`` (Liang–Barsky clipping)."""
    low, high = 0.0, 1.0
    dx, dy = end[0] - start[0], end[1] - start[1]
    for p, q in ((-dx, start[0] - box[0]), (dx, box[2] - start[0]), (-dy, start[1] - box[1]), (dy, box[3] - start[1])):
        if p == 0:
            if q < 0:
                return False
        elif p < 0:
            low = max(low, q / p)
        else:
            high = min(high, q / p)
        if low > high:
            return False
    return True
