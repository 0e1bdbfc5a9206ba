"""A student's past sessions: list and search, delete, export as Markdown and SVG, and rate an explanation."""
from __future__ import annotations

import unicodedata

import sqlalchemy as sa

from ..content.questions import clean_text
from ..content.svg import render_svg
from ..errors import InvalidInput, NotFound
from ..platform import authorization, db

MAX_COMMENT_CHARS = 1000
MAX_SEARCH_CHARS = 200


def search_key(text: str) -> str:
    """``text`` folded for matching: no case, no accents or other marks ("Pitágoras" → "pitagoras", "ñ" → "n")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _search_text(search: object) -> str:
    if not isinstance(search, str):
        raise InvalidInput("invalid_input")
    search = search.strip()
    if len(search) > MAX_SEARCH_CHARS:
        raise InvalidInput("search_too_long", limit=MAX_SEARCH_CHARS)
    return search


class History:
    """``tutor.history``: the caller's past sessions (the interface is ``core.interfaces.HistoryAPI``)."""

    def __init__(self, engine: sa.Engine, explanations, chats, analytics):
        self.engine = engine
        self.explanations = explanations
        self.chats = chats
        self.analytics = analytics

    def sessions(self, identity, *, search: str = "", limit: int = 200) -> list[dict]:
        """The caller's sessions, newest activity first. ``search`` (at most ``MAX_SEARCH_CHARS``) matches title
        or question ignoring case and accents ("pitagoras" finds "Pitágoras"); ``%`` and ``_`` are plain text."""
        wanted = search_key(_search_text(search))
        t = db.tutor_sessions
        query = (sa.select(t.c.id, t.c.kind, t.c.title, t.c.question, t.c.status, t.c.step, t.c.position,
                           t.c.language, t.c.created_at, t.c.updated_at, t.c.parent_session_id, t.c.parent_step)
                 .where(t.c.user_id == identity.user_id).order_by(t.c.updated_at.desc(), t.c.created_at.desc()))
        if not wanted:
            query = query.limit(limit)
        found = []
        with self.engine.connect() as conn:
            # Matched here, not in SQL: one folding for SQLite and PostgreSQL alike (neither folds accents itself).
            for row in conn.execute(query):
                if wanted in search_key(f"{row.title}\n{row.question}"):
                    found.append(dict(row._mapping, id=str(row.id)))
                    if len(found) == limit:
                        break
        return found

    def delete(self, identity, session_id: str) -> None:
        """Delete one of the caller's sessions with its messages and rating (chats opened on it are kept)."""
        self._own(identity, session_id)
        with self.engine.begin() as conn:
            conn.execute(db.tutor_sessions.delete().where(db.tutor_sessions.c.id == session_id))
        self.explanations.store.delete_session(session_id)

    def export_markdown(self, identity, session_id: str) -> str:
        """The session as Markdown with its maths delimiters kept: the explanation as far as it was read (or the
        whole of it once complete), or the chat's messages."""
        row = self._own(identity, session_id)
        if row.kind == "chat":
            lines = [f"# {row.title or 'Chat'}", ""]
            for message in self.chats.history(identity, session_id):
                who = "**Tú**" if message["role"] == "user" and row.language == "es" else (
                    "**You**" if message["role"] == "user" else "**Tutor**")
                lines += [f"{who}: {message['content']}", ""]
            return "\n".join(lines)
        view = self.explanations.snapshot(identity, session_id)
        lines = [f"# {row.question}", ""]
        for step in view["steps"]:
            lines += [f"## {step['step']}. {step['title']}", "", step["text"], ""]
        return "\n".join(lines)

    def board_svg(self, identity, session_id: str, *, step: int | None = None) -> str:
        """The whiteboard as reached, for all steps or one; ``NotFound('step_not_found')`` for a step past the end
        of a finished explanation (a step not reached yet is an empty board)."""
        view = self.explanations.snapshot(identity, session_id)
        if step is not None and view["total_steps"] is not None and not 1 <= step <= view["total_steps"]:
            raise NotFound("step_not_found", step=step)
        commands = [c for s in view["steps"] if step is None or s["step"] == step for c in s["commands"]]
        return render_svg(commands, title=None)

    def rate(self, identity, session_id: str, *, helpful: bool, comment: str = "") -> None:
        row = self._own(identity, session_id)
        if row.kind != "explanation" or not isinstance(helpful, bool):
            raise InvalidInput("invalid_rating")
        comment = clean_text(comment, limit=MAX_COMMENT_CHARS) if comment and comment.strip() else ""
        values = dict(user_id=identity.user_id, answer_id=row.answer_id, helpful=helpful, comment=comment,
                      created_at=db.utcnow())
        with self.engine.begin() as conn:
            updated = conn.execute(db.ratings.update().where(db.ratings.c.session_id == session_id).values(**values))
            if updated.rowcount == 0:
                conn.execute(db.ratings.insert().values(id=db.new_id(), session_id=session_id, **values))
        self.analytics.record("rating", user_id=identity.user_id, session_id=session_id,
                              question_hash=row.question_hash, value=1.0 if helpful else 0.0,
                              comment=comment[:200])

    def rating(self, identity, session_id: str) -> dict | None:
        self._own(identity, session_id)
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(db.ratings.c.helpful, db.ratings.c.comment)
                               .where(db.ratings.c.session_id == session_id)).first()
        return dict(row._mapping) if row else None

    def _own(self, identity, session_id: str):
        session_id = db.checked_id(session_id, "session_not_found")
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(db.tutor_sessions).where(db.tutor_sessions.c.id == session_id)).first()
        if row is None:
            raise NotFound("session_not_found")
        authorization.require_owner(identity, row.user_id)
        return row
