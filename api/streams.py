"""The live streams shared by SSE and Socket.IO: an explanation from a reconnect point, and a chat reply.

Each yields ``(event, id)`` pairs. Every live explanation event is also handed to ``publish`` (the Socket.IO room of
the session, across processes when Redis is configured, when someone watches it: api/watching.py), so clients
following a session see what its reader sends.
"""
from __future__ import annotations

import asyncio
import logging
import uuid
from functools import partial
from typing import AsyncIterator, Awaitable, Callable

import anyio
from starlette.concurrency import run_in_threadpool

from core.errors import TutorError

from .events import END, HEARTBEAT, TERMINAL, Cursor, bridge, catch_up, cursor_of, keep, paced, resolve, truncate
from .watching import Held, Watching

log = logging.getLogger(__name__)
Publish = Callable[[str, dict], Awaitable[None]]
HEARTBEAT_S = 15.0


async def explanation(tutor, identity, session_id: str, have: Cursor | None, *, limiter: anyio.CapacityLimiter,
                      publish: Publish | None = None, watching: Watching | None = None,
                      heartbeat: float | None = HEARTBEAT_S) -> AsyncIterator[tuple[dict | None, str | None]]:
    """Follow a session as a new reader (taking over from any other, as a second tab does), first sending what a
    client holding ``have`` is missing. ``(None, None)`` is a heartbeat. The reader is paced by the tutor's shared
    pacer (``tutor.follow``); ``limiter`` bounds the worker threads that run reader starts. With ``watching``, the
    events go to ``publish`` only while the session is watched (api/watching.py)."""
    reader = f"api.{uuid.uuid4().hex}"
    tee = None
    if publish is not None:
        tee = asyncio.Queue()
        keep(asyncio.ensure_future(_publish_all(tee, session_id, publish, identity.language, watching)))

    def start(deliver):
        if watching is not None:
            watching.check(tutor, session_id)
        return tutor.follow(identity, session_id, reader=reader, deliver=deliver)

    live = paced(start, limiter, heartbeat, tee)
    try:
        async for pair in _follow(tutor, identity, session_id, have, live):
            yield pair
    finally:
        await live.aclose()  # a client that left stops the reader at its next event


async def _publish_all(events: asyncio.Queue, session_id: str, publish: Publish, language: str,
                       watching: Watching | None) -> None:
    """Hand every live event to ``publish`` in order, until the reader's end (outliving its client); with
    ``watching``, only while the session is watched (``watching.Held``)."""
    if watching is None:
        return await _send_all(events, language, partial(publish, session_id), session_id)
    held = Held(watching, session_id, publish)
    with watching.streaming(session_id):
        await _send_all(events, language, held.send, session_id)
        await held.close()


async def _send_all(events: asyncio.Queue, language: str, send, session_id: str) -> None:
    while (item := await events.get()) is not END:
        if isinstance(item, TutorError):
            item = item.to_event(language)
        try:
            await send(item)
        except Exception:
            log.exception("could not publish an event of session %s", session_id)


async def _follow(tutor, identity, session_id, have, live):
    first = HEARTBEAT
    while first is HEARTBEAT:
        first = await anext(live, None)
        if first is HEARTBEAT:
            yield None, None
    if isinstance(first, TutorError):
        yield first.to_event(identity.language), None
        return
    snapshot = await run_in_threadpool(tutor.snapshot, identity, session_id)
    if first is not None and first["event"] in ("streaming_resumed", "streaming_paused"):
        snapshot = truncate(snapshot, first["data"]["step"], first["data"]["position"])
    elif first is not None:  # the reader started from the beginning: nothing was sent before
        snapshot = truncate(snapshot, 0, 0)
    cursor = cursor_of(snapshot)
    if have is not None:
        cursor = resolve(snapshot, have)
        for item in catch_up(snapshot, have):
            yield item, cursor.follow(item)
    if first is None:
        async for pair in _ended(tutor, identity, session_id, cursor, have is not None):
            yield pair
        return
    ended = False
    item = first
    while True:
        if item is HEARTBEAT:
            yield None, None
        elif isinstance(item, TutorError):
            yield item.to_event(identity.language), None
            return
        else:
            yield item, cursor.follow(item)
            ended = ended or item["event"] in TERMINAL
        item = await anext(live, None)
        if item is None:
            break
    if not ended:  # another reader took the session over (a second tab, another client)
        yield {"event": "taken_over", "data": {"step": cursor.step, "position": cursor.position}}, None


async def _ended(tutor, identity, session_id: str, cursor: Cursor, reconnect: bool):
    """What to say when there is no live reader to follow: the end a reconnecting client missed, or a takeover."""
    snapshot = await run_in_threadpool(tutor.snapshot, identity, session_id)
    if snapshot["status"] == "complete" and reconnect:
        done = {"event": "explanation_complete",
                "data": {"total_duration": snapshot["total_duration"], "steps_completed": len(snapshot["steps"])}}
        yield done, cursor.follow(done)
    elif snapshot["status"] == "error":
        yield TutorError("ai_failed").to_event(identity.language), None
    elif snapshot["status"] == "streaming":
        yield {"event": "taken_over", "data": {"step": cursor.step, "position": cursor.position}}, None


async def chat_reply(events, language: str, *, limiter: anyio.CapacityLimiter, heartbeat: float | None = HEARTBEAT_S):
    """A chat reply's ``start`` / ``content`` / ``done`` events (``events`` is what ``tutor.chats.send`` returned)."""
    replies = bridge(lambda: events, limiter, heartbeat)
    try:
        async for item in replies:
            if item is HEARTBEAT:
                yield None, None
            elif isinstance(item, TutorError):
                yield item.to_event(language), None
                return
            else:
                yield item, None
    finally:
        await replies.aclose()  # a client that left stops the reply; what was written so far is saved
