"""The analytics log: an append-only ``events`` table (who, what, when, numbers) that the teacher page reads."""
from __future__ import annotations

import logging

import sqlalchemy as sa

from ..errors import StoreError
from . import db

log = logging.getLogger(__name__)

KINDS = ("question_asked", "cache_hit", "cache_miss", "generation", "pause", "resume", "complete", "abandon",
         "error", "chat_message", "rating")


class Analytics:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def record(self, kind: str, *, user_id: str | None = None, session_id: str | None = None,
               question_hash: str | None = None, step: int | None = None, value: float | None = None,
               **data) -> None:
        """Append one event. Analytics never breaks the student's flow: a failed write is logged, not raised."""
        if kind not in KINDS:
            raise ValueError(f"unknown analytics event kind {kind!r}")
        try:
            with self.engine.begin() as conn:
                conn.execute(db.events.insert().values(kind=kind, user_id=user_id, session_id=session_id,
                                                       question_hash=question_hash, step=step, value=value,
                                                       data=data))
        except (StoreError, sa.exc.SQLAlchemyError):
            log.exception("could not record analytics event %s", kind)

    def events(self, *, user_id: str | None = None, kind: str | None = None) -> list[dict]:
        query = sa.select(db.events).order_by(db.events.c.id)
        if user_id:
            query = query.where(db.events.c.user_id == user_id)
        if kind:
            query = query.where(db.events.c.kind == kind)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]
