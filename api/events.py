"""Explanation events on the wire: position tokens, catch-up after a reconnect, and the bridges to the event loop
(from the shared pacer, from a thread).

A position token ``step:position:done`` says exactly what a client has: every event of the steps before ``step``,
that step's ``step_start``, its text up to the global character ``position``, and the first ``done`` of its
other events (canvas commands in order, then ``step_complete``). SSE sends it as the event ``id``; a reconnect's
``Last-Event-ID`` (or Socket.IO's ``last_position``) makes the server send, from the session's snapshot, exactly
what is missing up to the live cursor, then the live events. Token ``0:0:1`` means ``explanation_start`` only.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from dataclasses import dataclass
from typing import AsyncIterator, Callable, Iterator

import anyio
from anyio import to_thread

from core import safe_prefix
from core.errors import InvalidInput, TutorError

log = logging.getLogger(__name__)
TOKEN = re.compile(r"^(\d{1,6}):(\d{1,9}):(\d{1,6})$")
HEARTBEAT = object()
END = object()
TERMINAL = ("explanation_complete", "streaming_paused", "error")


@dataclass
class Cursor:
    step: int = 0
    position: int = 0
    done: int = 0

    @property
    def token(self) -> str:
        return f"{self.step}:{self.position}:{self.done}"

    @classmethod
    def parse(cls, token: str | int) -> "Cursor":
        """A token, or a bare global position (then everything due at or before it counts as received)."""
        if isinstance(token, int) and not isinstance(token, bool) and 0 <= token < 10**9:
            return cls(step=-1, position=token)
        match = TOKEN.match(token) if isinstance(token, str) else None
        if not match:
            raise InvalidInput("invalid_event_id")
        return cls(*map(int, match.groups()))

    def follow(self, item: dict) -> str | None:
        """Move along one live event; returns its id (None for events that are not part of the text)."""
        name, data = item["event"], item["data"]
        if name == "explanation_start":
            self.step, self.position, self.done = 0, 0, 1
        elif name == "step_start":
            self.step, self.done = data["step"], 0
        elif name in ("canvas_command", "step_complete"):
            self.done += 1
        elif name == "content_chunk":
            self.position = data["position"]
        elif name not in ("streaming_paused", "streaming_resumed", "explanation_complete"):
            return None
        return self.token


def cursor_of(snapshot: dict) -> Cursor:
    """The cursor after every event a reader has sent up to the snapshot's position."""
    steps = snapshot["steps"]
    if not steps:
        return Cursor()
    last = steps[-1]
    offset = sum(len(s["text"]) for s in steps[:-1])
    return Cursor(last["step"], offset + len(last["text"]), len(last["commands"]) + int(last["complete"]))


def truncate(snapshot: dict, step: int, position: int) -> dict:
    """The snapshot as it was when the cursor stood at (``step``, ``position``): a reader that took over there."""
    steps, offset = [], 0
    for item in snapshot["steps"][:step]:
        reached = max(0, min(len(item["text"]), position - offset))
        complete = item["complete"] and reached == len(item["text"])
        steps.append({**item, "text": item["text"][:reached], "complete": complete,
                      "commands": [c for c in item["commands"] if c.get("at_char", 0) <= reached]})
        offset += len(item["text"])
    return {**snapshot, "steps": steps, "step": step, "position": position}


def resolve(snapshot: dict, have: Cursor) -> Cursor:
    """A bare position made into a full token against the session's text."""
    if have.step != -1:
        return have
    return _from_position(snapshot["steps"], have.position) if have.position else Cursor()


def catch_up(snapshot: dict, have: Cursor) -> list[dict]:
    """The events a client holding ``have`` is missing to reach the snapshot's cursor (raises on a token that
    does not belong to this session's text)."""
    steps, out, offset = snapshot["steps"], [], 0
    have = resolve(snapshot, have)
    if steps and have.step == 0 and have.done == 0:
        out.append(_event("explanation_start", total_steps=snapshot["total_steps"],
                          estimated_duration=snapshot["total_duration"], question_hash=snapshot["question_hash"],
                          session_id=snapshot["session_id"]))
    if have.step > len(steps) or (have.step == 0 and (have.position or have.done > 1)):
        raise InvalidInput("invalid_event_id")
    for step in steps:
        number, text, commands = step["step"], step["text"], step["commands"]
        if number < have.step:
            offset += len(text)
            continue
        start, done = 0, 0
        if number == have.step:
            start, done = have.position - offset, have.done
            due = sum(1 for c in commands if c.get("at_char", 0) <= start)
            due += int(start == len(text) and step["complete"])
            if not 0 <= start <= len(text) or done > due or len(safe_prefix(text, start)) != start:
                raise InvalidInput("invalid_event_id")  # out of range, or inside a formula: never sent
        else:
            out.append(_event("step_start", step=number, title=step["title"], type=step["type"]))
        out += _rest_of_step(number, offset, text, commands, start, done, step["complete"])
        offset += len(text)
    return out


