"""Single-flight generation: one provider call per uncached question, across processes.

The process that wins the lock ``gen:<question hash>`` runs the model in a background thread and writes what the
model has written so far to the generation's log (``generation_log``): the text of the step being written as it
grows, each step once final, the maths claims of a step that do not hold, then the end or the error. Every
asker (this process or another) follows that log.

The answer is cached only when the whole of it is valid; a failure caches nothing. An answer whose maths check
(``verification``) failed is kept for a teacher's review, not served: the next ask generates again, showing the
model the failed answer and naming the claims that did not hold (one repair attempt). The asker whose ask starts
the provider call pays one credit (``core.school.credits``), refunded if the generation fails — by its own thread,
or, if its process died, by whoever finds its lock expired with no end in its log: a reader following it, or the
next asker of the question (each start is noted in the log ``gens:<question hash>``).
"""
from __future__ import annotations

import json
import logging
import threading
import time
import uuid

from ..content.answers import Answer, AnswerSchema, estimate_duration, validate_answer
from ..errors import AIError, TutorError
from .generation_log import LOG_TTL_S, LogWriter, lock_name
from .models import LANGUAGE_NAMES, Model, load_prompt
from .verification import StepChecks, failed_claims_text

log = logging.getLogger(__name__)

PROMPT_VERSION = "explain-v1"
LOCK_TTL_MS = 30_000  # default of TUTOR_GENERATION_LOCK_MS
CHECK_TIMEOUT_S = 10.0  # default of TUTOR_MATH_CHECK_TIMEOUT_MS


def starts_log(question_hash: str) -> str:
    return f"gens:{question_hash}"


