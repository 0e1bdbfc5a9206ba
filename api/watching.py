"""Which sessions someone watches over Socket.IO, so that readers publish to a session's room only then.

Publishing a live event to the room ``session:<id>`` costs, with Redis, a PUBLISH and every process's decode of
it; most sessions are read over SSE only and nobody is in their room. A client entering a room (``ask_question``,
``resume_streaming``, ``join_session``) marks the session as watched in the session store (``tutor.watch``: a
marker with a ``TTL_S`` expiry, refreshed every ``REFRESH_S`` while the room has members in this process, so it
lapses at most ``TTL_S`` after the last watcher left). A process knows which of the sessions it streams are watched:
each stream looks once when it starts, then every ``CHECK_S`` one store call (``tutor.watched``) looks for all of
them. Nothing falls between a joiner's catch-up and the live events: while its session is not watched, a stream
holds the events that came after the last look that found no watcher (``Held``); when a look finds the mark, the
stream first publishes those beyond the mark's position (the session's cursor read just before it was marked).
The joiner's catch-up is read after the mark, and that last look read the store before it, so every event after
the catch-up's cursor is either published live or held and published then (one on its way at the join may come
twice: ``join_session``, compare ``position``). Only an event without text that comes at the mark's position in the
instant between the mark and the catch-up's read (a pause there) can be missed; the join's answer has the status.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import Counter, deque
from contextlib import contextmanager
from typing import Callable, Iterable

from starlette.concurrency import run_in_threadpool

from .events import keep

log = logging.getLogger(__name__)
CHECK_S = 1.0
TTL_S = 60.0
REFRESH_S = 20.0


class Watching:
    """``session_id in watching``: whether a stream of this process should publish the session's events.
    ``here()`` names the sessions whose rooms have members in this process."""

    def __init__(self, here: Callable[[], Iterable[str]]):
        self.here = here
        self.streamed: Counter[str] = Counter()
        # session → (when the look that answered started, the mark's position or None, when the last look that
        # found no mark started)
        self._known: dict[str, tuple[float, int | None, float]] = {}
        self._lock = threading.Lock()  # stream starts learn from worker threads
        self._tutor = None
        self._task: asyncio.Future | None = None

    def __contains__(self, session_id: str) -> bool:
        return self.mark(session_id) is not None

    def mark(self, session_id: str) -> int | None:
        known = self._known.get(session_id)
        return known[1] if known is not None else None

    def unwatched_since(self, session_id: str) -> float:
        """When the last look that found no watcher of the session started (-inf: none did)."""
        known = self._known.get(session_id)
        return known[2] if known is not None else float("-inf")

    def looked_since(self, session_id: str, moment: float) -> bool:
        known = self._known.get(session_id)
        return known is not None and known[0] >= moment

    async def watch(self, tutor, session_id: str) -> None:
        """Mark the session as watched (a client of this process entered its room)."""
        started = time.monotonic()
        mark = await run_in_threadpool(tutor.watch, session_id, TTL_S)
        self._learn(started, [session_id], {session_id: mark})
        self._tutor = tutor
        self._run()

    def check(self, tutor, session_id: str) -> None:
        """Whether a stream starting now is watched (blocking: called in the start's worker thread)."""
        self._tutor = tutor
        started = time.monotonic()
        self._learn(started, [session_id], tutor.watched([session_id]))

    @contextmanager
    def streaming(self, session_id: str):
        """While a stream of this process follows the session: its watchers are looked for every ``CHECK_S``."""
        self.streamed[session_id] += 1
        self._run()
        try:
            yield
        finally:
            self.streamed[session_id] -= 1
            if not self.streamed[session_id]:
                del self.streamed[session_id]

    def _learn(self, started: float, names: Iterable[str], marks: dict[str, int]) -> None:
        """Answers count in the order their looks started: a slow look cannot undo a newer one (a fresh join)."""
        with self._lock:
            for name in names:
                before, _, unwatched = self._known.get(name, (float("-inf"), None, float("-inf")))
                if before <= started:
                    mark = marks.get(name)
                    self._known[name] = (started, mark, unwatched if mark is not None else started)

    def _run(self) -> None:
        if self._task is None or self._task.done():
            self._task = keep(asyncio.ensure_future(self._loop()))

    async def _loop(self) -> None:
        refreshed = time.monotonic()
        while self.streamed or self._known:
            await asyncio.sleep(CHECK_S)
            here = set(self.here())
            if self._tutor is None:
                continue
            try:
                if here and time.monotonic() - refreshed >= REFRESH_S:
                    refreshed = time.monotonic()
                    await run_in_threadpool(_mark_all, self._tutor, here)
                names, started = list(self.streamed), time.monotonic()
                marks = await run_in_threadpool(self._tutor.watched, names) if names else {}
            except Exception:  # the store is down: keep what is known, look again later
                log.warning("could not look for the watchers of the sessions streamed here", exc_info=True)
                continue
            self._learn(started, names, marks)
            with self._lock:  # forget sessions neither streamed nor watched here
                for name in [n for n in self._known if n not in self.streamed and n not in here]:
                    del self._known[name]


def _mark_all(tutor, sessions: set[str]) -> None:
    for session_id in sessions:
        tutor.watch(session_id, TTL_S)


class Held:
    """One stream's events on their way to its session's room: published while the session is watched; while it
    is not, the events since the last look that found no watcher are held, and those beyond the mark's position
    are published first when a look finds one."""

    def __init__(self, watching: Watching, session_id: str, publish):
        self.watching = watching
        self.session_id = session_id
        self.publish = publish
        self.position = 0  # the session's cursor after the events so far
        self._held: deque = deque()

    async def send(self, item: dict) -> None:
        came, since = time.monotonic(), self.watching.unwatched_since(self.session_id)
        self.position = item["data"].get("position", self.position)
        if self.session_id not in self.watching:
            while self._held and self._held[0][0] < since:
                self._held.popleft()
            self._held.append((came, self.position, item))
            return
        await self._flush()
        await self.publish(self.session_id, item)

    async def close(self) -> None:
        """At the stream's end: if events are held, wait for a look that started after them, which says whether
        someone joined meanwhile (then they are published)."""
        if not self._held:
            return
        ended = time.monotonic()
        for _ in range(round(3 * CHECK_S / 0.05)):
            if self.watching.looked_since(self.session_id, ended):
                break
            await asyncio.sleep(0.05)
        if self.session_id in self.watching:
            await self._flush()
        self._held.clear()

    async def _flush(self) -> None:
        """The held events a joiner's catch-up may not have: after the last look that found no mark, and beyond
        the mark's position (those up to it are in the catch-up)."""
        since, mark = self.watching.unwatched_since(self.session_id), self.watching.mark(self.session_id) or 0
        while self._held:
            at, position, item = self._held.popleft()
            if at >= since and position > mark:
                await self.publish(self.session_id, item)