def _rest_of_step(number, offset, text, commands, start, done, complete) -> list[dict]:
    out = []
    for command in commands[done:]:
        at = command.get("at_char", 0)
        if at > start:
            out.append(_chunk(number, text, start, at, offset, complete))
            start = at
        out.append(_event("canvas_command", step=number, command=command))
    if start < len(text):
        out.append(_chunk(number, text, start, len(text), offset, complete))
    if complete and done <= len(commands):
        out.append(_event("step_complete", step=number))
    return out


def _chunk(number, text, a, b, offset, complete) -> dict:
    return _event("content_chunk", step=number, chunk=text[a:b], position=offset + b,
                  is_final=complete and b == len(text))


def _from_position(steps: list[dict], position: int) -> Cursor:
    offset = 0
    for step in steps:
        end = offset + len(step["text"])
        if position <= end:
            rel = position - offset
            done = sum(1 for c in step["commands"] if c.get("at_char", 0) <= rel)
            return Cursor(step["step"], position, done + int(rel == len(step["text"]) and step["complete"]))
        offset = end
    raise InvalidInput("invalid_event_id")


def _event(name: str, **data) -> dict:
    return {"event": name, "data": data}


_running: set[asyncio.Future] = set()


def keep(task: asyncio.Future) -> asyncio.Future:
    """Hold a background task until it ends (the event loop keeps only weak references), logging its failure."""
    _running.add(task)
    task.add_done_callback(_done)
    return task


def _done(task: asyncio.Future) -> None:
    _running.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("background task failed", exc_info=task.exception())


def sse(item: dict | None, event_id: str | None = None) -> str:
    """One SSE message (a heartbeat comment when ``item`` is None)."""
    if item is None:
        return ": ping\n\n"
    data = json.dumps(item["data"], ensure_ascii=False, separators=(",", ":"))
    return f"event: {item['event']}\ndata: {data}\n" + (f"id: {event_id}\n" if event_id else "") + "\n"


async def paced(start: Callable[[Callable[[list, bool], None]], object], limiter: anyio.CapacityLimiter,
                heartbeat: float | None = None, tee: asyncio.Queue | None = None) -> AsyncIterator[dict]:
    """The events of a reader run by the tutor's shared pacer (``start(deliver)`` is ``tutor.follow``; it runs the
    reader's start in a worker thread, then each batch comes here with one ``call_soon_threadsafe``). Like
    ``bridge``: ``HEARTBEAT`` after ``heartbeat`` quiet seconds, a ``TutorError`` item ends it, closing this
    iterator (a client that left) cancels the reader, and ``tee`` gets every event in order, then ``END``."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()

    def arrived(items: list, end: bool) -> None:
        for item in items + [END] if end else items:
            queue.put_nowait(item)
            if tee is not None:
                tee.put_nowait(item)

    def deliver(items: list, end: bool) -> None:
        loop.call_soon_threadsafe(arrived, items, end)  # RuntimeError once the loop is gone: the pacer stops it

    started: list = []  # the handle, even when this task is cancelled while the start runs
    try:
        await to_thread.run_sync(lambda: started.append(start(deliver)), limiter=limiter)
        while (item := await _next(queue, heartbeat)) is not END:
            yield item
    finally:
        for following in started:
            following.cancel()


async def bridge(produce: Callable[[], Iterator[dict]], limiter: anyio.CapacityLimiter,
                 heartbeat: float | None = None, tee: asyncio.Queue | None = None) -> AsyncIterator[dict]:
    """Run a blocking event generator in a worker thread and yield its events here (``HEARTBEAT`` after
    ``heartbeat`` quiet seconds). Closing this iterator (a client that left) stops the generator at its next
    event, as a closed tab stops the page's loop. ``tee`` also gets every event, in order, then ``END``, even
    the last one produced after the client left (the reader had already moved the cursor past it)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    stop = threading.Event()
    end = END

    def deliver(item) -> None:
        queue.put_nowait(item)
        if tee is not None:
            tee.put_nowait(item)

    def put(item) -> None:
        try:
            loop.call_soon_threadsafe(deliver, item)
        except RuntimeError:  # the loop is gone (server shutting down)
            stop.set()

    def pump() -> None:
        events = None
        try:
            events = produce()
            for item in events:
                put(item)
                if stop.is_set():
                    break
        except TutorError as error:
            put(error)
        except Exception:  # never a traceback to the client; the log has it
            log.exception("event stream failed")
            put(TutorError("error"))
        finally:
            if events is not None and hasattr(events, "close"):
                events.close()
            put(end)

    keep(asyncio.ensure_future(to_thread.run_sync(pump, limiter=limiter)))
    try:
        while (item := await _next(queue, heartbeat)) is not end:
            yield item
    finally:
        stop.set()


async def _next(queue: asyncio.Queue, heartbeat: float | None):
    """The queue's next item, or ``HEARTBEAT`` once ``heartbeat`` seconds pass without one (a timer, not
    ``wait_for``: ``wait_for`` costs a task per item)."""
    if not heartbeat:
        return await queue.get()
    timer = asyncio.get_running_loop().call_later(heartbeat, queue.put_nowait, HEARTBEAT)
    try:
        return await queue.get()
    finally:
        timer.cancel()
