"""The whiteboard as SVG: validated canvas commands drawn as a standalone, escaped SVG string.

``render_svg`` is a ``board.Board`` given every command, then its ``svg()``: the same code path as the patches a
live board sends, so both draw the same thing. Every piece of text and every attribute is escaped (and ``$`` too,
so Markdown never renders maths inside the drawing), so the SVG can be embedded in a page with
``unsafe_allow_html``. One element per line, no blank lines: it stays a single HTML block inside Markdown.
"""
from __future__ import annotations

import hashlib
import json

from .board import HEIGHT, WIDTH, Board


def render_svg(commands: list[dict], *, width: int = WIDTH, height: int = HEIGHT, title: str | None = None,
               key: str | None = None) -> str:
    """A standalone SVG drawing of validated ``commands``, in order.

    ``clear`` wipes everything before it (coordinates go back to the default -10..10); the latest ``axes`` sets
    the coordinates for the whole board. ``key`` names the board (its clip-path id); by default it is a
    fingerprint of what the board shows, so the same commands always give the same SVG.
    """
    board = Board(title, width, height, key=key if key is not None else _fingerprint(commands, width, height, title))
    for command in commands:
        board.add(command)
    return board.svg()


def _fingerprint(commands: list[dict], width: int, height: int, title: str | None) -> str:
    last_clear = max((i for i, c in enumerate(commands) if c.get("op") == "clear"), default=-1)
    data = json.dumps([commands[last_clear + 1:], width, height, title], sort_keys=True, default=str)
    return hashlib.sha1(data.encode()).hexdigest()
