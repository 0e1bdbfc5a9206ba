"""Teacher analytics: one pandas DataFrame per view of a class, over a range of UTC dates.

Every view takes the verified caller, a class id and a date range (``start`` and ``end``, UTC calendar dates, both
included) and first checks, here in core, that the caller is the class's teacher or an admin; anyone else gets
``Forbidden`` (a student always does). Only the activity of students who are members of the class counts.

The numbers come from the analytics log (``events``), the sessions and the ratings, aggregated in SQL with
SQLAlchemy Core (the same queries on SQLite and PostgreSQL), then shaped with pandas.

An explanation is *abandoned* when an ``abandon`` event says so, or when it was left unfinished (still streaming
or paused) and has had no activity for longer than ``TUTOR_SESSION_TTL``; either way a session counts once.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles

from ..errors import Forbidden, InvalidInput, NotFound
from ..platform import db
from ..platform.store import SessionStatus
from .accounts import Accounts, User

STAFF_ROLES = ("teacher", "admin")
UNFINISHED = (SessionStatus.STREAMING, SessionStatus.PAUSED)
DAILY_KINDS = {"question_asked": "questions", "complete": "completed", "pause": "pauses", "error": "errors"}
# How much each sign weighs in "needs help": repeating a question or giving up says more than one pause.
HELP_WEIGHTS = {"pauses": 1, "repeated_questions": 2, "abandoned": 3, "unhelpful_ratings": 3}
HELP_REASONS = {
    "pauses": {"es": ("{n} pausa", "{n} pausas"), "en": ("{n} pause", "{n} pauses")},
    "repeated_questions": {"es": ("{n} pregunta repetida", "{n} preguntas repetidas"),
                           "en": ("{n} repeated question", "{n} repeated questions")},
    "abandoned": {"es": ("{n} explicación abandonada", "{n} explicaciones abandonadas"),
                  "en": ("{n} abandoned explanation", "{n} abandoned explanations")},
    "unhelpful_ratings": {"es": ("{n} valoración negativa", "{n} valoraciones negativas"),
                          "en": ("{n} “not helpful” rating", "{n} “not helpful” ratings")},
}
CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _LazyPandas:
    """pandas, imported on first use, so the command line never pays its import time (about 1 s)."""

    def __getattr__(self, name):
        import pandas
        return getattr(pandas, name)


pd = _LazyPandas()


class _UTCDate(sa.sql.expression.FunctionElement):
    """The UTC calendar day of a timestamp column."""

    type = sa.Date()
    name = "utc_date"
    inherit_cache = True


@compiles(_UTCDate)
def _utc_date(element, compiler, **kw):
    return f"date({compiler.process(element.clauses, **kw)})"  # SQLite holds UTC already


@compiles(_UTCDate, "postgresql")
def _utc_date_postgresql(element, compiler, **kw):
    return f"date(timezone('UTC', {compiler.process(element.clauses, **kw)}))"


@dataclass(frozen=True)
class StudentDetail:
    """One student's activity in the range: who, their sessions, the questions they asked, pauses and ratings."""

    student: dict
    sessions: pd.DataFrame
    questions: pd.DataFrame
    pauses: pd.DataFrame
    ratings: pd.DataFrame


@dataclass(frozen=True)
class _Scope:
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

    def events(self, *kinds: str) -> sa.ColumnElement[bool]:
        """Events of the class's students in the range, of the given kinds (all kinds when none given)."""
        e = db.events
        where = sa.and_(e.c.user_id.in_(self.members), self.during(e.c.created_at))
        return sa.and_(where, e.c.kind.in_(kinds)) if kinds else where