class Generations:
    def __init__(self, store, cache, model: Model | None, analytics, *, credits=None, lock_ms: int = LOCK_TTL_MS,
                 checker=None, check_timeout: float = CHECK_TIMEOUT_S):
        self.store = store
        self.cache = cache
        self.model = model
        self.analytics = analytics
        self.credits = credits
        self.lock_ms = lock_ms
        self.checker = checker  # a ``core.content.mathworker.MathChecker``; None: answers are not checked
        self.check_timeout = check_timeout
        self._threads: list[threading.Thread] = []

    def start_or_follow(self, question, *, user_id: str | None = None, fresh: bool = False) -> tuple[str, str]:
        """``("cached", answer_id)`` if the answer exists by now, else ``("generating", generation_id)``.
        Starting a generation costs ``user_id`` one credit (``InsufficientCredits`` before anything is written);
        following one is free.

        ``fresh`` (another explanation of a question already answered): a stored answer is not served, a new
        generation starts, still one at a time per question (an asker who finds one in flight follows it, which is
        new too). Its answer is kept beside the approved one, retired, for teachers to compare and approve."""
        for _ in range(50):
            token = uuid.uuid4().hex
            if self.store.acquire(lock_name(question.hash), token, self.lock_ms):
                cached = None if fresh else self.cache.lookup(question.hash)
                if cached:
                    self.store.release(lock_name(question.hash), token)
                    return "cached", cached.id
                self._refund_dead_ones(question.hash)
                paid = self._pay(question, token, user_id, fresh)
                self._spawn(question, token, user_id, paid, fresh)
                return "generating", token
            holder = self.store.holder(lock_name(question.hash))
            if holder:
                return "generating", holder
            cached = None if fresh else self.cache.lookup(question.hash)
            if cached:
                return "cached", cached.id
        raise AIError("ai_failed")

    def wait(self, timeout: float | None = None) -> None:
        """Let in-flight generations finish (the CLI calls this before exiting, so none is wasted)."""
        for thread in list(self._threads):
            thread.join(timeout)

    def refund_dead(self, question_hash: str, token: str) -> bool:
        """Refund the asker of generation ``token``, found dead (its lock expired, its log has no end), unless its
        answer got cached after all — an approved answer does not count against a ``fresh`` generation (another
        explanation): its asker never got the new one. At most once per generation; never raises (a failure is
        logged)."""
        if self.credits is None:
            return False
        try:
            if self.cache.lookup(question_hash) is not None and not self._was_fresh(question_hash, token):
                return False
            return self.credits.refund_dead(token)
        except Exception:
            log.exception("could not refund dead generation %s", token[:8])
            return False

    def _was_fresh(self, question_hash: str, token: str) -> bool:
        return any(started.get("generation") == token and started.get("fresh")
                   for _, started in self.store.read(starts_log(question_hash)))

    def _refund_dead_ones(self, question_hash: str) -> None:
        """Holding the question's lock, so none of its earlier generations is alive: refund those that never ended.
        Only those started less than ``LOG_TTL_S`` ago, whose logs cannot have expired yet."""
        for _, started in self.store.read(starts_log(question_hash)):
            if started["at"] < time.time() - LOG_TTL_S:
                continue
            ends = [e for _, e in self.store.read(started["generation"]) if e["type"] in ("done", "error")]
            if not ends:
                self.refund_dead(question_hash, started["generation"])

    def _pay(self, question, token: str, user_id: str | None, fresh: bool = False) -> bool:
        try:
            self.store.append(starts_log(question.hash),
                              {"type": "started", "generation": token, "at": time.time(), "fresh": fresh}, LOG_TTL_S)
            if self.credits is None or user_id is None:
                return False
            self.credits.debit(user_id, question.hash, token)
        except TutorError:
            self.store.release(lock_name(question.hash), token)
            raise
        return True

    def _spawn(self, question, token: str, user_id: str | None, paid: bool = False, fresh: bool = False) -> None:
        thread = threading.Thread(target=self.run, args=(question, token, user_id, paid, fresh),
                                  name=f"generate-{token[:8]}")
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def run(self, question, token: str, user_id: str | None = None, paid: bool = False, fresh: bool = False) -> None:
        heartbeat = _Heartbeat(self.store, lock_name(question.hash), token, self.lock_ms)
        started = time.monotonic()
        writer = LogWriter(self.store, token)
        checks = StepChecks(self.checker, writer.check, self.check_timeout)
        writer.on_final = lambda steps: checks.step_final([step.content for step in steps])
        try:
            answer, usage = self._generate(question, writer)
            verdict = checks.finish([step.content for step in answer.steps])
            answer_id = self.cache.store(question, answer, model=self.model.name, prompt_version=PROMPT_VERSION,
                                         verified=verdict.verified, failures=verdict.failures, alternative=fresh)
        except Exception as error:
            self._failed(question, writer, user_id, paid, error)
        else:
            self.analytics.record("generation", user_id=user_id, question_hash=question.hash,
                                  value=time.monotonic() - started, **usage)
            self._quietly(writer.done, answer_id, answer.total_duration, verdict.verified)
        finally:
            checks.stop()
            heartbeat.stop()
            self._quietly(self.store.release, lock_name(question.hash), token)

    def _failed(self, question, writer: LogWriter, user_id: str | None, paid: bool, error: Exception) -> None:
        """Refund the asker, record the error, then tell the readers (so they see the refund already done)."""
        if isinstance(error, AIError):
            log.warning("generation %s failed: %s", writer.log_id[:8], error.code)
        else:
            log.exception("generation %s crashed", writer.log_id[:8], exc_info=error)
            error = AIError("ai_failed")
        if paid:
            self._quietly(self.credits.refund, user_id, question.hash, writer.log_id)
        self.analytics.record("error", user_id=user_id, question_hash=question.hash, code=error.code)
        self._quietly(writer.error, error)

    @staticmethod
    def _quietly(action, *args) -> None:
        """Run a clean-up step of a generation thread; a failure (the store or database down) is logged, so
        the remaining steps still run. Readers that miss the end see the lock gone and report ``ai_failed``."""
        try:
            action(*args)
        except Exception:
            log.exception("generation clean-up step %s failed", getattr(action, "__name__", action))

    def _generate(self, question, writer: LogWriter) -> tuple[Answer, dict]:
        messages = [{"role": "system", "content": load_prompt(PROMPT_VERSION, language_name=LANGUAGE_NAMES[
                        question.language])},
                    {"role": "user", "content": question.text}] + self._repair_of_failed(question)
        try:
            return self._stream_steps(messages, writer)
        except AIError as error:
            if error.code != "ai_invalid_output":
                raise
            log.info("repairing answer: %s", error.params.get("reason"))
            repair = {"role": "user", "content": load_prompt("repair-v1", reason=error.params.get("reason", ""))}
            writer.close_growing()  # what readers saw stays; the repaired answer supplies the steps after it
            return self._stream_steps(messages + [repair], writer)

    def _repair_of_failed(self, question) -> list[dict]:
        """When the last answer to this question failed the maths check: that answer, and what did not hold."""
        failed = self.cache.last_failed(question.hash)
        if failed is None or not failed.check_failures:
            return []
        reason = "these maths claims do not hold: " + failed_claims_text(failed.check_failures)
        log.info("repairing a failed maths check: %s", reason)
        return [{"role": "assistant", "content": json.dumps(failed.answer.to_json(), ensure_ascii=False)},
                {"role": "user", "content": load_prompt("repair-v1", reason=reason)}]

    def _stream_steps(self, messages, writer: LogWriter) -> tuple[Answer, dict]:
        """Send the answer to the log as the model writes it; return the whole validated answer."""
        for chunk in self.model.stream(messages, schema=AnswerSchema):
            writer.follow((chunk.parsed or {}).get("steps") or [], chunk.done)
            if chunk.done:
                answer, _ = validate_answer(chunk.parsed)
                if len(writer.steps) > len(answer.steps):
                    raise AIError("ai_invalid_output", reason="the repaired answer is shorter")
                duration = answer.total_duration or estimate_duration(writer.steps)
                return Answer(steps=tuple(writer.steps), total_duration=duration), chunk.usage
        raise AIError("ai_failed")


class _Heartbeat:
    """Keeps the generation lock alive while the model works, so a crashed process's lock simply expires."""

    def __init__(self, store, name: str, token: str, ttl_ms: int = LOCK_TTL_MS):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, args=(store, name, token, ttl_ms), daemon=True)
        self._thread.start()

    def _beat(self, store, name, token, ttl_ms):
        while not self._stop.wait(ttl_ms / 3000):
            try:
                store.refresh(name, token, ttl_ms)
            except Exception:
                log.warning("could not refresh generation lock %s", name)

    def stop(self):
        self._stop.set()

