"""Readers' cursors to the database, written by one background thread in batches instead of by the readers.

A reader saves its cursor every few seconds of reading (``reading.DURABLE_EVERY_S``) so that a session store that
loses its data can be rebuilt from the database. Written by the pacer's threads, each save was a database round
trip in the middle of a shard's round; here ``save`` only notes the latest cursor of the session and a thread
writes what is noted every ``EVERY_S`` in one transaction. Each write only moves a ``streaming`` session's cursor
forward, so a save that lands after a pause, the end, a failure or a takeover's newer save changes nothing.
"""
from __future__ import annotations

import logging
import threading

import sqlalchemy as sa

from ..platform import db
from ..platform.store import SessionStatus

log = logging.getLogger(__name__)
EVERY_S = 0.5


class Cursors:
    def __init__(self, engine: sa.Engine, every_s: float = EVERY_S):
        self.engine = engine
        self.every_s = every_s
        self._noted: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def save(self, session_id: str, step: int, position: int) -> None:
        with self._lock:
            self._noted[session_id] = (step, position)
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="cursor-saver", daemon=True)
                self._thread.start()

    def forget(self, session_id: str) -> None:
        """Drop the session's noted cursor: a newer state is being written (a pause, which may move the cursor
        back, the end, a failure); the note must not land after a resume."""
        with self._lock:
            self._noted.pop(session_id, None)

    def flush(self) -> None:
        with self._lock:
            noted, self._noted = self._noted, {}
        if not noted:
            return
        c = db.tutor_sessions.c
        step, position = sa.bindparam("new_step"), sa.bindparam("new_position")
        ahead = sa.or_(c.position < position, sa.and_(c.position == position, c.step < step))
        statement = (db.tutor_sessions.update()
                     .where(c.id == sa.bindparam("session_id"), c.status == SessionStatus.STREAMING, ahead)
                     .values(step=step, position=position, updated_at=sa.bindparam("now")))
        now = db.utcnow()
        try:
            with self.engine.begin() as conn:
                conn.execute(statement, [{"session_id": s, "new_step": st, "new_position": p, "now": now}
                                         for s, (st, p) in noted.items()])
        except Exception:  # the next save of each session tries again; the session store still has the cursor
            log.warning("could not save %d reading cursors", len(noted), exc_info=True)

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout=15)
        self.flush()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.flush()