class Frames:
    """The teacher page's views. ``tutor.frames.kpis(identity, class_id, start, end)`` and so on."""

    def __init__(self, engine: sa.Engine, accounts: Accounts, *, session_ttl: int):
        self.engine = engine
        self.accounts = accounts
        self.session_ttl = session_ttl

    # --- views ---------------------------------------------------------------------------------------------------

    def kpis(self, identity, class_id: str, start, end) -> dict:
        """Headline numbers: ``students`` (members), ``active_students`` (did anything), ``questions``,
        ``cache_hit_rate``, ``completion_rate`` (asked explanations that reached the end), ``avg_time_to_complete_s``
        (from asking to the end) and ``ai_errors``. A rate with nothing to measure is ``None``."""
        scope = self._scope(identity, class_id, start, end)
        e = db.events
        with self.engine.connect() as conn:
            kinds = dict(conn.execute(sa.select(e.c.kind, sa.func.count()).where(
                scope.events("question_asked", "cache_hit", "cache_miss", "error")).group_by(e.c.kind)).all())
            active = conn.execute(sa.select(sa.func.count(sa.distinct(e.c.user_id))).where(scope.events())).scalar()
            students = conn.execute(sa.select(sa.func.count()).select_from(scope.members.subquery())).scalar()
            times = self._completion_times(conn, scope)
        lookups = kinds.get("cache_hit", 0) + kinds.get("cache_miss", 0)
        finished = times["seconds"].dropna()
        return {
            "students": students,
            "active_students": active,
            "questions": kinds.get("question_asked", 0),
            "cache_hit_rate": kinds.get("cache_hit", 0) / lookups if lookups else None,
            "completion_rate": len(finished) / len(times) if len(times) else None,
            "avg_time_to_complete_s": float(finished.mean()) if len(finished) else None,
            "ai_errors": kinds.get("error", 0),
        }

    def questions_per_day(self, identity, class_id: str, start, end) -> pd.DataFrame:
        """One row per day of the range (days without activity included): ``day``, ``questions``, ``students``
        (who asked), ``completed``, ``pauses``, ``errors``."""
        scope = self._scope(identity, class_id, start, end)
        e = db.events
        day = _UTCDate(e.c.created_at)
        query = (sa.select(day.label("day"), e.c.kind, sa.func.count().label("n"),
                           sa.func.count(sa.distinct(e.c.user_id)).label("students"))
                 .where(scope.events(*DAILY_KINDS)).group_by(day, e.c.kind))
        with self.engine.connect() as conn:
            counts = _frame(conn, query)
        counts["day"] = pd.to_datetime(counts["day"])
        days = pd.date_range(scope.first_day, scope.last_day, freq="D", name="day")
        result = pd.DataFrame(index=days)
        for kind, column in DAILY_KINDS.items():
            result[column] = _per_day(counts, kind, "n", days)
        result.insert(1, "students", _per_day(counts, "question_asked", "students", days))
        return result.reset_index()

    def top_questions(self, identity, class_id: str, start, end, *, limit: int = 20) -> pd.DataFrame:
        """The most asked questions: ``question``, ``subject`` (the topic), ``asked``, ``students``, ``last_asked``,
        ``answer_id`` (the approved answer, for the answer library) and ``question_hash``."""
        scope = self._scope(identity, class_id, start, end)
        e = db.events
        query = (sa.select(e.c.question_hash, sa.func.count().label("asked"),
                           sa.func.count(sa.distinct(e.c.user_id)).label("students"),
                           sa.func.max(e.c.data["question"].as_string()).label("asked_as"),
                           sa.func.max(e.c.created_at).label("last_asked"))
                 .where(scope.events("question_asked")).group_by(e.c.question_hash)
                 .order_by(sa.func.count().desc(), e.c.question_hash).limit(limit))
        with self.engine.connect() as conn:
            asked = _frame(conn, query)
            described = _with_answers(conn, asked)
        described = described.sort_values(["asked", "students", "question"], ascending=[False, False, True])
        return described[["question", "subject", "asked", "students", "last_asked", "answer_id",
                          "question_hash"]].reset_index(drop=True)

    def topics(self, identity, class_id: str, start, end) -> pd.DataFrame:
        """Questions asked per topic (the answer's subject; ``""`` when unknown): ``subject``, ``asked``,
        ``questions`` (different questions), ``students``."""
        scope = self._scope(identity, class_id, start, end)
        e, a = db.events, db.ai_answers
        subjects = (sa.select(a.c.question_hash, sa.func.max(a.c.subject).label("subject"))
                    .group_by(a.c.question_hash).subquery())
        subject = sa.func.coalesce(subjects.c.subject, "")
        query = (sa.select(subject.label("subject"), sa.func.count().label("asked"),
                           sa.func.count(sa.distinct(e.c.question_hash)).label("questions"),
                           sa.func.count(sa.distinct(e.c.user_id)).label("students"))
                 .select_from(e.outerjoin(subjects, subjects.c.question_hash == e.c.question_hash))
                 .where(scope.events("question_asked")).group_by(subject))
        with self.engine.connect() as conn:
            frame = _frame(conn, query)
        return frame.sort_values(["asked", "subject"], ascending=[False, True]).reset_index(drop=True)

    def struggle_points(self, identity, class_id: str, start, end) -> pd.DataFrame:
        """Where students get stuck, per question and step: ``question``, ``subject``, ``step``, ``step_title``,
        ``pauses``, ``abandons``, ``students`` (different students who paused or gave up there), ``answer_id``,
        ``question_hash``; hardest first. Step 0 means given up before the first step started."""
        scope = self._scope(identity, class_id, start, end)
        e = db.events
        pauses = sa.select(e.c.question_hash, e.c.step, e.c.user_id).where(scope.events("pause"))
        with self.engine.connect() as conn:
            marks = pd.concat([_frame(conn, pauses).assign(pauses=1, abandons=0),
                               self._abandoned(conn, scope).assign(pauses=0, abandons=1)])
            marks["step"] = marks["step"].fillna(0).astype("int64")
            points = (marks.groupby(["question_hash", "step"], as_index=False)
                      .agg(pauses=("pauses", "sum"), abandons=("abandons", "sum"), students=("user_id", "nunique")))
            points = _with_answers(conn, points)
        points["step_title"] = [_step_title(steps, step) for steps, step in zip(points["steps"], points["step"])]
        points["total"] = points["pauses"] + points["abandons"]
        points = points.sort_values(["total", "students", "question", "step"], ascending=[False, False, True, True])
        return points[["question", "subject", "step", "step_title", "pauses", "abandons", "students", "answer_id",
                       "question_hash"]].reset_index(drop=True)

    def students_needing_help(self, identity, class_id: str, start, end) -> pd.DataFrame:
        """Students showing signs of difficulty, most worrying first: ``student_id``, ``name``, ``email``,
        ``pauses``, ``repeated_questions`` (asks beyond the first of the same question), ``abandoned``,
        ``unhelpful_ratings``, ``score`` (weighted by ``HELP_WEIGHTS``) and ``reasons`` (readable, in the caller's
        language). Students with no sign are left out."""
        scope = self._scope(identity, class_id, start, end)
        e, r, u = db.events, db.ratings, db.users
        students = sa.select(u.c.id.label("student_id"), u.c.name, u.c.email).where(u.c.id.in_(scope.members))
        pauses = (sa.select(e.c.user_id.label("student_id"), sa.func.count().label("pauses"))
                  .where(scope.events("pause")).group_by(e.c.user_id))
        repeats = (sa.select(e.c.user_id.label("student_id"), (sa.func.count() - sa.func.count(
                       sa.distinct(e.c.question_hash))).label("repeated_questions"))
                   .where(scope.events("question_asked")).group_by(e.c.user_id))
        unhelpful = (sa.select(r.c.user_id.label("student_id"), sa.func.count().label("unhelpful_ratings"))
                     .where(r.c.user_id.in_(scope.members), scope.during(r.c.created_at), r.c.helpful.is_(False))
                     .group_by(r.c.user_id))
        with self.engine.connect() as conn:
            frame = _frame(conn, students)
            for query in (pauses, repeats, unhelpful):
                frame = frame.merge(_frame(conn, query), on="student_id", how="left")
            abandoned = self._abandoned(conn, scope).groupby("user_id").size().rename("abandoned")
        frame = frame.merge(abandoned, left_on="student_id", right_index=True, how="left")
        signs = list(HELP_WEIGHTS)
        frame[signs] = frame[signs].fillna(0).astype("int64")
        frame["score"] = sum(frame[sign] * weight for sign, weight in HELP_WEIGHTS.items())
        frame["reasons"] = [_reasons(row, scope.language) for row in frame[signs].to_dict("records")]
        frame = frame[frame["score"] > 0].sort_values(["score", "name", "email"], ascending=[False, True, True])
        return frame[["student_id", "name", "email", *signs, "score", "reasons"]].reset_index(drop=True)

    def ratings(self, identity, class_id: str, start, end) -> pd.DataFrame:
        """Every rating in the range, newest first: ``rated_at``, ``student_id``, ``name``, ``email``,
        ``question``, ``helpful``, ``comment``, ``answer_id``, ``session_id``."""
        scope = self._scope(identity, class_id, start, end)
        with self.engine.connect() as conn:
            return _frame(conn, _ratings_query(scope))

    def student_detail(self, identity, class_id: str, student_id: str, start, end) -> StudentDetail:
        """One student's sessions, questions, pauses and ratings in the range. ``Forbidden`` unless the student
        is a member of the class."""
        scope = self._scope(identity, class_id, start, end)
        student = self._member(scope, student_id)
        with self.engine.connect() as conn:
            pauses = _frame(conn, _pauses_query(scope, student_id))
            ratings = _frame(conn, _ratings_query(scope).where(db.ratings.c.user_id == student_id))
            abandoned = self._abandoned(conn, scope)
            sessions = _session_details(_frame(conn, _sessions_query(scope, student_id)), pauses, ratings,
                                        abandoned[abandoned["user_id"] == student_id])
            questions = _with_answers(conn, _frame(conn, _questions_query(scope, student_id)))
        questions = questions.sort_values(["asked", "last_asked"], ascending=False)[
            ["question", "subject", "asked", "first_asked", "last_asked", "answer_id", "question_hash"]]
        return StudentDetail(student=student, sessions=sessions, questions=questions.reset_index(drop=True),
                             pauses=pauses, ratings=ratings)

    # --- shared pieces -------------------------------------------------------------------------------------------

    def _scope(self, identity, class_id: str, start, end) -> _Scope:
        """Check the caller may see the class, and turn the dates into a scope; ``Forbidden`` otherwise."""
        if identity.role not in STAFF_ROLES:
            raise Forbidden()
        if not _is_uuid(class_id):
            raise NotFound()
        self.accounts.require_class_owner(_as_user(identity), class_id)
        first_day, last_day = _as_date(start), _as_date(end)
        if first_day > last_day:
            raise InvalidInput("invalid_input")
        return _Scope(class_id=class_id, first_day=first_day, last_day=last_day, language=identity.language)

    def _member(self, scope: _Scope, student_id: str) -> dict:
        u = db.users
        query = sa.select(u.c.id, u.c.name, u.c.email).where(u.c.id == student_id, u.c.id.in_(scope.members))
        with self.engine.connect() as conn:
            row = conn.execute(query).first() if _is_uuid(student_id) else None
        if row is None:
            raise Forbidden()
        return {"student_id": str(row.id), "name": row.name, "email": row.email}

    def _abandoned(self, conn: sa.Connection, scope: _Scope) -> pd.DataFrame:
        """Abandoned explanation sessions: ``session_id``, ``user_id``, ``question_hash``, ``step``."""
        e, s = db.events, db.tutor_sessions
        idle_since = db.utcnow() - dt.timedelta(seconds=self.session_ttl)
        explicit = (sa.select(e.c.session_id, e.c.user_id, e.c.question_hash, e.c.step)
                    .where(scope.events("abandon")))
        left = (sa.select(s.c.id, s.c.user_id, s.c.question_hash, s.c.step)
                .where(s.c.kind == "explanation", s.c.status.in_(UNFINISHED), s.c.user_id.in_(scope.members),
                       scope.during(s.c.created_at), s.c.updated_at < idle_since))
        frame = _frame(conn, sa.union_all(explicit, left))
        frame.columns = ["session_id", "user_id", "question_hash", "step"]
        once = frame[frame["session_id"].notna()].drop_duplicates("session_id")
        return pd.concat([once, frame[frame["session_id"].isna()]], ignore_index=True)

    def _completion_times(self, conn: sa.Connection, scope: _Scope) -> pd.DataFrame:
        """Per explanation asked in the range, the seconds from asking to its end (NaN if it did not end)."""
        e = db.events
        asked = (sa.select(e.c.session_id, e.c.created_at.label("asked_at"))
                 .where(scope.events("question_asked"), e.c.session_id.is_not(None)))
        ended = (sa.select(e.c.session_id, sa.func.min(e.c.created_at).label("ended_at"))
                 .where(e.c.kind == "complete", e.c.session_id.in_(asked.with_only_columns(e.c.session_id)))
                 .group_by(e.c.session_id))
        times = _frame(conn, asked).merge(_frame(conn, ended), on="session_id", how="left")
        times["seconds"] = (pd.to_datetime(times["ended_at"], utc=True)
                            - pd.to_datetime(times["asked_at"], utc=True)).dt.total_seconds()
        return times


