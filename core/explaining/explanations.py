"""Explanations: ask → cache or single-flight generation → paced step events, with exact pause and resume.

The reader's cursor is ``(step, position)`` in the session store: ``step`` is the step being read (0 before the
start) and ``position`` the number of content characters delivered, across all steps. Every chunk is sent only
after a conditional write moved the cursor past it (``Store.advance``), so a pause, a second tab or another
process takes effect before the next chunk and no character is ever sent twice or skipped.

If the session store fails mid-stream (``StoreError``), the reader first writes the cursor it delivered up to into
the database, then raises: a session store that lost its data (Redis restarted without persistence) rebuilds the
session from that durable position, paused, and a resume continues at the exact character.
"""
from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from functools import partial
from typing import Iterator

import sqlalchemy as sa

from ..content import questions
from ..content.mathtext import safe_prefix
from ..errors import AIError, Conflict, InvalidInput, NotFound, StoreError, TutorError
from ..platform import authorization, db
from ..platform.i18n import LANGUAGES, t
from ..platform.metrics import Metrics
from ..platform.store import SessionStatus
from .cursors import Cursors
from .generation import Generations
from .generation_log import Source, lock_name
from .reading import Reader, blocking, event

log = logging.getLogger(__name__)


class Explanations:
    def __init__(self, settings, engine: sa.Engine, store, cache, generations: Generations, analytics, *,
                 limits=None, metrics: Metrics | None = None, matcher=None):
        self.settings = settings
        self.engine = engine
        self.store = store
        self.cache = cache
        self.generations = generations
        self.analytics = analytics
        self.limits = limits
        self.metrics = metrics or Metrics()
        self.matcher = matcher
        self.cursors = Cursors(engine)  # the readers' periodic cursor saves, written in batches

    # --- starting ------------------------------------------------------------------------------------------------

    def start(self, identity, text, *, language: str | None = None, subject: str = "", level: str = "",
              fresh: bool = False, stored_only: bool = False) -> dict:
        """Create an explanation session for a question; the answer comes from the cache or a generation
        (``fresh``: always a generation, kept beside the stored answer — see ``Generations.start_or_follow``;
        ``stored_only``: only a stored answer, else ``Conflict("not_stored")`` with nothing written or charged)."""
        if fresh and stored_only:
            raise InvalidInput("fresh_stored_only")
        if fresh and self.generations.model is None:
            raise AIError("fresh_unavailable")
        question, cached, how = self._find(text, language or identity.language, subject, level)
        cached = None if fresh else cached
        if stored_only and not cached:
            raise Conflict("not_stored")
        language = question.language
        if self.limits is not None:
            self.limits.check(identity, "ask")  # before any write: a refused ask leaves nothing behind
        answer_id = generation_id = None
        if cached:
            answer_id = cached.id
        elif self.generations.model is None:
            self.analytics.record("error", user_id=identity.user_id, question_hash=question.hash,
                                  code="ai_unavailable")
            log.warning("no stored answer and no AI provider: set OPENAI_API_KEY (and OPENAI_BASE_URL) to generate")
            raise AIError("ai_unavailable")
        else:
            kind, ref = self.generations.start_or_follow(question, user_id=identity.user_id, fresh=fresh)
            answer_id, generation_id = (ref, None) if kind == "cached" else (None, ref)
        if answer_id:
            self.cache.count_hit(answer_id)
        session_id = db.new_id()
        with self.engine.begin() as conn:
            conn.execute(db.tutor_sessions.insert().values(
                id=session_id, user_id=identity.user_id, kind="explanation", title=question.text[:200],
                question=question.text, question_hash=question.hash, language=language, answer_id=answer_id,
                status=SessionStatus.STREAMING))
        self.analytics.record("question_asked", user_id=identity.user_id, session_id=session_id,
                              question_hash=question.hash, language=language, question=question.text[:200])
        self.analytics.record("cache_hit" if answer_id else "cache_miss", user_id=identity.user_id,
                              session_id=session_id, question_hash=question.hash,
                              **({"match": how[0], "score": how[1]} if cached else {}))
        state = dict(id=session_id, owner=identity.user_id, kind="explanation", question_hash=question.hash,
                     generation_id=generation_id, answer_id=answer_id, language=language,
                     status=SessionStatus.STREAMING, reader="", step=0, position=0, created_at=time.time(),
                     last_activity=time.time())
        self.store.put_session(state, self.settings.session_ttl)
        return state

    def _find(self, text, language: str, subject: str, level: str):
        """The question in the asker's language, its cached answer and how it was found: ``(how, score)``.

        A question typed in another language (an English question from a Spanish interface) is found under that
        language's answer too; a reworded question through the matcher (``core.explaining.matching``)."""
        question = questions.prepare(text, language=language, limit=self.settings.max_question_chars,
                                     subject=subject, level=level)
        cached = self.cache.lookup(question.hash)
        for other in (lang for lang in LANGUAGES if lang != language and cached is None):
            candidate = questions.prepare(text, language=other, limit=self.settings.max_question_chars,
                                          subject=subject, level=level)
            found = self.cache.lookup(candidate.hash)
            if found:
                return candidate, found, ("exact", 100.0)
        if cached is None and self.matcher is not None and not subject and not level:
            match = self.matcher.serve(question.text)
            found = self.cache.lookup(match.entry.question_hash) if match else None
            if found:
                return (dataclasses.replace(question, hash=found.question_hash, language=found.language), found,
                        (match.how, round(match.score, 1)))
        return question, cached, ("exact", 100.0)

    # --- controls ------------------------------------------------------------------------------------------------

    def state(self, identity, session_id: str) -> dict:
        """The live state of one of the caller's sessions (rebuilt from the database once the TTL has passed)."""
        session_id = db.checked_id(session_id, "session_not_found")
        state = self.store.get_session(session_id, self.settings.session_ttl)
        if state is None:
            state = self._rehydrate(session_id)
        authorization.require_owner(identity, state["owner"])
        return state

    def pause(self, identity, session_id: str, *, at: tuple[int, int] | None = None) -> dict:
        """Pause where the reader is or, with ``at`` (``(step, position)`` a client has shown), back there: the
        characters sent after it but not yet on the student's screen are sent again on resume."""
        state = self.state(identity, session_id)
        if at is not None:
            self._check_cursor(state, *at)
        paused = self.store.set_status(session_id, SessionStatus.PAUSED, expect=(SessionStatus.STREAMING,),
                                       ttl=self.settings.session_ttl)
        if paused is None:
            return self.state(identity, session_id)
        if at is not None and at[0] >= 1:
            paused = self.store.rewind(session_id, *at, ttl=self.settings.session_ttl) or paused
        self._save(paused)
        self.analytics.record("pause", user_id=identity.user_id, session_id=session_id,
                              question_hash=state["question_hash"], step=paused["step"], value=paused["position"])
        return paused

    def _check_cursor(self, state: dict, step: int, position: int) -> None:
        """``invalid_position`` unless (step, position) is a place a reader can stand: inside a started step, never
        inside a formula (a reader's chunks always end at such a place)."""
        source = self._source(state)
        if step == 0 and position == 0:
            return
        if not 1 <= step <= len(source.steps):
            raise InvalidInput("invalid_position")
        content = source.steps[step - 1].content
        reached = position - source.offset(step)
        if not 0 <= reached <= len(content) or len(safe_prefix(content, reached)) != reached:
            raise InvalidInput("invalid_position")

    def resume(self, identity, session_id: str) -> dict:
        state = self.state(identity, session_id)
        resumed = self.store.set_status(session_id, SessionStatus.STREAMING, expect=(SessionStatus.PAUSED,),
                                        ttl=self.settings.session_ttl)
        if resumed is None:
            return self.state(identity, session_id)
        self._save(resumed)
        self.analytics.record("resume", user_id=identity.user_id, session_id=session_id,
                              question_hash=state["question_hash"], step=resumed["step"], value=resumed["position"])
        return resumed

    def snapshot(self, identity, session_id: str) -> dict:
        """What the reader has reached: each started step's title, text so far and drawings so far. Pages render
        this on every run, so a reload or a second tab shows exactly the same thing."""
        state = self.state(identity, session_id)
        try:
            source = self._source(state)
        except AIError:
            source = Source.empty()
        steps, offset = [], 0
        for number, step in enumerate(source.steps[:state["step"]], start=1):
            reached = max(0, min(len(step.content), state["position"] - offset))
            steps.append({"step": number, "title": step.title, "type": step.type, "text": step.content[:reached],
                          "complete": source.is_final(number) and reached == len(step.content),
                          "commands": [c for c in step.canvas_commands if c.get("at_char", 0) <= reached],
                          "check_failed": list(source.checks.get(number - 1, []))})
            offset += len(step.content)
        with self.engine.connect() as conn:
            question = conn.execute(sa.select(db.tutor_sessions.c.question)
                                    .where(db.tutor_sessions.c.id == state["id"])).scalar()
        return {"session_id": state["id"], "question": question or "", "status": state["status"], "step": state["step"],
                "position": state["position"], "language": state["language"], "steps": steps,
                "total_steps": len(source.steps) if source.finished else None,
                "total_duration": source.total_duration, "answer_id": source.answer_id,
                "question_hash": state["question_hash"], "verified": source.verified}

    # --- streaming -----------------------------------------------------------------------------------------------

    def stream(self, identity, session_id: str, *, reader: str | None = None) -> Iterator[dict]:
        """The student's events from the saved cursor on, paced in the calling thread, until the end, a pause or a
        takeover."""
        return blocking(self.steps(identity, session_id, reader=reader))

    def steps(self, identity, session_id: str, *, reader: str | None = None) -> Iterator:
        """``stream``'s events with its waits as ``reading.Wait`` items, for a driver (``blocking``, ``Pacer``)."""
        state = self.state(identity, session_id)
        language = state["language"]
        if state["status"] == SessionStatus.PAUSED:
            yield event("streaming_paused", step=state["step"], position=state["position"], message=t("paused", language))
            return
        if state["status"] != SessionStatus.STREAMING:
            return
        reader = reader or uuid.uuid4().hex
        state = self.store.set_status(session_id, SessionStatus.STREAMING, expect=(SessionStatus.STREAMING,),
                                      ttl=self.settings.session_ttl, reader=reader)
        if state is None:
            return
        with self.metrics.streaming():
            try:
                source = self._source(state)
                yield from Reader(self, state, source, reader).steps()
            except AIError as error:
                self._fail(state, error)
                yield error.to_event(language)
            except TutorError:
                raise
            except Exception:  # a bug: end this session with an error, so reopening it shows that, not a crash
                log.exception("explanation %s crashed", session_id)
                error = AIError("ai_failed")
                self._fail(state, error)
                yield error.to_event(language)

    def _source(self, state: dict) -> Source:
        """The answer a session reads: its stored answer; else the log of the generation writing it (the one this
        session started on, or after a rebuild from the database the one holding the question's lock); else the
        answer that generation stored. ``ai_failed`` when there is nothing to read (the generation failed)."""
        answer_id = state.get("answer_id")
        lock = lock_name(state["question_hash"])
        generation = None if answer_id else state.get("generation_id") or self.store.holder(lock)
        if generation:
            source = Source.following(generation, state["question_hash"])
            source.on_dead = partial(self.generations.refund_dead, state["question_hash"], generation)
            source.poll(self.store, 0)
            if source.seen or self.store.holder(lock) == generation:
                return source
        cached = self.cache.get(answer_id) if answer_id else self.cache.lookup(state["question_hash"])
        if cached is None:
            raise AIError("ai_failed")
        return Source.of_answer(cached.answer, cached.id, verified=cached.verified, failures=cached.check_failures)

    def _fail(self, state: dict, error: AIError) -> None:
        failed = self.store.set_status(state["id"], SessionStatus.FAILED, expect=None, ttl=self.settings.session_ttl)
        self._save(failed or {**state, "status": SessionStatus.FAILED})
        self.analytics.record("error", user_id=state["owner"], session_id=state["id"],
                              question_hash=state["question_hash"], code=error.code)

    def _save(self, state: dict, **extra) -> None:
        self.cursors.forget(state["id"])
        values = dict(step=int(state["step"]), position=int(state["position"]), status=state["status"],
                      updated_at=db.utcnow(), **extra)
        with self.engine.begin() as conn:
            conn.execute(db.tutor_sessions.update().where(db.tutor_sessions.c.id == state["id"]).values(**values))

    def _keep_cursor(self, session_id: str, step: int, position: int) -> None:
        """Write a reader's cursor to the database when the session store failed under it. Only ever forward: a
        stale reader cannot move back the cursor of the reader that took over from it."""
        c = db.tutor_sessions.c
        ahead = sa.or_(c.position < position, sa.and_(c.position == position, c.step < step))
        try:
            with self.engine.begin() as conn:
                conn.execute(db.tutor_sessions.update().where(c.id == session_id, ahead)
                             .values(step=step, position=position, updated_at=db.utcnow()))
        except (StoreError, sa.exc.SQLAlchemyError):
            log.exception("could not keep the cursor of session %s", session_id)

    def _rehydrate(self, session_id: str) -> dict:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(db.tutor_sessions).where(db.tutor_sessions.c.id == session_id,
                                                                  db.tutor_sessions.c.kind == "explanation")).first()
        if row is None:
            raise NotFound("session_not_found")
        status = SessionStatus.PAUSED if row.status == SessionStatus.STREAMING else row.status
        state = dict(id=str(row.id), owner=str(row.user_id), kind=row.kind, question_hash=row.question_hash,
                     generation_id=None, answer_id=str(row.answer_id) if row.answer_id else None,
                     language=row.language, status=status, reader="", step=row.step, position=row.position,
                     created_at=row.created_at.timestamp(), last_activity=time.time())
        self.store.put_session(state, self.settings.session_ttl)
        return state
