"""The answer cache (table ``ai_answers``): one approved answer per question hash, with hit counts.

Each answer keeps the verdict of its maths check (``verified``: true, false, or null when nothing was checkable or
it was not checked, as for library lessons, which CI checks) and the claims that failed. An answer that failed is
stored retired and ``needs_review``: never served, listed for the teachers."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from ..content.answers import Answer, answer_from_json
from ..content.questions import Question
from ..platform import db


@dataclass(frozen=True)
class CachedAnswer:
    id: str
    question_hash: str
    question: str
    language: str
    answer: Answer
    source: str
    status: str
    hits: int
    model: str
    prompt_version: str
    verified: bool | None = None
    check_failures: tuple[dict, ...] = ()


def _cached(row) -> CachedAnswer:
    return CachedAnswer(id=str(row.id), question_hash=row.question_hash, question=row.question,
                        language=row.language, answer=answer_from_json({"steps": row.steps,
                                                                        "total_duration": row.total_duration}),
                        source=row.source, status=row.status, hits=row.hits, model=row.model,
                        prompt_version=row.prompt_version, verified=row.verified,
                        check_failures=tuple(row.check_failures or ()))


class AnswerCache:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def lookup(self, question_hash: str) -> CachedAnswer | None:
        query = sa.select(db.ai_answers).where(db.ai_answers.c.question_hash == question_hash,
                                               db.ai_answers.c.status == "approved")
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _cached(row) if row else None

    def approved_questions(self) -> list:
        """Rows (question_hash, question, language, subject) of every approved answer."""
        c = db.ai_answers.c
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(c.question_hash, c.question, c.language, c.subject)
                                     .where(c.status == "approved")))

    def approved_version(self) -> tuple:
        """Changes whenever an answer is added, approved or retired (for indexes built on the approved set)."""
        c = db.ai_answers.c
        with self.engine.connect() as conn:
            return tuple(conn.execute(sa.select(sa.func.count(), sa.func.count().filter(c.status == "approved")))
                         .first())

    def get(self, answer_id: str) -> CachedAnswer | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(db.ai_answers).where(db.ai_answers.c.id == answer_id)).first()
        return _cached(row) if row else None

    def count_hit(self, answer_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(db.ai_answers.update().where(db.ai_answers.c.id == answer_id)
                         .values(hits=db.ai_answers.c.hits + 1))

    def has_any(self, question_hash: str) -> bool:
        """Whether any answer, approved or retired, exists for the hash."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(db.ai_answers.c.id)
                                .where(db.ai_answers.c.question_hash == question_hash).limit(1)).first() is not None

    def last_failed(self, question_hash: str) -> CachedAnswer | None:
        """The newest answer to the question that failed its maths check and awaits a teacher's review."""
        a = db.ai_answers
        query = (sa.select(a).where(a.c.question_hash == question_hash, a.c.needs_review.is_(True))
                 .order_by(a.c.created_at.desc()).limit(1))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _cached(row) if row else None

    def store(self, question: Question, answer: Answer, *, model: str, prompt_version: str,
              source: str = "generated", subject: str | None = None, level: str | None = None,
              verified: bool | None = None, failures: list[dict] | tuple = (), alternative: bool = False) -> str:
        """Insert the approved answer for a question; if one appeared meanwhile, keep it and return its id.
        An answer whose maths check failed (``verified=False``) is inserted retired and needing review instead.
        An ``alternative`` (another explanation a student asked for) never replaces the approved answer: it is
        inserted retired beside it (approved when there is none), and its own id is returned."""
        failed = verified is False
        beside = alternative and not failed and self.lookup(question.hash) is not None  # served once approved
        values = dict(question_hash=question.hash, question=question.text, canonical=question.canonical,
                      language=question.language, subject=question.subject if subject is None else subject,
                      level=question.level if level is None else level,
                      steps=answer.to_json()["steps"], total_duration=answer.total_duration, model=model,
                      prompt_version=prompt_version, source=source,
                      status="retired" if failed or beside else "approved",
                      verified=verified, check_failures=list(failures) or None, needs_review=failed)
        try:
            with self.engine.begin() as conn:
                answer_id = db.new_id()
                conn.execute(db.ai_answers.insert().values(id=answer_id, **values))
                return answer_id
        except sa.exc.IntegrityError:
            existing = self.lookup(question.hash)
            if existing is None:
                raise
            return existing.id