# --- helpers ---------------------------------------------------------------------------------------------------------

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


def _frame(conn: sa.Connection, query) -> pd.DataFrame:
    result = conn.execute(query)
    return pd.DataFrame([tuple(row) for row in result], columns=list(result.keys()))


def _per_day(counts: pd.DataFrame, kind: str, column: str, days: pd.DatetimeIndex) -> pd.Series:
    series = counts[counts["kind"] == kind].set_index("day")[column]
    return series.reindex(days, fill_value=0).astype("int64")


def _with_answers(conn: sa.Connection, frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``question``, ``subject``, ``answer_id`` and ``steps`` from the answer library, preferring the approved
    answer; a question without any answer keeps the text it was asked with (``asked_as``)."""
    a = db.ai_answers
    hashes = [h for h in frame["question_hash"].dropna().unique()]
    query = (sa.select(a.c.question_hash, a.c.id.label("answer_id"), a.c.question.label("answer_question"),
                       a.c.subject, a.c.steps)
             .where(a.c.question_hash.in_(hashes))
             .order_by(a.c.question_hash, (a.c.status == "approved").desc(), a.c.updated_at.desc()))
    answers = _frame(conn, query).drop_duplicates("question_hash")
    merged = frame.merge(answers, on="question_hash", how="left")
    asked_as = merged["asked_as"] if "asked_as" in merged else pd.Series("", index=merged.index)
    merged["question"] = merged["answer_question"].fillna(asked_as).fillna("")
    merged["subject"] = merged["subject"].fillna("")
    merged["answer_id"] = merged["answer_id"].astype(object).where(merged["answer_id"].notna(), None)
    return merged


def _ratings_query(scope: _Scope) -> sa.Select:
    r, s, u = db.ratings, db.tutor_sessions, db.users
    return (sa.select(r.c.created_at.label("rated_at"), u.c.id.label("student_id"), u.c.name, u.c.email,
                      s.c.question, r.c.helpful, r.c.comment, r.c.answer_id, r.c.session_id)
            .select_from(r.join(u, u.c.id == r.c.user_id).join(s, s.c.id == r.c.session_id))
            .where(r.c.user_id.in_(scope.members), scope.during(r.c.created_at))
            .order_by(r.c.created_at.desc(), u.c.email))


def _sessions_query(scope: _Scope, student_id: str) -> sa.Select:
    s = db.tutor_sessions
    return (sa.select(s.c.id.label("session_id"), s.c.kind, s.c.title, s.c.question, s.c.status, s.c.step,
                      s.c.position, s.c.created_at, s.c.updated_at.label("last_activity"))
            .where(s.c.user_id == student_id, scope.during(s.c.created_at)).order_by(s.c.created_at.desc()))


def _pauses_query(scope: _Scope, student_id: str) -> sa.Select:
    e, s = db.events, db.tutor_sessions
    return (sa.select(e.c.created_at.label("paused_at"), e.c.session_id, s.c.question, e.c.step,
                      e.c.value.label("position"), e.c.question_hash)
            .select_from(e.outerjoin(s, s.c.id == e.c.session_id))
            .where(scope.events("pause"), e.c.user_id == student_id).order_by(e.c.created_at))


def _questions_query(scope: _Scope, student_id: str) -> sa.Select:
    e = db.events
    return (sa.select(e.c.question_hash, sa.func.count().label("asked"),
                      sa.func.max(e.c.data["question"].as_string()).label("asked_as"),
                      sa.func.min(e.c.created_at).label("first_asked"),
                      sa.func.max(e.c.created_at).label("last_asked"))
            .where(scope.events("question_asked"), e.c.user_id == student_id).group_by(e.c.question_hash))


def _session_details(sessions: pd.DataFrame, pauses: pd.DataFrame, ratings: pd.DataFrame,
                     abandoned: pd.DataFrame) -> pd.DataFrame:
    """Sessions with their pause count, rating (True/False, or None when unrated) and whether abandoned."""
    per_session = pauses.groupby("session_id").size()
    helpful = dict(zip(ratings["session_id"], ratings["helpful"]))
    sessions["pauses"] = sessions["session_id"].map(per_session).fillna(0).astype("int64")
    sessions["helpful"] = [helpful.get(session) for session in sessions["session_id"]]
    sessions["abandoned"] = sessions["session_id"].isin(set(abandoned["session_id"]))
    return sessions


def _step_title(steps, step: int) -> str:
    if isinstance(steps, list) and 1 <= step <= len(steps):
        return steps[step - 1].get("title", "")
    return ""


def _reasons(counts: dict, language: str) -> str:
    """Readable reasons, the heaviest first: ``"2 explicaciones abandonadas · 3 pausas"``."""
    heaviest = sorted((sign for sign in HELP_WEIGHTS if counts[sign]),
                      key=lambda sign: -counts[sign] * HELP_WEIGHTS[sign])
    texts = []
    for sign in heaviest:
        one, many = HELP_REASONS[sign].get(language, HELP_REASONS[sign]["en"])
        texts.append((one if counts[sign] == 1 else many).format(n=counts[sign]))
    return " · ".join(texts)


def _as_user(identity) -> User:
    return User(id=identity.user_id, email=identity.email, name=identity.name, role=identity.role,
                language=identity.language)


def _as_date(value) -> dt.date:
    """A calendar date from a ``date``, a ``datetime`` (its UTC date) or an ISO string."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).date() if value.tzinfo else value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise InvalidInput("invalid_input") from None


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
        return True
    except ValueError:
        return False
