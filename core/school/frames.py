"""Teacher analytics: one pandas DataFrame per view of a class, over a range of UTC dates.

Every view takes the verified caller, a class id and a date range (``start`` and ``end``, UTC calendar dates, both
included) and first checks, here in core, that the caller is the class's teacher or an admin; anyone else gets
``Forbidden`` (a student always does). Only the activity of students who are members of the class counts, and only
from the moment they joined it (``memberships.joined_at``): what a student did before is not the class's.

The numbers come from the analytics log (``events``), the sessions and the ratings, aggregated in SQL with
SQLAlchemy Core (the same queries on SQLite and PostgreSQL), then shaped with pandas.

An explanation is *abandoned* when an ``abandon`` event says so, or when it was left unfinished (still streaming
or paused) and has had no activity for longer than ``TUTOR_SESSION_TTL``; either way a session counts once.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from ..errors import Forbidden, InvalidInput, NotFound
from ..platform import authorization, db
from .accounts import Accounts, User
from .frame_queries import (
    UNFINISHED,
    Scope,
    UTCDate,
    as_date,
    frame_of,
    is_uuid,
    pauses_query,
    pd,
    per_day,
    questions_query,
    ratings_query,
    sessions_query,
    to_csv,
    with_answers,
)

DAILY_KINDS = {"question_asked": "questions", "complete": "completed", "pause": "pauses", "error": "errors"}
# How much each sign weighs in "needs help": repeating a question or giving up says more than one pause.
HELP_WEIGHTS = {"pauses": 1, "repeated_questions": 2, "abandoned": 3, "unhelpful_ratings": 3}
# How a question was answered: found by exact text, by meaning (canonical form), by a similar question that passed
# the guards, or generated because nothing stored fit (a ``cache_miss``).
MATCH_WAYS = ("exact", "canonical", "similar", "generated")


@dataclass(frozen=True)
class StudentDetail:
    """One student's activity in the range: who, their sessions, the questions they asked, pauses and ratings."""

    student: dict
    sessions: pd.DataFrame
    questions: pd.DataFrame
    pauses: pd.DataFrame
    ratings: pd.DataFrame


