"""The pieces the teacher's frames share: a class and its days as a scope, the SQL of the per-student views, the
UTC-day function for SQLite and PostgreSQL, and a CSV that a spreadsheet cannot run.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles

from ..errors import InvalidInput
from ..platform import db
from ..platform.store import SessionStatus

UNFINISHED = (SessionStatus.STREAMING, SessionStatus.PAUSED)
CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _LazyPandas:
    """pandas, imported on first use, so the command line never pays its import time (about 1 s)."""

    def __getattr__(self, name):
        import pandas
        return getattr(pandas, name)


pd = _LazyPandas()


class UTCDate(sa.sql.expression.FunctionElement):
    """The UTC calendar day of a timestamp column."""

    type = sa.Date()
    name = "utc_date"
    inherit_cache = True


@compiles(UTCDate)
def _utc_date(element, compiler, **kw):
    return f"date({compiler.process(element.clauses, **kw)})"  # SQLite holds UTC already


@compiles(UTCDate, "postgresql")
def _utc_date_postgresql(element, compiler, **kw):
    return f"date(timezone('UTC', {compiler.process(element.clauses, **kw)}))"


@dataclass(frozen=True)
class Scope:
    """A class and a half-open UTC interval ``[start, end)`` covering the requested days."""

    class_id: str
    first_day: dt.date
    last_day: dt.date
    language: str

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.first_day, dt.time(), dt.timezone.utc)

    @property
    def end(self) -> dt.datetime:
        return dt.datetime.combine(self.last_day + dt.timedelta(days=1), dt.time(), dt.timezone.utc)

    @property
    def members(self) -> sa.Select:
        """The ids of the students in the class."""
        m, u = db.memberships, db.users
        return (sa.select(m.c.user_id).join(u, u.c.id == m.c.user_id)
                .where(m.c.class_id == self.class_id, u.c.role == "student"))

    def during(self, column) -> sa.ColumnElement[bool]:
        return sa.and_(column >= self.start, column < self.end)

    def counts(self, user_column, time_column) -> sa.ColumnElement[bool]:
        """Something a user did at ``time_column`` in the range counts for the class: they were a student of it
        by then (from their join date on; what they did before joining belongs to their own history only)."""
        m, u = db.memberships, db.users
        member_then = (sa.select(m.c.user_id).join(u, u.c.id == m.c.user_id)
                       .where(m.c.class_id == self.class_id, u.c.role == "student", m.c.user_id == user_column,
                              m.c.joined_at <= time_column))
        return sa.and_(sa.exists(member_then), self.during(time_column))

    def events(self, *kinds: str) -> sa.ColumnElement[bool]:
        """Events of the class's students in the range, since they joined, of the given kinds (all kinds when none
        given)."""
        e = db.events
        where = self.counts(e.c.user_id, e.c.created_at)
        return sa.and_(where, e.c.kind.in_(kinds)) if kinds else where


def to_csv(frame: pd.DataFrame) -> bytes:
    """The frame as CSV in UTF-8 with a byte-order mark, so Excel opens accented text right. Text cells that a
    spreadsheet would run as a formula (students type them) are prefixed with ``'``."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(_defuse)
    return safe.to_csv(index=False).encode("utf-8-sig")


def _defuse(value):
    return "'" + value if isinstance(value, str) and value.startswith(CSV_FORMULA_STARTS) else value


def frame_of(conn: sa.Connection, query) -> pd.DataFrame:
    result = conn.execute(query)
    return pd.DataFrame([tuple(row) for row in result], columns=list(result.keys()))


def per_day(counts: pd.DataFrame, kind: str, column: str, days: pd.DatetimeIndex) -> pd.Series:
    series = counts[counts["kind"] == kind].set_index("day")[column]
    return series.reindex(days, fill_value=0).astype("int64")


def with_answers(conn: sa.Connection, frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``question``, ``subject``, ``answer_id`` and ``steps`` from the answer library, preferring the approved
    answer; a question without any answer keeps the text it was asked with (``asked_as``)."""
    a = db.ai_answers
    hashes = [h for h in frame["question_hash"].dropna().unique()]
    query = (sa.select(a.c.question_hash, a.c.id.label("answer_id"), a.c.question.label("answer_question"),
                       a.c.subject, a.c.steps)
             .where(a.c.question_hash.in_(hashes))
             .order_by(a.c.question_hash, (a.c.status == "approved").desc(), a.c.updated_at.desc()))
    answers = frame_of(conn, query).drop_duplicates("question_hash")
    merged = frame.merge(answers, on="question_hash", how="left")
    asked_as = merged["asked_as"] if "asked_as" in merged else pd.Series("", index=merged.index)
    merged["question"] = merged["answer_question"].fillna(asked_as).fillna("")
    merged["subject"] = merged["subject"].fillna("")
    merged["answer_id"] = merged["answer_id"].astype(object).where(merged["answer_id"].notna(), None)
    return merged


def ratings_query(scope: Scope) -> sa.Select:
    r, s, u = db.ratings, db.tutor_sessions, db.users
    return (sa.select(r.c.created_at.label("rated_at"), u.c.id.label("student_id"), u.c.name, u.c.email,
                      s.c.question, r.c.helpful, r.c.comment, r.c.answer_id, r.c.session_id)
            .select_from(r.join(u, u.c.id == r.c.user_id).join(s, s.c.id == r.c.session_id))
            .where(scope.counts(r.c.user_id, r.c.created_at))
            .order_by(r.c.created_at.desc(), u.c.email))


def sessions_query(scope: Scope, student_id: str) -> sa.Select:
    s = db.tutor_sessions
    return (sa.select(s.c.id.label("session_id"), s.c.kind, s.c.title, s.c.question, s.c.status, s.c.step,
                      s.c.position, s.c.created_at, s.c.updated_at.label("last_activity"))
            .where(s.c.user_id == student_id, scope.counts(s.c.user_id, s.c.created_at))
            .order_by(s.c.created_at.desc()))


def pauses_query(scope: Scope, student_id: str) -> sa.Select:
    e, s = db.events, db.tutor_sessions
    return (sa.select(e.c.created_at.label("paused_at"), e.c.session_id, s.c.question, e.c.step,
                      e.c.value.label("position"), e.c.question_hash)
            .select_from(e.outerjoin(s, s.c.id == e.c.session_id))
            .where(scope.events("pause"), e.c.user_id == student_id).order_by(e.c.created_at))


def questions_query(scope: Scope, student_id: str) -> sa.Select:
    e = db.events
    return (sa.select(e.c.question_hash, sa.func.count().label("asked"),
                      sa.func.max(e.c.data["question"].as_string()).label("asked_as"),
                      sa.func.min(e.c.created_at).label("first_asked"),
                      sa.func.max(e.c.created_at).label("last_asked"))
            .where(scope.events("question_asked"), e.c.user_id == student_id).group_by(e.c.question_hash))


def as_date(value) -> dt.date:
    """A calendar date from a ``date``, a ``datetime`` (its UTC date) or an ISO string."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).date() if value.tzinfo else value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput("invalid_input") from None


def is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
        return True
    except ValueError:
        return False
