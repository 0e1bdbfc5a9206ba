"""The whiteboard and the wire of ``GET /api/v1/sessions/{id}/live``, the stream of the pages' explanation component.

The route (api/rest.py) sends the same events as ``/events`` (same ids, catch-up and takeover), except that
whiteboard drawings travel as ``board`` events carrying patches computed here, per stream, by ``core.Board``: one
``reset`` with the board so far when the stream opens, then the ``append``/``replace`` patches of each
``canvas_command`` (the command itself is not sent: no client of this route draws commands).

The wire is lean (``message``): a text chunk is ``event:c`` with only the chunk, as a JSON string, and an ``id``
only on a step's last chunk — the client counts the chunk's code points (Python's ``len``) to keep its position
token, and checks it against those ids; every other event is sent as on ``/events`` (same ids). The body is
gzip-compressed when the browser accepts it, flushed after every message (``Z_PARTIAL_FLUSH``: an empty 10-bit
block instead of ``Z_SYNC_FLUSH``'s 4-byte one) so nothing waits in a buffer.
"""
from __future__ import annotations

import json
import zlib

from fastapi.responses import StreamingResponse

from core import Board

HEADERS = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"}


def drawn_before(snapshot: dict, have) -> list[dict]:
    """The canvas commands a client holding the cursor ``have`` has already received, in the order sent."""
    commands: list[dict] = []
    for step in snapshot["steps"]:
        if step["step"] < have.step:
            commands += step["commands"]
        elif step["step"] == have.step:
            commands += step["commands"][:have.done]
    return commands


class BoardStream:
    """One stream's whiteboard: the board so far as a ``reset``, then ``canvas_command`` events as patches."""

    def __init__(self, session_id: str, commands: list[dict]):
        self.board = Board(key=session_id)  # one clip-path id for the session: patches match a reset's board
        for command in commands:
            self.board.add(command)
        self.first = {"event": "board", "data": {"patches": [{"op": "reset", "svg": self.board.svg()}]}}

    def translate(self, item: dict | None) -> dict | None:
        if item is None or item["event"] != "canvas_command":
            return item
        data = item["data"]
        return {"event": "board", "data": {"step": data["step"], "patches": self.board.add(data["command"])}}

    async def translated(self, pairs):
        async for item, event_id in pairs:
            yield self.translate(item), event_id


def message(item: dict | None, event_id: str | None = None) -> str:
    """One SSE message of this stream (a heartbeat comment when ``item`` is None)."""
    if item is None:
        return ": ping\n\n"
    data = item["data"]
    if item["event"] == "content_chunk":
        last = f"id:{event_id}\n" if event_id and data["is_final"] else ""
        return f"event:c\ndata:{json.dumps(data['chunk'], ensure_ascii=False)}\n{last}\n"
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"event:{item['event']}\ndata:{body}\n" + (f"id:{event_id}\n" if event_id else "") + "\n"


def gzip_per_message():
    """An encoder of SSE messages into one gzip stream, flushed after each message: everything sent so far can
    be decoded, with the fewest bytes a flush costs."""
    packer = zlib.compressobj(6, zlib.DEFLATED, 31)
    return lambda text: packer.compress(text.encode()) + packer.flush(zlib.Z_PARTIAL_FLUSH)


def response(first: str, messages, accept_encoding: str) -> StreamingResponse:
    """``first`` then ``messages`` (SSE texts) as a streaming response, gzipped when the client accepts it."""
    gzip = "gzip" in accept_encoding.lower()
    encode = gzip_per_message() if gzip else str.encode

    async def body():
        yield encode(first)
        async for text in messages:
            yield encode(text)

    headers = {**HEADERS, **({"Content-Encoding": "gzip", "Vary": "Accept-Encoding"} if gzip else {})}
    return StreamingResponse(body(), media_type="text/event-stream", headers=headers)