class Frames:
    """The teacher page's views. ``tutor.frames.kpis(identity, class_id, start, end)`` and so on (the interface is
    ``core.interfaces.FramesAPI``)."""

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
        day = UTCDate(e.c.created_at)
        query = (sa.select(day.label("day"), e.c.kind, sa.func.count().label("n"),
                           sa.func.count(sa.distinct(e.c.user_id)).label("students"))
                 .where(scope.events(*DAILY_KINDS)).group_by(day, e.c.kind))
        with self.engine.connect() as conn:
            counts = frame_of(conn, query)
        counts["day"] = pd.to_datetime(counts["day"])
        days = pd.date_range(scope.first_day, scope.last_day, freq="D", name="day")
        result = pd.DataFrame(index=days)
        for kind, column in DAILY_KINDS.items():
            result[column] = per_day(counts, kind, "n", days)
        result.insert(1, "students", per_day(counts, "question_asked", "students", days))
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
            asked = frame_of(conn, query)
            described = with_answers(conn, asked)
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
            frame = frame_of(conn, query)
        return frame.sort_values(["asked", "subject"], ascending=[False, True]).reset_index(drop=True)

    def struggle_points(self, identity, class_id: str, start, end) -> pd.DataFrame:
        """Where students get stuck, per question and step: ``question``, ``subject``, ``step``, ``step_title``,
        ``pauses``, ``abandons``, ``students`` (different students who paused or gave up there), ``answer_id``,
        ``question_hash``; hardest first. Step 0 means given up before the first step started."""
        scope = self._scope(identity, class_id, start, end)
        e = db.events
        pauses = sa.select(e.c.question_hash, e.c.step, e.c.user_id).where(scope.events("pause"))
        with self.engine.connect() as conn:
            marks = pd.concat([frame_of(conn, pauses).assign(pauses=1, abandons=0),
                               self._abandoned(conn, scope).assign(pauses=0, abandons=1)])
            marks["step"] = marks["step"].fillna(0).astype("int64")
            points = (marks.groupby(["question_hash", "step"], as_index=False)
                      .agg(pauses=("pauses", "sum"), abandons=("abandons", "sum"), students=("user_id", "nunique")))
            points = with_answers(conn, points)
        points["step_title"] = [_step_title(steps, step) for steps, step in zip(points["steps"], points["step"])]
        points["total"] = points["pauses"] + points["abandons"]
        points = points.sort_values(["total", "students", "question", "step"], ascending=[False, False, True, True])
        return points[["question", "subject", "step", "step_title", "pauses", "abandons", "students", "answer_id",
                       "question_hash"]].reset_index(drop=True)

    def students_needing_help(self, identity, class_id: str, start, end) -> pd.DataFrame:
        """Students showing signs of difficulty, most worrying first: ``student_id``, ``name``, ``email``,
        ``pauses``, ``repeated_questions`` (asks beyond the first of the same question), ``abandoned``,
        ``unhelpful_ratings``, ``score`` (weighted by ``HELP_WEIGHTS``) and ``reasons`` (the signs present, the
        heaviest first: a tuple of column names such as ``("abandoned", "pauses")``). Students with no sign are left
        out."""
        scope = self._scope(identity, class_id, start, end)
        e, r, u = db.events, db.ratings, db.users
        students = sa.select(u.c.id.label("student_id"), u.c.name, u.c.email).where(u.c.id.in_(scope.members))
        pauses = (sa.select(e.c.user_id.label("student_id"), sa.func.count().label("pauses"))
                  .where(scope.events("pause")).group_by(e.c.user_id))
        repeats = (sa.select(e.c.user_id.label("student_id"), (sa.func.count() - sa.func.count(
                       sa.distinct(e.c.question_hash))).label("repeated_questions"))
                   .where(scope.events("question_asked")).group_by(e.c.user_id))
        unhelpful = (sa.select(r.c.user_id.label("student_id"), sa.func.count().label("unhelpful_ratings"))
                     .where(scope.counts(r.c.user_id, r.c.created_at), r.c.helpful.is_(False))
                     .group_by(r.c.user_id))
        with self.engine.connect() as conn:
            frame = frame_of(conn, students)
            for query in (pauses, repeats, unhelpful):
                frame = frame.merge(frame_of(conn, query), on="student_id", how="left")
            abandoned = self._abandoned(conn, scope).groupby("user_id").size().rename("abandoned")
        frame = frame.merge(abandoned, left_on="student_id", right_index=True, how="left")
        signs = list(HELP_WEIGHTS)
        frame[signs] = frame[signs].fillna(0).astype("int64")
        frame["score"] = sum(frame[sign] * weight for sign, weight in HELP_WEIGHTS.items())
        frame["reasons"] = [_reasons(row) for row in frame[signs].to_dict("records")]
        frame = frame[frame["score"] > 0].sort_values(["score", "name", "email"], ascending=[False, True, True])
        return frame[["student_id", "name", "email", *signs, "score", "reasons"]].reset_index(drop=True)

    def ratings(self, identity, class_id: str, start, end) -> pd.DataFrame:
        """Every rating in the range, newest first: ``rated_at``, ``student_id``, ``name``, ``email``,
        ``question``, ``helpful``, ``comment``, ``answer_id``, ``session_id``."""
        scope = self._scope(identity, class_id, start, end)
        with self.engine.connect() as conn:
            return frame_of(conn, ratings_query(scope))

    def match_decisions(self, identity, class_id: str, start, end) -> pd.DataFrame:
        """How the class's questions were answered, one row per way (``exact``, ``canonical``, ``similar``,
        ``generated``; zeros included): ``how``, ``questions``, ``share`` (of all; missing when there were none)
        and ``avg_score`` (the matcher's 0–100 score; missing for exact hits and generations)."""
        scope = self._scope(identity, class_id, start, end)
        e = db.events
        how = sa.case((e.c.kind == "cache_miss", "generated"),
                      else_=sa.func.coalesce(e.c.data["match"].as_string(), "exact"))
        query = (sa.select(how.label("how"), sa.func.count().label("questions"),
                           sa.func.avg(e.c.data["score"].as_float()).label("avg_score"))
                 .where(scope.events("cache_hit", "cache_miss")).group_by(how))
        with self.engine.connect() as conn:
            counts = frame_of(conn, query).set_index("how").reindex(list(MATCH_WAYS))
        total = int(counts["questions"].fillna(0).sum())
        result = pd.DataFrame({"how": list(MATCH_WAYS),
                               "questions": counts["questions"].fillna(0).astype("int64").to_numpy()})
        result["share"] = [round(n / total, 4) if total else None for n in result["questions"]]
        result["avg_score"] = [None if pd.isna(s) or way in ("exact", "generated") else round(float(s), 1)
                               for way, s in zip(MATCH_WAYS, counts["avg_score"])]
        return result

    def student_detail(self, identity, class_id: str, student_id: str, start, end) -> StudentDetail:
        """One student's sessions, questions, pauses and ratings in the range. ``Forbidden`` unless the student
        is a member of the class."""
        scope = self._scope(identity, class_id, start, end)
        student = self._member(scope, student_id)
        with self.engine.connect() as conn:
            pauses = frame_of(conn, pauses_query(scope, student_id))
            ratings = frame_of(conn, ratings_query(scope).where(db.ratings.c.user_id == student_id))
            abandoned = self._abandoned(conn, scope)
            sessions = _session_details(frame_of(conn, sessions_query(scope, student_id)), pauses, ratings,
                                        abandoned[abandoned["user_id"] == student_id])
            questions = with_answers(conn, frame_of(conn, questions_query(scope, student_id)))
        questions = questions.sort_values(["asked", "last_asked"], ascending=False)[
            ["question", "subject", "asked", "first_asked", "last_asked", "answer_id", "question_hash"]]
        return StudentDetail(student=student, sessions=sessions, questions=questions.reset_index(drop=True),
                             pauses=pauses, ratings=ratings)

    @staticmethod
    def csv(frame: pd.DataFrame) -> bytes:
        """A view as a CSV download (see ``to_csv``)."""
        return to_csv(frame)

    # --- shared pieces -------------------------------------------------------------------------------------------

    def _scope(self, identity, class_id: str, start, end) -> Scope:
        """Check the caller may see the class, and turn the dates into a scope; ``Forbidden`` otherwise."""
        authorization.require_staff(identity)
        if not is_uuid(class_id):
            raise NotFound()
        self.accounts.require_class_owner(_as_user(identity), class_id)
        first_day, last_day = as_date(start), as_date(end)
        if first_day > last_day:
            raise InvalidInput("invalid_input")
        return Scope(class_id=class_id, first_day=first_day, last_day=last_day, language=identity.language)

    def _member(self, scope: Scope, student_id: str) -> dict:
        u = db.users
        query = sa.select(u.c.id, u.c.name, u.c.email).where(u.c.id == student_id, u.c.id.in_(scope.members))
        with self.engine.connect() as conn:
            row = conn.execute(query).first() if is_uuid(student_id) else None
        if row is None:
            raise Forbidden()
        return {"student_id": str(row.id), "name": row.name, "email": row.email}

    def _abandoned(self, conn: sa.Connection, scope: Scope) -> pd.DataFrame:
        """Abandoned explanation sessions: ``session_id``, ``user_id``, ``question_hash``, ``step``."""
        e, s = db.events, db.tutor_sessions
        idle_since = db.utcnow() - dt.timedelta(seconds=self.session_ttl)
        explicit = (sa.select(e.c.session_id, e.c.user_id, e.c.question_hash, e.c.step)
                    .where(scope.events("abandon")))
        left = (sa.select(s.c.id, s.c.user_id, s.c.question_hash, s.c.step)
                .where(s.c.kind == "explanation", s.c.status.in_(UNFINISHED),
                       scope.counts(s.c.user_id, s.c.created_at), s.c.updated_at < idle_since))
        frame = frame_of(conn, sa.union_all(explicit, left))
        frame.columns = ["session_id", "user_id", "question_hash", "step"]
        once = frame[frame["session_id"].notna()].drop_duplicates("session_id")
        return pd.concat([once, frame[frame["session_id"].isna()]], ignore_index=True)

    def _completion_times(self, conn: sa.Connection, scope: Scope) -> pd.DataFrame:
        """Per explanation asked in the range, the seconds from asking to its end (NaN if it did not end)."""
        e = db.events
        asked = (sa.select(e.c.session_id, e.c.created_at.label("asked_at"))
                 .where(scope.events("question_asked"), e.c.session_id.is_not(None)))
        ended = (sa.select(e.c.session_id, sa.func.min(e.c.created_at).label("ended_at"))
                 .where(e.c.kind == "complete", e.c.session_id.in_(asked.with_only_columns(e.c.session_id)))
                 .group_by(e.c.session_id))
        times = frame_of(conn, asked).merge(frame_of(conn, ended), on="session_id", how="left")
        times["seconds"] = (pd.to_datetime(times["ended_at"], utc=True)
                            - pd.to_datetime(times["asked_at"], utc=True)).dt.total_seconds()
        return times


# --- helpers ---------------------------------------------------------------------------------------------------------

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


def _reasons(counts: dict) -> tuple[str, ...]:
    """The signs present, the heaviest first: ``("abandoned", "pauses")``."""
    return tuple(sorted((sign for sign in HELP_WEIGHTS if counts[sign]),
                        key=lambda sign: -counts[sign] * HELP_WEIGHTS[sign]))


def _as_user(identity) -> User:
    return User(id=identity.user_id, email=identity.email, name=identity.name, role=identity.role,
                language=identity.language)
